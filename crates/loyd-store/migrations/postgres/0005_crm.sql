-- Customers, CRM and security. Personal data (name, phone, email, birth date) is kept
-- only sealed (AES-256-GCM, see crypto.rs) in `pii`; exact lookups go through keyed
-- blind indexes. The plaintext columns of earlier versions (phone, name, birth_date)
-- are emptied by the server at start ("sealing"), which needs the key and so cannot
-- happen in SQL.

-- Wholesale counterparties: their contacts (customers) share the organisation's
-- accounts.
CREATE TABLE organisations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL,
    tax_id      TEXT UNIQUE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

ALTER TABLE customers ADD COLUMN pii TEXT;
ALTER TABLE customers ADD COLUMN phone_index TEXT;
ALTER TABLE customers ADD COLUMN email_index TEXT;
-- JSON object: channel -> {"granted": bool, "at": microseconds}.
ALTER TABLE customers ADD COLUMN consents TEXT;
-- The customer left all marketing; membership, cards and balances stay.
ALTER TABLE customers ADD COLUMN opted_out_at BIGINT;
ALTER TABLE customers ADD COLUMN organisation_id BIGINT REFERENCES organisations (id);
-- A duplicate merged into another customer: kept for history, never identified again.
ALTER TABLE customers ADD COLUMN merged_into BIGINT REFERENCES customers (id);
ALTER TABLE customers ADD COLUMN updated_at BIGINT;
CREATE UNIQUE INDEX customers_phone_index ON customers (phone_index);
CREATE UNIQUE INDEX customers_email_index ON customers (email_index);
CREATE INDEX customers_organisation_idx ON customers (organisation_id);
-- Finds plaintext left by earlier versions at start without scanning every customer
-- (empty once sealed).
CREATE INDEX customers_plaintext_idx ON customers (id)
    WHERE phone IS NOT NULL OR name IS NOT NULL OR birth_date IS NOT NULL;

-- Name search without plaintext: blind indexes of word prefixes.
CREATE TABLE customer_terms (
    term         TEXT NOT NULL,
    customer_id  BIGINT NOT NULL REFERENCES customers (id),
    PRIMARY KEY (term, customer_id)
);
CREATE INDEX customer_terms_customer_idx ON customer_terms (customer_id);

-- A replaced (lost) card names its successor; virtual cards have no plastic.
ALTER TABLE cards ADD COLUMN replaced_by TEXT;
ALTER TABLE cards ADD COLUMN virtual BIGINT NOT NULL DEFAULT 0 CHECK (virtual IN (0, 1));

-- Staff. Passwords are argon2id PHC strings; `stores` (JSON array) limits a store
-- manager to their stores.
CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    stores         TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    disabled_at    BIGINT
);

-- Wrong passwords per login name, known or not (so a lock reveals nothing about which
-- logins exist).
CREATE TABLE login_attempts (
    login         TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    locked_until  BIGINT
);

-- Login sessions; only the SHA-256 of the bearer token is kept.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Every admin change: who, when, what, before and after (sealed: they may hold
-- personal data). Append-only: rows are never deleted, and only key rotation may
-- re-seal `before`/`after` in place.
CREATE TABLE audit_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    object_kind  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    before       TEXT,
    after        TEXT
);
CREATE INDEX audit_log_object_idx ON audit_log (object_kind, object_id, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') OR NEW.id IS DISTINCT FROM OLD.id OR NEW.at IS DISTINCT FROM OLD.at
       OR NEW.actor IS DISTINCT FROM OLD.actor OR NEW.action IS DISTINCT FROM OLD.action
       OR NEW.object_kind IS DISTINCT FROM OLD.object_kind OR NEW.object_id IS DISTINCT FROM OLD.object_id
       OR (OLD.before IS NULL) <> (NEW.before IS NULL) OR (OLD.after IS NULL) <> (NEW.after IS NULL) THEN
        RAISE EXCEPTION 'the audit log is append-only';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- CRM: notes, contact events, tasks and reminders about a customer or organisation.
-- `body` is sealed (staff write personal details into it).
CREATE TABLE crm_entries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id      BIGINT REFERENCES customers (id),
    organisation_id  BIGINT REFERENCES organisations (id),
    kind             TEXT NOT NULL CHECK (kind IN ('note', 'event', 'task', 'reminder')),
    channel          TEXT,
    body             TEXT NOT NULL,
    due_at           BIGINT,
    assignee         TEXT,
    status           TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX crm_entries_customer_idx ON crm_entries (customer_id, id);
CREATE INDEX crm_entries_organisation_idx ON crm_entries (organisation_id, id);
CREATE INDEX crm_entries_assignee_idx ON crm_entries (assignee, status, due_at);

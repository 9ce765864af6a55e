-- Customers, CRM and security. Personal data (name, phone, email, birth date) is kept
-- only sealed (AES-256-GCM, see crypto.rs) in `pii`; exact lookups go through keyed
-- blind indexes. The plaintext columns of earlier versions (phone, name, birth_date)
-- are emptied by the server at start ("sealing"), which needs the key and so cannot
-- happen in SQL.

-- Wholesale counterparties: their contacts (customers) share the organisation's
-- accounts.
CREATE TABLE organisations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    tax_id      TEXT UNIQUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

ALTER TABLE customers ADD COLUMN pii TEXT;
ALTER TABLE customers ADD COLUMN phone_index TEXT;
ALTER TABLE customers ADD COLUMN email_index TEXT;
-- JSON object: channel -> {"granted": bool, "at": microseconds}.
ALTER TABLE customers ADD COLUMN consents TEXT;
-- The customer left all marketing; membership, cards and balances stay.
ALTER TABLE customers ADD COLUMN opted_out_at INTEGER;
ALTER TABLE customers ADD COLUMN organisation_id INTEGER REFERENCES organisations (id);
-- A duplicate merged into another customer: kept for history, never identified again.
ALTER TABLE customers ADD COLUMN merged_into INTEGER REFERENCES customers (id);
ALTER TABLE customers ADD COLUMN updated_at INTEGER;
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
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    PRIMARY KEY (term, customer_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_terms_customer_idx ON customer_terms (customer_id);

-- A replaced (lost) card names its successor; virtual cards have no plastic.
ALTER TABLE cards ADD COLUMN replaced_by TEXT;
ALTER TABLE cards ADD COLUMN virtual INTEGER NOT NULL DEFAULT 0 CHECK (virtual IN (0, 1));

-- Staff. Passwords are argon2id PHC strings; `stores` (JSON array) limits a store
-- manager to their stores.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    login          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    stores         TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    disabled_at    INTEGER
) STRICT;

-- Wrong passwords per login name, known or not (so a lock reveals nothing about which
-- logins exist).
CREATE TABLE login_attempts (
    login         TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    locked_until  INTEGER
) STRICT;

-- Login sessions; only the SHA-256 of the bearer token is kept.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Every admin change: who, when, what, before and after (sealed: they may hold
-- personal data). Append-only: rows are never deleted, and only key rotation may
-- re-seal `before`/`after` in place.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    object_kind  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    before       TEXT,
    after        TEXT
) STRICT;
CREATE INDEX audit_log_object_idx ON audit_log (object_kind, object_id, id);
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_rewrite BEFORE UPDATE ON audit_log
WHEN NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor OR NEW.action IS NOT OLD.action
  OR NEW.object_kind IS NOT OLD.object_kind OR NEW.object_id IS NOT OLD.object_id
  OR (OLD.before IS NULL) <> (NEW.before IS NULL) OR (OLD.after IS NULL) <> (NEW.after IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- CRM: notes, contact events, tasks and reminders about a customer or organisation.
-- `body` is sealed (staff write personal details into it).
CREATE TABLE crm_entries (
    id               INTEGER PRIMARY KEY,
    customer_id      INTEGER REFERENCES customers (id),
    organisation_id  INTEGER REFERENCES organisations (id),
    kind             TEXT NOT NULL CHECK (kind IN ('note', 'event', 'task', 'reminder')),
    channel          TEXT,
    body             TEXT NOT NULL,
    due_at           INTEGER,
    assignee         TEXT,
    status           TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX crm_entries_customer_idx ON crm_entries (customer_id, id);
CREATE INDEX crm_entries_organisation_idx ON crm_entries (organisation_id, id);
CREATE INDEX crm_entries_assignee_idx ON crm_entries (assignee, status, due_at);

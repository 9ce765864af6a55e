-- The customer portal's sign-in: one-time codes sent to a phone or e-mail, and the
-- sessions they open. The migration of the same number for the other backend does the
-- same.

-- A sign-in code asked for: neither the address nor the code is kept, only keyed
-- hashes (`address_hash` finds the codes of an address and counts them for the rate
-- limit; `ip_hash` counts those of a network address). `guesses` counts wrong codes
-- typed; a code is used once.
CREATE TABLE portal_codes (
    id            INTEGER PRIMARY KEY,
    address_hash  TEXT NOT NULL,
    ip_hash       TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    guesses       INTEGER NOT NULL DEFAULT 0,
    used_at       INTEGER
) STRICT;
CREATE INDEX portal_codes_address_idx ON portal_codes (address_hash, created_at);
CREATE INDEX portal_codes_ip_idx ON portal_codes (ip_hash, created_at);
CREATE INDEX portal_codes_created_idx ON portal_codes (created_at);

-- A customer's portal session; only the SHA-256 of its token is kept.
CREATE TABLE portal_sessions (
    token_hash   TEXT PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX portal_sessions_customer_idx ON portal_sessions (customer_id);

-- A gift card's balance asked for in the portal: only the keyed hash of the network
-- address that asked, to count the checks of an hour.
CREATE TABLE portal_guesses (
    ip_hash  TEXT NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
CREATE INDEX portal_guesses_idx ON portal_guesses (ip_hash, at);

-- Where customers find a store and when it is open (the portal's list of stores).
ALTER TABLE stores ADD COLUMN address TEXT;
ALTER TABLE stores ADD COLUMN hours TEXT;

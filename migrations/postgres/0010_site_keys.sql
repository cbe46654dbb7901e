-- Secrets the site creates for itself on first use, shared by every process on the
-- same database. `card_signing` signs the verification link printed on credit cards.
CREATE TABLE site_keys (
    name        TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,            -- hex
    created_at  BIGINT NOT NULL
);

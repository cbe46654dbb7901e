-- Secrets the site creates for itself on first use, shared by every process on the
-- same database. `card_signing` signs the verification link printed on credit cards.
CREATE TABLE site_keys (
    name        TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,            -- hex
    created_at  INTEGER NOT NULL
);

-- Consent to face images and audio during exams (sensitive personal information under
-- the Personal Information Protection Law): who agreed, for which enrollment, to which
-- version of the notice, and when.
CREATE TABLE proctoring_consents (
    id              TEXT PRIMARY KEY,
    operator_id     TEXT NOT NULL,
    enrollment_id   TEXT NOT NULL REFERENCES enrollments (id),
    notice_version  TEXT NOT NULL,
    consented_at    INTEGER NOT NULL,
    UNIQUE (enrollment_id, notice_version)
);

-- Anti-cheat review: screening outcomes and reviewer decisions on review cases, and
-- the device and IP address of study sessions for the cross-operator rules. Instants
-- are unix milliseconds (UTC); JSON is TEXT.

ALTER TABLE review_cases ADD COLUMN outcome TEXT NOT NULL DEFAULT 'review';  -- review | sample
ALTER TABLE review_cases ADD COLUMN decision TEXT;         -- accept | clear_sessions | clear_course | clear_year | void_score
ALTER TABLE review_cases ADD COLUMN effects TEXT;          -- JSON: sessions voided, credits withdrawn
CREATE INDEX review_cases_enrollment ON review_cases (enrollment_id);

ALTER TABLE study_sessions ADD COLUMN device TEXT;         -- evidence.device, copied by screening
ALTER TABLE study_sessions ADD COLUMN ip TEXT;             -- evidence.ip, copied by screening
CREATE INDEX study_sessions_device ON study_sessions (device, started_at);
CREATE INDEX study_sessions_ip ON study_sessions (ip, started_at);
CREATE INDEX study_sessions_operator ON study_sessions (operator_id, started_at);

-- Every view of evidence (face images, snapshots, audio): who, when, which record.
CREATE TABLE evidence_access_log (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    role         TEXT NOT NULL,
    subject_kind TEXT NOT NULL,            -- session | exam
    subject_id   TEXT NOT NULL,            -- the study session or exam attempt
    case_id      TEXT,                     -- the review case or appeal it was viewed for
    purpose      TEXT NOT NULL,            -- review | appeal
    accessed_at  BIGINT NOT NULL
);
CREATE INDEX evidence_access_log_subject ON evidence_access_log (subject_kind, subject_id, accessed_at);

-- Operator archives: append-only hash chains, one per operator and archive
-- (training | continuing_education). Rows are never updated or deleted; a correction
-- is a new row that names the seq it supersedes.
CREATE TABLE archive_entries (
    operator_id TEXT NOT NULL,
    archive     TEXT NOT NULL,
    seq         BIGINT NOT NULL,         -- 1, 2, 3 … within the operator's archive
    kind        TEXT NOT NULL,            -- session | exam | finding | decision | credit | card_issued | card_revoked | correction | …
    entry_key   TEXT NOT NULL,            -- idempotency key of the append
    unit_id     TEXT,                     -- the operator's unit when recorded
    body        TEXT NOT NULL,            -- JSON
    recorded_by TEXT NOT NULL,            -- account id, or 'system'
    approved_by TEXT,
    supersedes  BIGINT,                  -- seq of the corrected entry
    reason      TEXT,
    recorded_at BIGINT NOT NULL,
    prev_hash   TEXT NOT NULL,            -- hash of entry seq - 1; 64 zeros for seq 1
    hash        TEXT NOT NULL,            -- SHA-256 over every other column
    PRIMARY KEY (operator_id, archive, seq),
    UNIQUE (operator_id, archive, entry_key)
);

-- How an affiliation ended: released by the unit or by an association override.
ALTER TABLE affiliations ADD COLUMN ended_by TEXT;        -- account id
ALTER TABLE affiliations ADD COLUMN end_kind TEXT;        -- release | override
ALTER TABLE affiliations ADD COLUMN end_reason TEXT;
CREATE INDEX affiliations_operator ON affiliations (operator_id, started_at);

-- Appeals (申诉) against review decisions: one per case, decided by another reviewer.
CREATE TABLE review_appeals (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL UNIQUE REFERENCES review_cases (id),
    operator_id     TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,        -- open | upheld | overturned
    decided_by      TEXT,
    decided_at      BIGINT,
    decision_reason TEXT,
    effects         TEXT,                 -- JSON: what overturning restored
    created_at      BIGINT NOT NULL
);
CREATE INDEX review_appeals_status ON review_appeals (status, created_at);

CREATE TABLE appeal_files (
    appeal_id    TEXT NOT NULL REFERENCES review_appeals (id),
    seq          BIGINT NOT NULL,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,        -- bytes
    sha256       TEXT NOT NULL,
    content      BYTEA NOT NULL,
    PRIMARY KEY (appeal_id, seq)
);

-- Evidence removed by the retention job: which record, which evidence fields, when.
CREATE TABLE evidence_deletions (
    id             TEXT PRIMARY KEY,
    subject_kind   TEXT NOT NULL,          -- session | exam
    subject_id     TEXT NOT NULL,
    fields         TEXT NOT NULL,          -- JSON list of the evidence fields removed
    retention_days BIGINT NOT NULL,
    deleted_at     BIGINT NOT NULL
);
CREATE INDEX evidence_deletions_subject ON evidence_deletions (subject_kind, subject_id);

-- Manual verification (人工核验) by association staff from uploaded documents: units
-- whose credit code fails the checksum, operators whose real-name check failed.
ALTER TABLE operators ADD COLUMN real_name_status TEXT;   -- NULL unchecked | passed | failed | verified_manually
CREATE TABLE manual_verifications (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,            -- unit_credit_code | operator_real_name
    subject_id   TEXT NOT NULL,            -- unit id or operator id
    note         TEXT,
    status       TEXT NOT NULL,            -- open | approved | rejected
    submitted_by TEXT NOT NULL,            -- account id or operator id
    decided_by   TEXT,
    decided_at   BIGINT,
    reason       TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX manual_verifications_status ON manual_verifications (status, created_at);
CREATE UNIQUE INDEX manual_verifications_one_open ON manual_verifications (kind, subject_id) WHERE status = 'open';

CREATE TABLE verification_documents (
    verification_id TEXT NOT NULL REFERENCES manual_verifications (id),
    seq             BIGINT NOT NULL,
    file_name       TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            BIGINT NOT NULL,      -- bytes
    sha256          TEXT NOT NULL,
    content         BYTEA NOT NULL,
    PRIMARY KEY (verification_id, seq)
);

-- Continuing-education records of years before the platform, uploaded by units or staff
-- and counted only once approved. From the platform's first year on, only platform
-- data counts.
CREATE TABLE past_year_records (
    id           TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL REFERENCES operators (id),
    year         BIGINT NOT NULL,
    item_code    TEXT NOT NULL,            -- 作业项目代号
    credits      BIGINT NOT NULL,
    source       TEXT NOT NULL,            -- who kept the record: the former platform, the unit's ledger …
    status       TEXT NOT NULL,            -- pending | approved | rejected
    submitted_by TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   BIGINT,
    reason       TEXT,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX past_year_records_one ON past_year_records (operator_id, year, item_code) WHERE status <> 'rejected';

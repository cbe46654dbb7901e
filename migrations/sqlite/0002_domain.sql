-- The field's records: units, operators, accounts, courseware, enrollments, study
-- sessions, exams, credits, cards, review cases, deliveries. Instants are unix
-- milliseconds (UTC); Beijing calendar dates are TEXT 'YYYY-MM-DD'; JSON is TEXT.

CREATE TABLE units (
    id           TEXT PRIMARY KEY,
    uscc         TEXT NOT NULL UNIQUE,    -- 统一社会信用代码, normalized
    name         TEXT NOT NULL,
    region_code  TEXT,
    status       TEXT NOT NULL,           -- active | pending_verification
    created_at   INTEGER NOT NULL
);

CREATE TABLE operators (
    id          TEXT PRIMARY KEY,
    mobile      TEXT NOT NULL UNIQUE,     -- normalized mainland mobile
    name        TEXT,
    id_number   TEXT UNIQUE,              -- normalized 18-character ID number
    gender      TEXT,
    email       TEXT,
    unit_id     TEXT REFERENCES units (id),  -- at most one unit at a time
    status      TEXT NOT NULL,            -- pre_registered | registered | complete
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE operator_items (
    operator_id           TEXT NOT NULL REFERENCES operators (id),
    item_code             TEXT NOT NULL,  -- 作业项目代号
    catalogue_version     TEXT NOT NULL,  -- '2019'
    certificate_issued_on TEXT,
    PRIMARY KEY (operator_id, item_code)
);

CREATE TABLE affiliations (
    id          TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    unit_id     TEXT NOT NULL REFERENCES units (id),
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    source      TEXT NOT NULL             -- roster | info_completion | override
);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    role          TEXT NOT NULL,          -- association_admin | reviewer | unit_admin | institution
    login         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    unit_id       TEXT REFERENCES units (id),
    institution_id TEXT,
    mobile        TEXT,
    email         TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE auth_sessions (
    token_hash  TEXT PRIMARY KEY,         -- SHA-256 of the bearer token or cookie value
    account_id  TEXT,
    operator_id TEXT,
    role        TEXT NOT NULL,            -- operator or an account role
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE login_codes (
    id          TEXT PRIMARY KEY,
    mobile      TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    used_at     INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX login_codes_mobile ON login_codes (mobile, created_at);

CREATE TABLE institutions (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    uscc        TEXT NOT NULL UNIQUE,
    key_id      TEXT NOT NULL UNIQUE,
    secret      TEXT NOT NULL,            -- HMAC key, hex
    items       TEXT NOT NULL,            -- comma-separated item codes it may teach
    status      TEXT NOT NULL,            -- approved | suspended
    created_at  INTEGER NOT NULL
);

CREATE TABLE courses (
    item_code   TEXT NOT NULL,
    year        INTEGER NOT NULL,
    code        TEXT NOT NULL,
    title       TEXT NOT NULL,
    minutes     INTEGER NOT NULL,         -- minimum study minutes
    version     INTEGER NOT NULL,
    status      TEXT NOT NULL,            -- published | retired
    PRIMARY KEY (item_code, year, code)
);

CREATE TABLE questions (
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    item_code   TEXT NOT NULL,
    course_code TEXT NOT NULL,
    body        TEXT NOT NULL,            -- JSON of the question, answer included
    status      TEXT NOT NULL,            -- published | retired
    PRIMARY KEY (id, version)
);
CREATE INDEX questions_course ON questions (item_code, course_code, status);

CREATE TABLE enrollments (
    id             TEXT PRIMARY KEY,
    operator_id    TEXT NOT NULL REFERENCES operators (id),
    year           INTEGER NOT NULL,
    item_code      TEXT NOT NULL,
    instance_id    TEXT NOT NULL,         -- the annual_ce workflow instance
    institution_id TEXT,
    created_at     INTEGER NOT NULL,
    UNIQUE (operator_id, year, item_code)
);

CREATE TABLE study_sessions (
    id             TEXT PRIMARY KEY,
    statement_id   TEXT NOT NULL UNIQUE,  -- the institution's id: a repeat is a duplicate
    institution_id TEXT NOT NULL,
    enrollment_id  TEXT NOT NULL REFERENCES enrollments (id),
    operator_id    TEXT NOT NULL,
    unit_id        TEXT,                  -- the operator's unit when the session took place
    course_code    TEXT NOT NULL,
    started_at     INTEGER NOT NULL,
    ended_at       INTEGER NOT NULL,
    face_check     TEXT NOT NULL,         -- passed | failed | missing
    evidence       TEXT NOT NULL,         -- JSON: snapshots, random checks, device, ip
    status         TEXT NOT NULL,         -- reported | cleared | flagged | voided
    created_at     INTEGER NOT NULL
);
CREATE INDEX study_sessions_enrollment ON study_sessions (enrollment_id, course_code);

CREATE TABLE exam_attempts (
    id            TEXT PRIMARY KEY,
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
    operator_id   TEXT NOT NULL,
    beijing_date  TEXT NOT NULL,          -- Beijing date of the start: the daily limit counts these
    started_at    INTEGER NOT NULL,
    deadline_at   INTEGER NOT NULL,       -- start + time limit, by the server's clock
    finished_at   INTEGER,
    status        TEXT NOT NULL,          -- in_progress | submitted | expired
    paper         TEXT NOT NULL,          -- JSON: exact questions, versions and option order
    answers       TEXT NOT NULL,          -- JSON: question id -> letters
    score         REAL,
    passed        INTEGER,
    evidence      TEXT NOT NULL,          -- JSON: face checks, snapshots, audio, focus loss
    review_status TEXT NOT NULL,          -- none | pending | accepted | voided
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX exam_attempts_one_open ON exam_attempts (enrollment_id) WHERE status = 'in_progress';
CREATE INDEX exam_attempts_day ON exam_attempts (enrollment_id, beijing_date);

CREATE TABLE credits (
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
    course_code   TEXT NOT NULL,
    attempt_id    TEXT NOT NULL,
    awarded_at    INTEGER NOT NULL,
    withdrawn_at  INTEGER,
    PRIMARY KEY (enrollment_id, course_code)
);

CREATE TABLE cards (
    id            TEXT PRIMARY KEY,
    card_no       TEXT NOT NULL UNIQUE,
    operator_id   TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    year          INTEGER NOT NULL,
    item_code     TEXT NOT NULL,
    unit_name     TEXT,                   -- the unit at the time of issue
    credits       INTEGER NOT NULL,
    issued_at     INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT
);
CREATE UNIQUE INDEX cards_one_valid ON cards (operator_id, year, item_code) WHERE revoked_at IS NULL;

CREATE TABLE review_cases (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,          -- session | exam
    subject_id    TEXT NOT NULL UNIQUE,   -- the session or attempt under review
    enrollment_id TEXT NOT NULL,
    findings      TEXT NOT NULL,          -- JSON list of rule findings with evidence
    status        TEXT NOT NULL,          -- open | accepted | rejected
    decided_by    TEXT,
    decided_at    INTEGER,
    reason        TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX review_cases_status ON review_cases (status, created_at);

CREATE TABLE sync_sequences (
    operator_ref  TEXT PRIMARY KEY,       -- provincial ordering key
    last_sequence INTEGER NOT NULL
);

CREATE TABLE sync_records (
    idempotency_key TEXT PRIMARY KEY,     -- the outbox entry id
    operator_ref    TEXT NOT NULL,
    sequence        INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,        -- pending | delivered | rejected
    ack_id          TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);

CREATE TABLE deliveries (
    idempotency_key     TEXT PRIMARY KEY, -- outbox entry id + recipient + channel
    channel             TEXT NOT NULL,    -- sms | email
    recipient_masked    TEXT NOT NULL,
    template            TEXT NOT NULL,
    status              TEXT NOT NULL,    -- sent | failed | skipped
    provider_message_id TEXT,
    created_at          INTEGER NOT NULL
);

CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,            -- route and caller
    key         TEXT NOT NULL,
    status      INTEGER NOT NULL,         -- HTTP status of the first response
    response    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Internal training (内部培训) by qualified units, and resumable file uploads kept in
-- the object store. Instants are unix milliseconds (UTC); dates are Beijing calendar
-- dates as YYYY-MM-DD text; JSON is TEXT.

-- Qualifications the association grants a unit, such as internal_training.
CREATE TABLE unit_qualifications (
    unit_id       TEXT NOT NULL REFERENCES units (id),
    qualification TEXT NOT NULL,            -- internal_training
    valid_until   TEXT,                     -- last Beijing date it holds; NULL: no end
    granted_by    TEXT NOT NULL,
    granted_at    BIGINT NOT NULL,
    revoked_by    TEXT,
    revoked_at    BIGINT,
    PRIMARY KEY (unit_id, qualification)
);

-- A training event a unit submits for association review.
CREATE TABLE training_events (
    id              TEXT PRIMARY KEY,
    unit_id         TEXT NOT NULL REFERENCES units (id),
    title           TEXT NOT NULL,
    year            BIGINT NOT NULL,
    item_code       TEXT NOT NULL,          -- 作业项目代号
    courses         TEXT NOT NULL,          -- JSON array of course codes
    starts_on       TEXT NOT NULL,
    ends_on         TEXT NOT NULL,
    location        TEXT,
    teachers        TEXT NOT NULL,          -- JSON array of {name, title, credential_no}
    status          TEXT NOT NULL,          -- draft | submitted | changes_requested | approved | rejected
    instance_id     TEXT,                   -- the internal_training instance, from the first submission
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    submitted_at    BIGINT,
    decided_by      TEXT,
    decided_at      BIGINT,
    decision_reason TEXT
);
CREATE INDEX training_events_unit ON training_events (unit_id, created_at);
CREATE INDEX training_events_status ON training_events (status, submitted_at);

-- The attendance list as last uploaded: operators of the unit enrolled for the
-- event's year and item.
CREATE TABLE training_attendees (
    event_id      TEXT NOT NULL REFERENCES training_events (id),
    operator_id   TEXT NOT NULL REFERENCES operators (id),
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
    line          BIGINT NOT NULL,         -- row of the attendance sheet
    PRIMARY KEY (event_id, operator_id)
);

-- Every review decision on an event, in order; changes may be requested more than once.
CREATE TABLE training_decisions (
    event_id   TEXT NOT NULL REFERENCES training_events (id),
    seq        BIGINT NOT NULL,
    decision   TEXT NOT NULL,               -- approve | request_changes | reject
    reason     TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    effects    TEXT,                        -- JSON: attendees credited and not credited
    PRIMARY KEY (event_id, seq)
);

-- A file uploaded in chunks. Each chunk is an object uploads/<id>/<index>; the file is
-- the chunks in index order, checked against sha256 when the upload completes.
CREATE TABLE uploads (
    id           TEXT PRIMARY KEY,
    owner_kind   TEXT NOT NULL,             -- training_event
    owner_id     TEXT NOT NULL,
    purpose      TEXT NOT NULL,             -- attendance | lecture | credential
    file_name    TEXT NOT NULL,
    size         BIGINT NOT NULL,          -- declared size in bytes
    chunk_bytes  BIGINT NOT NULL,          -- size of every chunk but the last
    sha256       TEXT NOT NULL,             -- declared hex SHA-256 of the whole file
    content_type TEXT,                      -- read from the first chunk's first bytes
    status       TEXT NOT NULL,             -- receiving | complete | discarded
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX uploads_owner ON uploads (owner_kind, owner_id, purpose);

CREATE TABLE upload_chunks (
    upload_id   TEXT NOT NULL REFERENCES uploads (id),
    idx         BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (upload_id, idx)
);

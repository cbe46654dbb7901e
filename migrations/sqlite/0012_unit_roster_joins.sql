-- Roster imports that run in two steps: the uploaded file is checked and shown as a
-- preview, then the admin confirms and the rows are written in chunks. The file stays
-- in the object store under `object_key` until the import ends.
CREATE TABLE roster_imports (
    id             TEXT PRIMARY KEY,
    unit_id        TEXT NOT NULL REFERENCES units (id),
    created_by     TEXT NOT NULL,            -- account id
    file_name      TEXT NOT NULL,
    object_key     TEXT NOT NULL,
    status         TEXT NOT NULL,            -- previewed | running | done | failed
    total_rows     INTEGER NOT NULL,
    done_rows      INTEGER NOT NULL DEFAULT 0,
    accepted       INTEGER NOT NULL DEFAULT 0,
    rejected       INTEGER NOT NULL DEFAULT 0,
    result         TEXT,                     -- JSON rows of the finished import
    error          TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX roster_imports_unit ON roster_imports (unit_id, created_at);

-- A unit's request to take on an operator who belongs to another unit. The current
-- unit releases or declines it; an association admin may release in its place.
CREATE TABLE join_requests (
    id                   TEXT PRIMARY KEY,
    operator_id          TEXT NOT NULL REFERENCES operators (id),
    requesting_unit_id   TEXT NOT NULL REFERENCES units (id),
    current_unit_id      TEXT NOT NULL REFERENCES units (id),
    requested_by         TEXT NOT NULL,      -- account id
    request_reason       TEXT,
    status               TEXT NOT NULL,      -- pending | released | declined | lapsed
    decided_by           TEXT,
    decided_kind         TEXT,               -- release | override | decline
    decision_reason      TEXT,
    created_at           INTEGER NOT NULL,
    decided_at           INTEGER
);
-- At most one pending request per operator.
CREATE UNIQUE INDEX join_requests_one_pending ON join_requests (operator_id) WHERE status = 'pending';
CREATE INDEX join_requests_requesting ON join_requests (requesting_unit_id, created_at);
CREATE INDEX join_requests_current ON join_requests (current_unit_id, created_at);

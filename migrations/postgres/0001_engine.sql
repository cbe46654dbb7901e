-- Workflow engine tables. Instants are unix milliseconds (UTC) in BIGINT columns and
-- JSON is TEXT, so the same SQL runs on SQLite and PostgreSQL through sqlx's Any driver.

CREATE TABLE wf_definitions (
    definition_id TEXT NOT NULL,
    version       TEXT NOT NULL,          -- hex SHA-256 of the source text
    label         TEXT NOT NULL,
    source        TEXT NOT NULL,
    published_by  TEXT NOT NULL,
    published_at  BIGINT NOT NULL,
    seq           BIGINT NOT NULL,       -- publish order within the definition
    PRIMARY KEY (definition_id, version)
);

CREATE TABLE wf_instances (
    id            TEXT PRIMARY KEY,
    definition_id TEXT NOT NULL,
    version       TEXT NOT NULL,
    subject_key   TEXT NOT NULL,
    subject       TEXT NOT NULL,          -- JSON object of the subject parts
    state         TEXT NOT NULL,
    context       TEXT NOT NULL,          -- JSON object of context variables
    status        TEXT NOT NULL,          -- running | paused | terminal
    lock_version  BIGINT NOT NULL,       -- optimistic lock, +1 on every change
    history_seq   BIGINT NOT NULL,       -- seq of the last history entry
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (definition_id, subject_key)
);
CREATE INDEX wf_instances_state ON wf_instances (definition_id, state);

CREATE TABLE wf_history (
    instance_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,            -- started | transition | ignored | rejected | inbox | action
    event       TEXT,
    event_id    TEXT,
    from_state  TEXT,
    to_state    TEXT,
    detail      TEXT NOT NULL,            -- JSON
    PRIMARY KEY (instance_id, seq)
);

CREATE TABLE wf_events (
    event_id    TEXT PRIMARY KEY,         -- the sender's id: a repeat is acknowledged and ignored
    instance_id TEXT NOT NULL,
    event       TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    outcome     TEXT NOT NULL
);

CREATE TABLE wf_inbox (
    event_id    TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    event       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX wf_inbox_instance ON wf_inbox (instance_id, received_at);

CREATE TABLE wf_timers (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    timer_index BIGINT NOT NULL,
    event       TEXT NOT NULL,
    due_at      BIGINT NOT NULL,
    status      TEXT NOT NULL,            -- pending | fired | cancelled
    created_at  BIGINT NOT NULL
);
CREATE INDEX wf_timers_due ON wf_timers (status, due_at);
CREATE INDEX wf_timers_instance ON wf_timers (instance_id, status);

CREATE TABLE wf_outbox (
    id                 TEXT PRIMARY KEY,  -- also the idempotency key of the side effect
    instance_id        TEXT NOT NULL,
    kind               TEXT NOT NULL,     -- notify | sync | job
    action             TEXT NOT NULL,     -- JSON: the action and the instance snapshot it needs
    policy             TEXT NOT NULL,     -- JSON retry policy
    status             TEXT NOT NULL,     -- pending | done | failed
    attempts           BIGINT NOT NULL,
    due_at             BIGINT NOT NULL,
    dispatched_attempt BIGINT NOT NULL,  -- the attempt number last handed to a worker
    dispatched_at      BIGINT,            -- wall-clock ms of the last hand-out (the lease)
    last_error         TEXT,
    result             TEXT,
    created_at         BIGINT NOT NULL,
    completed_at       BIGINT
);
CREATE INDEX wf_outbox_due ON wf_outbox (status, due_at);
CREATE INDEX wf_outbox_instance ON wf_outbox (instance_id);

CREATE TABLE wf_incidents (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    outbox_id   TEXT,
    kind        TEXT NOT NULL,            -- action_failed | stuck_instance
    error       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    status      TEXT NOT NULL,            -- open | retried | skipped | cancelled
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT,
    resolved_by TEXT
);
CREATE INDEX wf_incidents_status ON wf_incidents (status);

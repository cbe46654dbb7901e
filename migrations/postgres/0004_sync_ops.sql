-- Provincial sync operations, inbound base data, cron ticks and delivery limits.
-- Instants are unix milliseconds (UTC); Beijing calendar dates are TEXT 'YYYY-MM-DD'.

-- The instant the transition recorded the entry: the record's occurred_at, by which
-- daily reconciliation counts. The instance lets staff find the record's pipeline.
ALTER TABLE sync_records ADD COLUMN occurred_at BIGINT;
ALTER TABLE sync_records ADD COLUMN instance_id TEXT;
UPDATE sync_records SET occurred_at = created_at WHERE occurred_at IS NULL;
CREATE INDEX sync_records_operator ON sync_records (operator_ref, sequence);
CREATE INDEX sync_records_occurred ON sync_records (kind, occurred_at);

-- One row per scheduled job and tick: the process that inserts it runs the tick, any
-- other process that tries the same tick gets a unique violation and skips it.
CREATE TABLE cron_runs (
    job         TEXT NOT NULL,
    tick_at     BIGINT NOT NULL,           -- the schedule's firing instant
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT,                     -- ok | failed: <error>
    PRIMARY KEY (job, tick_at)
);

-- Certificates (作业人员证) an operator holds, pulled from the supervision platform.
CREATE TABLE operator_certificates (
    operator_id    TEXT NOT NULL,
    certificate_no TEXT NOT NULL,
    item_code      TEXT NOT NULL,         -- 作业项目代号 as the platform sends it
    issued_on      TEXT NOT NULL,
    expires_on     TEXT NOT NULL,
    fetched_at     BIGINT NOT NULL,
    PRIMARY KEY (operator_id, certificate_no)
);

-- The last pull of each operator's certificates, so the refresh job knows what is due.
CREATE TABLE certificate_pulls (
    operator_id TEXT PRIMARY KEY,
    pulled_at   BIGINT NOT NULL,           -- last attempt
    status      TEXT NOT NULL,            -- ok | failed
    error       TEXT
);

-- Per-recipient rate limit and deduplication of notifications.
ALTER TABLE deliveries ADD COLUMN recipient_key TEXT;   -- hex SHA-256 of channel and address
ALTER TABLE deliveries ADD COLUMN dedupe_key TEXT;      -- instance, event, template, channel, recipient
CREATE INDEX deliveries_recipient ON deliveries (recipient_key, created_at);
CREATE INDEX deliveries_dedupe ON deliveries (dedupe_key);

-- Per-recipient rate limit slots: one row per (recipient, hour, slot number). A sender
-- takes a slot by inserting its row, so two workers never take the same slot.
CREATE TABLE delivery_slots (
    slot_key TEXT PRIMARY KEY,            -- recipient_key:hour:n
    taken_at BIGINT NOT NULL
);

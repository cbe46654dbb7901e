-- Workflow events that a domain transaction (a review decision, an appeal, an internal
-- training decision) committed to send. They are written in the same transaction as
-- the decision and deleted once the engine has taken them, so a crash between the
-- commit and the send leaves the event here for the scheduled sweep to deliver. The
-- engine ignores a repeated event id, so delivering twice is harmless.
CREATE TABLE pending_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,   -- delivery order
    event_id     TEXT NOT NULL UNIQUE,                -- the engine's event id
    instance_id  TEXT NOT NULL,
    event        TEXT NOT NULL,
    payload      TEXT NOT NULL,                       -- JSON object
    created_at   INTEGER NOT NULL,                    -- unix ms, engine clock
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);

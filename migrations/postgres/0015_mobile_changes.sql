-- Changing an operator's mobile number (更换手机号).
--
-- Codes for a change are login_codes rows with their own purpose, so they share the
-- login codes' expiry, attempt limit and per-number rate limits, and a change code can
-- never sign anyone in.
ALTER TABLE login_codes ADD COLUMN purpose TEXT NOT NULL DEFAULT 'login';  -- login | mobile_change_old | mobile_change_new

-- A change waiting for its codes. It holds the full new number until it is confirmed
-- or expires; the codes it waits for are the latest of their number and purpose.
CREATE TABLE mobile_change_requests (
    id           TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL REFERENCES operators (id),
    new_mobile   TEXT NOT NULL,
    kind         TEXT NOT NULL,            -- self | unit_override | association_override
    reason       TEXT,                     -- required for the overrides
    requested_by TEXT NOT NULL,            -- operator:<id> or the admin's account id
    old_code_id  TEXT,                     -- NULL for the overrides (the old number is lost)
    new_code_id  TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    completed_at BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX mobile_change_requests_operator ON mobile_change_requests (operator_id, created_at);

-- Every change made: who, when, both numbers masked, and why.
CREATE TABLE mobile_changes (
    id                TEXT PRIMARY KEY,
    operator_id       TEXT NOT NULL REFERENCES operators (id),
    request_id        TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL,       -- as in mobile_change_requests
    old_mobile_masked TEXT NOT NULL,
    new_mobile_masked TEXT NOT NULL,
    reason            TEXT,
    changed_by        TEXT NOT NULL,       -- operator:<id> or the admin's account id
    changed_at        BIGINT NOT NULL
);
CREATE INDEX mobile_changes_operator ON mobile_changes (operator_id, changed_at);

-- Password login attempts per login name, counted before the password is checked, so
-- that guesses beyond the limit are refused whether the login exists or not. A
-- successful login deletes the login's rows; older rows are pruned as new ones arrive.
CREATE TABLE password_attempts (
    id           TEXT PRIMARY KEY,
    login        TEXT NOT NULL,           -- trimmed and lowercased, as typed
    attempted_at BIGINT NOT NULL         -- unix ms by the engine clock
);
CREATE INDEX password_attempts_login ON password_attempts (login, attempted_at);

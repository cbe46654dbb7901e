-- The question bank with versions and review: course versions per item and year,
-- question versions belonging to a course version, and the history of every review
-- step. `courses` stays the table of each course's published version, because study
-- screening reads minimum minutes from it; publishing or retiring a course version
-- updates that row in the same transaction.
--
-- Statuses of course versions and questions: draft -> under_review -> published ->
-- retired. A rejected review returns the version to draft.

CREATE TABLE course_versions (
    id           TEXT PRIMARY KEY,        -- '{item}:{year}:{code}@{version}'
    item_code    TEXT NOT NULL,           -- 作业项目代号
    year         BIGINT NOT NULL,
    code         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    title        TEXT NOT NULL,
    minutes      BIGINT NOT NULL,        -- minimum study minutes
    status       TEXT NOT NULL,           -- draft | under_review | published | retired
    author       TEXT NOT NULL,           -- account id, or 'seed' for the bundled courseware
    submitted_by TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (item_code, year, code, version)
);
CREATE UNIQUE INDEX course_versions_one_published ON course_versions (item_code, year, code) WHERE status = 'published';

-- The old table kept one JSON body per question version and no review state; the
-- bundled courseware re-seeds the new one at start-up.
DROP TABLE questions;

CREATE TABLE questions (
    id             TEXT PRIMARY KEY,      -- question version id '{question_key}@{version}': papers store it
    question_key   TEXT NOT NULL,         -- stable across versions, such as 'T-01-2'
    version        BIGINT NOT NULL,
    item_code      TEXT NOT NULL,
    course_code    TEXT NOT NULL,
    course_version BIGINT NOT NULL,      -- the course version the question belongs to
    kind           TEXT NOT NULL,         -- single | multiple | true_false
    difficulty     BIGINT NOT NULL,      -- 1 easy .. 3 hard
    stem_key       TEXT NOT NULL,         -- normalized stem: duplicates in one course are rejected
    body           TEXT NOT NULL,         -- JSON of the question, answer and explanation included
    status         TEXT NOT NULL,         -- draft | under_review | published | retired
    author         TEXT NOT NULL,
    submitted_by   TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (question_key, version)
);
CREATE INDEX questions_draw ON questions (item_code, course_code, course_version, status);
CREATE INDEX questions_stem ON questions (item_code, course_code, stem_key);

CREATE TABLE bank_history (
    id           TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL,           -- course | question
    subject_id   TEXT NOT NULL,           -- course_versions.id or questions.id
    action       TEXT NOT NULL,           -- created | imported | seeded | submitted | approved | rejected | retired
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT,
    at           BIGINT NOT NULL
);
CREATE INDEX bank_history_subject ON bank_history (subject_kind, subject_id, at);

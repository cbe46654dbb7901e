-- Site content that association staff manage: notices (通知公告), help pages (帮助)
-- and the footer settings, with a log of footer changes; plus the indexes that the
-- statistics queries group on. Instants are unix milliseconds (UTC).

CREATE TABLE notices (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,            -- plain text; blank lines separate paragraphs
    status       TEXT NOT NULL,            -- draft | published | withdrawn
    publish_at   INTEGER NOT NULL,         -- shown publicly from this instant once published
    created_by   TEXT NOT NULL,            -- account id
    created_at   INTEGER NOT NULL,
    updated_by   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX notices_public ON notices (status, publish_at);

CREATE TABLE help_pages (
    slug         TEXT PRIMARY KEY,         -- lower-case letters, digits and hyphens
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,            -- plain text; blank lines separate paragraphs
    position     INTEGER NOT NULL,         -- order in the list, ascending
    updated_by   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Footer settings that override the CERTFLOW_SITE_NAME, CERTFLOW_ICP_FILING and
-- CERTFLOW_SITE_CONTACT defaults. A missing row keeps the default.
CREATE TABLE site_settings (
    name         TEXT PRIMARY KEY,         -- site_name | icp_filing | contact
    value        TEXT NOT NULL,
    updated_by   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE site_settings_log (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    old_value    TEXT,                     -- NULL when the setting was unset
    new_value    TEXT,                     -- NULL when the setting was cleared
    changed_by   TEXT NOT NULL,            -- account id
    changed_at   INTEGER NOT NULL
);
CREATE INDEX site_settings_log_time ON site_settings_log (changed_at);

-- Statistics filter enrollments by year and join cards by enrollment.
CREATE INDEX enrollments_year ON enrollments (year, item_code);
CREATE INDEX cards_enrollment ON cards (enrollment_id);

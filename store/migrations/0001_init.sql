-- rollcall store, schema 1.
-- Timestamps are RFC 3339 UTC text with microseconds ("2025-01-02T03:04:05.000000Z"),
-- so they sort and compare correctly as text. JSON columns hold JSON text.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL COLLATE NOCASE,
    email       TEXT COLLATE NOCASE,
    first_name  TEXT,
    last_name   TEXT,
    role        TEXT,
    custom      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(custom) AND json_type(custom) = 'object'),
    source      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (username COLLATE NOCASE);
CREATE UNIQUE INDEX users_email ON users (email COLLATE NOCASE) WHERE email IS NOT NULL;

CREATE TABLE saas_users (
    id                INTEGER PRIMARY KEY,
    user_id           INTEGER REFERENCES users (id) ON DELETE SET NULL,
    app               TEXT NOT NULL,
    instance          TEXT NOT NULL,
    external_id       TEXT NOT NULL,
    username          TEXT,
    user_type         TEXT,
    active            INTEGER CHECK (active IN (0, 1)),
    roles             TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(roles) AND json_type(roles) = 'array'),
    last_activity_at  TEXT,
    fields            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(fields) AND json_type(fields) = 'object'),
    first_seen_at     TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL,
    -- the run that last saw this account; used to mark accounts a complete run did not see
    last_seen_run_id  INTEGER,
    present           INTEGER NOT NULL DEFAULT 1 CHECK (present IN (0, 1)),
    updated_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX saas_users_instance_external ON saas_users (instance, external_id);
CREATE INDEX saas_users_user ON saas_users (user_id);

CREATE TABLE integrations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    definition  TEXT NOT NULL CHECK (json_valid(definition)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    integration   TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    dry_run       INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    complete      INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    fetched       INTEGER NOT NULL DEFAULT 0,
    created       INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL DEFAULT 0,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    marked_absent INTEGER NOT NULL DEFAULT 0,
    message       TEXT,
    pid           INTEGER NOT NULL,
    heartbeat_at  TEXT NOT NULL
);
CREATE INDEX runs_integration ON runs (integration, id);
-- at most one live run per integration, enforced by the database itself
CREATE UNIQUE INDEX runs_one_running ON runs (integration) WHERE status = 'running';

CREATE TABLE run_errors (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    record_key  TEXT NOT NULL,
    stage       TEXT NOT NULL CHECK (stage IN ('fetch', 'extract', 'map', 'store')),
    reason      TEXT NOT NULL
);
CREATE INDEX run_errors_run ON run_errors (run_id, id);

CREATE TABLE credentials (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    connector    TEXT NOT NULL,
    input_names  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(input_names) AND json_type(input_names) = 'array'),
    ciphertext   BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE custom_fields (
    key                     TEXT PRIMARY KEY,
    label                   TEXT NOT NULL,
    created_by_integration  TEXT,
    created_at              TEXT NOT NULL
);

CREATE TABLE views (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    target      TEXT NOT NULL CHECK (target IN ('users', 'saas_users')),
    definition  TEXT NOT NULL CHECK (json_valid(definition)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- rollcall store, schema 6: `users` and `saas_users` rebuilt so that a sync's multi-row
-- writes need no statement journal.
--
-- SQLite keeps a statement journal (a copy of every existing page a statement touches,
-- so that the statement alone can be undone) for any statement that writes several rows
-- and may abort half-way. A sync writes its people and accounts 128 rows per INSERT, and
-- the pages it touches are mostly existing index pages in random order, so the journal
-- copied several MiB per batch: about a quarter of SQLite's time in a first sync
-- (BENCHMARKS.md §4). Three things made those statements "may abort":
--
-- 1. CHECK constraints that call functions (`json_valid`, `json_type`): any function call
--    may raise an error. They are replaced by checks on the first character of the JSON
--    text, which need no function call. The writers build these columns with serde_json,
--    so the text is valid JSON; the check keeps its kind (object or array) honest.
-- 2. The immediate foreign key `saas_users.user_id`: it is now DEFERRABLE INITIALLY
--    DEFERRED, checked when the transaction commits (a sync writes the person and the
--    account in one transaction anyway). ON DELETE SET NULL still acts at once.
-- 3. The default ABORT conflict resolution: the sync's statements say `OR FAIL` instead,
--    and a failed statement fails the whole run, whose transaction is rolled back.
--
-- SQLite cannot change constraints in place, so both tables are rebuilt. The old tables
-- are renamed first, which points the old accounts' foreign key at the old people, so
-- that dropping the old people at the end deletes no link (foreign keys stay on).

ALTER TABLE saas_users RENAME TO saas_users_old;
ALTER TABLE users RENAME TO users_old;

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL COLLATE NOCASE,
    email       TEXT COLLATE NOCASE,
    first_name  TEXT,
    last_name   TEXT,
    role        TEXT,
    -- a JSON object (see 1. above)
    custom      TEXT NOT NULL DEFAULT '{}' CHECK (custom >= '{' AND custom < '|'),
    source      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
INSERT INTO users (id, username, email, first_name, last_name, role, custom, source,
                   created_at, updated_at)
SELECT id, username, email, first_name, last_name, role, custom, source, created_at, updated_at
FROM users_old;

CREATE TABLE saas_users (
    id                INTEGER PRIMARY KEY,
    user_id           INTEGER REFERENCES users (id) ON DELETE SET NULL
                          DEFERRABLE INITIALLY DEFERRED,
    app               TEXT NOT NULL,
    instance          TEXT NOT NULL,
    external_id       TEXT NOT NULL,
    username          TEXT,
    user_type         TEXT,
    active            INTEGER CHECK (active IN (0, 1)),
    -- a JSON array (see 1. above)
    roles             TEXT NOT NULL DEFAULT '[]' CHECK (roles >= '[' AND roles < '\'),
    last_activity_at  TEXT,
    -- a JSON object (see 1. above)
    fields            TEXT NOT NULL DEFAULT '{}' CHECK (fields >= '{' AND fields < '|'),
    first_seen_at     TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL,
    -- the run that last saw this account; used to mark accounts a complete run did not see
    last_seen_run_id  INTEGER,
    present           INTEGER NOT NULL DEFAULT 1 CHECK (present IN (0, 1)),
    updated_at        TEXT NOT NULL,
    -- see schema 2
    digest            INTEGER
);
INSERT INTO saas_users (id, user_id, app, instance, external_id, username, user_type, active,
                        roles, last_activity_at, fields, first_seen_at, last_seen_at,
                        last_seen_run_id, present, updated_at, digest)
SELECT id, user_id, app, instance, external_id, username, user_type, active, roles,
       last_activity_at, fields, first_seen_at, last_seen_at, last_seen_run_id, present,
       updated_at, digest
FROM saas_users_old;

-- Drops the old accounts' indexes and trigger with them; then nothing refers to the old
-- people.
DROP TABLE saas_users_old;
DROP TABLE users_old;

CREATE UNIQUE INDEX users_username ON users (username COLLATE NOCASE);
CREATE UNIQUE INDEX users_email ON users (email COLLATE NOCASE) WHERE email IS NOT NULL;

CREATE UNIQUE INDEX saas_users_instance_external ON saas_users (instance, external_id);
CREATE INDEX saas_users_user ON saas_users (user_id);
CREATE INDEX saas_users_app_instance ON saas_users (app COLLATE NOCASE, instance COLLATE NOCASE);
CREATE INDEX saas_users_username ON saas_users (username);

-- As in schema 2.
CREATE TRIGGER saas_users_digest_stale
AFTER UPDATE OF username, user_type, active, roles, last_activity_at, fields ON saas_users
WHEN NEW.digest IS OLD.digest AND NEW.digest IS NOT NULL
BEGIN
    UPDATE saas_users SET digest = NULL WHERE id = NEW.id;
END;

-- rollcall store, schema 7: a run can end `cancelled` (a signal stopped it; its data was
-- rolled back, as for `failed`), and a record a plugin dropped is logged under the stage
-- `plugin` instead of `extract`. SQLite cannot change a CHECK in place, so `runs` and
-- `run_errors` are rebuilt as in schema 6: the old tables are renamed first (which points
-- the old errors' foreign key at the old runs), so that dropping them cascades nowhere.

ALTER TABLE run_errors RENAME TO run_errors_old;
ALTER TABLE runs RENAME TO runs_old;

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    integration   TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL
                      CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
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
INSERT INTO runs (id, integration, started_at, finished_at, status, dry_run, complete, fetched,
                  created, updated, unchanged, skipped, failed, marked_absent, message, pid,
                  heartbeat_at)
SELECT id, integration, started_at, finished_at,
       -- runs cancelled before this schema were stored as failed with this message
       CASE WHEN status = 'failed' AND message LIKE 'cancelled:%' THEN 'cancelled'
            ELSE status END,
       dry_run, complete, fetched, created, updated, unchanged, skipped, failed,
       marked_absent, message, pid, heartbeat_at
FROM runs_old;

CREATE TABLE run_errors (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    record_key  TEXT NOT NULL,
    stage       TEXT NOT NULL CHECK (stage IN ('fetch', 'extract', 'plugin', 'map', 'store')),
    reason      TEXT NOT NULL
);
INSERT INTO run_errors (id, run_id, record_key, stage, reason)
SELECT id, run_id, record_key, stage, reason FROM run_errors_old;

DROP TABLE run_errors_old;
DROP TABLE runs_old;

CREATE INDEX runs_integration ON runs (integration, id);
-- at most one live run per integration, enforced by the database itself
CREATE UNIQUE INDEX runs_one_running ON runs (integration) WHERE status = 'running';
CREATE INDEX run_errors_run ON run_errors (run_id, id);

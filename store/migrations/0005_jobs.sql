-- Scheduled jobs (`rollcall daemon`): one row per job, created the first time a daemon
-- takes the job's lock. The lock itself is not a column: it is an OS file lock beside
-- the database (`rollcall.db-job-<id>.lock`), which the kernel releases when the daemon's
-- process dies, so a crashed daemon never leaves a job locked. A row left `running` by a
-- dead process is shown as interrupted.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('integration', 'workflow')),
    name             TEXT NOT NULL,
    last_started_at  TEXT,
    last_finished_at TEXT,
    last_status      TEXT CHECK (last_status IN ('running', 'completed', 'failed', 'cancelled')),
    last_message     TEXT,
    -- the run (integrations: `runs.id`) the last start made, if any
    last_run_id      INTEGER,
    -- when the daemon that last ran the job planned its next run
    next_due_at      TEXT,
    UNIQUE (kind, name)
);

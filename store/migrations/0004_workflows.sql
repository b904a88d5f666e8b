-- rollcall store, schema 4: workflows (rules over SaaS accounts, blocks that act on them)
-- and their audit log. A workflow is stored like an integration (its file, checked, as
-- JSON); its name, integration, schedule and mode are columns too, for the list page and
-- the scheduler. Every execution (a plan or an apply) is a `workflow_runs` row; every
-- planned or applied action on an account is an `audit_log` row of that run.

CREATE TABLE workflows (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    integration  TEXT NOT NULL,
    schedule     TEXT NOT NULL,
    mode         TEXT NOT NULL CHECK (mode IN ('plan', 'apply')),
    definition   TEXT NOT NULL CHECK (json_valid(definition)),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE workflow_runs (
    id           INTEGER PRIMARY KEY,
    workflow     TEXT NOT NULL,
    mode         TEXT NOT NULL CHECK (mode IN ('plan', 'apply')),
    trigger      TEXT NOT NULL CHECK (trigger IN ('cli', 'daemon')),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('running', 'completed', 'aborted', 'failed')),
    -- counters and totals as a JSON object (matched, exempt, planned, ok, failed, ...)
    counts       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(counts) AND json_type(counts) = 'object'),
    message      TEXT
);
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow, id);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    workflow      TEXT NOT NULL,
    run_id        INTEGER NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    mode          TEXT NOT NULL CHECK (mode IN ('plan', 'apply')),
    -- the account acted on (NULL for run-level entries such as the guard or a notification);
    -- no foreign key: the log outlives accounts
    saas_user_id  INTEGER,
    external_id   TEXT,
    username      TEXT,
    action        TEXT NOT NULL,
    result        TEXT NOT NULL CHECK (result IN ('ok', 'failed', 'skipped', 'planned', 'noop')),
    detail        TEXT,
    trigger       TEXT NOT NULL CHECK (trigger IN ('cli', 'daemon'))
);
-- the Workflows page: one workflow's entries, newest first
CREATE INDEX audit_log_workflow_at ON audit_log (workflow, at);
-- charts such as "deactivations over time": action + result over a time range
CREATE INDEX audit_log_action_result_at ON audit_log (action, result, at);
CREATE INDEX audit_log_run ON audit_log (run_id, id);

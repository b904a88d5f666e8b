//! Workflows as stored (their checked file as JSON, plus the columns the list page and the
//! scheduler read), their executions (`workflow_runs`), and what a workflow reads and
//! writes on SaaS accounts: the accounts of one app instance page by page, and an
//! account's new state after a lookup or a deactivation.
//!
//! The store does not know the workflow format; `rollcall-workflow` owns it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Created, Store, StoreError, time};

/// Whether a workflow execution only plans or also acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowMode {
    /// Work out what would happen; change nothing in the app or the accounts.
    Plan,
    /// Do it.
    Apply,
}

impl WorkflowMode {
    /// `plan` or `apply`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowMode::Plan => "plan",
            WorkflowMode::Apply => "apply",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<WorkflowMode> {
        match s {
            "plan" => Some(WorkflowMode::Plan),
            "apply" => Some(WorkflowMode::Apply),
            _ => None,
        }
    }
}

/// Who started a workflow execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A person, with `rollcall workflows run`.
    Cli,
    /// The scheduler (`rollcall daemon`).
    Daemon,
}

impl Trigger {
    /// `cli` or `daemon`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cli => "cli",
            Trigger::Daemon => "daemon",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Trigger> {
        match s {
            "cli" => Some(Trigger::Cli),
            "daemon" => Some(Trigger::Daemon),
            _ => None,
        }
    }
}

/// A workflow as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredWorkflow {
    /// Unique name.
    pub name: String,
    /// The integration it acts through.
    pub integration: String,
    /// Its schedule as written (normalised), e.g. `daily at 06:00`.
    pub schedule: String,
    /// What the scheduler does with it.
    pub mode: WorkflowMode,
    /// The checked workflow as JSON (its format belongs to `rollcall-workflow`).
    pub definition: Value,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it was last replaced.
    pub updated_at: DateTime<Utc>,
}

/// How a workflow execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowRunStatus {
    /// Live (or left behind by a process that died).
    Running,
    /// Finished; failed actions, if any, are in the audit log.
    Completed,
    /// Stopped by its guard before the first change.
    Aborted,
    /// Could not run (the store or the app failed as a whole).
    Failed,
}

impl WorkflowRunStatus {
    /// `running`, `completed`, `aborted` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowRunStatus::Running => "running",
            WorkflowRunStatus::Completed => "completed",
            WorkflowRunStatus::Aborted => "aborted",
            WorkflowRunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<WorkflowRunStatus> {
        Some(match s {
            "running" => WorkflowRunStatus::Running,
            "completed" => WorkflowRunStatus::Completed,
            "aborted" => WorkflowRunStatus::Aborted,
            "failed" => WorkflowRunStatus::Failed,
            _ => return None,
        })
    }
}

/// One execution of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowRunRow {
    /// Run id (groups its audit entries).
    pub id: i64,
    /// The workflow's name.
    pub workflow: String,
    /// Plan or apply.
    pub mode: WorkflowMode,
    /// Who started it.
    pub trigger: Trigger,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub status: WorkflowRunStatus,
    /// Its counters (a JSON object).
    pub counts: Value,
    /// Why it was aborted or failed.
    pub message: Option<String>,
}

/// A SaaS account as a workflow sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowAccount {
    /// Row id.
    pub id: i64,
    /// The app's id for the account.
    pub external_id: String,
    /// The account's username in the app.
    pub username: Option<String>,
    /// The email of the person the account belongs to, if linked.
    pub person_email: Option<String>,
    /// The account's type, e.g. "Full".
    pub user_type: Option<String>,
    /// Whether it is active.
    pub active: Option<bool>,
    /// Its roles.
    pub roles: Vec<String>,
    /// When it was last active.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Every connector field of the account.
    pub fields: Map<String, Value>,
    /// When a sync first saw it.
    pub first_seen_at: DateTime<Utc>,
    /// When a sync last saw it.
    pub last_seen_at: DateTime<Utc>,
}

/// A change to an account's state, as learnt from the app (a lookup or a deactivation).
/// `None` leaves a column as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountUpdate {
    /// Active or not.
    pub active: Option<bool>,
    /// The user type (`Some(None)` clears it).
    pub user_type: Option<Option<String>>,
    /// The roles.
    pub roles: Option<Vec<String>>,
    /// Connector fields merged into `fields` (RFC 7396; `null` removes a field).
    pub fields: Option<Map<String, Value>>,
    /// Whether the app still has the account (`Some(false)`: it no longer does).
    pub present: Option<bool>,
}

type WorkflowRow = (String, String, String, String, String, String, String);

fn workflow_from(row: WorkflowRow) -> Result<StoredWorkflow, StoreError> {
    let (name, integration, schedule, mode, definition, created_at, updated_at) = row;
    let corrupt = |what: &str, detail: String| StoreError::Corrupt {
        what: format!("{what} of workflow '{name}'"),
        detail,
    };
    Ok(StoredWorkflow {
        mode: WorkflowMode::parse(&mode)
            .ok_or_else(|| corrupt("mode", format!("'{mode}' is not plan or apply")))?,
        definition: serde_json::from_str(&definition)
            .map_err(|e| corrupt("definition", format!("not JSON ({e})")))?,
        created_at: time::parse(|| format!("created_at of workflow '{name}'"), &created_at)?,
        updated_at: time::parse(|| format!("updated_at of workflow '{name}'"), &updated_at)?,
        integration,
        schedule,
        name,
    })
}

type RunRowTuple = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
);

fn run_from(row: RunRowTuple) -> Result<WorkflowRunRow, StoreError> {
    let (id, workflow, mode, trigger, started_at, finished_at, status, counts, message) = row;
    let corrupt = |what: &str, detail: String| StoreError::Corrupt {
        what: format!("{what} of workflow run {id}"),
        detail,
    };
    Ok(WorkflowRunRow {
        mode: WorkflowMode::parse(&mode).ok_or_else(|| corrupt("mode", mode.clone()))?,
        trigger: Trigger::parse(&trigger).ok_or_else(|| corrupt("trigger", trigger.clone()))?,
        started_at: time::parse(|| format!("started_at of workflow run {id}"), &started_at)?,
        finished_at: finished_at
            .map(|t| time::parse(|| format!("finished_at of workflow run {id}"), &t))
            .transpose()?,
        status: WorkflowRunStatus::parse(&status)
            .ok_or_else(|| corrupt("status", status.clone()))?,
        counts: serde_json::from_str(&counts)
            .map_err(|e| corrupt("counts", format!("not JSON ({e})")))?,
        message,
        workflow,
        id,
    })
}

type AccountRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
    String,
    String,
    String,
);

fn account_from(row: AccountRow) -> Result<WorkflowAccount, StoreError> {
    let (
        id,
        external_id,
        username,
        person_email,
        user_type,
        active,
        roles,
        last_activity_at,
        fields,
        first_seen_at,
        last_seen_at,
    ) = row;
    let corrupt = |what: &str, detail: String| StoreError::Corrupt {
        what: format!("{what} of saas user {id}"),
        detail,
    };
    Ok(WorkflowAccount {
        roles: serde_json::from_str(&roles)
            .map_err(|e| corrupt("roles", format!("not a JSON array of strings ({e})")))?,
        fields: serde_json::from_str(&fields)
            .map_err(|e| corrupt("fields", format!("not a JSON object ({e})")))?,
        last_activity_at: last_activity_at
            .map(|t| time::parse(|| format!("last_activity_at of saas user {id}"), &t))
            .transpose()?,
        first_seen_at: time::parse(
            || format!("first_seen_at of saas user {id}"),
            &first_seen_at,
        )?,
        last_seen_at: time::parse(|| format!("last_seen_at of saas user {id}"), &last_seen_at)?,
        active: active.map(|a| a != 0),
        id,
        external_id,
        username,
        person_email,
        user_type,
    })
}

impl Store {
    /// Stores a workflow under `name`, replacing any previous one.
    pub async fn put_workflow(
        &self,
        name: &str,
        integration: &str,
        schedule: &str,
        mode: WorkflowMode,
        definition: &Value,
    ) -> Result<Created, StoreError> {
        let now = time::now();
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO workflows (name, integration, schedule, mode, definition, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (name) DO UPDATE SET integration = excluded.integration,
                schedule = excluded.schedule, mode = excluded.mode,
                definition = excluded.definition, updated_at = excluded.updated_at
             RETURNING created_at = ?6",
        )
        .bind(name)
        .bind(integration)
        .bind(schedule)
        .bind(mode.as_str())
        .bind(definition.to_string())
        .bind(&now)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db(format!("store workflow '{name}'")))?;
        Ok(if inserted {
            Created::Created
        } else {
            Created::Updated
        })
    }

    /// The workflow named `name`, if stored.
    pub async fn workflow(&self, name: &str) -> Result<Option<StoredWorkflow>, StoreError> {
        let row: Option<WorkflowRow> = sqlx::query_as(
            "SELECT name, integration, schedule, mode, definition, created_at, updated_at
             FROM workflows WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db(format!("read workflow '{name}'")))?;
        row.map(workflow_from).transpose()
    }

    /// All workflows, by name.
    pub async fn list_workflows(&self) -> Result<Vec<StoredWorkflow>, StoreError> {
        let rows: Vec<WorkflowRow> = sqlx::query_as(
            "SELECT name, integration, schedule, mode, definition, created_at, updated_at
             FROM workflows ORDER BY name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list the workflows"))?;
        rows.into_iter().map(workflow_from).collect()
    }

    /// Removes the workflow named `name` (its audit log stays); `false` if there was none.
    pub async fn remove_workflow(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM workflows WHERE name = ?")
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!("remove workflow '{name}'")))?;
        Ok(done.rows_affected() > 0)
    }

    /// Records the start of a workflow execution and returns its run id.
    pub async fn begin_workflow_run(
        &self,
        workflow: &str,
        mode: WorkflowMode,
        trigger: Trigger,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO workflow_runs (workflow, mode, trigger, started_at, status)
             VALUES (?1, ?2, ?3, ?4, 'running') RETURNING id",
        )
        .bind(workflow)
        .bind(mode.as_str())
        .bind(trigger.as_str())
        .bind(time::now())
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db(format!(
            "record the start of a run of workflow '{workflow}'"
        )))
    }

    /// Records how a workflow execution ended, with its counters.
    pub async fn finish_workflow_run(
        &self,
        id: i64,
        status: WorkflowRunStatus,
        counts: &Value,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workflow_runs SET finished_at = ?2, status = ?3, counts = ?4, message = ?5
             WHERE id = ?1",
        )
        .bind(id)
        .bind(time::now())
        .bind(status.as_str())
        .bind(counts.to_string())
        .bind(message)
        .execute(self.pool())
        .await
        .map_err(StoreError::db(format!(
            "record the end of workflow run {id}"
        )))?;
        Ok(())
    }

    /// The runs of a workflow (or of all, with `None`), newest first, at most `limit`.
    pub async fn workflow_runs(
        &self,
        workflow: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WorkflowRunRow>, StoreError> {
        let rows: Vec<RunRowTuple> = sqlx::query_as(
            "SELECT id, workflow, mode, trigger, started_at, finished_at, status, counts, message
             FROM workflow_runs WHERE ?1 IS NULL OR workflow = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(workflow)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list the workflow runs"))?;
        rows.into_iter().map(run_from).collect()
    }

    /// The newest run of a workflow in `mode` (any mode with `None`), if it ever ran.
    pub async fn last_workflow_run(
        &self,
        workflow: &str,
        mode: Option<WorkflowMode>,
    ) -> Result<Option<WorkflowRunRow>, StoreError> {
        let row: Option<RunRowTuple> = sqlx::query_as(
            "SELECT id, workflow, mode, trigger, started_at, finished_at, status, counts, message
             FROM workflow_runs WHERE workflow = ?1 AND (?2 IS NULL OR mode = ?2)
             ORDER BY id DESC LIMIT 1",
        )
        .bind(workflow)
        .bind(mode.map(WorkflowMode::as_str))
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db(format!(
            "read the last run of workflow '{workflow}'"
        )))?;
        row.map(run_from).transpose()
    }

    /// How many accounts of `instance` of `app` the app has (present ones), matched without
    /// regard to case: the base of a workflow guard's percentage.
    pub async fn count_instance_accounts(
        &self,
        app: &str,
        instance: &str,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM saas_users
             WHERE app = ?1 COLLATE NOCASE AND instance = ?2 COLLATE NOCASE AND present = 1",
        )
        .bind(app)
        .bind(instance)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db(format!("count the accounts of {instance}")))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// One page of the present accounts of `instance` of `app` (matched without regard to
    /// case), in id order, after the account `after_id` (0 for the first page). Pages keep
    /// memory flat whatever the number of accounts, and hold no read open between pages,
    /// so a workflow can write between them.
    pub async fn instance_accounts_page(
        &self,
        app: &str,
        instance: &str,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<WorkflowAccount>, StoreError> {
        let rows: Vec<AccountRow> = sqlx::query_as(
            "SELECT s.id, s.external_id, s.username, u.email, s.user_type, s.active, s.roles,
                s.last_activity_at, s.fields, s.first_seen_at, s.last_seen_at
             FROM saas_users s LEFT JOIN users u ON u.id = s.user_id
             WHERE s.app = ?1 COLLATE NOCASE AND s.instance = ?2 COLLATE NOCASE
                AND s.present = 1 AND s.id > ?3
             ORDER BY s.id LIMIT ?4",
        )
        .bind(app)
        .bind(instance)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db(format!("read the accounts of {instance}")))?;
        rows.into_iter().map(account_from).collect()
    }

    /// Writes what a workflow learnt about an account (a lookup's answer, a deactivation).
    /// Returns `false` when there is no such account. The account's digest is cleared by the
    /// `saas_users_digest_stale` trigger when content columns change, so the next sync
    /// compares the full content.
    pub async fn update_account_state(
        &self,
        id: i64,
        update: &AccountUpdate,
    ) -> Result<bool, StoreError> {
        let roles = match &update.roles {
            Some(r) => Some(
                serde_json::to_string(r).map_err(|e| StoreError::InvalidInput {
                    what: format!("the roles of saas user {id}"),
                    detail: e.to_string(),
                })?,
            ),
            None => None,
        };
        let fields = update
            .fields
            .as_ref()
            .map(|f| Value::Object(f.clone()).to_string());
        let (set_type, user_type) = match &update.user_type {
            Some(t) => (true, t.clone()),
            None => (false, None),
        };
        let done = sqlx::query(
            "UPDATE saas_users SET
                active = iif(?2 IS NULL, active, ?2),
                user_type = iif(?3, ?4, user_type),
                roles = iif(?5 IS NULL, roles, ?5),
                fields = iif(?6 IS NULL, fields, json_patch(fields, ?6)),
                present = iif(?7 IS NULL, present, ?7),
                updated_at = ?8
             WHERE id = ?1",
        )
        .bind(id)
        .bind(update.active.map(i64::from))
        .bind(set_type)
        .bind(user_type)
        .bind(roles)
        .bind(fields)
        .bind(update.present.map(i64::from))
        .bind(time::now())
        .execute(self.pool())
        .await
        .map_err(StoreError::db(format!(
            "update the state of saas user {id}"
        )))?;
        Ok(done.rows_affected() > 0)
    }
}

//! The audit log: every action a workflow planned or took, on which account, with what
//! result and why. Entries are never changed or removed by rollcall.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::workflows::{Trigger, WorkflowMode};
use crate::{Store, StoreError, time};

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditResult {
    /// Done.
    Ok,
    /// Tried and failed (the detail says why); a rerun tries again.
    Failed,
    /// Not tried (the detail says why: exempt, the user is gone, an earlier block failed).
    Skipped,
    /// Would be done (plan mode).
    Planned,
    /// Nothing to do: the account is already in the wanted state.
    Noop,
}

impl AuditResult {
    /// `ok`, `failed`, `skipped`, `planned` or `noop`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditResult::Ok => "ok",
            AuditResult::Failed => "failed",
            AuditResult::Skipped => "skipped",
            AuditResult::Planned => "planned",
            AuditResult::Noop => "noop",
        }
    }

    fn parse(s: &str) -> Option<AuditResult> {
        Some(match s {
            "ok" => AuditResult::Ok,
            "failed" => AuditResult::Failed,
            "skipped" => AuditResult::Skipped,
            "planned" => AuditResult::Planned,
            "noop" => AuditResult::Noop,
            _ => return None,
        })
    }
}

/// An entry to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry<'a> {
    /// The workflow.
    pub workflow: &'a str,
    /// The execution it belongs to (see [`Store::begin_workflow_run`]).
    pub run_id: i64,
    /// Plan or apply.
    pub mode: WorkflowMode,
    /// Who started the execution.
    pub trigger: Trigger,
    /// The account's row id (None for run-level entries: the guard, a notification).
    pub saas_user_id: Option<i64>,
    /// The account's id in the app.
    pub external_id: Option<&'a str>,
    /// The account's username.
    pub username: Option<&'a str>,
    /// The action, e.g. `deactivate`, `role_retrieval`, `notify`, `guard`, `exempt`.
    pub action: &'a str,
    /// How it ended.
    pub result: AuditResult,
    /// Why, or what was found.
    pub detail: &'a str,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Entry id (increasing).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// The workflow.
    pub workflow: String,
    /// The execution it belongs to.
    pub run_id: i64,
    /// Plan or apply.
    pub mode: WorkflowMode,
    /// Who started the execution.
    pub trigger: Trigger,
    /// The account's row id.
    pub saas_user_id: Option<i64>,
    /// The account's id in the app.
    pub external_id: Option<String>,
    /// The account's username.
    pub username: Option<String>,
    /// The action.
    pub action: String,
    /// How it ended.
    pub result: AuditResult,
    /// Why, or what was found.
    pub detail: Option<String>,
}

/// Which entries to read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    /// Only this workflow's.
    pub workflow: Option<String>,
    /// Only this execution's.
    pub run_id: Option<i64>,
    /// Only entries with an id above this one (paging: the last id of the previous page).
    pub after_id: i64,
    /// At most this many (default 1000).
    pub limit: Option<u32>,
}

type EntryRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
);

fn entry_from(row: EntryRow) -> Result<AuditEntry, StoreError> {
    let (
        id,
        at,
        workflow,
        run_id,
        mode,
        trigger,
        saas_user_id,
        external_id,
        username,
        action,
        result,
        detail,
    ) = row;
    let corrupt = |what: &str, value: &str| StoreError::Corrupt {
        what: format!("{what} of audit entry {id}"),
        detail: format!("'{value}' is not a known value"),
    };
    Ok(AuditEntry {
        at: time::parse(|| format!("time of audit entry {id}"), &at)?,
        mode: WorkflowMode::parse(&mode).ok_or_else(|| corrupt("mode", &mode))?,
        trigger: Trigger::parse(&trigger).ok_or_else(|| corrupt("trigger", &trigger))?,
        result: AuditResult::parse(&result).ok_or_else(|| corrupt("result", &result))?,
        id,
        workflow,
        run_id,
        saas_user_id,
        external_id,
        username,
        action,
        detail,
    })
}

impl Store {
    /// Adds an entry to the audit log and returns its id.
    pub async fn add_audit(&self, e: &NewAuditEntry<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO audit_log (at, workflow, run_id, mode, saas_user_id, external_id,
                username, action, result, detail, trigger)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
        )
        .bind(time::now())
        .bind(e.workflow)
        .bind(e.run_id)
        .bind(e.mode.as_str())
        .bind(e.saas_user_id)
        .bind(e.external_id)
        .bind(e.username)
        .bind(e.action)
        .bind(e.result.as_str())
        .bind((!e.detail.is_empty()).then_some(e.detail))
        .bind(e.trigger.as_str())
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db(format!(
            "add an audit entry for workflow '{}'",
            e.workflow
        )))
    }

    /// Audit entries in the order they were written, one page at a time (see
    /// [`AuditQuery::after_id`]).
    pub async fn audit_entries(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT id, at, workflow, run_id, mode, trigger, saas_user_id, external_id, username,
                action, result, detail
             FROM audit_log
             WHERE id > ?1 AND (?2 IS NULL OR workflow = ?2) AND (?3 IS NULL OR run_id = ?3)
             ORDER BY id LIMIT ?4",
        )
        .bind(q.after_id)
        .bind(q.workflow.as_deref())
        .bind(q.run_id)
        .bind(i64::from(q.limit.unwrap_or(1000)))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("read the audit log"))?;
        rows.into_iter().map(entry_from).collect()
    }

    /// One page of a workflow's entries, newest first: at most `limit` entries with an id
    /// below `before_id` (all when `None`). The next page starts below the last id of this
    /// one.
    pub async fn audit_entries_newest_first(
        &self,
        workflow: &str,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT id, at, workflow, run_id, mode, trigger, saas_user_id, external_id, username,
                action, result, detail
             FROM audit_log
             WHERE workflow = ?1 AND (?2 IS NULL OR id < ?2)
             ORDER BY id DESC LIMIT ?3",
        )
        .bind(workflow)
        .bind(before_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db(format!(
            "read the audit log of workflow '{workflow}'"
        )))?;
        rows.into_iter().map(entry_from).collect()
    }

    /// How many times `action` ended with `result` per UTC day since `since` (e.g.
    /// deactivations over time), oldest day first, as (`YYYY-MM-DD`, count).
    pub async fn audit_per_day(
        &self,
        action: &str,
        result: AuditResult,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT substr(at, 1, 10) AS day, COUNT(*) FROM audit_log
             WHERE action = ?1 AND result = ?2 AND at >= ?3
             GROUP BY day ORDER BY day",
        )
        .bind(action)
        .bind(result.as_str())
        .bind(time::fmt(since))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db(format!(
            "count the `{action}` entries per day"
        )))?;
        Ok(rows
            .into_iter()
            .map(|(d, n)| (d, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}

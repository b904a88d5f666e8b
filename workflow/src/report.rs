//! What an execution reports: each selected account as it is done ([`UserOutcome`], through
//! [`Progress`]), and the totals at the end ([`WorkflowReport`]).

use indexmap::IndexMap;
use serde::Serialize;

use crate::{AuditResult, Mode, Trigger};

/// One action on one account.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionTaken {
    /// The block (`role_retrieval`, `deactivate`) or `exempt`.
    pub action: String,
    /// How it ended (`planned` in plan mode).
    pub result: AuditResult,
    /// What was found or why.
    pub detail: String,
}

/// A selected account and what happened to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserOutcome {
    /// The account's id in the app.
    pub id: String,
    /// The account's row id in the store.
    pub saas_user_id: i64,
    /// Its username.
    pub username: Option<String>,
    /// Which rules matched, as one sentence.
    pub rule: String,
    /// The exemption it matched, if any (then nothing was done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt: Option<String>,
    /// The actions, in block order.
    pub actions: Vec<ActionTaken>,
}

/// Told about each selected account when it is done. Must be cheap: it runs between
/// requests.
pub trait Progress: Send + Sync {
    /// An account was planned or acted on.
    fn user(&self, outcome: &UserOutcome);

    /// Asked before each account: `true` stops the run there (e.g. the daemon is shutting
    /// down). The account in hand is always finished, so nothing is left half-applied; a
    /// rerun does what is left.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn user(&self, _: &UserOutcome) {}
}

/// How many actions ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResultCounts {
    /// Done.
    pub ok: u64,
    /// Failed.
    pub failed: u64,
    /// Not tried.
    pub skipped: u64,
    /// Would be done.
    pub planned: u64,
    /// Nothing to do.
    pub noop: u64,
}

impl ResultCounts {
    /// Counts one result.
    pub fn add(&mut self, r: AuditResult) {
        match r {
            AuditResult::Ok => self.ok += 1,
            AuditResult::Failed => self.failed += 1,
            AuditResult::Skipped => self.skipped += 1,
            AuditResult::Planned => self.planned += 1,
            AuditResult::Noop => self.noop += 1,
        }
    }
}

/// The totals of one execution.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkflowReport {
    /// The workflow run id (groups its audit entries).
    pub run_id: i64,
    /// The workflow.
    pub workflow: String,
    /// Plan or apply.
    pub mode: Mode,
    /// Who asked.
    pub trigger: Trigger,
    /// The app instance's accounts (the base of a percentage guard).
    pub accounts: u64,
    /// Accounts the rules selected, exempt ones included.
    pub matched: u64,
    /// Selected accounts left alone because they are exempt.
    pub exempt: u64,
    /// The guard's limit on the accounts acted on, if there is a guard.
    pub limit: Option<u64>,
    /// Why the run stopped early, if it did: the guard (before its first change) or a stop
    /// request (between two accounts).
    pub aborted: Option<String>,
    /// Results per action (block key, `notify`), in block order.
    pub actions: IndexMap<String, ResultCounts>,
    /// All results together.
    pub totals: ResultCounts,
    /// Things that look wrong but did not stop the run (e.g. every account selected only
    /// because its last activity is empty: was the join that brings it run?).
    pub warnings: Vec<String>,
}

impl WorkflowReport {
    /// True when the run was not stopped by its guard and no action failed.
    pub fn succeeded(&self) -> bool {
        self.aborted.is_none() && self.totals.failed == 0
    }

    /// Accounts acted on (or planned): selected and not exempt.
    pub fn selected(&self) -> u64 {
        self.matched.saturating_sub(self.exempt)
    }
}

//! rollcall-workflow: rules that select the SaaS accounts of an integration's app instance,
//! and blocks that act on them, safely.
//!
//! A workflow file ([`model`]) is checked by [`load_workflow`] against its integration and
//! the integration's connector (rules on known fields, blocks whose actions exist) and
//! becomes a [`Workflow`]. [`execute`] runs it, in [`Mode::Plan`] (work out and record
//! what would happen; change nothing) or [`Mode::Apply`]:
//!
//! 1. [`plan`]: the accounts of the app instance are read from the store page by page;
//!    [`rules`] say which match and why, exemptions (username, email or id, any case) are
//!    left out, and the guard (`max_actions`, a number or a share of the instance's
//!    accounts) stops the run before its first change when more would be acted on.
//! 2. [`apply`]: each selected account goes through the blocks in order
//!    ([`blocks::role_retrieval`], [`blocks::deactivate`]); one account's failure is
//!    recorded and the others go on; [`blocks::notify`] posts a summary at the end.
//!
//! Every planned or taken action lands in the store's audit log, grouped by a workflow run
//! id. Actions go through the connector's [`ActionRunner`] (retries with backoff on 429 and
//! 5xx, `Retry-After`, each action's rate limit). Actions are idempotent: an account the
//! store (or the app's answer) shows inactive is a `noop`, so a rerun finishes what a
//! failed run left and does nothing more.
//!
//! # Calling it (the CLI, the daemon)
//!
//! ```text
//! let mut workflow = rollcall_workflow::load_stored(&stored.definition, &find_integration)?;
//! for name in workflow.webhook_credentials() { /* decrypt the vault credential `name` */ }
//! workflow.resolve_webhook(name, &url)?; // before an apply: checks the decrypted URL
//! let runner = ActionRunner::new(connector, &inputs, observer)?; // only needed to apply
//! let mode = workflow.mode; // the daemon applies only when the file says `mode: apply`
//! let report = rollcall_workflow::execute(
//!     &store, &workflow, Some(&runner),
//!     ExecuteOptions::new(mode, Trigger::Daemon), &rollcall_workflow::NoProgress,
//! ).await?;
//! if !report.succeeded() { /* guard aborted, or some action failed (see the audit log) */ }
//! ```

pub mod apply;
pub mod blocks;
pub mod load;
pub mod model;
pub mod plan;
pub mod report;
pub mod rules;

use chrono::{DateTime, Utc};
use rollcall_core::action::ActionRunner;
use rollcall_core::integration::Schedule;
use rollcall_core::secret::Secret;
use rollcall_source::{Diagnostic, SourceFile};
use rollcall_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

pub use blocks::notify::{Webhook, WebhookUrl};
pub use load::{
    BLOCK_ACTIONS, CredentialKind, NotFound, StoredCredential, Target, load_workflow,
    load_workflow_with, workflow_schema,
};
pub use model::{NotifyWhen, WorkflowFile};
pub use report::{ActionTaken, NoProgress, Progress, ResultCounts, UserOutcome, WorkflowReport};
pub use rollcall_store::{AuditResult, Trigger, WorkflowMode as Mode};
pub use rules::Rules;

/// The version of the JSON form written by [`Workflow::to_json`].
pub const JSON_FORMAT: u32 = 1;

/// A checked workflow: rules compiled, blocks checked against the connector's actions.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// Its name.
    pub name: String,
    /// The integration it acts through.
    pub integration: String,
    /// The integration's app (e.g. `Miro`).
    pub app: String,
    /// The integration's app instance (e.g. `Miro EU`).
    pub instance: String,
    /// When the scheduler runs it.
    pub schedule: Schedule,
    /// What the scheduler does with it (`plan` unless the file says `apply`).
    pub mode: Mode,
    /// The begin block's rules.
    pub rules: Rules,
    /// Exempt usernames, emails or ids, lowercased.
    pub exempt: Vec<String>,
    /// The blocks, in order.
    pub blocks: Vec<Block>,
    /// The guard.
    pub guard: Option<MaxActions>,
    /// The file as read.
    pub file: WorkflowFile,
    /// Where it was loaded from.
    pub source: WorkflowSource,
    /// What the file can be used with but should change (e.g. a webhook URL written in
    /// it, which the store keeps in plain text), as `FILE:LINE:COLUMN` warnings.
    pub warnings: Vec<Diagnostic>,
}

/// A checked block.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// Look each account up (`get_user`), store role, user type and active state.
    RoleRetrieval {
        /// Mark accounts the app no longer has as deactivated in the store.
        deactivate_missing: bool,
    },
    /// Deactivate each account (`deactivate_user`).
    Deactivate,
    /// POST a JSON summary to a webhook after the run.
    Notify {
        /// The webhook: a URL from the file, or a vault credential.
        webhook: Webhook,
        /// When.
        when: NotifyWhen,
    },
}

impl Block {
    /// The block's key in files and its action name in the audit log.
    pub fn key(&self) -> &'static str {
        match self {
            Block::RoleRetrieval { .. } => "role_retrieval",
            Block::Deactivate => "deactivate",
            Block::Notify { .. } => "notify",
        }
    }
}

/// The guard's limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxActions {
    /// At most this many accounts.
    Count(u64),
    /// At most this share (0-100) of the instance's accounts, rounded down.
    Percent(f64),
}

impl MaxActions {
    /// The limit for an instance of `accounts` accounts.
    pub fn limit(self, accounts: u64) -> u64 {
        match self {
            MaxActions::Count(n) => n,
            MaxActions::Percent(p) => ((accounts as f64) * p / 100.0).floor() as u64,
        }
    }
}

impl std::fmt::Display for MaxActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxActions::Count(n) => write!(f, "{n}"),
            MaxActions::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The file a workflow was loaded from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSource {
    /// The file's display name (its path when applied).
    pub file: String,
    /// The file's text.
    pub text: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    format: u32,
    workflow: serde_json::Value,
    source: WorkflowSource,
}

impl Workflow {
    /// The JSON form kept in the store: the file's model, its text and a format version.
    /// The text is what is loaded again before each run ([`load_stored`]), so a workflow is
    /// always checked against its integration and connector as they are now.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(Stored {
            format: JSON_FORMAT,
            workflow: serde_json::to_value(&self.file).unwrap_or_default(),
            source: self.source.clone(),
        })
        .unwrap_or_default()
    }

    /// What the scheduler runs: apply only when the file says `mode: apply`.
    pub fn scheduled_mode(&self) -> Mode {
        self.mode
    }

    /// The names of the webhook credentials its `notify` blocks post to (`url_credential`),
    /// which the caller decrypts and hands to [`Workflow::resolve_webhook`] before an apply.
    pub fn webhook_credentials(&self) -> Vec<&str> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Notify {
                    webhook: Webhook::Credential { name, .. },
                    ..
                } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Sets the URL decrypted from the webhook credential `credential`, after checking it
    /// (https, or http to this machine). `Err` is a sentence naming the workflow and the
    /// credential and saying what to do; it never contains the URL.
    pub fn resolve_webhook(&mut self, credential: &str, url: &Secret) -> Result<(), String> {
        let checked = blocks::notify::check_url(url.expose()).map_err(|(msg, hint)| {
            format!(
                "the workflow `{}` posts to the webhook credential `{credential}`, and {msg}; {hint}: store the right URL with `rollcall credentials add {credential} --webhook --replace`",
                self.name
            )
        })?;
        for block in &mut self.blocks {
            if let Block::Notify {
                webhook: Webhook::Credential { name, url },
                ..
            } = block
                && name == credential
            {
                *url = Some(checked.clone());
            }
        }
        Ok(())
    }
}

/// The file a stored workflow ([`Workflow::to_json`]) was applied from.
pub fn stored_source(value: &serde_json::Value) -> Result<WorkflowSource, String> {
    let format = value.get("format").and_then(serde_json::Value::as_u64);
    if format != Some(u64::from(JSON_FORMAT)) {
        return Err(match format {
            Some(n) => format!(
                "the workflow was stored in format {n}, and this rollcall reads format {JSON_FORMAT}; apply its file again"
            ),
            None => "the stored workflow has no format version".to_string(),
        });
    }
    serde_json::from_value::<Stored>(value.clone())
        .map(|s| s.source)
        .map_err(|e| format!("the stored workflow is malformed: {e}"))
}

/// Loads a stored workflow again from its file text, checking it against its integration
/// and connector as they are now. Errors are rendered diagnostics.
pub fn load_stored(
    value: &serde_json::Value,
    find_integration: &dyn Fn(&str) -> Result<Target, NotFound>,
) -> Result<Workflow, String> {
    let source = stored_source(value)?;
    load_workflow(
        SourceFile::new(source.file.clone(), source.text),
        find_integration,
    )
    .map_err(|e| {
        format!(
            "the workflow no longer fits its integration or connector; fix {} and apply it again:\n{}",
            source.file,
            e.render()
        )
    })
}

/// How to execute.
#[derive(Clone, Copy, Debug)]
pub struct ExecuteOptions {
    /// Plan or apply.
    pub mode: Mode,
    /// Who asked.
    pub trigger: Trigger,
    /// The time rules such as `older_than` count from.
    pub now: DateTime<Utc>,
}

impl ExecuteOptions {
    /// Options for now.
    pub fn new(mode: Mode, trigger: Trigger) -> ExecuteOptions {
        ExecuteOptions {
            mode,
            trigger,
            now: Utc::now(),
        }
    }
}

/// Why a workflow could not run at all (per-account failures are in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Apply mode needs the connector's actions.
    #[error(
        "the workflow `{0}` cannot be applied without the connector's actions (its credentials); this is a bug in the caller"
    )]
    NoActions(String),
    /// Apply mode needs the URL of every webhook credential.
    #[error(
        "the workflow `{workflow}` cannot be applied before its webhook credential `{credential}` is decrypted; this is a bug in the caller"
    )]
    WebhookNotResolved {
        /// The workflow.
        workflow: String,
        /// The credential.
        credential: String,
    },
}

/// Executes `workflow` once, in `options.mode`, and records the run and every action in the
/// store's audit log.
///
/// - `actions`: the integration connector's [`ActionRunner`], built with the integration's
///   inputs and credential. Required in [`Mode::Apply`] when the workflow has blocks that
///   call the app; may be `None` to plan.
/// - `progress`: told about each selected account as it is done (the CLI prints them).
///
/// Returns the report; [`WorkflowReport::succeeded`] is false when the guard stopped the
/// run (nothing was changed) or an action failed (the others went on; a rerun finishes).
/// An `Err` means the run could not happen at all (the store failed).
pub async fn execute(
    store: &Store,
    workflow: &Workflow,
    actions: Option<&ActionRunner>,
    options: ExecuteOptions,
    progress: &dyn Progress,
) -> Result<WorkflowReport, WorkflowError> {
    apply::execute(store, workflow, actions, options, progress).await
}

//! The workflow file as written by people: serde + schemars types, no logic.
//!
//! Meaning (which fields exist, which actions the connector has, durations, the guard)
//! is checked by [`crate::load_workflow`], which turns a file into a [`crate::Workflow`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A rollcall workflow: which accounts of an integration's app it selects (rules and
/// exemptions), what it does to them (blocks, in order), how much it may do at once
/// (guard), and when the scheduler runs it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "rollcall workflow")]
pub struct WorkflowFile {
    /// The workflow's name, unique in the store (e.g. `Deactivate inactive Miro users`).
    pub name: String,
    /// The integration whose app instance the workflow acts on (e.g. `Miro Users`); its connector's actions do the work and its credential is used.
    pub integration: String,
    /// When the scheduler runs it: `daily` (the default), `daily at HH:MM`, `every Nh`, `every Nm` or a 5-field cron expression.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// What the scheduler does: `plan` (the default: record in the audit log what would happen, change nothing) or `apply` (do it).
    #[serde(default)]
    pub mode: ModeSpec,
    /// Which accounts the workflow selects.
    pub begin: Begin,
    /// What happens to each selected account, in order.
    #[serde(default)]
    pub blocks: Vec<BlockSpec>,
    /// Limits that stop a run before its first change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardSpec>,
}

fn default_schedule() -> String {
    "daily".into()
}

/// What the scheduler does with a workflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeSpec {
    /// Record the plan in the audit log; change nothing.
    #[default]
    Plan,
    /// Act.
    Apply,
}

/// The begin block: the rules that select accounts, and the accounts never touched.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Begin {
    /// Conditions on the accounts' fields, combined with `all` / `any`.
    pub rules: Condition,
    /// Accounts never touched, by username, email or id in the app (any case), e.g. admins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt: Vec<String>,
}

/// A condition: a group of conditions (`all` / `any`) or one rule on a field.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    /// Every condition holds.
    All(AllOf),
    /// At least one condition holds.
    Any(AnyOf),
    /// One rule on a field.
    Rule(Box<Rule>),
}

/// `all: [...]`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllOf {
    /// The conditions that must all hold.
    pub all: Vec<Condition>,
}

/// `any: [...]`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnyOf {
    /// The conditions of which one must hold.
    pub any: Vec<Condition>,
}

/// One rule: a field and exactly one comparison.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// An account field: `username`, `email`, `external_id`, `user_type`, `active`, `roles`, `last_activity_at`, `first_seen_at`, `last_seen_at`, or a connector field (`department` or `fields.department`).
    pub field: String,
    /// The field equals this value (text without regard to case; for lists: one element equals it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// The field does not equal this value (an empty field does not equal anything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_equals: Option<Value>,
    /// The field equals one of these values.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    /// The field is less than this (numbers, dates as `2025-01-31` or RFC 3339, or text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<Value>,
    /// The field is less than or equal to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub le: Option<Value>,
    /// The field is greater than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<Value>,
    /// The field is greater than or equal to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<Value>,
    /// The date field is older than this duration before the run, e.g. `90d`. Needs `never_active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than: Option<String>,
    /// With `older_than`: what an empty date means (e.g. a user who never logged in): `match` selects the account, `skip` leaves it out. Required, so the choice is explicit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_active: Option<NeverActive>,
}

/// What an `older_than` rule does with an empty date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NeverActive {
    /// An account with no date matches (never active counts as inactive).
    Match,
    /// An account with no date does not match.
    Skip,
}

/// One block: a single key naming it, with its settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockSpec {
    /// SaaS user role retrieval: looks each account up in the app (the connector's `get_user` action) and stores its role, user type and active state.
    RoleRetrieval(RoleRetrievalSpec),
    /// Deactivates each account in the app (the connector's `deactivate_user` action) and records the new state.
    Deactivate(DeactivateSpec),
    /// POSTs a JSON summary of the run to a webhook.
    Notify(NotifySpec),
}

/// Settings of `role_retrieval`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRetrievalSpec {
    /// Mark an account the app no longer has as deactivated in the store (default true); later blocks skip it.
    #[serde(default = "default_true")]
    pub deactivate_missing: bool,
}

fn default_true() -> bool {
    true
}

/// Settings of `deactivate` (none yet).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateSpec {}

/// Settings of `notify`: where to post (`url_credential`, or `url`) and when.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    /// The name of a webhook credential in the vault holding the URL (`rollcall credentials add NAME --webhook` stores one). Webhook URLs carry a secret, so this is the way to give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_credential: Option<String>,
    /// The webhook URL written in the file (https, or http to this machine only). It is stored in plain text; prefer `url_credential`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When to send: `always` (the default), `changes` (only when something was done or failed) or `failures`.
    #[serde(default)]
    pub when: NotifyWhen,
}

/// When `notify` sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyWhen {
    /// After every apply.
    #[default]
    Always,
    /// When an action was done or failed.
    Changes,
    /// When an action failed or the guard stopped the run.
    Failures,
}

/// The guard.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardSpec {
    /// The most accounts one run may act on: a number (`25`) or a share of the app instance's accounts (`"10%"`). A larger plan stops before its first change.
    pub max_actions: MaxActionsSpec,
}

/// A number or a percentage.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum MaxActionsSpec {
    /// At most this many accounts.
    Count(u64),
    /// A percentage such as `"10%"`.
    Text(String),
}

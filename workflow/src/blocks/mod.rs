//! The blocks that act on one account ([`role_retrieval`], [`deactivate`]) and the one
//! that reports a run ([`notify`]). A block returns a [`BlockOutcome`]; the executor
//! ([`crate::apply`]) writes it to the audit log and decides whether later blocks run.

pub mod deactivate;
pub mod notify;
pub mod role_retrieval;

use rollcall_core::Record;
use rollcall_core::action::ActionError;
use rollcall_core::compile::FieldSource;
use rollcall_store::{AccountUpdate, Store, StoreError, WorkflowAccount};
use serde_json::{Map, Value};

use crate::AuditResult;

/// How a block ended for one account.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockOutcome {
    /// The audit result.
    pub result: AuditResult,
    /// What was found or why, as a sentence fragment.
    pub detail: String,
    /// Whether later blocks skip this account (it is gone, or its state is unknown).
    pub stop: bool,
    /// Whether the account is active now, when the block learnt it.
    pub active: Option<bool>,
}

impl BlockOutcome {
    pub(crate) fn new(result: AuditResult, detail: impl Into<String>) -> BlockOutcome {
        BlockOutcome {
            result,
            detail: detail.into(),
            stop: false,
            active: None,
        }
    }

    pub(crate) fn stop(mut self) -> BlockOutcome {
        self.stop = true;
        self
    }

    pub(crate) fn active(mut self, active: Option<bool>) -> BlockOutcome {
        self.active = active;
        self
    }
}

/// The store change an action's answer (a user record read with the stream's fields)
/// brings: active, user type, roles (`role` and `admin_roles`, as a sync reads them) and
/// the connector fields except computed ones.
pub(crate) fn update_from(record: &Record) -> AccountUpdate {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let has = |id: &str| record.fields.fields.iter().any(|f| f.id == id);
    let mut roles = Vec::new();
    for id in ["role", "admin_roles"] {
        match record.get(id) {
            Some(Value::Array(a)) => roles.extend(a.iter().filter(|v| !v.is_null()).map(text)),
            Some(Value::Null) | None => {}
            Some(v) => roles.push(text(v)),
        }
    }
    let fields: Map<String, Value> = record
        .fields
        .fields
        .iter()
        .zip(&record.values)
        .filter(|(f, _)| !matches!(f.source, FieldSource::Computed(_)))
        .map(|(f, v)| (f.id.clone(), v.clone()))
        .collect();
    AccountUpdate {
        active: record.get("active").and_then(Value::as_bool),
        user_type: has("user_type")
            .then(|| record.get("user_type").filter(|v| !v.is_null()).map(text)),
        roles: (has("role") || has("admin_roles")).then_some(roles),
        fields: Some(fields),
        present: Some(true),
    }
}

/// Marks an account the app answered "not found" for as deactivated and no longer in the
/// app, and says so with `result`.
pub(crate) async fn mark_missing(
    store: &Store,
    account: &WorkflowAccount,
    status: u16,
    result: AuditResult,
) -> Result<BlockOutcome, StoreError> {
    store
        .update_account_state(
            account.id,
            &AccountUpdate {
                active: Some(false),
                present: Some(false),
                ..AccountUpdate::default()
            },
        )
        .await?;
    Ok(BlockOutcome::new(
        result,
        format!(
            "the app no longer has this account (HTTP {status}); marked deactivated in the store"
        ),
    )
    .active(Some(false)))
}

/// An action error as a detail for the audit log (secrets are already redacted by the
/// runner).
pub(crate) fn failure(e: &ActionError) -> String {
    e.to_string()
}

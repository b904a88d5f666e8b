//! `role_retrieval`: looks the account up in the app (the connector's `get_user`), stores
//! what the app says (role, user type, active state), and, when the app no longer has the
//! account and `deactivate_missing` is on (the default), marks it deactivated in the store.

use rollcall_core::action::{ActionCall, ActionOutcome, ActionRunner};
use rollcall_store::{Store, StoreError, WorkflowAccount};

use super::{BlockOutcome, failure, mark_missing, update_from};
use crate::AuditResult;

/// The action this block calls.
pub const ACTION: &str = "get_user";

/// Runs the block on one account.
pub async fn run(
    runner: &ActionRunner,
    store: &Store,
    account: &WorkflowAccount,
    deactivate_missing: bool,
) -> Result<BlockOutcome, StoreError> {
    let call = ActionCall::new().param("id", account.external_id.as_str());
    match runner.call(ACTION, &call).await {
        Ok(ActionOutcome::Done { status, record, .. }) => {
            let Some(record) = record else {
                return Ok(BlockOutcome::new(
                    AuditResult::Failed,
                    format!("{ACTION} answered HTTP {status} without a user to read"),
                )
                .stop());
            };
            let update = update_from(&record);
            store.update_account_state(account.id, &update).await?;
            let mut found = Vec::new();
            if let Some(roles) = &update.roles {
                found.push(if roles.is_empty() {
                    "no role".to_string()
                } else {
                    format!("role {}", roles.join(", "))
                });
            }
            if let Some(Some(t)) = &update.user_type {
                found.push(format!("user type {t}"));
            }
            if let Some(a) = update.active {
                found.push(if a { "active" } else { "inactive" }.to_string());
            }
            Ok(
                BlockOutcome::new(AuditResult::Ok, found.join(", "))
                    .active(update.active),
            )
        }
        Ok(ActionOutcome::NotFound { status, .. }) if deactivate_missing => {
            Ok(mark_missing(store, account, status, AuditResult::Ok)
                .await?
                .stop())
        }
        Ok(ActionOutcome::NotFound { status, .. }) => Ok(BlockOutcome::new(
            AuditResult::Skipped,
            format!(
                "the app no longer has this account (HTTP {status}); deactivate_missing is off, so the store keeps it as it was"
            ),
        )
        .stop()),
        Err(e) => Ok(BlockOutcome::new(AuditResult::Failed, failure(&e)).stop()),
    }
}

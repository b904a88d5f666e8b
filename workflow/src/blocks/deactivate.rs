//! `deactivate`: deactivates the account in the app (the connector's `deactivate_user`) and
//! records the new state in the store. Idempotent: an account known to be inactive (in
//! the store, or from an earlier block's answer) is a `noop` and no request is sent; an
//! account the app no longer has is marked deactivated.

use rollcall_core::action::{ActionCall, ActionOutcome, ActionRunner};
use rollcall_store::{Store, StoreError, WorkflowAccount};

use super::{BlockOutcome, failure, mark_missing, update_from};
use crate::AuditResult;

/// The action this block calls.
pub const ACTION: &str = "deactivate_user";

/// Runs the block on one account. `active` is the account's state as last known (the
/// store's, or what an earlier block learnt).
pub async fn run(
    runner: &ActionRunner,
    store: &Store,
    account: &WorkflowAccount,
    active: Option<bool>,
) -> Result<BlockOutcome, StoreError> {
    if active == Some(false) {
        return Ok(BlockOutcome::new(AuditResult::Noop, "already inactive").active(Some(false)));
    }
    let call = ActionCall::new().param("id", account.external_id.as_str());
    match runner.call(ACTION, &call).await {
        Ok(ActionOutcome::Done { status, record, .. }) => {
            // Whatever the answer carries, the account is now inactive: the app said so
            // with a success status.
            let mut update = record.as_ref().map(update_from).unwrap_or_default();
            update.active = Some(false);
            update.present = Some(true);
            store.update_account_state(account.id, &update).await?;
            Ok(
                BlockOutcome::new(AuditResult::Ok, format!("deactivated (HTTP {status})"))
                    .active(Some(false)),
            )
        }
        Ok(ActionOutcome::NotFound { status, .. }) => {
            mark_missing(store, account, status, AuditResult::Noop).await
        }
        Err(e) => Ok(BlockOutcome::new(AuditResult::Failed, failure(&e)).active(active)),
    }
}

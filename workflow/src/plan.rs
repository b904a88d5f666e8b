//! Selecting accounts: the app instance's accounts are read from the store a page at a time
//! (memory stays flat whatever their number), matched against the rules, and checked
//! against the exemptions; the guard's limit is worked out from the instance's size.
//! Also what each block would do to an account, for plans.

use chrono::{DateTime, Utc};
use rollcall_store::{Store, StoreError, WorkflowAccount};
use serde_json::Value;

use crate::rules::Matched;
use crate::{AuditResult, Block, Workflow};

/// Accounts read from the store per page.
pub const PAGE: u32 = 500;

/// Reads the present accounts of a workflow's app instance, page by page, in id order.
pub struct Pager<'a> {
    store: &'a Store,
    app: &'a str,
    instance: &'a str,
    after_id: i64,
    done: bool,
}

impl<'a> Pager<'a> {
    /// A pager over the accounts of `workflow`'s app instance.
    pub fn new(store: &'a Store, workflow: &'a Workflow) -> Pager<'a> {
        Pager {
            store,
            app: &workflow.app,
            instance: &workflow.instance,
            after_id: 0,
            done: false,
        }
    }

    /// The next page; empty at the end.
    pub async fn next_page(&mut self) -> Result<Vec<WorkflowAccount>, StoreError> {
        if self.done {
            return Ok(Vec::new());
        }
        let page = self
            .store
            .instance_accounts_page(self.app, self.instance, self.after_id, PAGE)
            .await?;
        match page.last() {
            Some(last) => self.after_id = last.id,
            None => self.done = true,
        }
        if page.len() < PAGE as usize {
            self.done = true;
        }
        Ok(page)
    }
}

/// An account the rules selected.
#[derive(Clone, Debug)]
pub struct Selected {
    /// Which rules matched.
    pub matched: Matched,
    /// The exemption it matches, as written in the file (lowercased), if any.
    pub exempt: Option<String>,
}

/// Whether the rules select `account`, and whether it is exempt.
pub fn select(
    workflow: &Workflow,
    account: &WorkflowAccount,
    now: DateTime<Utc>,
) -> Option<Selected> {
    let matched = workflow.rules.evaluate(account, now)?;
    Some(Selected {
        matched,
        exempt: exemption(workflow, account),
    })
}

/// The exemption an account matches: its username, email (the account's `email` field or
/// its person's) or id in the app, without regard to case.
pub fn exemption(workflow: &Workflow, account: &WorkflowAccount) -> Option<String> {
    if workflow.exempt.is_empty() {
        return None;
    }
    let mut names: Vec<String> = vec![account.external_id.to_lowercase()];
    if let Some(u) = &account.username {
        names.push(u.to_lowercase());
    }
    if let Some(Value::String(e)) = account.fields.get("email") {
        names.push(e.to_lowercase());
    }
    if let Some(e) = &account.person_email {
        names.push(e.to_lowercase());
    }
    workflow
        .exempt
        .iter()
        .find(|e| names.iter().any(|n| n == *e))
        .cloned()
}

/// What a first pass over the accounts found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// The instance's accounts.
    pub accounts: u64,
    /// Selected by the rules.
    pub matched: u64,
    /// Of which exempt.
    pub exempt: u64,
    /// Selected, not exempt, and selected because a date is empty (`never_active: match`).
    pub by_empty_date: u64,
    /// Accounts with a last activity date.
    pub with_activity: u64,
}

impl Census {
    /// Accounts the workflow would act on.
    pub fn to_act_on(&self) -> u64 {
        self.matched.saturating_sub(self.exempt)
    }
}

/// Counts the accounts, those the rules select and the exempt ones, without keeping any.
pub async fn census(
    store: &Store,
    workflow: &Workflow,
    now: DateTime<Utc>,
) -> Result<Census, StoreError> {
    let mut c = Census::default();
    let mut pager = Pager::new(store, workflow);
    loop {
        let page = pager.next_page().await?;
        if page.is_empty() {
            break;
        }
        for a in &page {
            c.accounts += 1;
            c.with_activity += u64::from(a.last_activity_at.is_some());
            if let Some(s) = select(workflow, a, now) {
                c.matched += 1;
                c.exempt += u64::from(s.exempt.is_some());
                c.by_empty_date += u64::from(s.exempt.is_none() && s.matched.by_empty_date());
            }
        }
    }
    Ok(c)
}

/// What `block` would do to `account` (plan mode): `planned`, or `noop` when the store
/// already shows the wanted state. `None` for blocks that do not act per account.
pub fn planned(
    block: &Block,
    account: &WorkflowAccount,
    app: &str,
) -> Option<(AuditResult, String)> {
    match block {
        Block::RoleRetrieval { deactivate_missing } => Some((
            AuditResult::Planned,
            format!(
                "look up role, user type and active state in {app} (get_user){}",
                if *deactivate_missing {
                    "; if it is gone, mark it deactivated"
                } else {
                    ""
                }
            ),
        )),
        Block::Deactivate => Some(match account.active {
            Some(false) => (AuditResult::Noop, "already inactive".to_string()),
            _ => (
                AuditResult::Planned,
                format!("deactivate in {app} (deactivate_user)"),
            ),
        }),
        Block::Notify { .. } => None,
    }
}

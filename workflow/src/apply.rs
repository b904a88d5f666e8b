//! The executor: one run of a workflow, in plan or apply mode.
//!
//! 1. A first pass counts the instance's accounts and those the rules select (nothing is
//!    kept in memory). With a guard, a run that would act on more accounts than allowed
//!    stops here: nothing is changed, and the audit log says why.
//! 2. A second pass takes each selected account through the blocks in order. Exempt
//!    accounts are logged and left alone. In plan mode each block says what it would do;
//!    in apply mode it does it, one account at a time, through the connector's actions
//!    (their own rate limits and retries apply). A failed action is logged and the run
//!    goes on with the next account; later blocks skip an account whose earlier block
//!    failed or found it gone. Should the selection have grown since the first pass, no
//!    more than the guard's limit are acted on.
//! 3. `notify` blocks post the summary.
//!
//! Every action is an audit entry of the run, written when it happens, so a run that dies
//! half way has an exact log, and a rerun picks up the accounts still selected.

use rollcall_core::action::ActionRunner;
use rollcall_store::{NewAuditEntry, Store, WorkflowAccount, WorkflowRunStatus};
use serde_json::{Value, json};

use crate::blocks::{self, BlockOutcome};
use crate::plan::{self, Pager};
use crate::report::{ActionTaken, Progress, ResultCounts, UserOutcome, WorkflowReport};
use crate::{
    AuditResult, Block, ExecuteOptions, Mode, NotifyWhen, Webhook, Workflow, WorkflowError,
};

/// Failures kept for the notification's summary.
const FAILURES_IN_SUMMARY: usize = 50;

struct Execution<'a> {
    store: &'a Store,
    workflow: &'a Workflow,
    options: ExecuteOptions,
    report: WorkflowReport,
    failures: Vec<Value>,
}

pub(crate) async fn execute(
    store: &Store,
    workflow: &Workflow,
    actions: Option<&ActionRunner>,
    options: ExecuteOptions,
    progress: &dyn Progress,
) -> Result<WorkflowReport, WorkflowError> {
    let calls_app = workflow
        .blocks
        .iter()
        .any(|b| matches!(b, Block::RoleRetrieval { .. } | Block::Deactivate));
    if options.mode == Mode::Apply && calls_app && actions.is_none() {
        return Err(WorkflowError::NoActions(workflow.name.clone()));
    }
    if options.mode == Mode::Apply
        && let Some(name) = workflow.blocks.iter().find_map(|b| match b {
            Block::Notify {
                webhook: Webhook::Credential { name, url: None },
                ..
            } => Some(name),
            _ => None,
        })
    {
        return Err(WorkflowError::WebhookNotResolved {
            workflow: workflow.name.clone(),
            credential: name.clone(),
        });
    }
    let run_id = store
        .begin_workflow_run(&workflow.name, options.mode, options.trigger)
        .await?;
    let mut actions_counts = indexmap::IndexMap::new();
    for b in &workflow.blocks {
        actions_counts.insert(b.key().to_string(), ResultCounts::default());
    }
    let mut ex = Execution {
        store,
        workflow,
        options,
        report: WorkflowReport {
            run_id,
            workflow: workflow.name.clone(),
            mode: options.mode,
            trigger: options.trigger,
            accounts: 0,
            matched: 0,
            exempt: 0,
            limit: None,
            aborted: None,
            actions: actions_counts,
            totals: ResultCounts::default(),
            warnings: Vec::new(),
        },
        failures: Vec::new(),
    };
    let outcome = ex.run(actions, progress).await;
    let counts = ex.counts();
    match outcome {
        Ok(()) => {
            let status = if ex.report.aborted.is_some() {
                WorkflowRunStatus::Aborted
            } else {
                WorkflowRunStatus::Completed
            };
            store
                .finish_workflow_run(run_id, status, &counts, ex.report.aborted.as_deref())
                .await?;
            Ok(ex.report)
        }
        Err(e) => {
            // The run could not go on; record that, keeping the first error.
            let _ = store
                .finish_workflow_run(
                    run_id,
                    WorkflowRunStatus::Failed,
                    &counts,
                    Some(&e.to_string()),
                )
                .await;
            Err(e)
        }
    }
}

impl Execution<'_> {
    fn counts(&self) -> Value {
        let r = &self.report;
        json!({
            "accounts": r.accounts,
            "matched": r.matched,
            "exempt": r.exempt,
            "limit": r.limit,
            "totals": r.totals,
            "actions": r.actions,
            "warnings": r.warnings,
        })
    }

    async fn audit(
        &mut self,
        account: Option<&WorkflowAccount>,
        action: &str,
        result: AuditResult,
        detail: &str,
    ) -> Result<(), WorkflowError> {
        self.store
            .add_audit(&NewAuditEntry {
                workflow: &self.workflow.name,
                run_id: self.report.run_id,
                mode: self.options.mode,
                trigger: self.options.trigger,
                saas_user_id: account.map(|a| a.id),
                external_id: account.map(|a| a.external_id.as_str()),
                username: account.and_then(|a| a.username.as_deref()),
                action,
                result,
                detail,
            })
            .await?;
        if let Some(c) = self.report.actions.get_mut(action) {
            c.add(result);
        }
        if action != "exempt" {
            self.report.totals.add(result);
        }
        if result == AuditResult::Failed && self.failures.len() < FAILURES_IN_SUMMARY {
            self.failures.push(json!({
                "id": account.map(|a| a.external_id.clone()),
                "username": account.and_then(|a| a.username.clone()),
                "action": action,
                "detail": detail,
            }));
        }
        Ok(())
    }

    async fn run(
        &mut self,
        actions: Option<&ActionRunner>,
        progress: &dyn Progress,
    ) -> Result<(), WorkflowError> {
        let w = self.workflow;
        let now = self.options.now;
        let census = plan::census(self.store, w, now).await?;
        self.report.accounts = census.accounts;
        self.report.matched = census.matched;
        self.report.exempt = census.exempt;
        if census.by_empty_date > 0 && census.with_activity == 0 {
            self.report.warnings.push(format!(
                "{} account(s) were selected because a date is empty (never active), and no account of {} / {} has a last activity date: if the app has them, the integration's join that brings them (e.g. Miro's members list: `org_id` and `rest_token`) did not run",
                census.by_empty_date, w.app, w.instance
            ));
        }
        let limit = w.guard.map(|g| g.limit(census.accounts));
        self.report.limit = limit;
        if let (Some(limit), Some(guard)) = (limit, w.guard)
            && census.to_act_on() > limit
        {
            let why = format!(
                "the plan would act on {} account{}, more than the guard allows ({limit}, from max_actions {guard} of {} accounts); nothing was changed",
                census.to_act_on(),
                if census.to_act_on() == 1 { "" } else { "s" },
                census.accounts
            );
            self.audit(None, "guard", AuditResult::Failed, &why).await?;
            self.report.aborted = Some(why);
            self.notify().await?;
            return Ok(());
        }

        let mut acted: u64 = 0;
        let mut pager = Pager::new(self.store, w);
        loop {
            let page = pager.next_page().await?;
            if page.is_empty() {
                break;
            }
            for account in &page {
                if progress.stop_requested() {
                    let why = "stopped before the next account because a stop was requested; every account handled so far is complete, and a rerun does the rest".to_owned();
                    self.report.aborted = Some(why);
                    return Ok(());
                }
                let Some(selected) = plan::select(w, account, now) else {
                    continue;
                };
                let mut outcome = UserOutcome {
                    id: account.external_id.clone(),
                    saas_user_id: account.id,
                    username: account.username.clone(),
                    rule: selected.matched.to_string(),
                    exempt: selected.exempt.clone(),
                    actions: Vec::new(),
                };
                if let Some(e) = &selected.exempt {
                    let detail = format!("exempt (matches `{e}`); left alone");
                    self.audit(Some(account), "exempt", AuditResult::Skipped, &detail)
                        .await?;
                    outcome.actions.push(ActionTaken {
                        action: "exempt".into(),
                        result: AuditResult::Skipped,
                        detail,
                    });
                    progress.user(&outcome);
                    continue;
                }
                acted += 1;
                if limit.is_some_and(|l| acted > l) {
                    let detail = format!(
                        "not acted on: the guard's limit of {} accounts was reached (more accounts matched than when the run started)",
                        limit.unwrap_or(0)
                    );
                    self.audit(Some(account), "guard", AuditResult::Skipped, &detail)
                        .await?;
                    outcome.actions.push(ActionTaken {
                        action: "guard".into(),
                        result: AuditResult::Skipped,
                        detail,
                    });
                    progress.user(&outcome);
                    continue;
                }
                match (self.options.mode, actions) {
                    (Mode::Apply, Some(runner)) => {
                        self.apply_blocks(runner, account, &mut outcome).await?
                    }
                    _ => self.plan_blocks(account, &mut outcome).await?,
                }
                progress.user(&outcome);
            }
        }
        self.notify().await
    }

    async fn plan_blocks(
        &mut self,
        account: &WorkflowAccount,
        outcome: &mut UserOutcome,
    ) -> Result<(), WorkflowError> {
        for block in &self.workflow.blocks {
            let Some((result, detail)) = plan::planned(block, account, &self.workflow.app) else {
                continue;
            };
            // The log keeps why the account was selected, for whoever reviews the plan.
            let logged = format!("{detail}; selected by: {}", outcome.rule);
            self.audit(Some(account), block.key(), result, &logged)
                .await?;
            outcome.actions.push(ActionTaken {
                action: block.key().into(),
                result,
                detail,
            });
        }
        Ok(())
    }

    async fn apply_blocks(
        &mut self,
        runner: &ActionRunner,
        account: &WorkflowAccount,
        outcome: &mut UserOutcome,
    ) -> Result<(), WorkflowError> {
        let mut active = account.active;
        let mut stopped: Option<String> = None;
        for block in &self.workflow.blocks {
            let result = match (block, &stopped) {
                (Block::Notify { .. }, _) => continue,
                (_, Some(why)) => {
                    BlockOutcome::new(AuditResult::Skipped, format!("not tried: {why}"))
                }
                (Block::RoleRetrieval { deactivate_missing }, None) => {
                    blocks::role_retrieval::run(runner, self.store, account, *deactivate_missing)
                        .await?
                }
                (Block::Deactivate, None) => {
                    blocks::deactivate::run(runner, self.store, account, active).await?
                }
            };
            if result.active.is_some() {
                active = result.active;
            }
            if result.stop && stopped.is_none() {
                stopped = Some(match result.result {
                    AuditResult::Failed => format!("{} failed", block.key()),
                    _ => "the app no longer has this account".to_string(),
                });
            }
            self.audit(Some(account), block.key(), result.result, &result.detail)
                .await?;
            outcome.actions.push(ActionTaken {
                action: block.key().into(),
                result: result.result,
                detail: result.detail,
            });
        }
        Ok(())
    }

    /// Runs the `notify` blocks: in apply mode, posts the summary when the block's `when`
    /// says so; in plan mode, logs that it would.
    async fn notify(&mut self) -> Result<(), WorkflowError> {
        let w = self.workflow;
        for block in &w.blocks {
            let Block::Notify { webhook, when } = block else {
                continue;
            };
            let shown = webhook.describe();
            if self.options.mode == Mode::Plan {
                let detail = format!("post the run's summary to {shown} (after an apply)");
                self.audit(None, "notify", AuditResult::Planned, &detail)
                    .await?;
                continue;
            }
            let t = &self.report.totals;
            let send = match when {
                NotifyWhen::Always => true,
                NotifyWhen::Changes => t.ok + t.failed > 0 || self.report.aborted.is_some(),
                NotifyWhen::Failures => t.failed > 0 || self.report.aborted.is_some(),
            };
            if !send {
                self.audit(
                    None,
                    "notify",
                    AuditResult::Skipped,
                    &format!("nothing to report to {shown} (when: {when:?})").to_lowercase(),
                )
                .await?;
                continue;
            }
            let Some(url) = webhook.url() else {
                let why = format!("{shown} was not decrypted before the run");
                self.audit(None, "notify", AuditResult::Failed, &why)
                    .await?;
                continue;
            };
            let summary = self.summary();
            match blocks::notify::send(url, &summary).await {
                Ok(status) => {
                    let detail = format!("posted the summary to {shown} (HTTP {status})");
                    self.audit(None, "notify", AuditResult::Ok, &detail).await?
                }
                Err(why) => {
                    self.audit(None, "notify", AuditResult::Failed, &why)
                        .await?
                }
            }
        }
        Ok(())
    }

    fn summary(&self) -> Value {
        let r = &self.report;
        let w = self.workflow;
        let mut parts = Vec::new();
        for (action, c) in &r.actions {
            if action == "notify" {
                continue;
            }
            parts.push(format!(
                "{action}: {} ok, {} failed, {} noop, {} skipped",
                c.ok, c.failed, c.noop, c.skipped
            ));
        }
        let text = match &r.aborted {
            Some(why) => format!("rollcall workflow `{}` stopped by its guard: {why}", w.name),
            None => format!(
                "rollcall workflow `{}` on {} / {}: {} of {} accounts selected ({} more exempt); {}",
                w.name,
                w.app,
                w.instance,
                r.selected(),
                r.accounts,
                r.exempt,
                parts.join("; ")
            ),
        };
        json!({
            "text": text,
            "workflow": w.name,
            "integration": w.integration,
            "app": w.app,
            "instance": w.instance,
            "run_id": r.run_id,
            "mode": r.mode,
            "trigger": r.trigger,
            "accounts": r.accounts,
            "matched": r.matched,
            "exempt": r.exempt,
            "limit": r.limit,
            "aborted": r.aborted,
            "actions": r.actions,
            "failures": self.failures,
            "warnings": r.warnings,
        })
    }
}

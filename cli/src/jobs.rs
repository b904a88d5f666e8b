//! The scheduler's job types as the CLI provides them (`rollcall daemon`, `rollcall
//! schedule`), and the options both read schedules with.
//!
//! Each kind of job is one [`JobType`]; [`job_types`] is the one list of them. A new kind
//! (workflows) is a `JobType` implementation plus one line there.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use rollcall_core::integration::Integration;
use rollcall_core::integration::Schedule;
use rollcall_core::integration::schedule::{DefaultZone, Timing, parse_time_of_day};
use rollcall_core::observe::Observer;
use rollcall_scheduler::{
    CancellationToken, Job, JobKind, JobMode, JobOutcome, JobType, RunElsewhere,
};
use rollcall_store::Store;
use rollcall_sync::{RunOptions, SyncError};
use rollcall_workflow::{ExecuteOptions, Mode, Progress, Trigger, UserOutcome};

use crate::prepare::{Overrides, prepare_run};
use crate::registry::Registry;

/// How schedules that leave the zone or the time open are read.
#[derive(clap::Args, Debug, Clone)]
pub struct TimingArgs {
    /// Time zone of schedules that name none: `local` (the machine's) or an IANA name such
    /// as `Europe/Berlin`.
    #[arg(long, env = "ROLLCALL_TIMEZONE", default_value = "local", value_name = "ZONE",
        value_parser = DefaultZone::parse)]
    timezone: DefaultZone,
    /// When `daily` without a time runs (HH:MM, in that zone).
    #[arg(long, env = "ROLLCALL_DAILY_AT", default_value = "02:00", value_name = "HH:MM",
        value_parser = parse_time_of_day)]
    daily_at: (u8, u8),
}

impl TimingArgs {
    /// The timing for the scheduler.
    pub fn timing(&self) -> Timing {
        Timing {
            zone: self.timezone,
            daily_at: self.daily_at,
        }
    }
}

/// Every kind of job the scheduler runs. Workflows plug in here.
pub fn job_types(
    store: &Store,
    registry: &Registry,
    data_dir: Option<PathBuf>,
) -> Vec<Arc<dyn JobType>> {
    let env = JobEnv {
        store: store.clone(),
        registry: registry.clone(),
        data_dir,
    };
    vec![
        Arc::new(IntegrationJobs(env.clone())),
        Arc::new(WorkflowJobs(env)),
    ]
}

/// Integration syncs: every stored integration on its schedule, run exactly as
/// `rollcall run NAME` runs it (same preparation: stored integration checked against
/// its connector, vault credential, environment).
pub struct IntegrationJobs(JobEnv);

/// What every job type runs with: the store, the connectors and the data directory (for
/// the vault).
#[derive(Clone)]
pub struct JobEnv {
    store: Store,
    registry: Registry,
    data_dir: Option<PathBuf>,
}

impl JobType for IntegrationJobs {
    fn kind(&self) -> JobKind {
        JobKind::Integration
    }

    fn holds_write_lock(&self) -> bool {
        true
    }

    fn jobs(&self) -> BoxFuture<'_, Result<Vec<Job>, String>> {
        Box::pin(async move {
            let stored = self
                .0
                .store
                .list_integrations()
                .await
                .map_err(|e| e.to_string())?;
            let mut jobs = Vec::with_capacity(stored.len());
            for s in stored {
                let integration = match Integration::from_json(&s.definition) {
                    Ok(i) => i,
                    Err(e) => {
                        tracing::warn!(integration = %s.name, "the stored integration cannot be read, so it is not scheduled: {e}");
                        continue;
                    }
                };
                let elsewhere = self
                    .0
                    .store
                    .last_run(&integration.name)
                    .await
                    .map_err(|e| e.to_string())?
                    .map(|(started_at, status)| RunElsewhere {
                        started_at,
                        status: serde_json::to_value(status)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    });
                jobs.push(Job {
                    kind: JobKind::Integration,
                    name: integration.name,
                    schedule: integration.schedule,
                    mode: JobMode::Sync,
                    elsewhere,
                });
            }
            Ok(jobs)
        })
    }

    fn run(&self, job: Job, stop: CancellationToken) -> BoxFuture<'static, JobOutcome> {
        let JobEnv {
            store,
            registry,
            data_dir,
        } = self.0.clone();
        Box::pin(async move {
            let prepared =
                match prepare_run(&registry, data_dir, &job.name, &Overrides::default()).await {
                    Ok(p) => p,
                    Err(e) => {
                        return JobOutcome::failed(
                            format!("cannot prepare the run: {}", crate::errors::describe(&e)),
                            None,
                        );
                    }
                };
            let options = RunOptions {
                dry_run: false,
                sync_time: Utc::now(),
            };
            let result = rollcall_sync::run_until(
                &store,
                &prepared.integration,
                prepared.connector,
                &prepared.inputs,
                options,
                Arc::new(LogWarnings(job.name.clone())),
                stop.cancelled_owned(),
            )
            .await;
            match result {
                Ok(report) => {
                    let s = &report.summary;
                    let c = &s.counts;
                    JobOutcome::completed(
                        format!(
                            "run {}: fetched {}, created {}, updated {}, unchanged {}, skipped {}, failed {}",
                            s.id, c.fetched, c.created, c.updated, c.unchanged, c.skipped, c.failed
                        ),
                        Some(s.id),
                    )
                }
                Err(SyncError::Cancelled { run }) => {
                    JobOutcome::cancelled(rollcall_sync::CANCELLED, Some(run))
                }
                Err(e) => JobOutcome::failed(e.to_string(), e.run_id()),
            }
        })
    }
}

/// Logs a run's warnings (e.g. the list changed while being read).
struct LogWarnings(String);

impl Observer for LogWarnings {
    fn warning(&self, message: &str) {
        tracing::warn!(integration = %self.0, "{message}");
    }
}

/// Workflows: every stored workflow on its schedule. The daemon applies a workflow only
/// when its file says `mode: apply`; otherwise it records the plan in the audit log.
pub struct WorkflowJobs(JobEnv);

impl JobType for WorkflowJobs {
    fn kind(&self) -> JobKind {
        JobKind::Workflow
    }

    fn holds_write_lock(&self) -> bool {
        // A workflow writes one small transaction per account, between app calls.
        false
    }

    fn jobs(&self) -> BoxFuture<'_, Result<Vec<Job>, String>> {
        Box::pin(async move {
            let stored = self
                .0
                .store
                .list_workflows()
                .await
                .map_err(|e| e.to_string())?;
            let mut jobs = Vec::with_capacity(stored.len());
            for s in stored {
                let schedule = match Schedule::parse(&s.schedule) {
                    Ok(schedule) => schedule,
                    Err((message, _hint)) => {
                        tracing::warn!(workflow = %s.name, "the stored workflow's schedule cannot be read, so it is not scheduled: {message}");
                        continue;
                    }
                };
                let mode = match s.mode {
                    Mode::Apply => JobMode::Apply,
                    Mode::Plan => JobMode::Plan,
                };
                jobs.push(Job {
                    kind: JobKind::Workflow,
                    name: s.name,
                    schedule,
                    mode,
                    elsewhere: None,
                });
            }
            Ok(jobs)
        })
    }

    fn run(&self, job: Job, stop: CancellationToken) -> BoxFuture<'static, JobOutcome> {
        let JobEnv {
            store,
            registry,
            data_dir,
        } = self.0.clone();
        Box::pin(async move {
            let apply = job.mode == JobMode::Apply;
            let observer: Arc<dyn Observer> = Arc::new(LogWarnings(job.name.clone()));
            let prepared = crate::commands::workflows::prepare(
                &store,
                &registry,
                data_dir,
                &job.name,
                apply,
                None,
                &[],
                observer,
            )
            .await;
            let (workflow, runner) = match prepared {
                Ok(p) => p,
                Err(e) => {
                    return JobOutcome::failed(
                        format!(
                            "cannot prepare the workflow: {}",
                            crate::errors::describe(&e)
                        ),
                        None,
                    );
                }
            };
            let mode = if apply { Mode::Apply } else { Mode::Plan };
            let options = ExecuteOptions::new(mode, Trigger::Daemon);
            let progress = StopOn(stop.clone());
            match rollcall_workflow::execute(&store, &workflow, runner.as_ref(), options, &progress)
                .await
            {
                Ok(report) => {
                    let t = &report.totals;
                    let message = format!(
                        "workflow run {} ({}): {} selected, {} ok, {} no-op, {} skipped, {} failed{}",
                        report.run_id,
                        if apply { "apply" } else { "plan" },
                        report.selected(),
                        t.ok,
                        t.noop,
                        t.skipped,
                        t.failed,
                        report
                            .aborted
                            .as_deref()
                            .map(|why| format!("; stopped: {why}"))
                            .unwrap_or_default()
                    );
                    if stop.is_cancelled() && report.aborted.is_some() {
                        JobOutcome::cancelled(message, None)
                    } else if report.succeeded() {
                        JobOutcome::completed(message, None)
                    } else {
                        JobOutcome::failed(message, None)
                    }
                }
                Err(e) => JobOutcome::failed(e.to_string(), None),
            }
        })
    }
}

/// Stops a workflow between two accounts once the daemon is asked to stop.
struct StopOn(CancellationToken);

impl Progress for StopOn {
    fn user(&self, outcome: &UserOutcome) {
        tracing::debug!(account = %outcome.id, "workflow account done");
    }

    fn stop_requested(&self) -> bool {
        self.0.is_cancelled()
    }
}

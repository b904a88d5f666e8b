//! Which jobs are due when: every job with its last run and next run. The daemon decides
//! from this and `rollcall schedule` shows it, so the two never disagree.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rollcall_core::integration::schedule::Timing;
use rollcall_store::{JobRow, JobStatus, Store, StoreError};
use serde::Serialize;

use crate::job::{Job, JobType};

/// A job with its last and next run.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedJob {
    /// The job.
    #[serde(skip)]
    pub job: Job,
    /// When its last run started (under the scheduler or elsewhere), if it ever ran.
    pub last_started_at: Option<DateTime<Utc>>,
    /// How its last run ended: `completed`, `failed`, `cancelled`, `running`, or
    /// `interrupted` (left running by a process that died).
    pub last_status: Option<String>,
    /// What its last run under the scheduler said.
    pub last_message: Option<String>,
    /// When it runs next: now or earlier means due. `None` when its schedule never fires.
    pub next_run: Option<DateTime<Utc>>,
    /// Whether a run of it is live now (in any process).
    pub running: bool,
}

impl PlannedJob {
    /// Whether it should start at `now` (due, and not running anywhere).
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        !self.running && self.next_run.is_some_and(|t| t <= now)
    }
}

/// Every job of every type with its last and next run at `now`, by kind and name. A job
/// type that cannot list its jobs is reported in the second list (one sentence each)
/// and left out.
pub async fn plan(
    store: &Store,
    types: &[Arc<dyn JobType>],
    timing: &Timing,
    now: DateTime<Utc>,
) -> Result<(Vec<PlannedJob>, Vec<String>), StoreError> {
    let mut planned = Vec::new();
    let mut problems = Vec::new();
    for t in types {
        let jobs = match t.jobs().await {
            Ok(jobs) => jobs,
            Err(e) => {
                problems.push(format!("cannot list the {} jobs: {e}", t.kind()));
                continue;
            }
        };
        for job in jobs {
            let row = store.job(job.kind, &job.name).await?;
            planned.push(plan_one(job, row.as_ref(), timing, now));
        }
    }
    planned.sort_by(|a, b| (a.job.kind, &a.job.name).cmp(&(b.job.kind, &b.job.name)));
    Ok((planned, problems))
}

fn plan_one(job: Job, row: Option<&JobRow>, timing: &Timing, now: DateTime<Utc>) -> PlannedJob {
    let running_here = row.is_some_and(|r| r.live);
    // A run elsewhere counts when it started after the scheduler's last run ended (a
    // scheduled integration run also shows up as a run: that one is the scheduler's).
    let elsewhere_is_newer = match (&job.elsewhere, row) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(e), Some(r)) => match (r.last_status, r.last_finished_at) {
            (None, _) => true,
            (Some(JobStatus::Running), _) if r.live => false,
            (_, Some(finished)) => e.started_at > finished,
            (_, None) => r.last_started_at.is_none_or(|s| e.started_at > s),
        },
    };
    let (last_started_at, last_status, last_message) = if elsewhere_is_newer {
        let e = job.elsewhere.as_ref();
        (e.map(|e| e.started_at), e.map(|e| e.status.clone()), None)
    } else {
        match row {
            Some(r) => (
                r.last_started_at,
                r.last_status.map(|s| match s {
                    JobStatus::Running if !r.live => "interrupted".to_owned(),
                    s => s.as_str().to_owned(),
                }),
                r.last_message.clone(),
            ),
            None => (None, None, None),
        }
    };
    let running = running_here
        || (elsewhere_is_newer
            && job
                .elsewhere
                .as_ref()
                .is_some_and(|e| e.status == "running"));
    // A run stopped before its end (a shutdown, a dead process) is made up at once.
    let unfinished = matches!(last_status.as_deref(), Some("cancelled" | "interrupted"));
    let next_run = if unfinished && !running {
        Some(now)
    } else {
        job.schedule.next_run(last_started_at, now, timing)
    };
    PlannedJob {
        job,
        last_started_at,
        last_status,
        last_message,
        next_run,
        running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobMode, RunElsewhere};
    use rollcall_core::integration::Schedule;
    use rollcall_core::integration::schedule::DefaultZone;
    use rollcall_store::JobKind;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn job(elsewhere: Option<(&str, &str)>) -> Job {
        Job {
            kind: JobKind::Integration,
            name: "Miro Users".into(),
            schedule: Schedule::parse("daily at 06:00").unwrap(),
            mode: JobMode::Sync,
            elsewhere: elsewhere.map(|(t, s)| RunElsewhere {
                started_at: utc(t),
                status: s.into(),
            }),
        }
    }

    fn row(started: &str, finished: Option<&str>, status: JobStatus, live: bool) -> JobRow {
        JobRow {
            kind: JobKind::Integration,
            name: "Miro Users".into(),
            last_started_at: Some(utc(started)),
            last_finished_at: finished.map(utc),
            last_status: Some(status),
            last_message: Some("cancelled".into()), // the message, whatever the status
            last_run_id: Some(1),
            next_due_at: None,
            live,
        }
    }

    fn timing() -> Timing {
        Timing {
            zone: DefaultZone::Named(chrono_tz_utc()),
            daily_at: (2, 0),
        }
    }

    fn chrono_tz_utc() -> rollcall_core::integration::schedule::Tz {
        rollcall_core::integration::schedule::Tz::UTC
    }

    #[test]
    fn never_run_jobs_are_due_now() {
        let now = utc("2026-01-10T12:00:00Z");
        let p = plan_one(job(None), None, &timing(), now);
        assert_eq!(p.next_run, Some(now));
        assert!(p.is_due(now));
        assert_eq!(p.last_status, None);
    }

    #[test]
    fn the_scheduler_record_wins_over_its_own_integration_run() {
        let now = utc("2026-01-10T12:00:00Z");
        // The daemon's run at 06:00 made a run row at 06:00:01; both failed.
        let r = row(
            "2026-01-10T06:00:00Z",
            Some("2026-01-10T06:00:30Z"),
            JobStatus::Failed,
            false,
        );
        let p = plan_one(
            job(Some(("2026-01-10T06:00:01Z", "failed"))),
            Some(&r),
            &timing(),
            now,
        );
        assert_eq!(p.last_status.as_deref(), Some("failed"));
        assert_eq!(p.last_message.as_deref(), Some("cancelled"));
        assert_eq!(
            p.next_run,
            Some(utc("2026-01-11T06:00:00Z")),
            "failed: next time"
        );
        assert!(!p.is_due(now));
        // Cancelled by a shutdown: made up at once.
        let cancelled = JobRow {
            last_status: Some(JobStatus::Cancelled),
            ..r.clone()
        };
        let p = plan_one(
            job(Some(("2026-01-10T06:00:01Z", "failed"))),
            Some(&cancelled),
            &timing(),
            now,
        );
        assert_eq!(p.last_status.as_deref(), Some("cancelled"));
        assert!(p.is_due(now));
        // A later `rollcall run` counts as the last run.
        let p = plan_one(
            job(Some(("2026-01-10T09:00:00Z", "completed"))),
            Some(&r),
            &timing(),
            now,
        );
        assert_eq!(p.last_status.as_deref(), Some("completed"));
        assert_eq!(p.last_started_at, Some(utc("2026-01-10T09:00:00Z")));
    }

    #[test]
    fn runs_left_by_dead_processes_are_interrupted_and_live_ones_are_not_due() {
        let now = utc("2026-01-12T12:00:00Z");
        let dead = row("2026-01-12T06:00:00Z", None, JobStatus::Running, false);
        let p = plan_one(job(None), Some(&dead), &timing(), now);
        assert_eq!(p.last_status.as_deref(), Some("interrupted"));
        assert!(p.is_due(now), "an interrupted run is made up at once");
        let live = row("2026-01-10T06:00:00Z", None, JobStatus::Running, true);
        let p = plan_one(job(None), Some(&live), &timing(), now);
        assert!(p.running);
        assert!(!p.is_due(now), "a live run is never started twice");
    }
}

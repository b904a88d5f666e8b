//! The daemon loop against a real SQLite store, with a job type whose runs the test
//! controls (the CLI tests run real syncs through the binary).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use rollcall_core::integration::Schedule;
use rollcall_core::integration::schedule::{DefaultZone, Timing, Tz};
use rollcall_store::{JobKind, JobStatus, Store};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{DaemonOptions, Job, JobMode, JobOutcome, JobType, run_daemon};

/// Jobs named in `names`, each `every 6h`; a run waits for `release` (or the stop).
struct Fake {
    names: Vec<&'static str>,
    runs: Arc<AtomicU32>,
    started: Arc<Notify>,
    release: Option<Arc<Notify>>,
}

impl Fake {
    fn new(names: Vec<&'static str>, gated: bool) -> Fake {
        Fake {
            names,
            runs: Arc::default(),
            started: Arc::default(),
            release: gated.then(Arc::default),
        }
    }
}

impl JobType for Fake {
    fn kind(&self) -> JobKind {
        JobKind::Integration
    }

    fn holds_write_lock(&self) -> bool {
        true
    }

    fn jobs(&self) -> BoxFuture<'_, Result<Vec<Job>, String>> {
        let jobs = self
            .names
            .iter()
            .map(|n| Job {
                kind: JobKind::Integration,
                name: (*n).to_owned(),
                schedule: Schedule::parse("every 6h").unwrap(),
                mode: JobMode::Sync,
                elsewhere: None,
            })
            .collect();
        Box::pin(async move { Ok(jobs) })
    }

    fn run(&self, job: Job, stop: CancellationToken) -> BoxFuture<'static, JobOutcome> {
        let runs = self.runs.clone();
        let started = self.started.clone();
        let release = self.release.clone();
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            started.notify_one();
            if let Some(release) = release {
                tokio::select! {
                    () = stop.cancelled() => {
                        return JobOutcome::cancelled(format!("{} rolled back", job.name), Some(7));
                    }
                    () = release.notified() => {}
                }
            }
            JobOutcome::completed(format!("{} synced", job.name), Some(1))
        })
    }
}

fn options(once: bool) -> DaemonOptions {
    DaemonOptions {
        timing: Timing {
            zone: DefaultZone::Named(Tz::UTC),
            daily_at: (2, 0),
        },
        max_parallel: 2,
        once,
        rescan: Duration::from_secs(60),
    }
}

async fn store(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path()).await.unwrap()
}

/// Waits for `what` with a deadline, so a broken daemon fails the test instead of hanging it.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_run_jobs_run_at_start_once_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let fake = Arc::new(Fake::new(vec!["A", "B"], false));
    let types: Vec<Arc<dyn JobType>> = vec![fake.clone()];
    let report = within(
        "the first pass",
        run_daemon(
            store.clone(),
            types.clone(),
            options(true),
            CancellationToken::new(),
        ),
    )
    .await
    .unwrap();
    assert_eq!((report.started, report.completed), (2, 2));
    assert_eq!(fake.runs.load(Ordering::SeqCst), 2);
    let row = store.job(JobKind::Integration, "A").await.unwrap().unwrap();
    assert_eq!(row.last_status, Some(JobStatus::Completed));
    assert_eq!(row.last_message.as_deref(), Some("A synced"));
    assert_eq!(row.last_run_id, Some(1));
    assert!(!row.live);
    let started = row.last_started_at.unwrap();
    assert_eq!(
        row.next_due_at,
        Some(started + chrono::Duration::hours(6)),
        "every 6h: due six hours after the start"
    );
    // Nothing is due now: a second pass runs nothing.
    let report = within(
        "the second pass",
        run_daemon(
            store.clone(),
            types,
            options(true),
            CancellationToken::new(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(report.started, 0);
    assert_eq!(fake.runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_never_overlaps_itself_and_a_stop_cancels_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = store(&dir).await;
    let fake = Arc::new(Fake::new(vec!["A"], true));
    let stop = CancellationToken::new();
    let daemon = tokio::spawn(run_daemon(
        first.clone(),
        vec![fake.clone() as Arc<dyn JobType>],
        options(false),
        stop.clone(),
    ));
    within("the run to start", fake.started.notified()).await;
    // A second daemon, with its own connections and lock files, as another process.
    let second = store(&dir).await;
    let other = Arc::new(Fake::new(vec!["A"], false));
    let report = within(
        "the second daemon",
        run_daemon(
            second.clone(),
            vec![other.clone() as Arc<dyn JobType>],
            options(true),
            CancellationToken::new(),
        ),
    )
    .await
    .unwrap();
    assert_eq!((report.started, report.busy), (0, 1), "{report:?}");
    assert_eq!(other.runs.load(Ordering::SeqCst), 0);
    let row = second
        .job(JobKind::Integration, "A")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.last_status, Some(JobStatus::Running));
    assert!(row.live, "the first daemon holds the lock");

    stop.cancel();
    let report = within("the first daemon to stop", daemon)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.started, report.cancelled), (1, 1), "{report:?}");
    let row = first.job(JobKind::Integration, "A").await.unwrap().unwrap();
    assert_eq!(row.last_status, Some(JobStatus::Cancelled));
    assert_eq!(row.last_message.as_deref(), Some("A rolled back"));
    assert!(!row.live);
    assert!(
        first
            .try_lock_job(JobKind::Integration, "A")
            .unwrap()
            .is_some(),
        "the lock is free again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_hold_the_write_lock_take_turns_and_waiting_ones_never_start_after_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let fake = Arc::new(Fake::new(vec!["A", "B"], true));
    let stop = CancellationToken::new();
    let daemon = tokio::spawn(run_daemon(
        store.clone(),
        vec![fake.clone() as Arc<dyn JobType>],
        options(false),
        stop.clone(),
    ));
    within("one run to start", fake.started.notified()).await;
    // Two slots, one writer turn: the other job holds its lock but waits for the turn.
    let rows = store.jobs().await.unwrap();
    let live: Vec<_> = rows.iter().filter(|r| r.live).collect();
    assert_eq!(live.len(), 1, "{rows:?}");
    assert_eq!(fake.runs.load(Ordering::SeqCst), 1);
    stop.cancel();
    let report = within("the daemon to stop", daemon).await.unwrap().unwrap();
    assert_eq!((report.started, report.cancelled), (1, 1), "{report:?}");
    assert_eq!(
        fake.runs.load(Ordering::SeqCst),
        1,
        "the waiting run never started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_job_whose_lock_is_held_elsewhere_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    // Another process took the lock but has not recorded the start yet.
    let other = Store::open(dir.path()).await.unwrap();
    let held = other
        .try_lock_job(JobKind::Integration, "A")
        .unwrap()
        .expect("the lock is free");
    let fake = Arc::new(Fake::new(vec!["A"], false));
    let report = within(
        "the pass",
        run_daemon(
            store.clone(),
            vec![fake.clone() as Arc<dyn JobType>],
            options(true),
            CancellationToken::new(),
        ),
    )
    .await
    .unwrap();
    assert_eq!((report.started, report.busy), (0, 1), "{report:?}");
    assert_eq!(fake.runs.load(Ordering::SeqCst), 0);
    drop(held);
    let report = within(
        "the pass after the lock is released",
        run_daemon(
            store.clone(),
            vec![fake.clone() as Arc<dyn JobType>],
            options(true),
            CancellationToken::new(),
        ),
    )
    .await
    .unwrap();
    assert_eq!((report.started, report.completed), (1, 1), "{report:?}");
}

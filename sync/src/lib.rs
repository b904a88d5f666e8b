//! rollcall-sync: one sync run of an integration.
//!
//! The last steps of the record flow (ARCHITECTURE.md): records from
//! `rollcall_core::fetch` → mapping (the integration's resolved mappings turn a record
//! into person fields and a SaaS account) → the store, through one `RunGuard`, so a run
//! that fails or is killed leaves the previous state untouched.
//!
//! Well-known connector field ids fill the SaaS account's own columns: `username`,
//! `user_type`, `active`, `role` and `admin_roles` (roles), `last_activity_at`. Every
//! field of the record except computed ones (the sync time) is also kept in the
//! account's `fields`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rollcall_core::integration::{Integration, Preference, Selection};
use rollcall_core::observe::Observer;
use rollcall_core::{Connector, FetchError, FetchOptions, Inputs, Item, Record};
use rollcall_store::{
    Counts, IncomingAccount, RunGuard, RunSummary, Stage, Store, StoreError, SyncOptions, UserKey,
};
use tokio::sync::mpsc;

mod enrich;
mod mapping;

use mapping::AccountMapper;

/// Records stored per [`RunGuard::apply_batch`](rollcall_store::RunGuard::apply_batch) call.
const BATCH: usize = 256;

/// Batches mapped ahead of the store (bounds memory: at most this many batches wait).
const BATCHES_IN_FLIGHT: usize = 2;

/// What the mapping hands to the writer task, in record order.
enum ToStore {
    /// Mapped records to apply.
    Batch(Vec<IncomingAccount>),
    /// A record that could not be extracted, or that a plugin dropped, for the run's
    /// error log under `stage`.
    Skipped {
        key: String,
        stage: Stage,
        reason: String,
    },
}

/// Applies what the mapping sends, in order, until the channel closes or the store fails;
/// gives the guard back either way, so the caller can finish or fail the run.
async fn write_batches(
    mut guard: RunGuard,
    opts: SyncOptions,
    mut from_sync: mpsc::Receiver<ToStore>,
) -> (RunGuard, Result<(), StoreError>) {
    while let Some(message) = from_sync.recv().await {
        let result = match message {
            ToStore::Batch(batch) => guard.apply_batch(batch, &opts).await.map(drop),
            ToStore::Skipped { key, stage, reason } => {
                guard.record_error(&key, stage, &reason).await
            }
        };
        if let Err(e) = result {
            return (guard, Err(e));
        }
    }
    (guard, Ok(()))
}

/// A spawned task that is aborted when its handle is dropped (the sync future dropped
/// mid-run), so the writer never outlives the run that started it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a sync did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store refused or failed (e.g. another run of the integration is live).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Fetching failed; the run was rolled back and recorded as failed.
    #[error("run {run} failed and changed nothing: {error}")]
    Fetch {
        /// The run id.
        run: i64,
        /// What went wrong.
        error: FetchError,
    },
    /// The run was stopped from outside (the daemon shutting down) and rolled back.
    #[error("run {run} was cancelled and changed nothing")]
    Cancelled {
        /// The run id.
        run: i64,
    },
    /// The fetch task stopped abnormally.
    #[error("run {run} failed and changed nothing: {message}")]
    Aborted {
        /// The run id.
        run: i64,
        /// What went wrong.
        message: String,
    },
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The store's summary (id, counts, accounts marked not present).
    pub summary: RunSummary,
    /// Warnings from the fetch (e.g. the list changed while being read).
    pub warnings: Vec<String>,
}

/// Everything a run of a stored integration needs, gathered the same way by
/// `rollcall run`, the web page's RUN and the daemon (the CLI's `prepare` module: the
/// stored integration checked against its connector, the vault credential, the
/// environment).
pub struct PreparedRun {
    /// The integration, checked against its connector as it is now.
    pub integration: Integration,
    /// The compiled connector.
    pub connector: Arc<Connector>,
    /// The resolved inputs (secrets included, wrapped).
    pub inputs: Inputs,
}

/// Options of one run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Compute everything, then discard it.
    pub dry_run: bool,
    /// The sync time (the `sync_time` computed field).
    pub sync_time: DateTime<Utc>,
}

/// The store's options for an integration.
pub fn sync_options(integration: &Integration) -> SyncOptions {
    SyncOptions {
        app: integration.app.clone(),
        instance: integration.instance.clone(),
        preference: match integration.preference {
            Preference::UpdateOnly => rollcall_store::Preference::UpdateOnly,
            Preference::CreateAndUpdate => rollcall_store::Preference::CreateAndUpdate,
        },
        selection: match integration.selection {
            Selection::UserPlusSaasUser => rollcall_store::Selection::UserPlusSaasUser,
            Selection::UserOnly => rollcall_store::Selection::UserOnly,
        },
        role: integration.role.clone(),
        sync_key: match integration.sync_target() {
            "username" => UserKey::Username,
            "email" => UserKey::Email,
            other => UserKey::Custom(other.to_string()),
        },
        source: format!("integration:{}", integration.name),
    }
}

/// The message recorded for a run cancelled by [`run_until`]'s `stop`.
pub const CANCELLED: &str =
    "cancelled: rollcall was asked to stop before the run finished; nothing was changed";

impl SyncError {
    /// The run the error belongs to, when one was started.
    pub fn run_id(&self) -> Option<i64> {
        match self {
            SyncError::Fetch { run, .. }
            | SyncError::Aborted { run, .. }
            | SyncError::Cancelled { run } => Some(*run),
            SyncError::Store(_) => None,
        }
    }
}

/// Runs a sync: fetch, map, write. Returns when the run is committed (or, for a dry
/// run, computed and discarded).
pub async fn run(
    store: &Store,
    integration: &Integration,
    connector: Arc<Connector>,
    inputs: &Inputs,
    options: RunOptions,
    observer: Arc<dyn Observer>,
) -> Result<SyncReport, SyncError> {
    let never = std::future::pending::<()>();
    run_until(
        store,
        integration,
        connector,
        inputs,
        options,
        observer,
        never,
    )
    .await
}

/// [`run`], stopped when `stop` completes: the fetch (and join) are abandoned, the run's
/// data is rolled back and the run is recorded as cancelled with [`CANCELLED`], and
/// [`SyncError::Cancelled`] is returned. A run already committing finishes instead.
pub async fn run_until(
    store: &Store,
    integration: &Integration,
    connector: Arc<Connector>,
    inputs: &Inputs,
    options: RunOptions,
    observer: Arc<dyn Observer>,
    stop: impl Future<Output = ()>,
) -> Result<SyncReport, SyncError> {
    let mut stop = std::pin::pin!(stop);
    // Custom fields are declared before the run takes the write lock.
    for (key, label) in integration.custom_fields() {
        store
            .define_custom_field(key, label, Some(&integration.name))
            .await?;
    }
    let opts = sync_options(integration);
    let mut guard = store.begin_run(&integration.name, options.dry_run).await?;
    let run_id = guard.id();
    guard.covers(&opts.app, &opts.instance);
    let fetch_options = FetchOptions {
        sync_time: options.sync_time,
        ..FetchOptions::default()
    };
    let joins = (connector.clone(), observer.clone());
    let mut fetch = match rollcall_core::fetch::start(
        connector,
        &integration.stream,
        inputs,
        fetch_options,
        observer,
    ) {
        Ok(f) => f,
        Err(error) => {
            guard.fail(&error.to_string()).await?;
            return Err(SyncError::Fetch { run: run_id, error });
        }
    };
    // Mapping (here) and storing (the writer task) run side by side: while the store
    // writes one batch, the next is mapped and the fetch goes on.
    let (to_store, from_sync) = mpsc::channel(BATCHES_IN_FLIGHT);
    let writer = AbortOnDrop(tokio::spawn(write_batches(guard, opts, from_sync)));
    let mut counts = Counts::default();
    let mut dropped = 0;
    let mut batch: Vec<IncomingAccount> = Vec::with_capacity(BATCH);
    // Made for the stream's field set when the first record comes.
    let mut mapper: Option<AccountMapper> = None;
    let mut writer_stopped = false;
    let mut cancelled = false;
    loop {
        let item = tokio::select! {
            biased;
            () = &mut stop => {
                cancelled = true;
                break;
            }
            item = fetch.items.recv() => item,
        };
        let end = item.is_none();
        let skipped = match item {
            Some(Item::Record(record)) => {
                counts.fetched += 1;
                let mapper = match &mut mapper {
                    Some(m) if m.is_for(&record.fields) => m,
                    slot => slot.insert(AccountMapper::new(integration, &record.fields)),
                };
                batch.push(mapper.map(record));
                None
            }
            Some(Item::Skipped(s)) => Some(s),
            None => None,
        };
        // Hand the pending records over when the batch is full, at the end, and before an
        // extraction error (so errors stay in record order).
        let flush = batch.len() >= BATCH || ((end || skipped.is_some()) && !batch.is_empty());
        if flush {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if to_store.send(ToStore::Batch(full)).await.is_err() {
                writer_stopped = true;
                break;
            }
        }
        if let Some(s) = skipped {
            counts.fetched += 1;
            // A record a plugin filtered out on purpose is skipped; one that could not
            // be read (or whose plugin call failed) failed. Both reach the error log: a
            // drop under stage `plugin` (its reason names the plugin and its function),
            // a failure under `extract`.
            if s.dropped_by.is_some() {
                dropped += 1;
            } else {
                counts.failed += 1;
            }
            let key = s.key.clone().unwrap_or_else(|| s.position.clone());
            let reason = format!("{}: {}", s.position, s.reason);
            let stage = match s.dropped_by {
                Some(_) => Stage::Plugin,
                None => Stage::Extract,
            };
            if to_store
                .send(ToStore::Skipped { key, stage, reason })
                .await
                .is_err()
            {
                writer_stopped = true;
                break;
            }
        }
        if end {
            break;
        }
    }
    drop(to_store);
    let (mut guard, written) = match writer.join().await {
        Ok(done) => done,
        Err(join) => {
            // The guard went down with the task: its transaction is rolled back and the
            // next run marks this one interrupted.
            drop(fetch.items);
            fetch.task.abort();
            return Err(SyncError::Aborted {
                run: run_id,
                message: format!("storing the records stopped: {join}"),
            });
        }
    };
    if let Err(e) = written {
        drop(fetch.items);
        fetch.task.abort();
        let message = e.to_string();
        guard.fail(&message).await?;
        return Err(SyncError::Aborted {
            run: run_id,
            message,
        });
    }
    if cancelled {
        drop(fetch.items);
        fetch.task.abort();
        tracing::info!(run_id, integration = %integration.name, "run cancelled; rolling it back");
        guard.cancel(CANCELLED).await?;
        return Err(SyncError::Cancelled { run: run_id });
    }
    if writer_stopped {
        // Only an error stops the writer early, and that was handled above.
        drop(fetch.items);
        fetch.task.abort();
        let message = "storing the records stopped early".to_owned();
        guard.fail(&message).await?;
        return Err(SyncError::Aborted {
            run: run_id,
            message,
        });
    }
    let summary = match fetch.task.await {
        Ok(Ok(summary)) => summary,
        Ok(Err(error)) => {
            guard.fail(&error.to_string()).await?;
            return Err(SyncError::Fetch { run: run_id, error });
        }
        Err(join) => {
            let message = format!("the fetch task stopped: {join}");
            guard.fail(&message).await?;
            return Err(SyncError::Aborted {
                run: run_id,
                message,
            });
        }
    };
    // Joins (the connector's `enrich`): other streams' fields onto the stored accounts.
    let mut warnings = summary.warnings;
    let (connector, observer) = joins;
    let joined = tokio::select! {
        biased;
        () = &mut stop => None,
        joined = enrich::apply(
            &mut guard,
            integration,
            &connector,
            inputs,
            options.sync_time,
            &observer,
        ) => Some(joined),
    };
    match joined {
        None => {
            tracing::info!(run_id, integration = %integration.name, "run cancelled; rolling it back");
            guard.cancel(CANCELLED).await?;
            return Err(SyncError::Cancelled { run: run_id });
        }
        Some(Ok(more)) => warnings.extend(more),
        Some(Err(e)) => {
            let message = e.to_string();
            guard.fail(&message).await?;
            return Err(SyncError::Aborted {
                run: run_id,
                message,
            });
        }
    }
    let tally = guard.tally();
    counts.created = tally.created;
    counts.updated = tally.updated;
    counts.unchanged = tally.unchanged;
    counts.skipped = tally.skipped + dropped;
    let summary_store = guard.finish(summary.complete, &counts).await?;
    Ok(SyncReport {
        summary: summary_store,
        warnings,
    })
}

/// Maps a record to the store's account: person fields from the mappings, account
/// columns from the well-known field ids, every field kept (see [`mapping`]). A run maps
/// its records with one mapper; this is for a record on its own.
pub fn account(record: &Record, integration: &Integration) -> IncomingAccount {
    AccountMapper::new(integration, &record.fields).map(record.clone())
}

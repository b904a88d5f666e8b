//! Joins: after the primary stream's records are stored, each stream the connector joins
//! in (`enrich` on the primary stream) is fetched and its fields are applied to the run's
//! accounts by external id, in batches, inside the run's transaction. Memory stays flat:
//! one batch at a time, nothing kept per account.
//!
//! A join runs when the integration has not turned enrichment off, it writes SaaS
//! accounts, and its inputs cover the joined stream (every input the stream's requests
//! use is set). Without those inputs the run goes on without the join and says so once in
//! its warnings; the joined fields stay empty. A joined stream that fails fails the run
//! (rolled back): half-applied joins would leave fields empty that are not.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rollcall_core::compile::Enrich;
use rollcall_core::integration::{Integration, Selection};
use rollcall_core::observe::Observer;
use rollcall_core::{Connector, FetchError, FetchOptions, Inputs, Item, Record};
use rollcall_store::{Enrichment, RunGuard, Stage, StoreError};
use serde_json::{Map, Value};

/// Accounts updated per [`RunGuard::enrich_accounts`] call.
const BATCH: usize = 256;

/// The account column a join may fill, besides the account's `fields`.
const LAST_ACTIVITY: &str = "last_activity_at";

/// Why a join failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JoinError {
    /// Fetching the joined stream failed.
    #[error("joining the `{stream}` stream failed: {error}")]
    Fetch {
        /// The joined stream.
        stream: String,
        /// What went wrong.
        error: FetchError,
    },
    /// Storing the joined values failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The fetch task stopped abnormally.
    #[error("joining the `{stream}` stream stopped: {message}")]
    Aborted {
        /// The joined stream.
        stream: String,
        /// What went wrong.
        message: String,
    },
}

/// Runs the joins of the integration's stream. Returns the run's extra warnings.
pub(crate) async fn apply(
    guard: &mut RunGuard,
    integration: &Integration,
    connector: &Arc<Connector>,
    inputs: &Inputs,
    sync_time: DateTime<Utc>,
    observer: &Arc<dyn Observer>,
) -> Result<Vec<String>, JoinError> {
    let mut warnings = Vec::new();
    let Some(stream) = connector.streams.get(&integration.stream) else {
        return Ok(warnings);
    };
    if !integration.enrich || integration.selection != Selection::UserPlusSaasUser {
        return Ok(warnings);
    }
    for join in &stream.enrich {
        let Some(from) = connector.streams.get(&join.from) else {
            continue;
        };
        let missing: Vec<&str> = from
            .uses_inputs
            .iter()
            .map(String::as_str)
            .filter(|n| !inputs.has(n))
            .collect();
        if !missing.is_empty() {
            let message = format!(
                "the `{}` stream was not joined, so {} stayed empty: it needs the input{} {}, which this run does not have (set them in the integration and its credential, or turn the join off with `enrich: false`)",
                join.from,
                join.fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if missing.len() == 1 { "" } else { "s" },
                missing
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            observer.warning(&message);
            warnings.push(message);
            continue;
        }
        warnings.extend(
            join_stream(
                guard,
                integration,
                connector,
                inputs,
                join,
                sync_time,
                observer,
            )
            .await?,
        );
    }
    Ok(warnings)
}

/// Fetches one joined stream and applies it batch by batch.
async fn join_stream(
    guard: &mut RunGuard,
    integration: &Integration,
    connector: &Arc<Connector>,
    inputs: &Inputs,
    join: &Enrich,
    sync_time: DateTime<Utc>,
    observer: &Arc<dyn Observer>,
) -> Result<Vec<String>, JoinError> {
    let failed = |error| JoinError::Fetch {
        stream: join.from.clone(),
        error,
    };
    let options = FetchOptions {
        sync_time,
        ..FetchOptions::default()
    };
    let mut fetch = rollcall_core::fetch::start(
        connector.clone(),
        &join.from,
        inputs,
        options,
        observer.clone(),
    )
    .map_err(failed)?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(item) = fetch.items.recv().await {
        match item {
            Item::Record(record) => {
                if let Some(row) = enrichment(&record, join) {
                    batch.push(row);
                }
            }
            Item::Skipped(s) => {
                let key = s.key.clone().unwrap_or_else(|| s.position.clone());
                let reason = format!(
                    "{} (joined stream `{}`): {}",
                    s.position, join.from, s.reason
                );
                let stage = match s.dropped_by {
                    Some(_) => Stage::Plugin,
                    None => Stage::Extract,
                };
                guard.record_error(&key, stage, &reason).await?;
            }
        }
        if batch.len() >= BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if let Err(e) = guard
                .enrich_accounts(&integration.app, &integration.instance, &full)
                .await
            {
                fetch.task.abort();
                return Err(e.into());
            }
        }
    }
    guard
        .enrich_accounts(&integration.app, &integration.instance, &batch)
        .await?;
    match fetch.task.await {
        Ok(Ok(summary)) => Ok(summary.warnings),
        Ok(Err(error)) => Err(failed(error)),
        Err(join_error) => Err(JoinError::Aborted {
            stream: join.from.clone(),
            message: join_error.to_string(),
        }),
    }
}

/// The joined values of one record of the joined stream; `None` without a join key.
fn enrichment(record: &Record, join: &Enrich) -> Option<Enrichment> {
    let external_id = match record.get(&join.on)? {
        Value::String(s) => s.clone(),
        Value::Null => return None,
        other => other.to_string(),
    };
    let mut fields = Map::new();
    let mut last_activity_at = None;
    for f in &join.fields {
        let value = record.get(f).cloned().unwrap_or(Value::Null);
        if f == LAST_ACTIVITY {
            last_activity_at = Some(
                value
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc)),
            );
        }
        fields.insert(f.clone(), value);
    }
    Some(Enrichment {
        external_id,
        fields,
        last_activity_at,
    })
}

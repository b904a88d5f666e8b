//! A stream's plugin record transforms, run once per page on the raw records
//! before extraction. Plugin calls may block (a subprocess answers over a pipe), so
//! they run on tokio's blocking pool.

use serde_json::Value;

use crate::plugin::{PluginFn, RecordOutcome};

/// What became of one raw record of a page.
pub(crate) enum Outcome {
    /// Extract fields from this (possibly changed) record.
    Keep(Value),
    /// Skip the record with this reason.
    Drop(String),
}

/// Runs `transforms` in order over a page. A record dropped by one transform is not
/// sent to the next. When a call fails, every record still kept is dropped with the
/// failure as the reason, so the run goes on with the next page.
pub(crate) async fn apply(transforms: &[PluginFn], records: &[&Value]) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = records
        .iter()
        .map(|r| Outcome::Keep((*r).clone()))
        .collect();
    for t in transforms {
        let kept: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o, Outcome::Keep(_)))
            .map(|(i, _)| i)
            .collect();
        if kept.is_empty() {
            break;
        }
        let batch: Vec<Value> = kept
            .iter()
            .map(
                |&i| match std::mem::replace(&mut outcomes[i], Outcome::Drop(String::new())) {
                    Outcome::Keep(v) => v,
                    Outcome::Drop(_) => Value::Null,
                },
            )
            .collect();
        let call = t.clone();
        let result = match tokio::task::spawn_blocking(move || call.batch(batch)).await {
            Ok(r) => r,
            Err(e) => Err(format!("{} stopped unexpectedly: {e}", t.who())),
        };
        match result {
            Ok(answers) => {
                for (&i, answer) in kept.iter().zip(answers) {
                    outcomes[i] = match answer {
                        RecordOutcome::Keep(v) => Outcome::Keep(v),
                        RecordOutcome::Drop(reason) => {
                            Outcome::Drop(format!("dropped by {}: {reason}", t.who()))
                        }
                    };
                }
            }
            Err(e) => {
                for &i in &kept {
                    outcomes[i] = Outcome::Drop(e.clone());
                }
            }
        }
    }
    outcomes
}

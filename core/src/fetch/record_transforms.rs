//! A stream's plugin record transforms, run once per page on the raw records
//! before extraction. Plugin calls may block (a subprocess answers over a pipe), so
//! they run on tokio's blocking pool. Each plugin gets only the attributes it
//! declared it needs, and a record is copied only when an answer changes it.

use std::borrow::Cow;

use serde_json::Value;

use crate::plugin::{Dropped, PluginFn};

/// What became of one raw record of a page.
pub(crate) enum Outcome<'p> {
    /// Extract fields from this (possibly changed) record.
    Keep(Cow<'p, Value>),
    /// Skip the record.
    Drop(Dropped),
}

/// Runs `transforms` in order over a page. A record dropped by one transform is not
/// sent to the next. When a call fails, every record still kept is dropped with the
/// failure as the reason (and no plugin: it was not dropped on purpose), so the run
/// goes on with the next page.
pub(crate) async fn apply<'p>(transforms: &[PluginFn], records: &[&'p Value]) -> Vec<Outcome<'p>> {
    let mut outcomes: Vec<Outcome<'p>> = records
        .iter()
        .map(|r| Outcome::Keep(Cow::Borrowed(*r)))
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
        let request = {
            let batch: Vec<&Value> = kept
                .iter()
                .filter_map(|&i| match &outcomes[i] {
                    Outcome::Keep(v) => Some(v.as_ref()),
                    Outcome::Drop(_) => None,
                })
                .collect();
            t.batch_request(&batch)
        };
        let call = t.clone();
        let result = match tokio::task::spawn_blocking(move || call.plugin.invoke(&request)).await {
            Ok(r) => r.and_then(|response| t.batch_answer(response, kept.len())),
            Err(e) => Err(format!("{} stopped unexpectedly: {e}", t.who())),
        };
        match result {
            Ok(answers) => {
                for (&i, answer) in kept.iter().zip(answers) {
                    let placeholder = Outcome::Keep(Cow::Owned(Value::Null));
                    if let Outcome::Keep(record) = std::mem::replace(&mut outcomes[i], placeholder)
                    {
                        outcomes[i] = match t.apply(answer, record) {
                            Ok(r) => Outcome::Keep(r),
                            Err(d) => Outcome::Drop(d),
                        };
                    }
                }
            }
            Err(reason) => {
                for &i in &kept {
                    outcomes[i] = Outcome::Drop(Dropped {
                        plugin: None,
                        reason: reason.clone(),
                    });
                }
            }
        }
    }
    outcomes
}

//! A stream's plugin record transforms, run once per page on the raw records
//! before extraction. Plugin calls may block (a subprocess answers over a pipe), so
//! they run on tokio's blocking pool. Each plugin gets only the attributes it
//! declared it needs, written straight from the page's records, and a `set` answer
//! is kept next to its record (extraction reads through it) instead of being applied
//! to a copy.

use serde_json::Value;

use crate::plugin::{Dropped, PluginFn};
use crate::raw_record::{RawRecord, RecordView};

/// What became of one raw record of a page.
pub(crate) enum Outcome<'p> {
    /// Extract fields from this (possibly changed) record.
    Keep(RawRecord<'p>),
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
        .map(|r| Outcome::Keep(RawRecord::Borrowed(r)))
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
            let batch: Vec<RecordView<'_>> = kept
                .iter()
                .filter_map(|&i| match &outcomes[i] {
                    Outcome::Keep(r) => Some(r.view()),
                    Outcome::Drop(_) => None,
                })
                .collect();
            t.batch_request(&batch)
        };
        let result = match request {
            Err(e) => Err(e),
            Ok(request) => {
                let call = t.clone();
                match tokio::task::spawn_blocking(move || call.plugin.invoke_json(request)).await {
                    Ok(r) => r.and_then(|response| t.batch_answer(response, kept.len())),
                    Err(e) => Err(format!("{} stopped unexpectedly: {e}", t.who())),
                }
            }
        };
        match result {
            Ok(answers) => {
                for (&i, answer) in kept.iter().zip(answers) {
                    let placeholder = Outcome::Keep(RawRecord::Owned(Value::Null));
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

//! What a run reports while it works: requests, pages, warnings. The CLI turns
//! these into `--explain` lines and a progress line; tests count them.

use std::time::Duration;

/// One HTTP attempt.
#[derive(Clone, Debug)]
pub struct RequestEvent {
    /// `METHOD url`, secrets redacted.
    pub request: String,
    /// Status, when there was an answer.
    pub status: Option<u16>,
    /// Attempt number (1 = first try).
    pub attempt: u32,
    /// How long the attempt took.
    pub elapsed: Duration,
    /// What happens next (retry, failure), redacted.
    pub note: Option<String>,
}

/// One page of records.
#[derive(Clone, Debug)]
pub struct PageEvent {
    /// `METHOD url`, secrets redacted.
    pub request: String,
    /// Status.
    pub status: u16,
    /// Records in the page.
    pub records: usize,
    /// Records emitted so far in the stream.
    pub emitted: u64,
    /// Total records announced by the API, when known.
    pub total: Option<u64>,
    /// Time of the request.
    pub elapsed: Duration,
}

/// Receives run events. Every method has an empty default.
pub trait Observer: Send + Sync {
    /// An HTTP attempt finished.
    fn request(&self, _event: &RequestEvent) {}
    /// A page was read and its records extracted.
    fn page(&self, _event: &PageEvent) {}
    /// Something the user should know that does not stop the run.
    fn warning(&self, _message: &str) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Silent;

impl Observer for Silent {}

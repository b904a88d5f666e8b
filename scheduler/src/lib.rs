//! rollcall-scheduler: which jobs are due, and the daemon loop that runs them.
//!
//! A job is an integration sync or a workflow run with a [`Schedule`]
//! (`rollcall_core::integration::Schedule`). The crate knows neither how to sync nor how
//! to run a workflow: the CLI implements [`JobType`] once per kind (where the jobs come
//! from, how one runs, whether it holds the store's write lock) and hands the list to
//! [`plan`] (`rollcall schedule`) and [`run_daemon`] (`rollcall daemon`).
//!
//! [`Schedule`]: rollcall_core::integration::Schedule

#![warn(missing_docs)]

mod daemon;
mod job;
mod plan;

pub use daemon::{DaemonOptions, DaemonReport, run_daemon};
pub use job::{Job, JobMode, JobOutcome, JobType, RunElsewhere};
pub use plan::{PlannedJob, plan};
pub use rollcall_store::{JobKind, JobStatus};
pub use tokio_util::sync::CancellationToken;

#[cfg(test)]
mod tests;

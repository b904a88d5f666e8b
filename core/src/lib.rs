//! rollcall-core: the engine that turns a connector manifest into records.
//!
//! The flow (see ARCHITECTURE.md): [`manifest`] (file format, loading) →
//! [`compile`] (templates and JSONPaths parsed once, references checked) →
//! [`fetch`] (requests and pages through [`http`], records extracted and streamed).
//!
//! Architecture invariant: `core` never reads environment variables, files other
//! than the manifests it is handed, or the terminal; the CLI does that.

pub mod action;
pub mod compile;
pub mod duration;
pub mod fetch;
pub mod http;
pub mod inputs;
pub mod integration;
pub mod manifest;
pub mod observe;
pub mod plugin;
pub mod raw_record;
pub mod secret;

pub use compile::{Connector, Record};
pub use fetch::{Fetch, FetchOptions, FetchSummary, Item, Items, Skipped};
pub use http::FetchError;
pub use inputs::{Inputs, Origin, ProvidedInputs};

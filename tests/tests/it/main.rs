//! rollcall's integration tests, in one test binary (one link, shared helpers).
//!
//! Library-level tests drive `rollcall_core::fetch` against the in-process Miro-like
//! SCIM server (`rollcall-testserver`) or a tiny custom server for response shapes
//! the test server cannot produce; CLI tests run the real `rollcall` binary.

mod actions;
mod cassettes;
mod cli;
mod drift;
mod fetch_records;
mod http_errors;
mod kit;
mod manifests;
mod page_limit;
mod redirects;
mod secrets;
mod shapes;
mod support;
mod token_auth;

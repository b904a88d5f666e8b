//! rollcall-plugin-sdk: what a rollcall plugin and the rollcall host share.
//!
//! - [`message`]: the requests the host sends and the responses a plugin gives. Both
//!   kinds of plugin use the same messages: a dynamic library receives them as JSON
//!   bytes through [`export_plugin!`]'s C functions, a subprocess as JSON lines on
//!   stdin/stdout (see [`stdio`]).
//! - [`export_plugin!`]: exports the C ABI from a `cdylib` crate, catching panics at
//!   the boundary. Plugin authors write no `unsafe` code.
//!
//! This crate does no I/O except in [`stdio`], which a subprocess plugin may use.
//! See `docs/plugins.md` for the full ABI and message formats.

pub mod export;
pub mod message;
pub mod stdio;

pub use message::{Capability, CapabilityKind, Description, RecordOutcome, Request, Response};

/// The version of the dynamic-library ABI and of the subprocess protocol that this
/// SDK speaks. A host refuses a plugin that reports a version outside
/// [`OLDEST_ABI_VERSION`]`..=ABI_VERSION`, before calling anything else.
///
/// - 1: the first messages.
/// - 2: a capability may declare `needs` (records are sent with only those
///   attributes) and a record transform may answer `{"set": {...}}` patches. A
///   version 1 plugin uses neither, so a version 2 host still runs it.
///
/// Paginator functions (`paginator` capabilities, [`Request::Paginate`]) came later
/// without a new version: a host sends `paginate` only to a function that declared
/// that kind, and a host that does not know the kind ignores the capability.
pub const ABI_VERSION: u32 = 2;

/// The oldest plugin version a host of this SDK still runs.
pub const OLDEST_ABI_VERSION: u32 = 1;

/// Whether a host speaking [`ABI_VERSION`] runs a plugin reporting `version`.
pub fn supported_version(version: u32) -> bool {
    (OLDEST_ABI_VERSION..=ABI_VERSION).contains(&version)
}

/// The exported symbol returning the ABI version: `uint32_t (void)`.
pub const SYMBOL_ABI_VERSION: &str = "rollcall_plugin_abi_version";
/// The exported symbol returning the description as a NUL-terminated JSON string
/// owned by the plugin: `const char *(void)`.
pub const SYMBOL_DESCRIBE: &str = "rollcall_plugin_describe";
/// The exported symbol answering one request:
/// `int32_t (const uint8_t *req, size_t req_len, uint8_t **out, size_t *out_len)`.
pub const SYMBOL_INVOKE: &str = "rollcall_plugin_invoke";
/// The exported symbol freeing a response buffer: `void (uint8_t *ptr, size_t len)`.
pub const SYMBOL_FREE: &str = "rollcall_plugin_free";

/// `rollcall_plugin_invoke` returned a [`Response`].
pub const INVOKE_OK: i32 = 0;
/// `rollcall_plugin_invoke` could not read the request; the response explains.
pub const INVOKE_BAD_REQUEST: i32 = 1;
/// The plugin panicked; the response (if any) carries the panic message.
pub const INVOKE_PANICKED: i32 = 2;

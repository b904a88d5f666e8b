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

/// The version of the dynamic-library ABI and of the subprocess protocol. A host
/// refuses a plugin that reports another version, before calling anything else.
pub const ABI_VERSION: u32 = 1;

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

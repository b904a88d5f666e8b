//! User-written YAML/JSON documents with positions: loading, schema checking, diagnostics.
//!
//! The flow for a user file is:
//!
//! 1. [`SourceFile::read`] (or [`SourceFile::new`]) gets the text,
//! 2. [`parse`] turns it into a [`Document`]: a [`serde_json::Value`] plus the
//!    position of every key and value, addressed by RFC 6901 JSON pointer,
//! 3. [`check_schema`] reports **every** schema problem in one pass, and
//! 4. [`Document::deserialize`] builds the typed value.
//!
//! Every problem is a [`Diagnostic`] whose [`Display`](std::fmt::Display) form is
//! `FILE:LINE:COLUMN: error: MESSAGE` followed by an indented `hint:` line.
//!
//! # YAML dialect
//!
//! * YAML 1.2 core schema: `yes`/`no`/`on`/`off` are strings; `true`/`false`
//!   (any of the three spellings) are booleans; `null`, `~` and empty values are
//!   null; `0x`/`0o` integers and `.inf`/`.nan` are recognised.
//! * Mapping keys are strings. A scalar key that YAML would resolve to another
//!   type (`1: x`, `true: x`, `null: x`) is kept as its source text (`"1"`,
//!   `"true"`, `"null"`). Collections or aliases to collections used as keys are
//!   rejected with a diagnostic.
//! * Aliases are expanded (within a budget); the YAML merge key `<<` is
//!   supported for mappings and lists of mappings.
//! * Non-finite floats (`.inf`, `.nan`, `1e999`) and integers that do not fit
//!   64 bits are rejected with a diagnostic, since JSON values cannot hold them.
//! * Only the core tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`,
//!   `!!map`, `!!seq`) and the non-specific `!` are accepted.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod diagnostic;
mod file;
mod parse;
mod path;
mod schema;
mod suggest;

pub use diagnostic::{Diagnostic, Pos, Severity};
pub use file::{MAX_FILE_SIZE, SourceFile};
pub use parse::{Document, Limits, parse, parse_with_limits};
pub use path::{display_path, escape_pointer_segment, pointer_segments};
pub use schema::check_schema;
pub use suggest::{edit_distance, suggest};

//! The connector manifests that ship inside the rollcall binary.
//!
//! Each manifest is a file in this folder, embedded at build time. A manifest with
//! the same name in the user's connectors directory takes precedence at run time,
//! so shipped connectors can be changed without recompiling.

/// A built-in manifest.
#[derive(Clone, Copy, Debug)]
pub struct BuiltIn {
    /// Connector name.
    pub name: &'static str,
    /// File name inside `connectors/`.
    pub file: &'static str,
    /// The manifest text.
    pub text: &'static str,
}

/// Every built-in manifest.
pub const BUILTIN: &[BuiltIn] = &[BuiltIn {
    name: "miro",
    file: "miro.yaml",
    text: include_str!("../miro.yaml"),
}];

/// A built-in manifest by connector name.
pub fn builtin(name: &str) -> Option<&'static BuiltIn> {
    BUILTIN.iter().find(|b| b.name == name)
}

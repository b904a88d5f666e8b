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
pub const BUILTIN: &[BuiltIn] = &[
    BuiltIn {
        name: "miro",
        file: "miro.yaml",
        text: include_str!("../miro.yaml"),
    },
    BuiltIn {
        name: "scim",
        file: "scim.yaml",
        text: include_str!("../scim.yaml"),
    },
    BuiltIn {
        name: "slack-scim",
        file: "slack-scim.yaml",
        text: include_str!("../slack-scim.yaml"),
    },
    BuiltIn {
        name: "slack-web",
        file: "slack-web.yaml",
        text: include_str!("../slack-web.yaml"),
    },
    BuiltIn {
        name: "figma",
        file: "figma.yaml",
        text: include_str!("../figma.yaml"),
    },
    BuiltIn {
        name: "github-emu",
        file: "github-emu.yaml",
        text: include_str!("../github-emu.yaml"),
    },
    BuiltIn {
        name: "github-org",
        file: "github-org.yaml",
        text: include_str!("../github-org.yaml"),
    },
    BuiltIn {
        name: "zoom",
        file: "zoom.yaml",
        text: include_str!("../zoom.yaml"),
    },
    BuiltIn {
        name: "atlassian",
        file: "atlassian.yaml",
        text: include_str!("../atlassian.yaml"),
    },
];

/// A built-in manifest by connector name.
pub fn builtin(name: &str) -> Option<&'static BuiltIn> {
    BUILTIN.iter().find(|b| b.name == name)
}

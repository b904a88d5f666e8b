//! Loading a manifest file: text → positioned document → schema check (every
//! structural problem at once) → typed model → compiled connector (every semantic
//! problem at once). Each problem is a `FILE:LINE:COLUMN: error: ...` diagnostic.

use std::fmt;
use std::sync::OnceLock;

use rollcall_source::{Diagnostic, SourceFile, check_schema, parse};
use schemars::generate::SchemaSettings;

use super::model::ConnectorManifest;
use crate::compile::{Connector, compile};

/// A manifest that could not be loaded, with every problem found.
#[derive(Debug)]
pub struct LoadError {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The file text (for snippets).
    pub text: String,
}

impl LoadError {
    /// All problems with source snippets, as a compiler prints them.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&d.render_with_snippet(&self.text));
            out.push('\n');
        }
        let n = self.diagnostics.len();
        out.push_str(&format!(
            "{n} problem{} found",
            if n == 1 { "" } else { "s" }
        ));
        out
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// The JSON Schema of the manifest format (draft-07), generated from the types.
pub fn manifest_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema = SchemaSettings::draft07()
            .into_generator()
            .into_root_schema_for::<ConnectorManifest>();
        serde_json::to_value(schema).unwrap_or(serde_json::Value::Bool(true))
    })
}

/// Loads and compiles a manifest. `origin` says where it came from (a path or
/// `built-in:NAME`).
pub fn load_connector(file: SourceFile, origin: &str) -> Result<Connector, LoadError> {
    let text = file.text.clone();
    let fail = |diagnostics: Vec<Diagnostic>| LoadError {
        diagnostics,
        text: text.clone(),
    };
    let doc = parse(file).map_err(fail)?;
    let problems = check_schema(&doc, manifest_schema());
    if problems.iter().any(Diagnostic::is_error) {
        return Err(fail(problems));
    }
    let manifest: ConnectorManifest = doc.deserialize().map_err(|d| fail(vec![d]))?;
    compile(&manifest, &doc, origin).map_err(fail)
}

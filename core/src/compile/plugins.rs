//! Resolving a manifest's plugins: each declared plugin is opened once through the
//! [`PluginHost`] (which checks its pin), and every function reference is checked
//! against what the plugin describes.

use std::sync::Arc;

use indexmap::IndexMap;
use rollcall_source::{Diagnostic, Document, suggest};

use super::escape;
use crate::manifest::{ConnectorManifest, PluginCallSpec};
use crate::plugin::{CapabilityKind, Plugin, PluginFn, PluginHost};

/// The plugins a manifest declared, opened (those that failed are reported and absent).
pub(super) struct Opened {
    plugins: IndexMap<String, Option<Arc<dyn Plugin>>>,
}

/// Opens every plugin under `plugins:`.
pub(super) fn open_all(
    m: &ConnectorManifest,
    doc: &Document,
    host: &dyn PluginHost,
    diags: &mut Vec<Diagnostic>,
) -> Opened {
    let mut plugins = IndexMap::new();
    for (name, req) in &m.plugins {
        let ptr = format!("/plugins/{}", escape(name));
        if let Some(pin) = &req.sha256
            && (pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()))
        {
            diags.push(doc.error_at(
                &format!("{ptr}/sha256"),
                format!("the sha256 pin of plugin `{name}` should be 64 hexadecimal digits"),
                Some("`rollcall plugins list` prints each plugin's sha256".into()),
            ));
            plugins.insert(name.clone(), None);
            continue;
        }
        match host.open(name, req.sha256.as_deref()) {
            Ok(p) => {
                plugins.insert(name.clone(), Some(p));
            }
            Err(e) => {
                diags.push(doc.error_at(&ptr, e, None));
                plugins.insert(name.clone(), None);
            }
        }
    }
    Opened { plugins }
}

impl Opened {
    /// Checks one call of a plugin function of the given kind.
    pub(super) fn resolve(
        &self,
        spec: &PluginCallSpec,
        kind: CapabilityKind,
        pointer: &str,
        doc: &Document,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<PluginFn> {
        let plugin = match self.plugins.get(&spec.plugin) {
            Some(Some(p)) => p,
            // Already reported where it is declared.
            Some(None) => return None,
            None => {
                let hint = suggest(&spec.plugin, self.plugins.keys().map(String::as_str))
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_else(|| {
                        format!(
                            "declare it at the top level: `plugins: {{ {}: {{}} }}`",
                            spec.plugin
                        )
                    });
                diags.push(doc.error_at(
                    &format!("{pointer}/plugin"),
                    format!(
                        "the plugin `{}` is not declared under `plugins:`",
                        spec.plugin
                    ),
                    Some(hint),
                ));
                return None;
            }
        };
        let d = plugin.description();
        let Some(cap) = d.function(&spec.function) else {
            let offered: Vec<&str> = d
                .capabilities
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.function.as_str())
                .collect();
            let hint = suggest(&spec.function, offered.iter().copied())
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| {
                    if offered.is_empty() {
                        format!("it offers no {}", kind_name(kind))
                    } else {
                        format!("its {}s are: {}", kind_name(kind), offered.join(", "))
                    }
                });
            diags.push(doc.error_at(
                &format!("{pointer}/function"),
                format!(
                    "the plugin `{}` ({}) has no function `{}`",
                    spec.plugin,
                    plugin.file().display(),
                    spec.function
                ),
                Some(hint),
            ));
            return None;
        };
        if cap.kind != kind {
            diags.push(doc.error_at(
                &format!("{pointer}/function"),
                format!(
                    "`{}` of plugin `{}` is {}, not {}",
                    spec.function,
                    spec.plugin,
                    with_article(kind_name(cap.kind)),
                    with_article(kind_name(kind))
                ),
                None,
            ));
            return None;
        }
        PluginFn::new(
            Arc::clone(plugin),
            &spec.function,
            spec.config.clone().unwrap_or(serde_json::Value::Null),
        )
    }
}

/// "a paginator", "an auth provider".
fn with_article(noun: &str) -> String {
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {noun}")
}

fn kind_name(kind: CapabilityKind) -> &'static str {
    match kind {
        CapabilityKind::FieldTransform => "field transform",
        CapabilityKind::RecordTransform => "record transform",
        CapabilityKind::Auth => "auth provider",
        CapabilityKind::Paginator => "paginator",
        CapabilityKind::Unknown => "function of a kind this rollcall does not know",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_with_their_article() {
        assert_eq!(
            with_article(kind_name(CapabilityKind::Auth)),
            "an auth provider"
        );
        assert_eq!(
            with_article(kind_name(CapabilityKind::Paginator)),
            "a paginator"
        );
        assert_eq!(
            with_article(kind_name(CapabilityKind::FieldTransform)),
            "a field transform"
        );
    }
}

//! Handlebars templates, parsed once when a manifest loads.
//!
//! One registry per connector, with HTML escaping off (`no_escape`: these are
//! headers, URLs and bodies, not HTML) and strict mode on (a missing variable is an
//! error, never an empty string). Every template is registered at load time and its
//! variables are checked against the names the context will have.

use handlebars::{Handlebars, RenderErrorReason, handlebars_helper};
use serde_json::Value;

/// A compiled template: literal text, or a template registered under a name.
#[derive(Clone, Debug)]
pub enum Template {
    /// Text without any `{{`: rendering is a copy.
    Literal(String),
    /// A registered handlebars template.
    Registered {
        /// Registry key.
        name: String,
        /// The template as written (for `explain`).
        source: String,
    },
}

impl Template {
    /// The template as written.
    pub fn source(&self) -> &str {
        match self {
            Template::Literal(s) => s,
            Template::Registered { source, .. } => source,
        }
    }
}

/// The template registry of one connector.
pub struct Templates {
    registry: Handlebars<'static>,
    next: usize,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Templates({})", self.next)
    }
}

/// Everything but RFC 3986's unreserved characters (letters, digits, `-._~`).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

handlebars_helper!(urlencode: |s: str| {
    percent_encoding::utf8_percent_encode(s, PATH_SEGMENT).to_string()
});

handlebars_helper!(json: |v: Json| {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
});

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An empty registry with rollcall's settings.
    pub fn new() -> Self {
        let mut registry = Handlebars::new();
        registry.register_escape_fn(handlebars::no_escape);
        registry.set_strict_mode(true);
        registry.register_helper("urlencode", Box::new(urlencode));
        registry.register_helper("json", Box::new(json));
        Templates { registry, next: 0 }
    }

    /// Parses `source` and checks that it only uses `variables`.
    /// The error is a sentence naming the problem, with a hint when one helps.
    pub fn compile(
        &mut self,
        source: &str,
        variables: &[&str],
    ) -> Result<Template, (String, Option<String>)> {
        if !source.contains("{{") {
            return Ok(Template::Literal(source.to_string()));
        }
        let name = format!("t{}", self.next);
        self.next += 1;
        self.registry
            .register_template_string(&name, source)
            .map_err(|e| {
                let at = e
                    .pos()
                    .map(|(l, c)| format!(" (template line {l}, column {c})"))
                    .unwrap_or_default();
                (
                    format!("the template `{source}` does not parse: {}{at}", e.reason()),
                    Some("templates use handlebars syntax, e.g. `Bearer {{token}}`".to_string()),
                )
            })?;
        // Strict mode turns an unknown variable into an error: render once with a
        // probe context that has exactly the allowed names.
        let probe: serde_json::Map<String, Value> = variables
            .iter()
            .map(|v| (v.to_string(), Value::String("probe".into())))
            .collect();
        if let Err(e) = self.registry.render(&name, &Value::Object(probe)) {
            // A helper's missing argument (`{{urlencode tenant}}`) is reported by
            // handlebars without the variable's name: find it in the source.
            let undeclared = match e.reason() {
                RenderErrorReason::MissingVariable(Some(var)) => Some(var.clone()),
                _ => undeclared_name(source, variables),
            };
            let (msg, hint) = match undeclared.as_ref() {
                Some(var) => {
                    let hint = match rollcall_source::suggest(var, variables.iter().copied()) {
                        Some(s) => format!("did you mean `{{{{{s}}}}}`?"),
                        None if variables.is_empty() => {
                            "this template cannot use variables here".to_string()
                        }
                        None => format!("the names available here are: {}", variables.join(", ")),
                    };
                    (
                        format!(
                            "the template `{source}` uses `{var}`, which is not a declared input"
                        ),
                        Some(hint),
                    )
                }
                None => (
                    format!("the template `{source}` cannot be rendered: {}", e.reason()),
                    None,
                ),
            };
            self.registry.unregister_template(&name);
            return Err((msg, hint));
        }
        Ok(Template::Registered {
            name,
            source: source.to_string(),
        })
    }

    /// Whether rendering `template` uses the value of any of `names` (checked by
    /// rendering with marker values; `all` lists every variable allowed).
    pub fn uses_any(&self, template: &Template, names: &[&str], all: &[&str]) -> bool {
        let ctx: serde_json::Map<String, Value> = all
            .iter()
            .map(|v| {
                let marked = names.contains(v);
                let text = if marked {
                    format!("\u{1}{v}\u{1}")
                } else {
                    String::new()
                };
                (v.to_string(), Value::String(text))
            })
            .collect();
        match self.render(template, &Value::Object(ctx)) {
            Ok(out) => names
                .iter()
                .any(|n| out.contains(&format!("\u{1}{n}\u{1}"))),
            Err(_) => false,
        }
    }

    /// Renders a template with a context object.
    pub fn render(&self, template: &Template, context: &Value) -> Result<String, String> {
        match template {
            Template::Literal(s) => Ok(s.clone()),
            Template::Registered { name, source } => {
                self.registry
                    .render(name, context)
                    .map_err(|e| match e.reason() {
                        RenderErrorReason::MissingVariable(Some(var)) => {
                            format!("the template `{source}` needs `{var}`, which has no value")
                        }
                        other => format!("the template `{source}` cannot be rendered: {other}"),
                    })
            }
        }
    }
}

/// The first plain name inside `{{ }}` that is neither a helper, a keyword, a literal
/// nor one of `variables`.
fn undeclared_name(source: &str, variables: &[&str]) -> Option<String> {
    const WORDS: &[&str] = &["urlencode", "json", "else", "this", "true", "false", "null"];
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        for word in after[..end].split_whitespace() {
            let word = word.trim_matches(|c| c == '~' || c == '(' || c == ')');
            let plain = word
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if plain && !WORDS.contains(&word) && !variables.contains(&word) {
                return Some(word.to_string());
            }
        }
        rest = &after[end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_html_escaping_and_strict_variables() {
        let mut t = Templates::new();
        let tpl = t.compile("Bearer {{token}}", &["token"]).unwrap();
        assert_eq!(
            t.render(&tpl, &json!({"token": "a&b<c>\"d"})).unwrap(),
            "Bearer a&b<c>\"d"
        );
        let (msg, hint) = t.compile("Bearer {{tokn}}", &["token"]).unwrap_err();
        assert!(msg.contains("`tokn`"), "{msg}");
        assert_eq!(hint.as_deref(), Some("did you mean `{{token}}`?"));
        assert!(
            t.render(&tpl, &json!({}))
                .unwrap_err()
                .contains("has no value")
        );
    }

    #[test]
    fn syntax_errors_are_sentences() {
        let mut t = Templates::new();
        let (msg, _) = t.compile("Bearer {{#if token}}", &["token"]).unwrap_err();
        assert!(msg.contains("does not parse"), "{msg}");
    }

    #[test]
    fn json_helper_writes_values_as_json() {
        let mut t = Templates::new();
        let tpl = t
            .compile("[{{json a}}, {{json b}}, {{json c}}]", &["a", "b", "c"])
            .unwrap();
        assert_eq!(
            t.render(&tpl, &json!({"a": "say \"hi\"", "b": false, "c": 3}))
                .unwrap(),
            "[\"say \\\"hi\\\"\", false, 3]"
        );
    }

    #[test]
    fn an_undeclared_helper_argument_is_named() {
        let mut t = Templates::new();
        let (msg, hint) = t
            .compile("/x/{{urlencode tenantt}}", &["tenant"])
            .unwrap_err();
        assert_eq!(
            msg,
            "the template `/x/{{urlencode tenantt}}` uses `tenantt`, which is not a declared input"
        );
        assert_eq!(hint.as_deref(), Some("did you mean `{{tenant}}`?"));
    }

    #[test]
    fn urlencode_helper() {
        let mut t = Templates::new();
        let tpl = t
            .compile("/orgs/{{urlencode org}}/members", &["org"])
            .unwrap();
        assert_eq!(
            t.render(&tpl, &json!({"org": "a b/c-d_e.f~g"})).unwrap(),
            "/orgs/a%20b%2Fc-d_e.f~g/members"
        );
    }
}

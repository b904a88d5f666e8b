//! Connection inputs for a run: plain values and secrets, checked against what the
//! connector declares. `core` never reads the environment itself; the CLI gathers
//! values (from `--set`, the environment, the vault) and hands them over here.

use indexmap::IndexMap;
use serde_json::Value;

use crate::compile::Connector;
use crate::secret::{Redactor, Secret};

/// Where a provided value came from (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `--set NAME=VALUE` on the command line.
    CommandLine,
    /// An environment variable.
    Env(String),
    /// A vault credential.
    Vault(String),
    /// Any other source (integration file, test).
    Other(String),
}

/// Values offered for a run, before checking.
#[derive(Clone, Default)]
pub struct ProvidedInputs {
    values: Vec<(String, String, Origin)>,
}

impl std::fmt::Debug for ProvidedInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values are not shown: this is before secrets are known to be secrets.
        f.debug_list()
            .entries(self.values.iter().map(|(name, _, origin)| (name, origin)))
            .finish()
    }
}

impl ProvidedInputs {
    /// Nothing provided yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers a value. Later values for the same input win.
    pub fn provide(&mut self, name: impl Into<String>, value: impl Into<String>, origin: Origin) {
        self.values.push((name.into(), value.into(), origin));
    }
}

/// Checked inputs, secrets wrapped.
#[derive(Clone, Debug)]
pub struct Inputs {
    values: IndexMap<String, InputValue>,
}

/// One checked input.
#[derive(Clone, Debug)]
pub enum InputValue {
    /// Not secret.
    Plain(String),
    /// Secret.
    Secret(Secret),
}

impl Inputs {
    /// Checks provided values against the connector's inputs: unknown names,
    /// secrets from the command line and missing required inputs are refused.
    /// Every problem is returned.
    pub fn resolve(connector: &Connector, provided: ProvidedInputs) -> Result<Inputs, Vec<String>> {
        let mut problems = Vec::new();
        let mut values: IndexMap<String, InputValue> = IndexMap::new();
        for (name, value, origin) in provided.values {
            let Some(spec) = connector.inputs.get(&name) else {
                let hint =
                    rollcall_source::suggest(&name, connector.inputs.keys().map(String::as_str))
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                let known = connector
                    .inputs
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                problems.push(format!(
                    "the connector `{}` has no input `{name}`{hint}; its inputs are: {known}",
                    connector.name
                ));
                continue;
            };
            if spec.secret && origin == Origin::CommandLine {
                problems.push(format!(
                    "`{name}` is a secret input of `{}` and is never taken from the command line, where other users and shell history can see it; put it in an environment variable and pass `--secret-env {name}=VAR`, or store it in the vault with `rollcall credentials add`",
                    connector.name
                ));
                continue;
            }
            let v = if spec.secret {
                InputValue::Secret(Secret::new(value))
            } else {
                InputValue::Plain(value)
            };
            values.insert(name, v);
        }
        for (name, spec) in &connector.inputs {
            if values.contains_key(name) {
                continue;
            }
            if let Some(d) = &spec.default {
                values.insert(name.clone(), InputValue::Plain(d.clone()));
            } else if spec.required.unwrap_or(true) {
                let how = if spec.secret {
                    format!(
                        "set the environment variable ROLLCALL_{}_{}, or pass `--secret-env {name}=VAR`",
                        env_key(&connector.name),
                        env_key(name)
                    )
                } else {
                    format!("pass it with `--set {name}=VALUE`")
                };
                problems.push(format!(
                    "the input `{name}` ({}) is missing; {how}",
                    spec.description.trim_end_matches('.')
                ));
            }
        }
        if problems.is_empty() {
            Ok(Inputs { values })
        } else {
            Err(problems)
        }
    }

    /// The template context: every input by name (secrets included, for rendering).
    pub fn context(&self) -> Value {
        Value::Object(
            self.values
                .iter()
                .map(|(k, v)| {
                    let s = match v {
                        InputValue::Plain(s) => s.clone(),
                        InputValue::Secret(s) => s.expose().to_string(),
                    };
                    (k.clone(), Value::String(s))
                })
                .collect(),
        )
    }

    /// A redactor that knows every secret input.
    pub fn redactor(&self) -> Redactor {
        let mut r = Redactor::new();
        for v in self.values.values() {
            if let InputValue::Secret(s) = v {
                r.add(s);
            }
        }
        r
    }

    /// Every input with its value, in manifest order.
    pub fn values(&self) -> impl Iterator<Item = (&String, &InputValue)> {
        self.values.iter()
    }

    /// Whether an input has a value.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The non-secret inputs with their values (for cassettes).
    pub fn plain_values(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .filter_map(|(k, v)| match v {
                InputValue::Plain(s) => Some((k.clone(), s.clone())),
                InputValue::Secret(_) => None,
            })
            .collect()
    }

    /// Input names with their values, secrets shown as `***` (for `--explain`).
    pub fn describe(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(k, v)| {
                let shown = match v {
                    InputValue::Plain(s) => s.clone(),
                    InputValue::Secret(_) => crate::secret::REDACTED.to_string(),
                };
                (k.clone(), shown)
            })
            .collect()
    }
}

/// `miro` + `token` → the `MIRO` / `TOKEN` parts of `ROLLCALL_MIRO_TOKEN`.
pub fn env_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

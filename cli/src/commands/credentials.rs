//! `rollcall credentials add|list|remove`: the vault.
//!
//! The secret inputs of a connector, or the URL of a webhook (`--webhook`, for a workflow's
//! `notify: { url_credential: NAME }`), are gathered here (hidden prompt, stdin lines or
//! `--secret-env`), encrypted by `rollcall-vault` and stored as opaque bytes by the store.
//! The key is `vault.key` in the data directory (or `ROLLCALL_VAULT_KEY_FILE`), or the
//! passphrase in `ROLLCALL_VAULT_PASSPHRASE` when that is set.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use rollcall_core::Connector;
use rollcall_core::secret::Secret;
use rollcall_store::{
    Store, StoreError, StoredCredential, StoredCredentialInfo, WEBHOOK_CREDENTIAL,
};
use rollcall_vault::KeySource;
use rollcall_workflow::blocks::notify::{self, URL_INPUT};

use crate::datadir;
use crate::output::pad;
use crate::registry::Registry;

/// Manage stored credentials.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Store the secret inputs of a connector (or a webhook URL) under a name, encrypted.
    ///
    /// Each secret input the connector declares is asked for with a hidden prompt on a
    /// terminal; otherwise one line each is read from stdin, in the order the connector
    /// declares them. With --webhook, the one input is `url`, the webhook's URL (https, or
    /// http to this machine), for a workflow's `notify: { url_credential: NAME }`. The
    /// vault key is DATA_DIR/vault.key (created on first use, mode 0600;
    /// ROLLCALL_VAULT_KEY_FILE names another file), or the passphrase in
    /// ROLLCALL_VAULT_PASSPHRASE when it is set.
    Add {
        /// Credential name, e.g. `miro-scim`.
        name: String,
        /// The connector whose secret inputs are asked for.
        #[arg(long, required_unless_present = "webhook", conflicts_with = "webhook")]
        connector: Option<String>,
        /// Store a webhook URL (the input `url`) for a workflow's `notify` block.
        #[arg(long)]
        webhook: bool,
        /// Take a secret input from an environment variable instead of asking. Repeatable.
        #[arg(long = "secret-env", value_name = "INPUT=ENV_VAR")]
        secret_env: Vec<String>,
        /// Replace an existing credential of that name (rotation).
        #[arg(long)]
        replace: bool,
    },
    /// List credentials: names, connector (or `(webhook)`), input names and dates, never
    /// values.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Remove a credential.
    Remove {
        /// Credential name.
        name: String,
    },
}

/// How `credentials list` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ListFormat {
    /// Aligned columns.
    Table,
    /// A JSON array of objects.
    Json,
}

pub async fn run(args: Args, registry: &Registry, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    match args.command {
        Command::Add {
            name,
            connector,
            webhook,
            secret_env,
            replace,
        } => {
            let holds = match connector {
                Some(spec) if !webhook => Holds::connector(registry, &spec)?,
                _ => Holds::webhook(),
            };
            add(data_dir, &name, &holds, &secret_env, replace).await
        }
        Command::List { format } => list(data_dir, format).await,
        Command::Remove { name } => remove(data_dir, &name).await,
    }
}

/// The decrypted secret inputs of the credential `name`, which must be for the connector
/// named `connector`. For `fetch --credential` and `run`.
pub async fn credential_inputs(
    data_dir: Option<PathBuf>,
    name: &str,
    connector: &str,
) -> Result<Vec<(String, Secret)>> {
    let dir = datadir::resolve(data_dir.clone())?;
    let store = datadir::open_store(data_dir).await?;
    let stored = store
        .credential(name)
        .await
        .with_context(|| format!("cannot read credential `{name}`"))?;
    store.close().await;
    let Some(stored) = stored else {
        bail!(
            "there is no credential named `{name}` in {}; `rollcall credentials list` shows the stored ones, `rollcall credentials add {name} --connector {connector}` stores one",
            dir.display()
        );
    };
    if stored.info.is_webhook() {
        bail!(
            "the credential `{name}` holds a webhook URL, not the secret inputs of `{connector}`; use a credential made for `{connector}` (see `rollcall credentials list`)"
        );
    }
    if stored.info.connector != connector {
        bail!(
            "the credential `{name}` is for the connector `{}`, not `{connector}`; use a credential made for `{connector}` (see `rollcall credentials list`)",
            stored.info.connector
        );
    }
    let again = store_again(&stored.info);
    let named = rollcall_vault::Named {
        name,
        again: &again,
    };
    let values =
        crate::unlocked::decrypt(&dir, key_source(&dir), named, &stored.ciphertext).await?;
    Ok(values.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The command that stores the credential `info` again, for messages about one that
/// cannot be decrypted.
fn store_again(info: &StoredCredentialInfo) -> String {
    let kind = if info.is_webhook() {
        "--webhook".to_owned()
    } else {
        format!("--connector {}", info.connector)
    };
    format!("rollcall credentials add {} {kind} --replace", info.name)
}

fn key_source(dir: &std::path::Path) -> KeySource {
    KeySource::from_env_and_dir(dir, &|var| std::env::var(var).ok())
}

/// The decrypted URL of the webhook credential `name`, for a workflow's `notify` block.
/// `workflow` names the workflow in messages. The URL is checked by the caller
/// (`Workflow::resolve_webhook`).
pub async fn webhook_url(
    store: &Store,
    dir: &std::path::Path,
    name: &str,
    workflow: &str,
) -> Result<Secret> {
    let stored = webhook_credential(store, dir, name, workflow).await?;
    let again = store_again(&stored.info);
    let named = rollcall_vault::Named {
        name,
        again: &again,
    };
    let values = crate::unlocked::decrypt(dir, key_source(dir), named, &stored.ciphertext).await?;
    values.get(URL_INPUT).cloned().ok_or_else(|| {
        anyhow!(
            "the webhook credential `{name}` holds no `{URL_INPUT}`; store the URL again with `rollcall credentials add {name} --webhook --replace`"
        )
    })
}

/// The webhook credential `name` that the workflow `workflow` posts to (still
/// encrypted): an error naming both, and what to do, when there is none or it is not a
/// webhook.
pub async fn webhook_credential(
    store: &Store,
    dir: &std::path::Path,
    name: &str,
    workflow: &str,
) -> Result<StoredCredential> {
    let stored = store
        .credential(name)
        .await
        .with_context(|| format!("cannot read credential `{name}`"))?;
    match stored {
        None => bail!(
            "the workflow `{workflow}` posts to the webhook credential `{name}`, and there is no credential of that name in {}; store the webhook URL with `rollcall credentials add {name} --webhook` (it asks for the URL), or fix `url_credential` in the workflow file and apply it again",
            dir.display()
        ),
        Some(c) if !c.info.is_webhook() => bail!(
            "the workflow `{workflow}` posts to the webhook credential `{name}`, and that credential holds the secret inputs of the connector `{}`, not a webhook URL; store the URL under another name with `rollcall credentials add NAME --webhook` and write that name as `url_credential` in the workflow file",
            c.info.connector
        ),
        Some(c) => Ok(c),
    }
}

/// What a credential holds, for `add`: the secret inputs of a connector, or a webhook URL.
struct Holds {
    /// The store's `connector` column: the connector's name, or [`WEBHOOK_CREDENTIAL`].
    stored_as: String,
    /// In messages: "the connector `miro`", "a webhook".
    label: String,
    /// The secret inputs, in the order they are asked for.
    secret: Vec<SecretInput>,
    /// The inputs that are not secret (for messages).
    public: Vec<String>,
    /// Whether the one value is a webhook URL, checked before it is stored.
    webhook: bool,
}

/// A secret input asked for.
struct SecretInput {
    name: String,
    description: String,
    required: bool,
}

impl Holds {
    fn connector(registry: &Registry, spec: &str) -> Result<Holds> {
        let connector = registry.load(spec).map_err(|e| e.into_error())?;
        let holds = Holds::of(&connector);
        if holds.secret.is_empty() {
            bail!(
                "the connector `{}` declares no secret input, so there is nothing to store; pass its inputs with `--set` when fetching",
                connector.name
            );
        }
        Ok(holds)
    }

    fn of(connector: &Connector) -> Holds {
        Holds {
            stored_as: connector.name.clone(),
            label: format!("the connector `{}`", connector.name),
            secret: connector
                .inputs
                .iter()
                .filter(|(_, spec)| spec.secret)
                .map(|(n, spec)| SecretInput {
                    name: n.clone(),
                    description: spec.description.clone(),
                    required: spec.required.unwrap_or(true) && spec.default.is_none(),
                })
                .collect(),
            public: connector
                .inputs
                .iter()
                .filter(|(_, spec)| !spec.secret)
                .map(|(n, _)| n.clone())
                .collect(),
            webhook: false,
        }
    }

    fn webhook() -> Holds {
        Holds {
            stored_as: WEBHOOK_CREDENTIAL.to_string(),
            label: "a webhook".to_string(),
            secret: vec![SecretInput {
                name: URL_INPUT.to_string(),
                description: "the webhook URL: https, or http to this machine".to_string(),
                required: true,
            }],
            public: Vec::new(),
            webhook: true,
        }
    }

    fn secret_names(&self) -> String {
        self.secret
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn add(
    data_dir: Option<PathBuf>,
    name: &str,
    holds: &Holds,
    secret_env: &[String],
    replace: bool,
) -> Result<ExitCode> {
    if name.trim().is_empty() {
        bail!(
            "a credential needs a name, e.g. `rollcall credentials add miro-scim --connector miro`"
        );
    }
    let mut values = from_env(holds, secret_env)?;

    let dir = datadir::resolve(data_dir.clone())?;
    let store = datadir::open_store(data_dir).await?;
    let existing = store
        .credential(name)
        .await
        .with_context(|| format!("cannot read credential `{name}`"))?;
    if let Some(existing) = &existing
        && !replace
    {
        bail!(
            "a credential named `{name}` already exists (for {}, updated {}); to rotate it, run the command again with --replace",
            for_label(&existing.info),
            existing.info.updated_at.format("%Y-%m-%d %H:%M UTC")
        );
    }

    let missing: Vec<&SecretInput> = holds
        .secret
        .iter()
        .filter(|s| !values.contains_key(&s.name))
        .collect();
    if !missing.is_empty() {
        ask(holds, &missing, &mut values)?;
    }
    if values.is_empty() {
        bail!("no secret value was given, so nothing was stored");
    }
    let shown_url = match values.get(URL_INPUT) {
        Some(url) if holds.webhook => Some(
            notify::check_url(url.expose())
                .map_err(|(msg, hint)| anyhow!("{msg}; {hint}. Nothing was stored"))?
                .shown()
                .to_string(),
        ),
        _ => None,
    };

    let key = key_source(&dir);
    let create_key = match &key {
        KeySource::Passphrase(_) => false,
        KeySource::IdentityFile(_) => !key_file_credentials_exist(&store).await?,
    };
    let new_key_file = match &key {
        KeySource::IdentityFile(path) if !path.exists() => Some(path.clone()),
        _ => None,
    };
    let blob = rollcall_vault::encrypt(&key, &values, create_key)?;
    if let Some(path) = new_key_file {
        eprintln!(
            "created a new vault key in {} (mode 0600); back it up: without it, the stored credentials cannot be decrypted",
            path.display()
        );
    }
    let input_names: Vec<String> = values.keys().cloned().collect();
    match store
        .put_credential(name, &holds.stored_as, &input_names, &blob, replace)
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyExists { .. }) => bail!(
            "a credential named `{name}` already exists; to rotate it, run the command again with --replace"
        ),
        Err(e) => return Err(anyhow!(e).context(format!("cannot store credential `{name}`"))),
    }
    store.close().await;
    let verb = if existing.is_some() {
        "replaced"
    } else {
        "stored"
    };
    match shown_url {
        Some(shown) => println!(
            "{verb} webhook credential `{name}` (input: {URL_INPUT}, to {shown}), encrypted with {}; a workflow's `notify: {{ url_credential: {name} }}` posts to it",
            key.describe()
        ),
        None => println!(
            "{verb} credential `{name}` for `{}` (inputs: {}), encrypted with {}",
            holds.stored_as,
            input_names.join(", "),
            key.describe()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether any stored credential was encrypted with a key file: then a missing key file
/// must not be replaced by a new one.
async fn key_file_credentials_exist(store: &Store) -> Result<bool> {
    let list = store
        .list_credentials()
        .await
        .context("cannot list the stored credentials")?;
    for info in list {
        let stored = store
            .credential(&info.name)
            .await
            .with_context(|| format!("cannot read credential `{}`", info.name))?;
        if let Some(c) = stored
            && !rollcall_vault::encrypted_with_passphrase(&c.ciphertext)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What a stored credential is for, in messages: "`miro`", "a webhook".
fn for_label(info: &StoredCredentialInfo) -> String {
    if info.is_webhook() {
        "a webhook".to_string()
    } else {
        format!("`{}`", info.connector)
    }
}

/// The `--secret-env INPUT=VAR` values, checked against the secret inputs.
fn from_env(holds: &Holds, pairs: &[String]) -> Result<BTreeMap<String, Secret>> {
    let mut values = BTreeMap::new();
    for pair in pairs {
        let Some((input, var)) = pair.split_once('=') else {
            bail!(
                "`--secret-env {pair}` should be INPUT=ENV_VAR, e.g. `--secret-env token=MIRO_SCIM_TOKEN`"
            );
        };
        let (input, var) = (input.trim(), var.trim());
        if holds.public.iter().any(|p| p == input) {
            bail!(
                "`{input}` is not a secret input of `{}`, so it is not stored in the vault; give it with `--set {input}=VALUE` when fetching. Its secret inputs are: {}",
                holds.stored_as,
                holds.secret_names()
            );
        }
        if !holds.secret.iter().any(|s| s.name == input) {
            let all = holds
                .secret
                .iter()
                .map(|s| s.name.as_str())
                .chain(holds.public.iter().map(String::as_str));
            let hint = rollcall_source::suggest(input, all)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            bail!(
                "{} has no input `{input}`{hint}; its secret inputs are: {}",
                holds.label,
                holds.secret_names()
            );
        }
        if values.contains_key(input) {
            bail!("`--secret-env` gives `{input}` twice; give each input once");
        }
        let value = std::env::var(var).map_err(|_| {
            anyhow!("the environment variable `{var}` (for the input `{input}`) is not set")
        })?;
        if value.is_empty() {
            bail!("the environment variable `{var}` (for the input `{input}`) is empty");
        }
        values.insert(input.to_string(), Secret::new(value));
    }
    Ok(values)
}

/// Asks for the `missing` inputs: hidden prompts on a terminal, else one stdin line each.
/// An empty answer skips an optional input and is refused for a required one.
fn ask(
    holds: &Holds,
    missing: &[&SecretInput],
    values: &mut BTreeMap<String, Secret>,
) -> Result<()> {
    let terminal = std::io::stdin().is_terminal();
    let mut stdin = std::io::stdin().lock();
    for (i, spec) in missing.iter().enumerate() {
        let input = spec.name.as_str();
        let required = spec.required;
        let value = if terminal {
            let prompt = format!(
                "{input} ({}{}): ",
                spec.description.trim_end_matches('.'),
                if required { "" } else { "; optional" }
            );
            rpassword::prompt_password(prompt)
                .with_context(|| format!("cannot read the value of `{input}` from the terminal"))?
        } else {
            let mut line = String::new();
            let n = stdin
                .read_line(&mut line)
                .with_context(|| format!("cannot read the value of `{input}` from stdin"))?;
            if n == 0 {
                // Optional inputs may be left out at the end (e.g. a second API's token).
                if !required {
                    continue;
                }
                bail!(
                    "stdin ended before the value of `{input}` (secret input {} of {}); give one line per secret input, in this order: {}; or use --secret-env INPUT=ENV_VAR",
                    i + 1,
                    missing.len(),
                    missing
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let trimmed = line.trim_end_matches(['\n', '\r']).len();
            line.truncate(trimmed);
            line
        };
        if value.is_empty() {
            if required {
                bail!(
                    "the value of `{input}` is empty; it is required by {}",
                    holds.label
                );
            }
            continue;
        }
        values.insert(input.to_string(), Secret::new(value));
    }
    Ok(())
}

async fn list(data_dir: Option<PathBuf>, format: ListFormat) -> Result<ExitCode> {
    let store = datadir::open_store(data_dir).await?;
    let list = store
        .list_credentials()
        .await
        .context("cannot list the stored credentials")?;
    store.close().await;
    let mut out = std::io::stdout().lock();
    match format {
        ListFormat::Json => {
            // `kind` says what a credential holds; a webhook's `connector` is null.
            let rows: Vec<serde_json::Value> = list
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name,
                        "kind": if c.is_webhook() { "webhook" } else { "connector" },
                        "connector": (!c.is_webhook()).then_some(&c.connector),
                        "input_names": c.input_names,
                        "created_at": c.created_at,
                        "updated_at": c.updated_at,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            if list.is_empty() {
                eprintln!(
                    "no credentials stored; add one with `rollcall credentials add NAME --connector CONNECTOR` (or `--webhook` for a workflow's webhook URL)"
                );
                return Ok(ExitCode::SUCCESS);
            }
            let when = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
            let rows: Vec<[String; 5]> = list
                .iter()
                .map(|c| {
                    [
                        c.name.clone(),
                        c.connector.clone(),
                        c.input_names.join(","),
                        when(&c.created_at),
                        when(&c.updated_at),
                    ]
                })
                .collect();
            let header = [
                "NAME",
                "CONNECTOR",
                "INPUTS",
                "CREATED (UTC)",
                "UPDATED (UTC)",
            ];
            let mut widths = header.map(|h| h.chars().count());
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: &[String]| {
                cells
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| pad(c, w))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            writeln!(out, "{}", line(&header.map(String::from)))?;
            for row in &rows {
                writeln!(out, "{}", line(row))?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn remove(data_dir: Option<PathBuf>, name: &str) -> Result<ExitCode> {
    let store = datadir::open_store(data_dir).await?;
    let removed = store
        .remove_credential(name)
        .await
        .with_context(|| format!("cannot remove credential `{name}`"))?;
    store.close().await;
    if !removed {
        bail!(
            "there is no credential named `{name}`; `rollcall credentials list` shows the stored ones"
        );
    }
    println!("removed credential `{name}`");
    Ok(ExitCode::SUCCESS)
}

//! `rollcall credentials add|list|remove`: the vault.
//!
//! The secret inputs of a connector are gathered here (hidden prompt, stdin lines or
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
use rollcall_store::{Store, StoreError};
use rollcall_vault::KeySource;

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
    /// Store the secret inputs of a connector under a name, encrypted.
    ///
    /// Each secret input the connector declares is asked for with a hidden prompt on a
    /// terminal; otherwise one line each is read from stdin, in the order the connector
    /// declares them. The vault key is DATA_DIR/vault.key (created on first use, mode 0600;
    /// ROLLCALL_VAULT_KEY_FILE names another file), or the passphrase in
    /// ROLLCALL_VAULT_PASSPHRASE when it is set.
    Add {
        /// Credential name, e.g. `miro-scim`.
        name: String,
        /// The connector whose secret inputs are asked for.
        #[arg(long)]
        connector: String,
        /// Take a secret input from an environment variable instead of asking. Repeatable.
        #[arg(long = "secret-env", value_name = "INPUT=ENV_VAR")]
        secret_env: Vec<String>,
        /// Replace an existing credential of that name (rotation).
        #[arg(long)]
        replace: bool,
    },
    /// List credentials: names, connector, input names and dates, never values.
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
            secret_env,
            replace,
        } => add(registry, data_dir, &name, &connector, &secret_env, replace).await,
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
    if stored.info.connector != connector {
        bail!(
            "the credential `{name}` is for the connector `{}`, not `{connector}`; use a credential made for `{connector}` (see `rollcall credentials list`)",
            stored.info.connector
        );
    }
    let key = key_source(&dir);
    let values = rollcall_vault::decrypt(&key, name, &stored.ciphertext)?;
    Ok(values.into_iter().collect())
}

fn key_source(dir: &std::path::Path) -> KeySource {
    KeySource::from_env_and_dir(dir, &|var| std::env::var(var).ok())
}

async fn add(
    registry: &Registry,
    data_dir: Option<PathBuf>,
    name: &str,
    connector_spec: &str,
    secret_env: &[String],
    replace: bool,
) -> Result<ExitCode> {
    if name.trim().is_empty() {
        bail!(
            "a credential needs a name, e.g. `rollcall credentials add miro-scim --connector miro`"
        );
    }
    let connector = registry.load(connector_spec).map_err(|e| e.into_error())?;
    let secret_inputs: Vec<&str> = connector
        .inputs
        .iter()
        .filter(|(_, spec)| spec.secret)
        .map(|(n, _)| n.as_str())
        .collect();
    if secret_inputs.is_empty() {
        bail!(
            "the connector `{}` declares no secret input, so there is nothing to store; pass its inputs with `--set` when fetching",
            connector.name
        );
    }
    let mut values = from_env(&connector, secret_env)?;

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
            "a credential named `{name}` already exists (for `{}`, updated {}); to rotate it, run the command again with --replace",
            existing.info.connector,
            existing.info.updated_at.format("%Y-%m-%d %H:%M UTC")
        );
    }

    let missing: Vec<&str> = secret_inputs
        .iter()
        .copied()
        .filter(|n| !values.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        ask(&connector, &missing, &mut values)?;
    }
    if values.is_empty() {
        bail!("no secret value was given, so nothing was stored");
    }

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
        .put_credential(name, &connector.name, &input_names, &blob, replace)
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyExists { .. }) => bail!(
            "a credential named `{name}` already exists; to rotate it, run the command again with --replace"
        ),
        Err(e) => return Err(anyhow!(e).context(format!("cannot store credential `{name}`"))),
    }
    store.close().await;
    println!(
        "{} credential `{name}` for `{}` (inputs: {}), encrypted with {}",
        if existing.is_some() {
            "replaced"
        } else {
            "stored"
        },
        connector.name,
        input_names.join(", "),
        key.describe()
    );
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

/// The `--secret-env INPUT=VAR` values, checked against the connector's secret inputs.
fn from_env(connector: &Connector, pairs: &[String]) -> Result<BTreeMap<String, Secret>> {
    let mut values = BTreeMap::new();
    for pair in pairs {
        let Some((input, var)) = pair.split_once('=') else {
            bail!(
                "`--secret-env {pair}` should be INPUT=ENV_VAR, e.g. `--secret-env token=MIRO_SCIM_TOKEN`"
            );
        };
        let (input, var) = (input.trim(), var.trim());
        let Some(spec) = connector.inputs.get(input) else {
            let hint = rollcall_source::suggest(input, connector.inputs.keys().map(String::as_str))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            bail!(
                "the connector `{}` has no input `{input}`{hint}; its secret inputs are: {}",
                connector.name,
                secret_names(connector)
            );
        };
        if !spec.secret {
            bail!(
                "`{input}` is not a secret input of `{}`, so it is not stored in the vault; give it with `--set {input}=VALUE` when fetching. Its secret inputs are: {}",
                connector.name,
                secret_names(connector)
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

fn secret_names(connector: &Connector) -> String {
    connector
        .inputs
        .iter()
        .filter(|(_, s)| s.secret)
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Asks for the `missing` inputs: hidden prompts on a terminal, else one stdin line each.
/// An empty answer skips an optional input and is refused for a required one.
fn ask(
    connector: &Connector,
    missing: &[&str],
    values: &mut BTreeMap<String, Secret>,
) -> Result<()> {
    let terminal = std::io::stdin().is_terminal();
    let mut stdin = std::io::stdin().lock();
    for (i, input) in missing.iter().enumerate() {
        let spec = &connector.inputs[*input];
        let required = spec.required.unwrap_or(true) && spec.default.is_none();
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
                    missing.join(", ")
                );
            }
            let trimmed = line.trim_end_matches(['\n', '\r']).len();
            line.truncate(trimmed);
            line
        };
        if value.is_empty() {
            if required {
                bail!(
                    "the value of `{input}` is empty; it is required by `{}`",
                    connector.name
                );
            }
            continue;
        }
        values.insert((*input).to_string(), Secret::new(value));
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
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            if list.is_empty() {
                eprintln!(
                    "no credentials stored; add one with `rollcall credentials add NAME --connector CONNECTOR`"
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

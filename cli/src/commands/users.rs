//! `rollcall users import|list`: the people.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use rollcall_store::{NewUser, UserKey};
use serde_json::{Map, Value};

use super::lists::{ListArgs, columns_for, print_rows};
use crate::output::Format;

/// The people.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Load people from a CSV export (e.g. from HR), so that update-only integrations have someone to update.
    Import {
        /// The CSV file: a header row, then one person a row. Columns username, email,
        /// first_name, last_name and role are understood; any other column becomes a custom field.
        file: PathBuf,
        /// The column that identifies a person.
        #[arg(long, default_value = "username")]
        sync_key: String,
        /// Role for people the file does not give one (e.g. Employee).
        #[arg(long)]
        role: Option<String>,
    },
    /// List people.
    List {
        #[command(flatten)]
        list: ListArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// Columns shown when none are asked for.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "username",
    "email",
    "first_name",
    "last_name",
    "role",
    "source",
    "updated_at",
];

pub async fn run(args: Args, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    match args.command {
        Command::Import {
            file,
            sync_key,
            role,
        } => import(&file, &sync_key, role, data_dir).await,
        Command::List { list, format } => {
            let store = crate::datadir::open_store(data_dir).await?;
            let rows = store.list_users(&list.query()?).await?;
            print_rows(
                &columns_for(&list.columns, DEFAULT_COLUMNS, &rows),
                &rows,
                format,
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn canonical(header: &str) -> String {
    let h = header.trim().to_lowercase().replace([' ', '-'], "_");
    match h.as_str() {
        "user_name" | "login" => "username".into(),
        "e_mail" | "mail" | "email_address" => "email".into(),
        "firstname" | "given_name" | "givenname" => "first_name".into(),
        "lastname" | "family_name" | "familyname" | "surname" => "last_name".into(),
        _ => h,
    }
}

async fn import(
    file: &Path,
    sync_key: &str,
    role: Option<String>,
    data_dir: Option<PathBuf>,
) -> Result<ExitCode> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let raw_headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{} has no header row", file.display()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let headers: Vec<String> = raw_headers.iter().map(|h| canonical(h)).collect();
    let key = match canonical(sync_key).as_str() {
        "username" => UserKey::Username,
        "email" => UserKey::Email,
        other => UserKey::Custom(other.to_string()),
    };
    let key_column = key.to_string();
    if !headers.contains(&key_column) {
        bail!(
            "{} has no `{key_column}` column (the sync key); its columns are: {}",
            file.display(),
            headers.join(", ")
        );
    }
    let source = format!(
        "csv:{}",
        file.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("import")
    );
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("line {line}: {e}"));
                continue;
            }
        };
        if record.len() != headers.len() {
            bad.push(format!(
                "line {line}: {} fields where the header has {}",
                record.len(),
                headers.len()
            ));
            continue;
        }
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .map(|i| record[i].to_string())
                .filter(|v| !v.is_empty())
        };
        let mut custom = Map::new();
        for (h, v) in headers.iter().zip(record.iter()) {
            if !["username", "email", "first_name", "last_name", "role"].contains(&h.as_str())
                && !v.is_empty()
            {
                custom.insert(h.clone(), Value::String(v.to_string()));
            }
        }
        let username = match get("username").or_else(|| get("email")) {
            Some(u) => u,
            None => {
                bad.push(format!(
                    "line {line}: no username (and no email to use as one)"
                ));
                continue;
            }
        };
        rows.push(NewUser {
            username,
            email: get("email"),
            first_name: get("first_name"),
            last_name: get("last_name"),
            role: get("role").or_else(|| role.clone()),
            custom,
            source: source.clone(),
        });
        lines.push(line);
    }
    let store = crate::datadir::open_store(data_dir).await?;
    for (key, label) in headers.iter().zip(raw_headers.iter()) {
        if !["username", "email", "first_name", "last_name", "role"].contains(&key.as_str()) {
            store.define_custom_field(key, label, None).await?;
        }
    }
    let report = store
        .import_users(rows, key)
        .await
        .map_err(|e| anyhow!("the import failed and changed nothing: {e}"))?;
    for (index, reason) in &report.skipped {
        let line = lines.get(*index).copied().unwrap_or(0);
        bad.push(format!("line {line}: {reason}"));
    }
    bad.sort_by_key(|b| {
        b.split(':')
            .next()
            .and_then(|l| l.trim_start_matches("line ").parse::<usize>().ok())
            .unwrap_or(0)
    });
    for b in &bad {
        eprintln!("skipped: {}: {b}", file.display());
    }
    println!(
        "imported {}: {} created, {} updated, {} unchanged, {} skipped",
        file.display(),
        report.created,
        report.updated,
        report.unchanged,
        bad.len()
    );
    Ok(ExitCode::SUCCESS)
}

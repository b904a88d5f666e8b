//! What the list commands share: the list options (`--columns`, `--filter`, `--sort`,
//! `--limit`, `--offset`) turned into a store query, and printing rows as a table,
//! CSV, JSON or JSON lines.

use std::io::{self, Write};

use anyhow::Result;
use rollcall_store::{Filter, ListQuery};
use serde_json::{Map, Value};

use crate::output::{Format, csv_cell, pad, text};

/// List options.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// Columns to show, comma-separated (default: a useful set).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// A condition: FIELD=VALUE, FIELD!=VALUE, FIELD<VALUE, FIELD>VALUE, FIELD<=VALUE,
    /// FIELD>=VALUE or FIELD~TEXT (contains). Dates compare as dates. Repeatable (all must hold).
    #[arg(long = "filter", value_name = "CONDITION")]
    pub filters: Vec<String>,
    /// Sort by a field; `-field` sorts descending. Repeatable.
    #[arg(long = "sort", value_name = "FIELD", allow_hyphen_values = true)]
    pub sort: Vec<String>,
    /// At most this many rows.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Skip this many rows first.
    #[arg(long)]
    pub offset: Option<u64>,
}

impl ListArgs {
    /// The store query these options describe.
    pub fn query(&self) -> Result<ListQuery> {
        let mut filters = Vec::new();
        for f in &self.filters {
            filters.push(parse_filter(f)?);
        }
        let sort = self
            .sort
            .iter()
            .map(|s| match s.strip_prefix('-') {
                Some(f) => (f.to_string(), true),
                None => (s.trim_start_matches('+').to_string(), false),
            })
            .collect();
        Ok(ListQuery {
            columns: (!self.columns.is_empty()).then(|| self.columns.clone()),
            filters,
            sort,
            limit: self.limit,
            offset: self.offset,
            app: None,
            instance: None,
        })
    }
}

/// Parses a `--filter` condition: the store's filter language (`Filter::parse`), the
/// same one saved views, reports and the web page use.
pub fn parse_filter(text: &str) -> Result<Filter> {
    Filter::parse(text).map_err(|e| match e {
        rollcall_store::StoreError::InvalidQuery(m) => anyhow::anyhow!("{m}"),
        other => other.into(),
    })
}

/// Prints rows. `columns` picks and orders the keys; absent keys print empty.
pub fn print_rows(
    columns: &[String],
    rows: &[Map<String, Value>],
    format: Format,
) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match format {
        Format::Jsonl => {
            for r in rows {
                serde_json::to_writer(&mut out, &pick(columns, r))?;
                out.write_all(b"\n")?;
            }
        }
        Format::Json => {
            let all: Vec<Value> = rows
                .iter()
                .map(|r| Value::Object(pick(columns, r)))
                .collect();
            serde_json::to_writer_pretty(&mut out, &all)?;
            out.write_all(b"\n")?;
        }
        Format::Csv => {
            writeln!(
                out,
                "{}",
                columns
                    .iter()
                    .map(|c| csv_cell(c))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for r in rows {
                let cells: Vec<String> = columns
                    .iter()
                    .map(|c| csv_cell(&text(r.get(c).unwrap_or(&Value::Null), ";")))
                    .collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    columns
                        .iter()
                        .map(|c| text(r.get(c).unwrap_or(&Value::Null), ", "))
                        .collect()
                })
                .collect();
            let widths: Vec<usize> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    cells
                        .iter()
                        .map(|row| row[i].chars().count())
                        .max()
                        .unwrap_or(0)
                        .max(c.chars().count())
                        .min(40)
                })
                .collect();
            let header: Vec<String> = columns
                .iter()
                .zip(&widths)
                .map(|(c, w)| pad(&c.to_uppercase(), *w))
                .collect();
            writeln!(out, "{}", header.join("  ").trim_end())?;
            for row in &cells {
                let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| pad(c, *w)).collect();
                writeln!(out, "{}", line.join("  ").trim_end())?;
            }
        }
    }
    out.flush()
}

fn pick(columns: &[String], row: &Map<String, Value>) -> Map<String, Value> {
    columns
        .iter()
        .map(|c| (c.clone(), row.get(c).cloned().unwrap_or(Value::Null)))
        .collect()
}

/// The columns to show: the ones asked for, else `default` when the rows have them,
/// else every key of the first row.
pub fn columns_for(asked: &[String], default: &[&str], rows: &[Map<String, Value>]) -> Vec<String> {
    if !asked.is_empty() {
        return asked.to_vec();
    }
    match rows.first() {
        Some(r) => {
            let d: Vec<String> = default
                .iter()
                .filter(|c| r.contains_key(**c))
                .map(|c| c.to_string())
                .collect();
            if d.is_empty() {
                r.keys().cloned().collect()
            } else {
                d
            }
        }
        None => default.iter().map(|c| c.to_string()).collect(),
    }
}

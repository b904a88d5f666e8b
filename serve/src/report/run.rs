//! Running a report: its list query, then counts per group.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rollcall_store::{Store, ViewTarget};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Report, ReportList};
use crate::format::cell;

/// The rows of one combination of grouping values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The values of the grouping fields, in order (empty text for no value).
    pub key: Vec<String>,
    /// How many rows have them.
    pub count: u64,
}

/// A report's result, ready to render.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportOutput {
    /// The report's name.
    pub name: String,
    /// Its heading.
    pub title: String,
    /// Its description.
    pub description: Option<String>,
    /// When it ran.
    pub generated_at: DateTime<Utc>,
    /// What it lists.
    pub list: ReportList,
    /// The row columns.
    pub columns: Vec<String>,
    /// Whether rows are shown.
    pub show_rows: bool,
    /// The rows (kept even when not shown; the counts come from them).
    pub rows: Vec<Map<String, Value>>,
    /// The grouping fields.
    pub group_by: Vec<String>,
    /// Counts per group, largest first.
    pub groups: Vec<Group>,
    /// How many rows matched.
    pub total: u64,
}

/// Runs `report` over `store` as of `now`.
pub async fn run_report(
    store: &Store,
    report: &Report,
    now: DateTime<Utc>,
) -> Result<ReportOutput, String> {
    let query = report.query()?;
    let rows = match report.list.target() {
        ViewTarget::Users => store.list_users(&query).await,
        ViewTarget::SaasUsers => store.list_saas_users(&query).await,
    }
    .map_err(|e| format!("the report `{}` cannot run: {e}", report.name))?;
    let columns = if report.columns.is_empty() {
        rows.first()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    } else {
        report.columns.clone()
    };
    let mut counts: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    if !report.group_by.is_empty() {
        for row in &rows {
            let key = report
                .group_by
                .iter()
                .map(|g| cell(row.get(g).unwrap_or(&Value::Null)))
                .collect();
            *counts.entry(key).or_default() += 1;
        }
    }
    let mut groups: Vec<Group> = counts
        .into_iter()
        .map(|(key, count)| Group { key, count })
        .collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    Ok(ReportOutput {
        name: report.name.clone(),
        title: report.title().to_owned(),
        description: report.description.clone(),
        generated_at: now,
        list: report.list,
        columns,
        show_rows: report.rows,
        total: rows.len() as u64,
        rows,
        group_by: report.group_by.clone(),
        groups,
    })
}

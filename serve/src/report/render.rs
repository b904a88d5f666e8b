//! A report's result as CSV, JSON, Markdown or one self-contained HTML file (styles and
//! chart inline, nothing fetched), which can be mailed as it is.

use askama::Template;
use serde_json::{Map, Value, json};

use super::ReportOutput;
use crate::chart;
use crate::format::{cell, csv_cell, when};

/// An output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values: the rows, or the counts when rows are not shown.
    Csv,
    /// One JSON object with the counts and the rows.
    Json,
    /// Markdown tables.
    Md,
    /// One self-contained HTML file.
    Html,
}

impl Format {
    /// Parses `csv`, `json`, `md` or `html`.
    pub fn parse(text: &str) -> Option<Format> {
        Some(match text {
            "csv" => Format::Csv,
            "json" => Format::Json,
            "md" | "markdown" => Format::Md,
            "html" => Format::Html,
            _ => return None,
        })
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Md => "md",
            Format::Html => "html",
        }
    }

    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Md => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// Renders a report's result.
pub fn render(out: &ReportOutput, format: Format) -> String {
    match format {
        Format::Csv => csv(out),
        Format::Json => {
            serde_json::to_string_pretty(&json_value(out)).unwrap_or_else(|_| "{}".into()) + "\n"
        }
        Format::Md => markdown(out),
        Format::Html => html(out),
    }
}

fn text_of(row: &Map<String, Value>, column: &str) -> String {
    cell(row.get(column).unwrap_or(&Value::Null))
}

fn csv(out: &ReportOutput) -> String {
    let mut s = String::new();
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .map(|c| csv_cell(c))
            .collect::<Vec<_>>()
            .join(",")
            + "\r\n"
    };
    if out.show_rows {
        s.push_str(&line(out.columns.clone()));
        for r in &out.rows {
            s.push_str(&line(out.columns.iter().map(|c| text_of(r, c)).collect()));
        }
    } else {
        let mut header = out.group_by.clone();
        header.push("count".into());
        s.push_str(&line(header));
        for g in &out.groups {
            let mut cells = g.key.clone();
            cells.push(g.count.to_string());
            s.push_str(&line(cells));
        }
    }
    s
}

fn json_value(out: &ReportOutput) -> Value {
    let groups: Vec<Value> = out
        .groups
        .iter()
        .map(|g| {
            let mut m: Map<String, Value> = out
                .group_by
                .iter()
                .zip(&g.key)
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            m.insert("count".into(), g.count.into());
            Value::Object(m)
        })
        .collect();
    let rows: Vec<Value> = if out.show_rows {
        out.rows
            .iter()
            .map(|r| {
                Value::Object(
                    out.columns
                        .iter()
                        .map(|c| (c.clone(), r.get(c).cloned().unwrap_or(Value::Null)))
                        .collect(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "name": out.name,
        "title": out.title,
        "description": out.description,
        "generated_at": out.generated_at,
        "list": out.list,
        "total": out.total,
        "group_by": out.group_by,
        "groups": groups,
        "columns": if out.show_rows { json!(out.columns) } else { json!([]) },
        "rows": rows,
    })
}

fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn md_table(s: &mut String, header: &[String], rows: impl Iterator<Item = Vec<String>>) {
    s.push_str(&format!(
        "| {} |\n",
        header
            .iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    s.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for r in rows {
        s.push_str(&format!(
            "| {} |\n",
            r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
}

fn markdown(out: &ReportOutput) -> String {
    let mut s = format!("# {}\n\n", md_cell(&out.title));
    if let Some(d) = &out.description {
        s.push_str(&format!("{}\n\n", d.trim()));
    }
    s.push_str(&format!(
        "Generated {} by rollcall. {} row{}.\n\n",
        when(out.generated_at),
        out.total,
        if out.total == 1 { "" } else { "s" }
    ));
    if !out.group_by.is_empty() {
        s.push_str(&format!("## Counts by {}\n\n", out.group_by.join(", ")));
        let mut header = out.group_by.clone();
        header.push("count".into());
        md_table(
            &mut s,
            &header,
            out.groups.iter().map(|g| {
                let mut c = g.key.clone();
                c.push(g.count.to_string());
                c
            }),
        );
        s.push('\n');
    }
    if out.show_rows {
        s.push_str("## Rows\n\n");
        md_table(
            &mut s,
            &out.columns,
            out.rows
                .iter()
                .map(|r| out.columns.iter().map(|c| text_of(r, c)).collect()),
        );
    }
    s
}

#[derive(Template)]
#[template(path = "report.html")]
struct HtmlReport<'a> {
    out: &'a ReportOutput,
    generated: String,
    chart: String,
    rows: Vec<Vec<String>>,
}

fn html(out: &ReportOutput) -> String {
    let items: Vec<(String, u64)> = out
        .groups
        .iter()
        .take(30)
        .map(|g| {
            let label = g
                .key
                .iter()
                .map(|k| if k.is_empty() { "(none)" } else { k.as_str() })
                .collect::<Vec<_>>()
                .join(" / ");
            (label, g.count)
        })
        .collect();
    let page = HtmlReport {
        out,
        generated: when(out.generated_at),
        chart: if out.group_by.is_empty() {
            String::new()
        } else {
            chart::bars(
                &format!("{} by {}", out.title, out.group_by.join(", ")),
                &items,
            )
        },
        rows: if out.show_rows {
            out.rows
                .iter()
                .map(|r| out.columns.iter().map(|c| text_of(r, c)).collect())
                .collect()
        } else {
            Vec::new()
        },
    };
    page.render().unwrap_or_else(|e| {
        format!(
            "<!doctype html><p>the report could not be rendered: {}</p>",
            chart::escape(&e.to_string())
        )
    })
}

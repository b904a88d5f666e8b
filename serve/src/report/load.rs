//! The report file format and its checks.

use std::sync::OnceLock;

use rollcall_core::manifest::LoadError;
use rollcall_source::{Diagnostic, SourceFile, check_schema, parse};
use rollcall_store::{Filter, ListQuery, ViewTarget};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::{Deserialize, Serialize};

/// What a report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportList {
    /// The people.
    Users,
    /// The SaaS accounts.
    SaasUsers,
}

impl ReportList {
    /// The store's view target for this list.
    pub fn target(self) -> ViewTarget {
        match self {
            ReportList::Users => ViewTarget::Users,
            ReportList::SaasUsers => ViewTarget::SaasUsers,
        }
    }
}

/// A report definition, as written in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "rollcall report")]
pub struct Report {
    /// The name `rollcall report run` takes (e.g. `inactive-miro-users`).
    pub name: String,
    /// The heading of the report (default: the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A sentence or two under the heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What it lists: `users` or `saas_users`.
    pub list: ReportList,
    /// Only accounts in this app (case-insensitive); for users, people with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Only accounts in this app instance (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The columns of the rows, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Conditions in the CLI's filter language (`active=true`,
    /// `last_activity_at<90d ago or empty`, ...), all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// Fields to count rows by (one count per combination of values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// Sort keys; `-field` sorts descending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<String>,
    /// Whether the rows are shown, or only the counts (default: shown).
    #[serde(default = "yes")]
    pub rows: bool,
    /// At most this many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

fn yes() -> bool {
    true
}

impl Report {
    /// The heading: the title, else the name.
    pub fn title(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }

    /// The list query the report runs: its columns plus its grouping fields.
    pub fn query(&self) -> Result<ListQuery, String> {
        let mut filters = Vec::new();
        for f in &self.filters {
            filters.push(Filter::parse(f).map_err(|e| e.to_string())?);
        }
        let mut columns = self.columns.clone();
        for g in &self.group_by {
            if !columns.contains(g) {
                columns.push(g.clone());
            }
        }
        Ok(ListQuery {
            columns: (!columns.is_empty()).then_some(columns),
            filters,
            sort: self
                .sort
                .iter()
                .map(|s| match s.strip_prefix('-') {
                    Some(f) => (f.to_owned(), true),
                    None => (s.trim_start_matches('+').to_owned(), false),
                })
                .collect(),
            limit: self.limit,
            offset: None,
            app: self.app.clone(),
            instance: self.instance.clone(),
        })
    }
}

/// The JSON Schema of the report file format (draft-07), generated from the types.
pub fn report_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema = SchemaSettings::draft07()
            .into_generator()
            .into_root_schema_for::<Report>();
        serde_json::to_value(schema).unwrap_or_default()
    })
}

/// Loads and checks a report file: structure first (every problem at once), then the
/// name, the filters and the sort keys, each problem located in the file.
pub fn load_report(file: SourceFile) -> Result<Report, LoadError> {
    let text = file.text.clone();
    let fail = |diagnostics: Vec<Diagnostic>| LoadError {
        diagnostics,
        text: text.clone(),
    };
    let doc = parse(file).map_err(fail)?;
    let problems = check_schema(&doc, report_schema());
    if problems.iter().any(Diagnostic::is_error) {
        return Err(fail(problems));
    }
    let report: Report = doc.deserialize().map_err(|d| fail(vec![d]))?;
    let mut diags = Vec::new();
    if report.name.trim().is_empty() || report.name.trim() != report.name {
        diags.push(doc.error_at(
            "/name",
            "the report name is empty or starts or ends with spaces",
            Some("write a short name such as `inactive-miro-users`".into()),
        ));
    }
    for (i, f) in report.filters.iter().enumerate() {
        if let Err(e) = Filter::parse(f) {
            diags.push(
                doc.error_at(
                    &format!("/filters/{i}"),
                    e.to_string()
                        .trim_start_matches("invalid query: ")
                        .to_owned(),
                    None,
                ),
            );
        }
    }
    for (i, s) in report.sort.iter().enumerate() {
        if s.trim_start_matches(['-', '+']).trim().is_empty() {
            diags.push(doc.error_at(
                &format!("/sort/{i}"),
                "the sort key names no field",
                Some("write a field, or `-field` to sort descending".into()),
            ));
        }
    }
    if !report.rows && report.group_by.is_empty() {
        diags.push(doc.error_at(
            "/rows",
            "a report without rows and without `group_by` shows nothing",
            Some("add `group_by: [field]` or remove `rows: false`".into()),
        ));
    }
    if diags.is_empty() {
        Ok(report)
    } else {
        diags.sort_by_key(|d| d.pos);
        Err(fail(diags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Report, String> {
        load_report(SourceFile::new("r.yaml", text)).map_err(|e| e.render())
    }

    #[test]
    fn a_report_loads_and_becomes_a_query() {
        let r = load(
            "name: inactive\ntitle: Inactive\nlist: saas_users\napp: Miro\ncolumns: [username]\nfilters: [\"active=true\", \"last_activity_at<90d ago or empty\"]\ngroup_by: [user_type]\nsort: [-username]\n",
        )
        .unwrap();
        assert_eq!(r.title(), "Inactive");
        let q = r.query().unwrap();
        assert_eq!(
            q.columns.as_deref(),
            Some(&["username".to_string(), "user_type".to_string()][..])
        );
        assert_eq!(q.sort, vec![("username".to_string(), true)]);
        assert!(q.filters[1].or_empty);
        assert_eq!(q.app.as_deref(), Some("Miro"));
    }

    #[test]
    fn problems_are_located() {
        let e = load("name: x\nlist: people\n").unwrap_err();
        assert!(e.contains("r.yaml:2:7"), "{e}");
        let e = load("name: x\nlist: users\ncolums: [a]\n").unwrap_err();
        assert!(e.contains("r.yaml:3:1") && e.contains("columns"), "{e}");
        let e = load("name: x\nlist: users\nfilters: [active]\n").unwrap_err();
        assert!(
            e.contains("r.yaml:3:11") && e.contains("no comparison"),
            "{e}"
        );
        let e = load("name: x\nlist: users\nrows: false\n").unwrap_err();
        assert!(
            e.contains("r.yaml:3:7") && e.contains("shows nothing"),
            "{e}"
        );
    }
}

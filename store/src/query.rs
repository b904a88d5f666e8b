//! List queries over users and SaaS users: chosen columns, filters, sort and paging.
//!
//! Field names are checked against a whitelist of built-in columns or, for JSON fields,
//! against a key pattern, and JSON paths are bound as parameters; values are always bound.
//! No caller text is ever spliced into SQL.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::{Store, StoreError, ViewTarget};

/// A list query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListQuery {
    /// The fields to return; `None` returns every built-in column.
    pub columns: Option<Vec<String>>,
    /// Conditions, all of which must hold.
    pub filters: Vec<Filter>,
    /// Sort keys in order: (field, descending). Ties are broken by id.
    pub sort: Vec<(String, bool)>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Skip this many rows first.
    pub offset: Option<u64>,
    /// Only accounts in this app, matched without regard to case (for users: people with an account in it).
    pub app: Option<String>,
    /// Only accounts in this app instance, matched without regard to case (for users: people with an account in it).
    pub instance: Option<String>,
}

/// One condition of a [`ListQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// A built-in column, a custom user field key, or for SaaS users `fields.<key>`.
    pub field: String,
    /// The comparison.
    pub op: FilterOp,
    /// The value to compare with; dates as RFC 3339 (or a prefix such as `2025-01-31`),
    /// or relative (`90d ago`).
    pub value: String,
    /// Also match rows where the field has no value (` or empty` in the filter language).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub or_empty: bool,
}

/// A comparison in a [`Filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    /// Equal (case-insensitive for usernames and emails).
    Eq,
    /// Not equal (missing values count as not equal).
    Ne,
    /// Less than.
    Lt,
    /// Greater than.
    Gt,
    /// Less than or equal.
    Le,
    /// Greater than or equal.
    Ge,
    /// Contains the text, case-insensitively; for `roles`, has that role.
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bool,
    Time,
    /// A whole JSON column.
    Json,
    /// A JSON array of strings.
    JsonArray,
    /// One key inside a JSON column.
    JsonKey,
}

const USER_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Int),
    ("username", Kind::Text),
    ("email", Kind::Text),
    ("first_name", Kind::Text),
    ("last_name", Kind::Text),
    ("role", Kind::Text),
    ("custom", Kind::Json),
    ("source", Kind::Text),
    ("created_at", Kind::Time),
    ("updated_at", Kind::Time),
];

const SAAS_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Int),
    ("user_id", Kind::Int),
    ("app", Kind::Text),
    ("instance", Kind::Text),
    ("external_id", Kind::Text),
    ("username", Kind::Text),
    ("user_type", Kind::Text),
    ("active", Kind::Bool),
    ("roles", Kind::JsonArray),
    ("last_activity_at", Kind::Time),
    ("fields", Kind::Json),
    ("first_seen_at", Kind::Time),
    ("last_seen_at", Kind::Time),
    ("present", Kind::Bool),
    ("updated_at", Kind::Time),
];

/// Checks a JSON object key used as a field name: letters, digits, `_` and `-`, starting
/// with a letter or `_`, at most 64 characters.
pub(crate) fn check_json_key(key: &str) -> Result<(), StoreError> {
    let mut chars = key.chars();
    let ok = key.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidQuery(format!(
            "'{key}' is not a valid field name (letters, digits, '_' and '-', starting with a letter or '_', at most 64 characters)"
        )))
    }
}

/// The JSON path of a checked key, to be bound as a parameter.
pub(crate) fn json_path(key: &str) -> String {
    format!("$.\"{key}\"")
}

/// A resolved field: an SQL expression from a fixed set plus the parameter it needs.
struct Field {
    name: String,
    /// Static SQL for conditions and sorting: a whitelisted column name or
    /// `json_extract(<column>, ?)`.
    expr: &'static str,
    /// Static SQL for the select list (JSON keys select their JSON text).
    select: &'static str,
    /// The JSON path bound for `?` in `expr`.
    path: Option<String>,
    kind: Kind,
}

#[derive(Debug)]
enum Bind {
    Text(String),
    Int(i64),
    Real(f64),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Users,
    SaasUsers,
}

struct Resolver {
    target: Target,
    custom_keys: Vec<String>,
}

impl Resolver {
    fn columns(&self) -> &'static [(&'static str, Kind)] {
        match self.target {
            Target::Users => USER_COLUMNS,
            Target::SaasUsers => SAAS_COLUMNS,
        }
    }

    fn resolve(&self, name: &str) -> Result<Field, StoreError> {
        if let Some(&(col, kind)) = self.columns().iter().find(|(c, _)| *c == name) {
            return Ok(Field {
                name: name.to_owned(),
                expr: col,
                select: col,
                path: None,
                kind,
            });
        }
        match self.target {
            Target::Users => {
                let key = name.strip_prefix("custom.").unwrap_or(name);
                if self.custom_keys.iter().any(|k| k == key) {
                    check_json_key(key)?;
                    return Ok(Field {
                        name: name.to_owned(),
                        expr: "json_extract(custom, ?)",
                        select: "custom -> ?",
                        path: Some(json_path(key)),
                        kind: Kind::JsonKey,
                    });
                }
                let mut allowed: Vec<&str> = USER_COLUMNS.iter().map(|(c, _)| *c).collect();
                allowed.extend(self.custom_keys.iter().map(String::as_str));
                Err(StoreError::InvalidQuery(format!(
                    "unknown user field '{name}'; allowed: {}",
                    allowed.join(", ")
                )))
            }
            Target::SaasUsers => {
                if let Some(key) = name.strip_prefix("fields.") {
                    check_json_key(key)?;
                    return Ok(Field {
                        name: name.to_owned(),
                        expr: "json_extract(fields, ?)",
                        select: "fields -> ?",
                        path: Some(json_path(key)),
                        kind: Kind::JsonKey,
                    });
                }
                let allowed: Vec<&str> = SAAS_COLUMNS.iter().map(|(c, _)| *c).collect();
                Err(StoreError::InvalidQuery(format!(
                    "unknown SaaS user field '{name}'; allowed: {}, or fields.<key> for a connector field",
                    allowed.join(", ")
                )))
            }
        }
    }
}

fn push_field(sql: &mut String, binds: &mut Vec<Bind>, field: &Field) {
    sql.push_str(field.expr);
    if let Some(path) = &field.path {
        binds.push(Bind::Text(path.clone()));
    }
}

fn filter_value(field: &Field, value: &str) -> Result<Bind, StoreError> {
    let bad = |what: &str| {
        StoreError::InvalidQuery(format!(
            "filter on {} needs {what}, got '{value}'",
            field.name
        ))
    };
    Ok(match field.kind {
        Kind::Int => Bind::Int(value.trim().parse().map_err(|_| bad("a whole number"))?),
        Kind::Bool => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Bind::Int(1),
            "false" | "0" | "no" => Bind::Int(0),
            _ => return Err(bad("true or false")),
        },
        Kind::Time => match chrono::DateTime::parse_from_rfc3339(value.trim()) {
            Ok(t) => Bind::Text(crate::time::fmt(t.with_timezone(&chrono::Utc))),
            Err(_) => match crate::filter::relative_time(value, chrono::Utc::now()) {
                Some(t) => Bind::Text(crate::time::fmt(t)),
                None if value.trim().ends_with("ago") => {
                    return Err(bad("a date or a time ago such as `90d ago` (m, h, d or w)"));
                }
                None => Bind::Text(value.trim().to_owned()),
            },
        },
        Kind::JsonKey => {
            if let Ok(i) = value.trim().parse::<i64>() {
                Bind::Int(i)
            } else if let Ok(f) = value.trim().parse::<f64>() {
                Bind::Real(f)
            } else {
                Bind::Text(value.to_owned())
            }
        }
        Kind::Text | Kind::Json | Kind::JsonArray => Bind::Text(value.to_owned()),
    })
}

fn push_filter(
    sql: &mut String,
    binds: &mut Vec<Bind>,
    field: &Field,
    filter: &Filter,
) -> Result<(), StoreError> {
    if filter.or_empty {
        sql.push('(');
        push_field(sql, binds, field);
        sql.push_str(" IS NULL OR ");
        push_comparison(sql, binds, field, filter)?;
        sql.push(')');
        return Ok(());
    }
    push_comparison(sql, binds, field, filter)
}

fn push_comparison(
    sql: &mut String,
    binds: &mut Vec<Bind>,
    field: &Field,
    filter: &Filter,
) -> Result<(), StoreError> {
    if filter.op == FilterOp::Contains {
        if field.kind == Kind::JsonArray {
            sql.push_str("EXISTS (SELECT 1 FROM json_each(");
            push_field(sql, binds, field);
            sql.push_str(") WHERE json_each.value = ? COLLATE NOCASE)");
        } else {
            sql.push_str("instr(lower(CAST(");
            push_field(sql, binds, field);
            sql.push_str(" AS TEXT)), lower(?)) > 0");
        }
        binds.push(Bind::Text(filter.value.clone()));
        return Ok(());
    }
    if matches!(field.kind, Kind::Json | Kind::JsonArray) {
        return Err(StoreError::InvalidQuery(format!(
            "{} is a JSON value; filter it with contains, or filter one of its keys",
            field.name
        )));
    }
    let op = match filter.op {
        FilterOp::Eq => " = ?",
        FilterOp::Ne => " IS NOT ?",
        FilterOp::Lt => " < ?",
        FilterOp::Gt => " > ?",
        FilterOp::Le => " <= ?",
        FilterOp::Ge => " >= ?",
        FilterOp::Contains => unreachable!("handled above"),
    };
    let value = filter_value(field, &filter.value)?;
    push_field(sql, binds, field);
    sql.push_str(op);
    binds.push(value);
    Ok(())
}

/// Appends ` FROM <table> WHERE ...` for the query's app, instance and filters.
fn push_from_where(
    sql: &mut String,
    binds: &mut Vec<Bind>,
    resolver: &Resolver,
    query: &ListQuery,
) -> Result<(), StoreError> {
    match resolver.target {
        Target::SaasUsers => {
            sql.push_str(" FROM saas_users WHERE 1");
            if let Some(app) = &query.app {
                sql.push_str(" AND app = ? COLLATE NOCASE");
                binds.push(Bind::Text(app.clone()));
            }
            if let Some(instance) = &query.instance {
                sql.push_str(" AND instance = ? COLLATE NOCASE");
                binds.push(Bind::Text(instance.clone()));
            }
        }
        Target::Users => {
            sql.push_str(" FROM users WHERE 1");
            if query.app.is_some() || query.instance.is_some() {
                sql.push_str(" AND EXISTS (SELECT 1 FROM saas_users s WHERE s.user_id = users.id");
                if let Some(app) = &query.app {
                    sql.push_str(" AND s.app = ? COLLATE NOCASE");
                    binds.push(Bind::Text(app.clone()));
                }
                if let Some(instance) = &query.instance {
                    sql.push_str(" AND s.instance = ? COLLATE NOCASE");
                    binds.push(Bind::Text(instance.clone()));
                }
                sql.push(')');
            }
        }
    }
    for filter in &query.filters {
        let field = resolver.resolve(&filter.field)?;
        sql.push_str(" AND ");
        push_filter(sql, binds, &field, filter)?;
    }
    Ok(())
}

fn decode(row: &SqliteRow, index: usize, field: &Field) -> Result<Value, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt {
        what: format!("value of {}", field.name),
        detail: e,
    };
    Ok(match field.kind {
        Kind::Int => row
            .try_get::<Option<i64>, _>(index)
            .map_err(|e| corrupt(e.to_string()))?
            .map_or(Value::Null, Value::from),
        Kind::Bool => row
            .try_get::<Option<i64>, _>(index)
            .map_err(|e| corrupt(e.to_string()))?
            .map_or(Value::Null, |v| Value::Bool(v != 0)),
        Kind::Text | Kind::Time => row
            .try_get::<Option<String>, _>(index)
            .map_err(|e| corrupt(e.to_string()))?
            .map_or(Value::Null, Value::String),
        Kind::Json | Kind::JsonArray | Kind::JsonKey => {
            match row
                .try_get::<Option<String>, _>(index)
                .map_err(|e| corrupt(e.to_string()))?
            {
                None => Value::Null,
                Some(text) => serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?,
            }
        }
    })
}

impl Store {
    async fn list(
        &self,
        target: Target,
        query: &ListQuery,
    ) -> Result<Vec<Map<String, Value>>, StoreError> {
        let resolver = self.resolver(target).await?;
        let fields: Vec<Field> = match &query.columns {
            Some(names) if !names.is_empty() => names
                .iter()
                .map(|n| resolver.resolve(n))
                .collect::<Result<_, _>>()?,
            _ => resolver
                .columns()
                .iter()
                .map(|(c, _)| resolver.resolve(c))
                .collect::<Result<_, _>>()?,
        };
        let mut sql = String::from("SELECT ");
        let mut binds = Vec::new();
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(field.select);
            if let Some(path) = &field.path {
                binds.push(Bind::Text(path.clone()));
            }
        }
        push_from_where(&mut sql, &mut binds, &resolver, query)?;
        sql.push_str(" ORDER BY ");
        for (name, desc) in &query.sort {
            let field = resolver.resolve(name)?;
            push_field(&mut sql, &mut binds, &field);
            sql.push_str(if *desc { " DESC, " } else { " ASC, " });
        }
        sql.push_str("id ASC");
        if query.limit.is_some() || query.offset.is_some() {
            sql.push_str(" LIMIT ? OFFSET ?");
            let limit = query
                .limit
                .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let offset = query
                .offset
                .map_or(0, |o| i64::try_from(o).unwrap_or(i64::MAX));
            binds.push(Bind::Int(limit));
            binds.push(Bind::Int(offset));
        }
        tracing::trace!(%sql, ?binds, "list query");
        // `sql` is assembled only from the static fragments above; every caller value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            q = match bind {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
                Bind::Real(f) => q.bind(f),
            };
        }
        let what = match target {
            Target::Users => "list the users",
            Target::SaasUsers => "list the SaaS users",
        };
        let rows = q
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::db(what))?;
        rows.iter()
            .map(|row| {
                fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| Ok((f.name.clone(), decode(row, i, f)?)))
                    .collect()
            })
            .collect()
    }

    /// Lists people as JSON objects keyed by field name. Custom fields are addressed by
    /// their key (or `custom.<key>`); the whole `custom` object is a column too.
    pub async fn list_users(
        &self,
        query: &ListQuery,
    ) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.list(Target::Users, query).await
    }

    /// Lists SaaS accounts as JSON objects keyed by field name. Connector fields are
    /// addressed as `fields.<key>`.
    pub async fn list_saas_users(
        &self,
        query: &ListQuery,
    ) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.list(Target::SaasUsers, query).await
    }
}

impl Store {
    async fn resolver(&self, target: Target) -> Result<Resolver, StoreError> {
        let custom_keys = match target {
            Target::Users => self
                .custom_fields()
                .await?
                .into_iter()
                .map(|f| f.key)
                .collect(),
            Target::SaasUsers => Vec::new(),
        };
        Ok(Resolver {
            target,
            custom_keys,
        })
    }

    async fn count(&self, target: Target, query: &ListQuery) -> Result<u64, StoreError> {
        let resolver = self.resolver(target).await?;
        let mut sql = String::from("SELECT COUNT(*)");
        let mut binds = Vec::new();
        push_from_where(&mut sql, &mut binds, &resolver, query)?;
        // `sql` is assembled only from static fragments; every caller value is bound.
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            q = match bind {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
                Bind::Real(f) => q.bind(f),
            };
        }
        let n = q
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::db("count the rows of a list"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// How many people a list query matches (its columns, sort and paging ignored).
    pub async fn count_users(&self, query: &ListQuery) -> Result<u64, StoreError> {
        self.count(Target::Users, query).await
    }

    /// How many SaaS accounts a list query matches (its columns, sort and paging ignored).
    pub async fn count_saas_users(&self, query: &ListQuery) -> Result<u64, StoreError> {
        self.count(Target::SaasUsers, query).await
    }

    /// The fields a list of `target` can show, filter and sort on: the built-in columns,
    /// then the custom user fields (users) or the connector field keys seen in the first
    /// accounts (`fields.<key>`, SaaS users).
    pub async fn list_fields(&self, target: ViewTarget) -> Result<Vec<String>, StoreError> {
        match target {
            ViewTarget::Users => {
                let mut names: Vec<String> =
                    USER_COLUMNS.iter().map(|(c, _)| (*c).to_owned()).collect();
                names.extend(self.custom_fields().await?.into_iter().map(|f| f.key));
                Ok(names)
            }
            ViewTarget::SaasUsers => {
                let mut names: Vec<String> =
                    SAAS_COLUMNS.iter().map(|(c, _)| (*c).to_owned()).collect();
                let keys: Vec<String> = sqlx::query_scalar(
                    "SELECT DISTINCT j.key FROM (SELECT fields FROM saas_users ORDER BY id LIMIT 200) s,
                     json_each(s.fields) j ORDER BY j.key",
                )
                .fetch_all(self.pool())
                .await
                .map_err(StoreError::db("list the connector fields of the SaaS users"))?;
                names.extend(
                    keys.into_iter()
                        .filter(|k| check_json_key(k).is_ok())
                        .map(|k| format!("fields.{k}")),
                );
                Ok(names)
            }
        }
    }
}

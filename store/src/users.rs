//! The people: matching by a sync key, creating and updating, and CSV-style imports.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::SqliteConnection;

use crate::{Store, StoreError, time};

/// Which user field identifies a person when records come in. Matching is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKey {
    /// The username.
    Username,
    /// The email address.
    Email,
    /// A custom field (a key of the users' custom fields).
    Custom(String),
}

impl std::fmt::Display for UserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserKey::Username => f.write_str("username"),
            UserKey::Email => f.write_str("email"),
            UserKey::Custom(key) => f.write_str(key),
        }
    }
}

/// A person to import (e.g. a row of an HR export). `None` fields leave a stored value as it
/// is when the person exists already.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewUser {
    /// Username (unique, case-insensitive).
    pub username: String,
    /// Email address (unique, case-insensitive).
    pub email: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Role, e.g. "Employee".
    pub role: Option<String>,
    /// Custom fields; merged key by key into the stored ones.
    pub custom: Map<String, Value>,
    /// Where the row comes from, e.g. "csv:hr.csv"; kept from the first import.
    pub source: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// People created.
    pub created: u64,
    /// People whose fields changed.
    pub updated: u64,
    /// People already as imported.
    pub unchanged: u64,
    /// Rows not imported: (0-based row index, reason).
    pub skipped: Vec<(usize, String)>,
}

/// The person fields a record or import row brings. The outer `Option` says whether the
/// field is given at all; an inner `None` clears it.
#[derive(Debug, Default)]
pub(crate) struct PersonFields {
    pub username: Option<String>,
    pub email: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    /// Custom keys; `Value::Null` removes the key.
    pub custom: BTreeMap<String, Value>,
}

impl PersonFields {
    /// Splits mapped user fields into the built-in ones and custom ones.
    pub(crate) fn from_mapped(fields: &BTreeMap<String, Value>) -> Result<PersonFields, String> {
        let mut out = PersonFields::default();
        for (key, value) in fields {
            match key.as_str() {
                "username" => out.username = text(key, value)?,
                "email" => out.email = Some(text(key, value)?),
                "first_name" => out.first_name = Some(text(key, value)?),
                "last_name" => out.last_name = Some(text(key, value)?),
                _ => {
                    crate::query::check_json_key(key).map_err(|e| e.to_string())?;
                    out.custom.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(out)
    }
}

fn text(key: &str, value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Array(_) | Value::Object(_) => Err(format!(
            "user field {key} must be text, but the mapping gave a JSON {}",
            if value.is_array() { "array" } else { "object" }
        )),
    }
}

/// What happened to the person.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PersonOutcome {
    Created(i64),
    Updated(i64),
    Unchanged(i64),
    Skipped(String),
}

type UserRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

const FIND_BY_USERNAME: &str = "SELECT id, username, email, first_name, last_name, role, custom FROM users WHERE username = ?1";
const FIND_BY_EMAIL: &str =
    "SELECT id, username, email, first_name, last_name, role, custom FROM users WHERE email = ?1";
const FIND_BY_CUSTOM: &str =
    "SELECT id, username, email, first_name, last_name, role, custom FROM users
     WHERE lower(CAST(json_extract(custom, ?2) AS TEXT)) = lower(?1) ORDER BY id LIMIT 1";

/// Finds a person by the sync key, case-insensitively.
pub(crate) async fn find_user(
    conn: &mut SqliteConnection,
    key: &UserKey,
    value: &str,
) -> Result<Option<UserRow>, StoreError> {
    let ctx = || format!("look up the user with {key} = {value}");
    let row = match key {
        UserKey::Username => {
            sqlx::query_as(FIND_BY_USERNAME)
                .bind(value)
                .fetch_optional(&mut *conn)
                .await
        }
        UserKey::Email => {
            sqlx::query_as(FIND_BY_EMAIL)
                .bind(value)
                .fetch_optional(&mut *conn)
                .await
        }
        UserKey::Custom(field) => {
            sqlx::query_as(FIND_BY_CUSTOM)
                .bind(value)
                .bind(crate::query::json_path(field))
                .fetch_optional(&mut *conn)
                .await
        }
    };
    row.map_err(|e| StoreError::db(ctx())(e))
}

/// Details for [`upsert_person`].
pub(crate) struct Upsert<'a> {
    pub key: &'a UserKey,
    pub sync_value: &'a str,
    pub fields: PersonFields,
    /// Create the person when not found.
    pub create: bool,
    /// Role given to a person created here.
    pub role_on_create: Option<&'a str>,
    /// Role written to an existing person (imports), if any.
    pub role_on_update: Option<&'a str>,
    pub source: &'a str,
    pub now: &'a str,
}

/// Finds the person by the sync key, then creates or updates them as asked.
pub(crate) async fn upsert_person(
    conn: &mut SqliteConnection,
    u: Upsert<'_>,
) -> Result<PersonOutcome, StoreError> {
    let found = find_user(conn, u.key, u.sync_value).await?;
    let Some((id, username, email, first_name, last_name, role, custom)) = found else {
        if !u.create {
            return Ok(PersonOutcome::Skipped(format!(
                "no user with {} = {}; preference is update-only",
                u.key, u.sync_value
            )));
        }
        return create_person(conn, u).await;
    };
    let mut custom_map: Map<String, Value> =
        serde_json::from_str(&custom).map_err(|e| StoreError::Corrupt {
            what: format!("custom fields of user {id}"),
            detail: format!("not a JSON object ({e})"),
        })?;
    let before = custom_map.clone();
    for (key, value) in u.fields.custom {
        if value.is_null() {
            custom_map.remove(&key);
        } else {
            custom_map.insert(key, value);
        }
    }
    let new_username = u.fields.username.unwrap_or_else(|| username.clone());
    let new_email = u.fields.email.unwrap_or_else(|| email.clone());
    let new_first = u.fields.first_name.unwrap_or_else(|| first_name.clone());
    let new_last = u.fields.last_name.unwrap_or_else(|| last_name.clone());
    let new_role = u.role_on_update.map(str::to_owned).or_else(|| role.clone());
    if new_username == username
        && new_email == email
        && new_first == first_name
        && new_last == last_name
        && new_role == role
        && custom_map == before
    {
        return Ok(PersonOutcome::Unchanged(id));
    }
    let result = sqlx::query(
        "UPDATE users SET username = ?, email = ?, first_name = ?, last_name = ?, role = ?,
            custom = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&new_username)
    .bind(&new_email)
    .bind(&new_first)
    .bind(&new_last)
    .bind(&new_role)
    .bind(Value::Object(custom_map).to_string())
    .bind(u.now)
    .bind(id)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(PersonOutcome::Updated(id)),
        Err(e) => match conflict_reason(&e, &new_username, new_email.as_deref()) {
            Some(reason) => Ok(PersonOutcome::Skipped(reason)),
            None => Err(StoreError::Database {
                context: format!("update user {id} ({username})"),
                error: e,
            }),
        },
    }
}

async fn create_person(
    conn: &mut SqliteConnection,
    u: Upsert<'_>,
) -> Result<PersonOutcome, StoreError> {
    let PersonFields {
        username,
        email,
        first_name,
        last_name,
        mut custom,
    } = u.fields;
    let mut email = email.flatten();
    let mut username = username;
    match u.key {
        UserKey::Username => username = username.or_else(|| Some(u.sync_value.to_owned())),
        UserKey::Email => email = email.or_else(|| Some(u.sync_value.to_owned())),
        UserKey::Custom(key) => {
            custom
                .entry(key.clone())
                .or_insert_with(|| Value::String(u.sync_value.to_owned()));
        }
    }
    let Some(username) = username.or_else(|| email.clone()) else {
        return Ok(PersonOutcome::Skipped(format!(
            "no user with {} = {} and the record maps no username or email to create one",
            u.key, u.sync_value
        )));
    };
    custom.retain(|_, v| !v.is_null());
    let custom: Map<String, Value> = custom.into_iter().collect();
    let result = sqlx::query_scalar(
        "INSERT INTO users (username, email, first_name, last_name, role, custom, source, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) RETURNING id",
    )
    .bind(&username)
    .bind(&email)
    .bind(first_name.flatten())
    .bind(last_name.flatten())
    .bind(u.role_on_create)
    .bind(Value::Object(custom).to_string())
    .bind(u.source)
    .bind(u.now)
    .fetch_one(&mut *conn)
    .await;
    match result {
        Ok(id) => Ok(PersonOutcome::Created(id)),
        Err(e) => match conflict_reason(&e, &username, email.as_deref()) {
            Some(reason) => Ok(PersonOutcome::Skipped(reason)),
            None => Err(StoreError::Database {
                context: format!("create user {username}"),
                error: e,
            }),
        },
    }
}

/// A unique-constraint failure on users, as a skip reason.
fn conflict_reason(e: &sqlx::Error, username: &str, email: Option<&str>) -> Option<String> {
    let db = e.as_database_error()?;
    if !db.is_unique_violation() {
        return None;
    }
    let message = db.message();
    Some(if message.contains("users.email") {
        format!(
            "email {} is already used by another user",
            email.unwrap_or_default()
        )
    } else {
        format!("username {username} is already used by another user")
    })
}

impl Store {
    /// Imports people, matching existing ones by `sync_key` (case-insensitive), all in one
    /// transaction. Rows that cannot be stored (a missing sync value, a username or email
    /// already held by someone else) are skipped and reported; other errors abort the import
    /// and leave the store as it was.
    pub async fn import_users(
        &self,
        rows: impl IntoIterator<Item = NewUser>,
        sync_key: UserKey,
    ) -> Result<ImportReport, StoreError> {
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db("start the import transaction"))?;
        let mut report = ImportReport::default();
        let now = time::now();
        for (index, row) in rows.into_iter().enumerate() {
            let sync_value = match &sync_key {
                UserKey::Username => Some(row.username.clone()),
                UserKey::Email => row.email.clone(),
                UserKey::Custom(key) => row.custom.get(key).and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                }),
            };
            let Some(sync_value) = sync_value.filter(|v| !v.trim().is_empty()) else {
                report.skipped.push((
                    index,
                    format!("the row has no value for the sync key {sync_key}"),
                ));
                continue;
            };
            for key in row.custom.keys() {
                crate::query::check_json_key(key)?;
            }
            let fields = PersonFields {
                username: Some(row.username.clone()).filter(|u| !u.trim().is_empty()),
                email: row.email.clone().map(Some),
                first_name: row.first_name.clone().map(Some),
                last_name: row.last_name.clone().map(Some),
                custom: row.custom.clone().into_iter().collect(),
            };
            let outcome = upsert_person(
                &mut tx,
                Upsert {
                    key: &sync_key,
                    sync_value: &sync_value,
                    fields,
                    create: true,
                    role_on_create: row.role.as_deref(),
                    role_on_update: row.role.as_deref(),
                    source: &row.source,
                    now: &now,
                },
            )
            .await?;
            match outcome {
                PersonOutcome::Created(_) => report.created += 1,
                PersonOutcome::Updated(_) => report.updated += 1,
                PersonOutcome::Unchanged(_) => report.unchanged += 1,
                PersonOutcome::Skipped(reason) => report.skipped.push((index, reason)),
            }
        }
        tx.commit()
            .await
            .map_err(StoreError::db("commit the import"))?;
        Ok(report)
    }
}

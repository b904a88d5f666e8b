//! Integrations, credentials, custom fields and views: small named records.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{Store, StoreError, time};

/// Whether a `put_*` call created a new record or replaced an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Created {
    /// No record had that name; one was created.
    Created,
    /// A record had that name; its content was replaced.
    Updated,
}

/// An integration as stored: its name and its configuration as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredIntegration {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The integration's configuration (its YAML model, as JSON).
    pub definition: Value,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it was last replaced.
    pub updated_at: DateTime<Utc>,
}

/// A credential with its encrypted bytes. The store never sees plaintext.
#[derive(Clone, PartialEq)]
pub struct StoredCredential {
    /// The credential's metadata.
    pub info: StoredCredentialInfo,
    /// The encrypted secret values, opaque to the store.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("info", &self.info)
            .field(
                "ciphertext",
                &format_args!("<{} bytes>", self.ciphertext.len()),
            )
            .finish()
    }
}

/// A credential's metadata, as listed: never carries the ciphertext.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCredentialInfo {
    /// Unique name.
    pub name: String,
    /// The connector the credential is for, or [`WEBHOOK_CREDENTIAL`] for a webhook URL.
    pub connector: String,
    /// The names of the connector inputs the ciphertext holds values for.
    pub input_names: Vec<String>,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it was last replaced.
    pub updated_at: DateTime<Utc>,
}

/// The `connector` of a credential that holds a webhook URL (its one input is `url`)
/// rather than a connector's secret inputs. No connector name has parentheses, so it
/// cannot be taken for one.
pub const WEBHOOK_CREDENTIAL: &str = "(webhook)";

impl StoredCredentialInfo {
    /// Whether the credential holds a webhook URL ([`WEBHOOK_CREDENTIAL`]).
    pub fn is_webhook(&self) -> bool {
        self.connector == WEBHOOK_CREDENTIAL
    }
}

/// A user field created by a mapping (stored in the users' `custom` JSON object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomField {
    /// The key in the users' custom fields.
    pub key: String,
    /// A human label.
    pub label: String,
    /// The integration whose mapping created it, if any.
    pub created_by_integration: Option<String>,
}

/// What a saved view lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewTarget {
    /// The people.
    Users,
    /// The SaaS accounts.
    SaasUsers,
}

impl ViewTarget {
    fn as_str(self) -> &'static str {
        match self {
            ViewTarget::Users => "users",
            ViewTarget::SaasUsers => "saas_users",
        }
    }
}

/// A saved view: a named list query over users or SaaS users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredView {
    /// Unique name.
    pub name: String,
    /// What it lists.
    pub target: ViewTarget,
    /// The view's definition (columns, filters, sort) as JSON.
    pub definition: Value,
}

fn parse_json(what: impl FnOnce() -> String, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what(),
        detail: format!("not JSON ({e})"),
    })
}

fn parse_names(what: impl FnOnce() -> String, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what(),
        detail: format!("not a JSON array of strings ({e})"),
    })
}

type CredRow = (String, String, String, String, String);

fn credential_info(row: CredRow) -> Result<StoredCredentialInfo, StoreError> {
    let (name, connector, input_names, created_at, updated_at) = row;
    Ok(StoredCredentialInfo {
        input_names: parse_names(
            || format!("input names of credential '{name}'"),
            &input_names,
        )?,
        created_at: time::parse(|| format!("created_at of credential '{name}'"), &created_at)?,
        updated_at: time::parse(|| format!("updated_at of credential '{name}'"), &updated_at)?,
        connector,
        name,
    })
}

type IntegrationRow = (i64, String, String, String, String);

fn integration_from(row: IntegrationRow) -> Result<StoredIntegration, StoreError> {
    let (id, name, definition, created_at, updated_at) = row;
    Ok(StoredIntegration {
        definition: parse_json(
            || format!("definition of integration '{name}'"),
            &definition,
        )?,
        created_at: time::parse(
            || format!("created_at of integration '{name}'"),
            &created_at,
        )?,
        updated_at: time::parse(
            || format!("updated_at of integration '{name}'"),
            &updated_at,
        )?,
        id,
        name,
    })
}

impl Store {
    /// Stores an integration's configuration under `name`, replacing any previous one.
    pub async fn put_integration(
        &self,
        name: &str,
        definition: &Value,
    ) -> Result<Created, StoreError> {
        let now = time::now();
        let ctx = || format!("store integration '{name}'");
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO integrations (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at
             RETURNING created_at = ?3",
        )
        .bind(name)
        .bind(definition.to_string())
        .bind(&now)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db(ctx()))?;
        Ok(if inserted {
            Created::Created
        } else {
            Created::Updated
        })
    }

    /// The integration named `name`, if stored.
    pub async fn integration(&self, name: &str) -> Result<Option<StoredIntegration>, StoreError> {
        let row: Option<IntegrationRow> = sqlx::query_as(
            "SELECT id, name, definition, created_at, updated_at FROM integrations WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db(format!("read integration '{name}'")))?;
        row.map(integration_from).transpose()
    }

    /// All integrations, by name.
    pub async fn list_integrations(&self) -> Result<Vec<StoredIntegration>, StoreError> {
        let rows: Vec<IntegrationRow> = sqlx::query_as(
            "SELECT id, name, definition, created_at, updated_at FROM integrations ORDER BY name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list the integrations"))?;
        rows.into_iter().map(integration_from).collect()
    }

    /// Removes the integration named `name`; `false` if there was none.
    pub async fn remove_integration(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM integrations WHERE name = ?")
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!("remove integration '{name}'")))?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores an encrypted credential. Fails with [`StoreError::AlreadyExists`] when one
    /// with that name exists and `replace` is false.
    pub async fn put_credential(
        &self,
        name: &str,
        connector: &str,
        input_names: &[String],
        ciphertext: &[u8],
        replace: bool,
    ) -> Result<(), StoreError> {
        let now = time::now();
        let names = serde_json::to_string(input_names).map_err(|e| StoreError::InvalidInput {
            what: format!("the input names of credential '{name}'"),
            detail: e.to_string(),
        })?;
        let sql = if replace {
            "INSERT INTO credentials (name, connector, input_names, ciphertext, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (name) DO UPDATE SET connector = excluded.connector,
                input_names = excluded.input_names, ciphertext = excluded.ciphertext,
                updated_at = excluded.updated_at"
        } else {
            "INSERT INTO credentials (name, connector, input_names, ciphertext, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (name) DO NOTHING"
        };
        let done = sqlx::query(sql)
            .bind(name)
            .bind(connector)
            .bind(names)
            .bind(ciphertext)
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!("store credential '{name}'")))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists {
                kind: "credential",
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// The credential named `name` with its ciphertext, if stored.
    pub async fn credential(&self, name: &str) -> Result<Option<StoredCredential>, StoreError> {
        let row: Option<(String, String, String, String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT name, connector, input_names, created_at, updated_at, ciphertext
             FROM credentials WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db(format!("read credential '{name}'")))?;
        row.map(|(n, c, i, ca, ua, ciphertext)| {
            Ok(StoredCredential {
                info: credential_info((n, c, i, ca, ua))?,
                ciphertext,
            })
        })
        .transpose()
    }

    /// All credentials' metadata, by name. The ciphertext is not even read.
    pub async fn list_credentials(&self) -> Result<Vec<StoredCredentialInfo>, StoreError> {
        let rows: Vec<CredRow> = sqlx::query_as(
            "SELECT name, connector, input_names, created_at, updated_at FROM credentials ORDER BY name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list the credentials"))?;
        rows.into_iter().map(credential_info).collect()
    }

    /// Removes the credential named `name`; `false` if there was none.
    pub async fn remove_credential(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM credentials WHERE name = ?")
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!("remove credential '{name}'")))?;
        Ok(done.rows_affected() > 0)
    }

    /// Declares a custom user field (kept if it exists already). Runs declare the custom
    /// keys their mappings produce by themselves.
    pub async fn define_custom_field(
        &self,
        key: &str,
        label: &str,
        integration: Option<&str>,
    ) -> Result<(), StoreError> {
        crate::query::check_json_key(key)?;
        sqlx::query(
            "INSERT INTO custom_fields (key, label, created_by_integration, created_at)
             VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(label)
        .bind(integration)
        .bind(time::now())
        .execute(self.pool())
        .await
        .map_err(StoreError::db(format!("declare custom field '{key}'")))?;
        Ok(())
    }

    /// All custom user fields, by key.
    pub async fn custom_fields(&self) -> Result<Vec<CustomField>, StoreError> {
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT key, label, created_by_integration FROM custom_fields ORDER BY key",
        )
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list the custom fields"))?;
        Ok(rows
            .into_iter()
            .map(|(key, label, created_by_integration)| CustomField {
                key,
                label,
                created_by_integration,
            })
            .collect())
    }

    /// Stores a view under `name`, replacing any previous one.
    pub async fn put_view(
        &self,
        name: &str,
        target: ViewTarget,
        definition: &Value,
    ) -> Result<Created, StoreError> {
        let now = time::now();
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO views (name, target, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (name) DO UPDATE SET target = excluded.target, definition = excluded.definition,
                updated_at = excluded.updated_at
             RETURNING created_at = ?4",
        )
        .bind(name)
        .bind(target.as_str())
        .bind(definition.to_string())
        .bind(&now)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db(format!("store view '{name}'")))?;
        Ok(if inserted {
            Created::Created
        } else {
            Created::Updated
        })
    }

    /// All views, by name.
    pub async fn list_views(&self) -> Result<Vec<StoredView>, StoreError> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT name, target, definition FROM views ORDER BY name")
                .fetch_all(self.pool())
                .await
                .map_err(StoreError::db("list the views"))?;
        rows.into_iter()
            .map(|(name, target, definition)| {
                let target = match target.as_str() {
                    "users" => ViewTarget::Users,
                    "saas_users" => ViewTarget::SaasUsers,
                    other => {
                        return Err(StoreError::Corrupt {
                            what: format!("target of view '{name}'"),
                            detail: format!("'{other}' is neither users nor saas_users"),
                        });
                    }
                };
                Ok(StoredView {
                    definition: parse_json(|| format!("definition of view '{name}'"), &definition)?,
                    target,
                    name,
                })
            })
            .collect()
    }

    /// Removes the view named `name`; `false` if there was none.
    pub async fn remove_view(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM views WHERE name = ?")
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!("remove view '{name}'")))?;
        Ok(done.rows_affected() > 0)
    }
}

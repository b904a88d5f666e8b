//! Report definitions, stored by name like integrations and views. The store keeps a
//! report as JSON; its format belongs to the caller (`rollcall-serve`'s report model).

use serde::Serialize;
use serde_json::Value;

use crate::{Created, Store, StoreError, time};

/// A stored report definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredReport {
    /// Unique name.
    pub name: String,
    /// The definition as JSON.
    pub definition: Value,
}

impl Store {
    /// Stores a report under `name`, replacing any previous one.
    pub async fn put_report(&self, name: &str, definition: &Value) -> Result<Created, StoreError> {
        let now = time::now();
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO reports (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (name) DO UPDATE SET definition = excluded.definition,
                updated_at = excluded.updated_at
             RETURNING created_at = ?3",
        )
        .bind(name)
        .bind(definition.to_string())
        .bind(&now)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db(format!("store report '{name}'")))?;
        Ok(if inserted {
            Created::Created
        } else {
            Created::Updated
        })
    }

    /// All reports, by name.
    pub async fn list_reports(&self) -> Result<Vec<StoredReport>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, definition FROM reports ORDER BY name")
                .fetch_all(self.pool())
                .await
                .map_err(StoreError::db("list the reports"))?;
        rows.into_iter()
            .map(|(name, definition)| {
                let definition =
                    serde_json::from_str(&definition).map_err(|e| StoreError::Corrupt {
                        what: format!("definition of report '{name}'"),
                        detail: format!("not JSON ({e})"),
                    })?;
                Ok(StoredReport { name, definition })
            })
            .collect()
    }

    /// The report named `name`, if stored.
    pub async fn report(&self, name: &str) -> Result<Option<StoredReport>, StoreError> {
        Ok(self
            .list_reports()
            .await?
            .into_iter()
            .find(|r| r.name == name))
    }

    /// Removes the report named `name`; `false` if there was none.
    pub async fn remove_report(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM reports WHERE name = ?")
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!("remove report '{name}'")))?;
        Ok(done.rows_affected() > 0)
    }
}

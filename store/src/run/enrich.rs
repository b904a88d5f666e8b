//! Joined values: fields of a second stream applied to the run's accounts by external id
//! (a connector's `enrich`, e.g. Miro's last activity from its REST API).
//!
//! The account's `digest` stays the digest of what the primary stream wrote. The joined
//! values are not part of it on purpose: the primary record never carries them, so a
//! digest that included them would never match the next run's incoming record and every
//! enriched account would be rewritten on every run. Instead an unchanged primary record
//! leaves the row alone (joined values included) and the join then writes only the values
//! that differ; a changed primary record rewrites the row without them and the join, later
//! in the same transaction, puts them back.
//!
//! The `saas_users_digest_stale` trigger clears the digest of a row whose content changes
//! while the digest stays. So the join writes a changed row in two steps: the content with
//! the digest inverted (`~digest`, a different value, so the trigger keeps out), then the
//! digest inverted back (an update of `digest` alone, which the trigger does not watch).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::RunGuard;
use crate::{StoreError, time};

/// One account's values from a joined stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Enrichment {
    /// The account's external id (the primary stream's key).
    pub external_id: String,
    /// The joined fields, merged into the account's `fields` (`null` removes a field).
    pub fields: Map<String, Value>,
    /// Whether the join carries `last_activity_at` (the account column), and its value
    /// (`None`: empty, e.g. never logged in).
    pub last_activity_at: Option<Option<DateTime<Utc>>>,
}

impl RunGuard {
    /// Applies joined values to the accounts of `instance` of `app` inside the run's
    /// transaction; accounts not known are left alone. Returns how many accounts changed.
    /// Send batches of a few hundred.
    pub async fn enrich_accounts(
        &mut self,
        app: &str,
        instance: &str,
        rows: &[Enrichment],
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let run = self.id;
        self.flush().await?;
        let tx = self.tx().await?;
        let ctx = || format!("store joined values on the accounts of {instance} (run {run})");
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                let (has_activity, activity) = match r.last_activity_at {
                    Some(t) => (1, t.map(time::fmt)),
                    None => (0, None),
                };
                json!([
                    r.external_id,
                    Value::Object(r.fields.clone()).to_string(),
                    has_activity,
                    activity
                ])
            })
            .collect();
        let changed: Vec<i64> = sqlx::query_scalar(
            "UPDATE saas_users SET
                last_activity_at = iif(j.value ->> 2, j.value ->> 3, last_activity_at),
                fields = json_patch(fields, j.value ->> 1),
                digest = ~digest, updated_at = ?1
             FROM json_each(?2) AS j
             WHERE saas_users.app = ?3 AND saas_users.instance = ?4
                AND saas_users.external_id = j.value ->> 0
                AND (fields IS NOT json_patch(fields, j.value ->> 1)
                     OR (j.value ->> 2 AND last_activity_at IS NOT j.value ->> 3))
             RETURNING saas_users.id",
        )
        .bind(time::now())
        .bind(Value::Array(rows).to_string())
        .bind(app)
        .bind(instance)
        .fetch_all(&mut **tx)
        .await
        .map_err(StoreError::db(ctx()))?;
        if changed.is_empty() {
            return Ok(0);
        }
        sqlx::query(
            "UPDATE saas_users SET digest = ~digest
             WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(json!(changed).to_string())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db(ctx()))?;
        Ok(changed.len() as u64)
    }
}

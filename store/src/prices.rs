//! Licence prices: what one seat of a user type costs per month in an app. The dashboard
//! multiplies them by inactive seats to show the money spent on seats nobody uses.

use serde::Serialize;

use crate::{Store, StoreError, time};

/// The monthly price of one seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Price {
    /// The app (matched without regard to case).
    pub app: String,
    /// The user type (matched without regard to case).
    pub user_type: String,
    /// The price per seat and month, in hundredths of the currency.
    pub monthly_cents: i64,
    /// The currency's code or symbol, as the user wrote it (e.g. EUR).
    pub currency: String,
}

impl Store {
    /// Sets (or replaces) the price of a seat of `user_type` in `app`.
    pub async fn put_price(&self, price: &Price) -> Result<(), StoreError> {
        if price.monthly_cents < 0 {
            return Err(StoreError::InvalidInput {
                what: format!("the price of {} {}", price.app, price.user_type),
                detail: "a price cannot be negative".into(),
            });
        }
        sqlx::query(
            "INSERT INTO prices (app, user_type, monthly_cents, currency, updated_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (app, user_type) DO UPDATE SET monthly_cents = excluded.monthly_cents,
                currency = excluded.currency, updated_at = excluded.updated_at",
        )
        .bind(&price.app)
        .bind(&price.user_type)
        .bind(price.monthly_cents)
        .bind(&price.currency)
        .bind(time::now())
        .execute(self.pool())
        .await
        .map_err(StoreError::db(format!(
            "store the price of {} {}",
            price.app, price.user_type
        )))?;
        Ok(())
    }

    /// All prices, by app and user type.
    pub async fn list_prices(&self) -> Result<Vec<Price>, StoreError> {
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT app, user_type, monthly_cents, currency FROM prices ORDER BY app, user_type",
        )
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list the prices"))?;
        Ok(rows
            .into_iter()
            .map(|(app, user_type, monthly_cents, currency)| Price {
                app,
                user_type,
                monthly_cents,
                currency,
            })
            .collect())
    }

    /// Removes the price of `user_type` in `app`; `false` if there was none.
    pub async fn remove_price(&self, app: &str, user_type: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM prices WHERE app = ? AND user_type = ?")
            .bind(app)
            .bind(user_type)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!(
                "remove the price of {app} {user_type}"
            )))?;
        Ok(done.rows_affected() > 0)
    }
}

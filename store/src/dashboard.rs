//! The numbers behind the web page's dashboard: people, SaaS accounts per app instance
//! (active, deactivated, gone), user types and inactive seats, last-activity buckets.
//! One aggregate query per table, grouped in SQLite, so the page stays fast at 100k
//! accounts.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{Store, StoreError, time};

/// Days after which an active account without activity counts as an inactive seat.
pub const INACTIVE_AFTER_DAYS: i64 = 90;

/// Accounts by time since their last activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ActivityBuckets {
    /// Active in the last 30 days.
    pub under_30_days: u64,
    /// Last active 30 to 90 days ago.
    pub from_30_to_90_days: u64,
    /// Last active more than 90 days ago.
    pub over_90_days: u64,
    /// Never active (or the app does not say).
    pub never: u64,
}

/// One app instance's accounts. Only accounts still in the app are counted, except `gone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceStats {
    /// The app (e.g. Miro).
    pub app: String,
    /// The instance (e.g. Miro EU).
    pub instance: String,
    /// Accounts the app still has.
    pub accounts: u64,
    /// Of those, active.
    pub active: u64,
    /// Of those, deactivated.
    pub deactivated: u64,
    /// Of those, linked to a person.
    pub linked: u64,
    /// Accounts a complete run no longer saw.
    pub gone: u64,
    /// Last activity of the active accounts.
    pub activity: ActivityBuckets,
}

/// Accounts of one user type (licence) in one app instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserTypeStats {
    /// The app.
    pub app: String,
    /// The instance.
    pub instance: String,
    /// The user type; `None` when the app does not say.
    pub user_type: Option<String>,
    /// Accounts the app still has.
    pub accounts: u64,
    /// Of those, active (holding a seat).
    pub active: u64,
    /// Active accounts with no activity for [`INACTIVE_AFTER_DAYS`] days, or never.
    pub inactive_seats: u64,
}

/// Everything the dashboard shows, as of one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dashboard {
    /// When the numbers were read (activity buckets are relative to it).
    pub as_of: DateTime<Utc>,
    /// People in the store.
    pub people: u64,
    /// Per app instance, by app then instance.
    pub instances: Vec<InstanceStats>,
    /// Per app instance and user type.
    pub user_types: Vec<UserTypeStats>,
}

fn count(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

type InstanceRow = (
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

type TypeRow = (
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

impl Store {
    /// The dashboard's numbers as of `now`.
    pub async fn dashboard(&self, now: DateTime<Utc>) -> Result<Dashboard, StoreError> {
        let d30 = time::fmt(now - Duration::days(30));
        let d90 = time::fmt(now - Duration::days(INACTIVE_AFTER_DAYS));
        let people: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::db("count the people"))?;
        let rows: Vec<InstanceRow> = sqlx::query_as(
            "SELECT app, instance,
                SUM(present = 1),
                SUM(present = 1 AND active = 1),
                SUM(present = 1 AND active = 0),
                SUM(present = 1 AND user_id IS NOT NULL),
                SUM(present = 0),
                SUM(present = 1 AND active = 1 AND last_activity_at >= ?1),
                SUM(present = 1 AND active = 1 AND last_activity_at < ?1 AND last_activity_at >= ?2),
                SUM(present = 1 AND active = 1 AND last_activity_at < ?2),
                SUM(present = 1 AND active = 1 AND last_activity_at IS NULL)
             FROM saas_users GROUP BY app, instance ORDER BY app, instance",
        )
        .bind(&d30)
        .bind(&d90)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("count the SaaS accounts per app instance"))?;
        let instances = rows
            .into_iter()
            .map(|r| InstanceStats {
                app: r.0,
                instance: r.1,
                accounts: count(r.2),
                active: count(r.3),
                deactivated: count(r.4),
                linked: count(r.5),
                gone: count(r.6),
                activity: ActivityBuckets {
                    under_30_days: count(r.7),
                    from_30_to_90_days: count(r.8),
                    over_90_days: count(r.9),
                    never: count(r.10),
                },
            })
            .collect();
        let rows: Vec<TypeRow> = sqlx::query_as(
            "SELECT app, instance, user_type, COUNT(*), SUM(active = 1),
                    SUM(active = 1 AND (last_activity_at IS NULL OR last_activity_at < ?1))
                 FROM saas_users WHERE present = 1
                 GROUP BY app, instance, user_type ORDER BY app, instance, user_type",
        )
        .bind(&d90)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("count the SaaS accounts per user type"))?;
        let user_types = rows
            .into_iter()
            .map(|r| UserTypeStats {
                app: r.0,
                instance: r.1,
                user_type: r.2,
                accounts: count(r.3),
                active: count(r.4),
                inactive_seats: count(r.5),
            })
            .collect();
        Ok(Dashboard {
            as_of: now,
            people: count(Some(people)),
            instances,
            user_types,
        })
    }

    /// How many errors a run recorded (without reading them).
    pub async fn run_error_count(&self, run_id: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM run_errors WHERE run_id = ?")
            .bind(run_id)
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::db(format!("count the errors of run {run_id}")))?;
        Ok(count(Some(n)))
    }
}

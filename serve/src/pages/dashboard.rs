//! The dashboard: integration tiles, people and SaaS accounts per app instance, active
//! versus deactivated, user types (licences), last-activity buckets, and what inactive
//! seats cost per month when prices are set (`rollcall prices set`), and deactivations
//! over time from the workflows' audit log.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Days, Utc};
use rollcall_store::{AuditResult, INACTIVE_AFTER_DAYS, Price, Store, StoreError};

use super::integrations::{Tile, tiles};
use super::{render, store_error};
use crate::AppState;
use crate::chart;
use crate::format::{money, thousands, when};

struct InstanceView {
    app: String,
    instance: String,
    accounts: String,
    active: String,
    deactivated: String,
    gone: String,
    linked: String,
    state_chart: String,
    activity_chart: String,
    list_link: String,
}

struct TypeView {
    app: String,
    instance: String,
    user_type: String,
    accounts: String,
    active: String,
    inactive_seats: String,
    price: Option<String>,
    wasted: Option<String>,
    link: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    as_of: String,
    tiles: Vec<Tile>,
    csrf: String,
    people: String,
    accounts: String,
    active: String,
    deactivated: String,
    inactive_seats: String,
    inactive_days: i64,
    wasted: Vec<String>,
    priced: bool,
    instances: Vec<InstanceView>,
    types: Vec<TypeView>,
    licence_chart: String,
    deactivation_days: u64,
    /// `None` when nothing was deactivated in those days.
    deactivations: Option<Deactivations>,
}

struct Deactivations {
    total: String,
    chart: String,
}

/// How many days the deactivations chart covers, today included.
const DEACTIVATION_DAYS: u64 = 90;

/// Accounts deactivated by workflows (successful `deactivate` actions, which only apply
/// mode takes) per UTC day over the last [`DEACTIVATION_DAYS`], days without any
/// included, as a column chart; `None` when there were none.
async fn deactivations(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Option<Deactivations>, StoreError> {
    let today = now.date_naive();
    let first = today
        .checked_sub_days(Days::new(DEACTIVATION_DAYS - 1))
        .unwrap_or(today);
    let since = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let per_day: BTreeMap<String, u64> = store
        .audit_per_day("deactivate", AuditResult::Ok, since)
        .await?
        .into_iter()
        .collect();
    let total: u64 = per_day.values().sum();
    if total == 0 {
        return Ok(None);
    }
    let days: Vec<(String, u64)> = first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| {
            let day = d.format("%Y-%m-%d").to_string();
            let n = per_day.get(&day).copied().unwrap_or(0);
            (day, n)
        })
        .collect();
    Ok(Some(Deactivations {
        total: thousands(total),
        chart: chart::columns(
            &format!("Accounts deactivated per day over the last {DEACTIVATION_DAYS} days"),
            &days,
        ),
    }))
}

fn price_of<'a>(prices: &'a [Price], app: &str, user_type: Option<&str>) -> Option<&'a Price> {
    let t = user_type?;
    prices
        .iter()
        .find(|p| p.app.eq_ignore_ascii_case(app) && p.user_type.eq_ignore_ascii_case(t))
}

fn saas_link(app: &str, instance: &str, extra: &[&str]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("edited", "1");
    q.append_pair("app", app);
    q.append_pair("instance", instance);
    for f in extra {
        q.append_pair("filter", f);
    }
    format!("/saas-users?{}", q.finish())
}

/// `GET /`
pub(crate) async fn page(State(state): State<AppState>) -> Response {
    let now = Utc::now();
    let (d, prices, tiles, deactivations) = match (
        state.store.dashboard(now).await,
        state.store.list_prices().await,
        tiles(&state).await,
        deactivations(&state.store, now).await,
    ) {
        (Ok(d), Ok(p), Ok(t), Ok(x)) => (d, p, t, x),
        (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
            return store_error(e);
        }
    };
    let instances = d
        .instances
        .iter()
        .map(|i| {
            let a = &i.activity;
            InstanceView {
                app: i.app.clone(),
                instance: i.instance.clone(),
                accounts: thousands(i.accounts),
                active: thousands(i.active),
                deactivated: thousands(i.deactivated),
                gone: thousands(i.gone),
                linked: thousands(i.linked),
                state_chart: chart::stacked(
                    &format!("{} accounts by state", i.instance),
                    &[
                        ("active", i.active),
                        ("deactivated", i.deactivated),
                        (
                            "unknown",
                            i.accounts.saturating_sub(i.active + i.deactivated),
                        ),
                        ("no longer in the app", i.gone),
                    ],
                ),
                activity_chart: chart::bars(
                    &format!("Last activity of active {} accounts", i.instance),
                    &[
                        ("under 30 days".into(), a.under_30_days),
                        ("30 to 90 days".into(), a.from_30_to_90_days),
                        ("over 90 days".into(), a.over_90_days),
                        ("never".into(), a.never),
                    ],
                ),
                list_link: saas_link(&i.app, &i.instance, &["present=true"]),
            }
        })
        .collect();
    // Money wasted per month, per currency.
    let mut wasted: BTreeMap<String, i64> = BTreeMap::new();
    let types: Vec<TypeView> = d
        .user_types
        .iter()
        .map(|t| {
            let price = price_of(&prices, &t.app, t.user_type.as_deref());
            let waste = price.map(|p| {
                let cents = p
                    .monthly_cents
                    .saturating_mul(i64::try_from(t.inactive_seats).unwrap_or(i64::MAX));
                *wasted.entry(p.currency.clone()).or_default() += cents;
                money(cents, &p.currency)
            });
            let ut = t.user_type.clone().unwrap_or_default();
            let type_filter = if ut.is_empty() {
                "user_type= or empty".to_owned()
            } else {
                format!("user_type={ut}")
            };
            TypeView {
                app: t.app.clone(),
                instance: t.instance.clone(),
                user_type: if ut.is_empty() {
                    "(none)".into()
                } else {
                    ut.clone()
                },
                accounts: thousands(t.accounts),
                active: thousands(t.active),
                inactive_seats: thousands(t.inactive_seats),
                price: price.map(|p| money(p.monthly_cents, &p.currency)),
                wasted: waste,
                link: saas_link(
                    &t.app,
                    &t.instance,
                    &[
                        "present=true",
                        "active=true",
                        &type_filter,
                        &format!("last_activity_at<{INACTIVE_AFTER_DAYS}d ago or empty"),
                    ],
                ),
            }
        })
        .collect();
    let licence_chart = chart::bars(
        "Active seats by app and user type",
        &d.user_types
            .iter()
            .map(|t| {
                (
                    format!(
                        "{} {}",
                        t.instance,
                        t.user_type.as_deref().unwrap_or("(none)")
                    ),
                    t.active,
                )
            })
            .collect::<Vec<_>>(),
    );
    let sum = |f: fn(&rollcall_store::InstanceStats) -> u64| d.instances.iter().map(f).sum::<u64>();
    let page = DashboardPage {
        as_of: when(d.as_of),
        tiles,
        csrf: state.secrets.csrf().to_owned(),
        people: thousands(d.people),
        accounts: thousands(sum(|i| i.accounts)),
        active: thousands(sum(|i| i.active)),
        deactivated: thousands(sum(|i| i.deactivated)),
        inactive_seats: thousands(d.user_types.iter().map(|t| t.inactive_seats).sum()),
        inactive_days: INACTIVE_AFTER_DAYS,
        priced: !prices.is_empty(),
        wasted: wasted.iter().map(|(c, v)| money(*v, c)).collect(),
        instances,
        types,
        licence_chart,
        deactivation_days: DEACTIVATION_DAYS,
        deactivations,
    };
    render(&page)
}

//! Reports: a YAML file names a list (users or SaaS users), its columns, filters (the
//! CLI's filter language), grouping with counts and sort. `rollcall report apply` checks
//! and stores it; `rollcall report run NAME --format csv|json|md|html` and the web page
//! run it over the same list queries as the list views.
//!
//! ```yaml
//! name: inactive-miro-users
//! title: Inactive Miro users over 90 days
//! list: saas_users
//! app: Miro
//! columns: [username, user_type, last_activity_at]
//! filters: ["active=true", "present=true", "last_activity_at<90d ago or empty"]
//! group_by: [user_type]
//! sort: [username]
//! ```

mod load;
mod render;
mod run;

pub use load::{Report, ReportList, load_report, report_schema};
pub use render::{Format, render};
pub use run::{Group, ReportOutput, run_report};

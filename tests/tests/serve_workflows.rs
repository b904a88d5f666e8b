//! The workflows pages and the dashboard's deactivations chart over a real store: a real
//! sync from the in-process SCIM server, then workflows planned and applied through
//! `rollcall_workflow::execute` (deactivating on the server). Checks the list, the rules
//! (webhook secrets hidden), the last plan with who and why, the audit log newest first
//! with paging, the CSV download, escaping of a hostile name, 404s, and the chart.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rollcall_core::action::ActionRunner;
use rollcall_core::observe::Silent;
use rollcall_serve::router;
use rollcall_source::SourceFile;
use rollcall_tests::web::{Site, site};
use rollcall_tests::{TOKEN, TestManifest, inputs};
use rollcall_workflow::{ExecuteOptions, Mode, NoProgress, Target, Trigger, Workflow};
use tower::ServiceExt;

const USERS: usize = 5;
const NAME: &str = "Deactivate inactive Miro users";
const HOSTILE: &str = "<b>Hostile</b> & \"friends\"";
const SECRET: &str = "T0SECRET9";

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(s: &Site, path: &str) -> Reply {
    let request = Request::get(path)
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap();
    let r = router(s.state.clone()).oneshot(request).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn ok(s: &Site, path: &str) -> String {
    let r = send(s, path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.body
}

fn path_of(name: &str) -> String {
    let segment: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/workflows/{}", segment.replace('+', "%20"))
}

/// The site's workflows: loaded against its integration, stored as `rollcall workflows
/// apply` stores them, and run through the library.
struct Flows {
    connector: Arc<rollcall_core::Connector>,
}

impl Flows {
    fn new() -> Flows {
        Flows {
            connector: TestManifest::default().load(),
        }
    }

    fn load(&self, s: &Site, text: &str) -> Workflow {
        let target = Target {
            integration: s.integration.clone(),
            connector: self.connector.clone(),
        };
        rollcall_workflow::load_workflow(SourceFile::new("flows/wf.yaml", text), &|name| {
            if name == s.integration.name {
                Ok(target.clone())
            } else {
                Err((format!("there is no integration named `{name}`"), None))
            }
        })
        .unwrap_or_else(|e| panic!("{}", e.render()))
    }

    async fn store(&self, s: &Site, w: &Workflow) {
        s.store
            .put_workflow(
                &w.name,
                &w.integration,
                &w.schedule.to_string(),
                w.mode,
                &w.to_json(),
            )
            .await
            .unwrap();
    }

    async fn execute(
        &self,
        s: &Site,
        w: &Workflow,
        mode: Mode,
    ) -> rollcall_workflow::WorkflowReport {
        let runner = ActionRunner::new(
            self.connector.clone(),
            &inputs(&self.connector, &s.server.scim_base_url(), TOKEN),
            Arc::new(Silent),
        )
        .unwrap();
        rollcall_workflow::execute(
            &s.store,
            w,
            Some(&runner),
            ExecuteOptions::new(mode, Trigger::Cli),
            &NoProgress,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The usernames of the server's active users (the test server makes some inactive).
fn active_usernames(s: &Site) -> Vec<String> {
    let h = s.server.handle();
    h.user_ids()
        .iter()
        .map(|id| h.user(id).unwrap())
        .filter(|u| u["active"] == true)
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect()
}

fn inactive_on_server(s: &Site) -> usize {
    let h = s.server.handle();
    h.user_ids()
        .iter()
        .filter(|id| h.user(id).unwrap()["active"] == false)
        .count()
}

fn inactivity(exempt: &str) -> String {
    format!(
        "name: {NAME}\nintegration: Miro Users\nschedule: daily at 06:00\nbegin:\n  rules:\n    all:\n      - {{ field: active, equals: true }}\n      - {{ field: last_activity_at, older_than: 90d, never_active: match }}\n  exempt: [ \"{exempt}\" ]\nblocks:\n  - deactivate: {{}}\n"
    )
}

#[tokio::test]
async fn workflows_pages_show_rules_last_plan_and_audit_log() {
    let s = site(USERS, "127.0.0.1:0".parse::<SocketAddr>().unwrap(), None).await;
    let flows = Flows::new();
    let names = active_usernames(&s);
    assert!(names.len() >= 3, "{names:?}");
    let selected = names.len() - 1;
    let inactive_before = inactive_on_server(&s);

    // Before any workflow: empty states that say what to do.
    let list = ok(&s, "/workflows").await;
    assert!(list.contains(r#"id="no-workflows""#), "{list}");
    assert!(list.contains("rollcall workflows apply FILE"));
    let dash = ok(&s, "/").await;
    assert!(dash.contains(r#"id="deactivations-empty""#), "{dash}");

    // Stored, never run.
    let w = flows.load(&s, &inactivity(&names[0]));
    flows.store(&s, &w).await;
    let page = ok(&s, &path_of(NAME)).await;
    assert!(page.contains(r#"id="no-plan""#), "{page}");
    assert!(page.contains(r#"id="no-audit""#), "{page}");
    assert!(
        page.contains("older_than: 90d"),
        "the rules are the file: {page}"
    );

    // A plan: nobody has logged in, so everyone but the exempt user is selected.
    let plan = flows.execute(&s, &w, Mode::Plan).await;
    assert!(plan.succeeded());
    let list = ok(&s, "/workflows").await;
    let row = list
        .split(&format!(r#"<tr data-workflow="{NAME}">"#))
        .nth(1)
        .unwrap_or_else(|| panic!("the workflow is listed: {list}"));
    let row = row.split("</tr>").next().unwrap();
    assert!(
        row.contains(&format!(r#"href="{}""#, path_of(NAME))),
        "{row}"
    );
    let counts = format!(
        "{USERS} accounts, {} matched, 1 exempt; {selected} planned",
        names.len()
    );
    for want in [
        "Miro Users",
        "Miro · Miro EU",
        "daily at 06:00",
        ">plan<",
        ">cli<",
        "completed",
        &counts,
    ] {
        assert!(row.contains(want), "{want} in {row}");
    }
    let page = ok(&s, &path_of(NAME)).await;
    let plan_table = page
        .split(r#"id="plan""#)
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("a plan table: {page}"));
    for u in &names[1..] {
        assert!(
            plan_table.contains(&format!("<td>{u}</td>")),
            "{u} would be touched"
        );
    }
    assert_eq!(plan_table.matches("<td>planned</td>").count(), selected);
    assert!(
        plan_table.contains(
            "selected by: active = true and last_activity_at is empty (never active: match)"
        ),
        "the reason: {plan_table}"
    );
    assert!(plan_table.contains("exempt (matches"), "{plan_table}");
    assert!(
        !page.contains(r#"id="older""#),
        "one page of audit entries so far"
    );
    assert_eq!(
        inactive_on_server(&s),
        inactive_before,
        "a plan changes nothing"
    );

    // More plans than a page of the audit log holds, then an apply.
    let plans = 60 / names.len() + 1;
    let mut last_plan = plan.run_id;
    for _ in 1..plans {
        last_plan = flows.execute(&s, &w, Mode::Plan).await.run_id;
    }

    // Apply: the accounts are deactivated on the server and counted on the dashboard.
    let applied = flows.execute(&s, &w, Mode::Apply).await;
    assert!(applied.succeeded(), "{applied:?}");
    assert_eq!(inactive_on_server(&s), inactive_before + selected);
    let dash = ok(&s, "/").await;
    assert!(
        dash.contains(&format!(
            r#"<span id="deactivated-total">{selected}</span>"#
        )),
        "{dash}"
    );
    let chart = dash.split(r#"id="deactivations""#).nth(1).unwrap();
    assert!(chart.contains("<svg"), "an inline chart: {chart}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        chart.contains(&format!("{today}: {selected}")),
        "today's column: {chart}"
    );

    // The last plan is still the plan; the last run is the apply; the log is newest first.
    let page = ok(&s, &path_of(NAME)).await;
    assert!(page.contains(&format!("Plan #{last_plan}")), "{page}");
    assert!(
        page.contains(&format!("Last run #{}: apply", applied.run_id)),
        "{page}"
    );
    let audit = page.split(r#"id="audit""#).nth(1).unwrap();
    let first_apply = audit.find("<td>apply</td>").unwrap();
    let first_plan = audit.find("<td>plan</td>").unwrap();
    assert!(first_apply < first_plan, "newest first: {audit}");
    assert_eq!(audit.matches("<td>ok</td>").count(), selected);
    assert!(
        page.contains(&format!(r#"href="{}/audit.csv""#, path_of(NAME))),
        "{page}"
    );

    // Paging: every plan and the apply wrote an entry per selected or exempt user.
    let total = (plans + 1) * names.len();
    let page = ok(&s, &path_of(NAME)).await;
    let rows = |p: &str| {
        p.split(r#"id="audit""#)
            .nth(1)
            .unwrap()
            .matches("<tr><td>")
            .count()
    };
    assert_eq!(rows(&page), 50);
    let older = page
        .split(r#"<a id="older" href=""#)
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("an older link: {page}"))
        .replace("&#38;", "&");
    let page2 = ok(&s, &older).await;
    assert_eq!(rows(&page2), total - 50);
    assert!(
        page2.contains("<td>plan</td>") && !page2.contains("<td>apply</td>"),
        "the apply is on the newest page"
    );
    let past = ok(&s, &format!("{}?before=1", path_of(NAME))).await;
    assert!(past.contains("No older entries"), "{past}");

    // The CSV: the whole log, oldest first, with a header.
    let csv = send(&s, &format!("{}/audit.csv", path_of(NAME))).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.headers[header::CONTENT_TYPE].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        csv.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "at,workflow,run,mode,user,external_id,action,result,detail"
    );
    assert_eq!(lines.len(), total + 1, "{}", csv.body);
    assert!(
        lines[1].contains(&format!(",{},plan,", plan.run_id)),
        "oldest first: {}",
        lines[1]
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains(",deactivate,ok,"))
            .count(),
        selected
    );

    // Unknown workflows.
    for path in ["/workflows/nobody", "/workflows/nobody/audit.csv"] {
        let r = send(&s, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            r.body.contains("there is no workflow named `nobody`"),
            "{}",
            r.body
        );
    }
}

#[tokio::test]
async fn workflow_pages_escape_names_and_hide_webhook_secrets() {
    let s = site(USERS, "127.0.0.1:0".parse::<SocketAddr>().unwrap(), None).await;
    let flows = Flows::new();
    let text = format!(
        "name: '{}'\nintegration: Miro Users\nschedule: daily at 06:00\nbegin:\n  rules:\n    all:\n      - {{ field: active, equals: true }}\nblocks:\n  - deactivate: {{}}\n  - notify: {{ url: \"https://hooks.example.com/services/{SECRET}?token={SECRET}\" }}\n",
        HOSTILE.replace('\'', "''")
    );
    let w = flows.load(&s, &text);
    assert_eq!(w.name, HOSTILE);
    flows.store(&s, &w).await;
    flows.execute(&s, &w, Mode::Plan).await;
    let escaped = "&#60;b&#62;Hostile&#60;/b&#62; &#38; &#34;friends&#34;";
    let list = ok(&s, "/workflows").await;
    assert!(!list.contains("<b>Hostile"), "{list}");
    assert!(list.contains(escaped), "{list}");
    let page = ok(&s, &path_of(HOSTILE)).await;
    assert!(!page.contains("<b>Hostile"), "{page}");
    assert!(
        !page.contains(SECRET),
        "no webhook secret on the page: {page}"
    );
    assert!(
        page.contains("https://hooks.example.com/…"),
        "the host is shown: {page}"
    );
    assert!(page.contains("hooks.example.com"), "{page}");
    let csv = send(&s, &format!("{}/audit.csv", path_of(HOSTILE))).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(!csv.body.contains(SECRET));
    assert!(csv.body.contains("notify,planned"), "{}", csv.body);
}

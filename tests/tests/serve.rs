//! `rollcall serve` handlers over a real store filled by a real sync from the
//! in-process SCIM server: every page, list filters, sorting, columns and paging, saved
//! views shared with the CLI, RUN with its progress page and error log, reports, and
//! the security rules (loopback Host, token, CSRF, escaping, no secrets on pages).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rollcall_serve::security::UiToken;
use rollcall_serve::{JobState, router};
use rollcall_store::{ListQuery, NewUser, Price, UserKey, ViewTarget};
use rollcall_tests::web::{Site, site};
use rollcall_tests::{TOKEN, workspace_root};
use tower::ServiceExt;

const LOOPBACK: &str = "127.0.0.1:0";

fn loopback() -> SocketAddr {
    LOOPBACK.parse().unwrap()
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(site: &Site, request: Request<Body>) -> Reply {
    let r = router(site.state.clone()).oneshot(request).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

async fn ok(site: &Site, path: &str) -> String {
    let r = send(site, get(path)).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.body
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn saas_count(site: &Site, filter: &str) -> u64 {
    site.store
        .count_saas_users(&ListQuery {
            filters: vec![rollcall_store::Filter::parse(filter).unwrap()],
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn every_page_renders_from_the_store() {
    let s = site(60, loopback(), None).await;
    let dash = ok(&s, "/").await;
    assert!(
        dash.contains(r#"<span class="n" id="accounts">60</span>"#),
        "{dash}"
    );
    assert!(dash.contains("Miro · Miro EU"));
    assert!(dash.contains(r#"data-integration="Miro Users""#));
    assert!(dash.contains("<svg"), "charts are inline SVG");
    assert!(
        dash.contains(r#"id="deactivations-empty""#),
        "no workflow ran yet"
    );
    let integrations = ok(&s, "/integrations").await;
    assert!(
        integrations.contains(r#"<dd class="fetched">60</dd>"#),
        "{integrations}"
    );
    assert!(integrations.contains("every 6h; next run"));
    assert!(ok(&s, "/users").await.contains("rows 1–50 of 60"));
    assert!(ok(&s, "/saas-users").await.contains("rows 1–50 of 60"));
    assert!(ok(&s, "/reports").await.contains("No reports yet"));
    assert!(
        ok(&s, "/workflows")
            .await
            .contains("rollcall workflows apply FILE")
    );
    assert!(ok(&s, "/style.css").await.contains(".tile"));
    let run = s.store.runs(None).await.unwrap()[0].id;
    assert!(
        ok(&s, &format!("/runs/{run}/errors"))
            .await
            .contains("No record was skipped")
    );
    let missing = send(&s, get("/runs/999/errors")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("there is no run 999"));
    assert_eq!(
        send(&s, get("/nowhere")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn dashboard_counts_and_licence_cost_follow_the_data() {
    let s = site(80, loopback(), None).await;
    let d = s.store.dashboard(chrono::Utc::now()).await.unwrap();
    let full = d
        .user_types
        .iter()
        .find(|t| t.user_type.as_deref() == Some("Full"))
        .expect("the test server makes Full users");
    assert!(
        full.inactive_seats > 0,
        "nobody has logged in, so every seat is inactive"
    );
    let dash = ok(&s, "/").await;
    assert!(
        dash.contains("rollcall prices set"),
        "no prices yet: a hint"
    );
    s.store
        .put_price(&Price {
            app: "miro".into(),
            user_type: "FULL".into(),
            monthly_cents: 1600,
            currency: "EUR".into(),
        })
        .await
        .unwrap();
    let dash = ok(&s, "/").await;
    let want = format!("{}.00 EUR", full.inactive_seats * 16);
    assert!(dash.contains(&want), "wasted per month {want}:\n{dash}");
    assert!(dash.contains("16.00 EUR"));
    assert!(!dash.contains("rollcall prices set"));
    // Activity buckets: no connector field carries last activity yet, so every active
    // account is in "never".
    let now = chrono::Utc::now();
    let d = s.store.dashboard(now).await.unwrap();
    let i = &d.instances[0];
    assert_eq!(i.activity.never, i.active);
    assert_eq!(
        i.activity.under_30_days + i.activity.from_30_to_90_days + i.activity.over_90_days,
        0
    );
    assert_eq!(i.accounts, 80);
    assert_eq!(i.active + i.deactivated, 80);
}

#[tokio::test]
async fn list_filters_sorting_columns_and_paging() {
    let s = site(120, loopback(), None).await;
    let inactive = saas_count(&s, "active=false").await;
    assert!(inactive > 0 && inactive < 120);
    let page = ok(
        &s,
        &format!("/saas-users?edited=1&filter={}", enc("active=false")),
    )
    .await;
    assert!(
        page.contains(&format!("of {inactive}</p>"))
            || page.contains(&format!("–{inactive} of {inactive}")),
        "{page}"
    );
    // The same language as the CLI, including `or empty` and relative dates.
    let never = ok(
        &s,
        &format!(
            "/saas-users?edited=1&filter={}",
            enc("last_activity_at<90d ago or empty")
        ),
    )
    .await;
    assert!(
        never.contains("of 120"),
        "never-active accounts match `or empty`"
    );
    let none = ok(
        &s,
        &format!(
            "/saas-users?edited=1&filter={}",
            enc("last_activity_at<90d ago")
        ),
    )
    .await;
    assert!(none.contains("no rows"));
    // A bad filter says why and keeps the form.
    let bad = send(
        &s,
        get(&format!("/saas-users?edited=1&filter={}", enc("nosuch=1"))),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body
            .contains("unknown SaaS user field &#39;nosuch&#39;"),
        "{}",
        bad.body
    );
    let bad = send(
        &s,
        get(&format!("/saas-users?edited=1&filter={}", enc("active"))),
    )
    .await;
    assert!(bad.body.contains("has no comparison"), "{}", bad.body);
    // Columns.
    let cols = ok(&s, "/saas-users?edited=1&col=username&col=user_type").await;
    let head = &cols[cols.find("<thead>").unwrap()..cols.find("</thead>").unwrap()];
    assert_eq!(head.matches("<th>").count(), 2, "{head}");
    assert!(head.contains(">username</a>") && head.contains(">user_type</a>"));
    // Paging: 120 rows, 25 a page.
    let p5 = ok(&s, "/saas-users?edited=1&per=25&page=5&col=external_id").await;
    assert!(p5.contains("rows 101–120 of 120"), "{p5}");
    assert!(p5.contains(r#"rel="prev""#) && !p5.contains(r#"rel="next""#));
    let p1 = ok(&s, "/saas-users?edited=1&per=25&col=external_id").await;
    assert!(p1.contains(r#"rel="next""#) && !p1.contains(r#"rel="prev""#));
    // Sorting: descending username puts the greatest first, as the store does.
    let want = s
        .store
        .list_saas_users(&ListQuery {
            columns: Some(vec!["username".into()]),
            sort: vec![("username".into(), true)],
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()[0]["username"]
        .as_str()
        .unwrap()
        .to_owned();
    let sorted = ok(&s, "/saas-users?edited=1&sort=-username&col=username").await;
    let first_row = &sorted[sorted.find("<tbody>").unwrap()..];
    assert!(
        first_row[..200].contains(&want),
        "{want} first:\n{first_row}"
    );
    assert!(sorted.contains("username</a> ▼"));
    // People list with the app filter.
    let people = ok(&s, "/users?edited=1&app=miro").await;
    assert!(people.contains("of 120"), "{people}");
}

#[tokio::test]
async fn views_saved_on_the_page_are_the_cli_views() {
    let s = site(40, loopback(), None).await;
    let csrf = s.state.csrf_token().to_owned();
    let form = format!(
        "csrf={csrf}&target=saas_users&name={}&col=username&col=active&filter={}&sort=-username&app=Miro",
        enc("Deactivated Miro"),
        enc("active=false")
    );
    let r = send(&s, post("/views", &form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let views = s.store.list_views().await.unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].target, ViewTarget::SaasUsers);
    // The stored object is a ListQuery, as `rollcall views save` writes it.
    let q: ListQuery = serde_json::from_value(views[0].definition.clone()).unwrap();
    assert_eq!(
        q.columns.as_deref(),
        Some(&["username".to_string(), "active".to_string()][..])
    );
    assert_eq!(q.sort, vec![("username".to_string(), true)]);
    assert_eq!(q.app.as_deref(), Some("Miro"));
    let inactive = saas_count(&s, "active=false").await;
    let page = ok(&s, &format!("/saas-users?view={}", enc("Deactivated Miro"))).await;
    assert!(page.contains(&format!("of {inactive}</p>")), "{page}");
    assert!(page.contains("view “Deactivated Miro”"));
    // A view saved by the CLI's code path (the store) opens on the page too.
    s.store
        .put_view(
            "people",
            ViewTarget::Users,
            &serde_json::to_value(ListQuery {
                columns: Some(vec!["username".into()]),
                ..Default::default()
            })
            .unwrap(),
        )
        .await
        .unwrap();
    let people = ok(&s, "/users?view=people").await;
    assert!(people.contains("of 40"));
    // Opening a users view on the SaaS page goes to the right page.
    let r = send(&s, get("/saas-users?view=people")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/users?view=people");
    // Without the CSRF token nothing is saved.
    let r = send(&s, post("/views", "target=users&name=x")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(s.store.list_views().await.unwrap().len(), 2);
    // A view with an unknown field is refused.
    let r = send(
        &s,
        post(
            "/views",
            &format!("csrf={csrf}&target=users&name=bad&col=nosuch"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("unknown user field"));
}

async fn wait_for_job(s: &Site, id: u64) -> JobState {
    for _ in 0..300 {
        let job = s.state.jobs().get(id).expect("the job exists");
        let state = job.state();
        if state != JobState::Running {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish in 15 s");
}

#[tokio::test]
async fn run_needs_csrf_then_runs_to_the_end_with_its_error_log() {
    let s = site(30, loopback(), None).await;
    for form in ["", "csrf=", "csrf=0000", "csrf=abc&run="] {
        let r = send(&s, post("/integrations/Miro%20Users/run", form)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{form}");
        assert!(r.body.contains("security token"));
    }
    assert!(s.state.jobs().get(1).is_none(), "nothing was started");
    // A record the connector cannot read shows up in the run's error log.
    let mut broken = s.server.handle().users()[0].clone();
    broken["userName"] = serde_json::json!(["not", "a", "string"]);
    let id = broken["id"].as_str().unwrap().to_owned();
    s.server.handle().replace_user(&id, broken);
    s.server.handle().add_generated_users(5);
    let csrf = s.state.csrf_token().to_owned();
    let r = send(
        &s,
        post("/integrations/Miro%20Users/run", &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers[header::LOCATION], "/jobs/1");
    let state = wait_for_job(&s, 1).await;
    let JobState::Completed {
        run_id,
        counts,
        errors,
        ..
    } = state
    else {
        panic!("the run did not complete: {state:?}");
    };
    assert_eq!(counts.fetched, 35);
    assert_eq!(counts.created, 5);
    assert_eq!(errors, 1);
    let job = ok(&s, "/jobs/1").await;
    assert!(job.contains(r#"data-state="completed""#), "{job}");
    assert!(
        !job.contains("http-equiv=\"refresh\""),
        "a finished job stops refreshing"
    );
    let log = ok(&s, &format!("/runs/{run_id}/errors")).await;
    assert!(log.contains(&id), "{log}");
    let csv = send(&s, get(&format!("/runs/{run_id}/errors.csv"))).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let mut lines = csv.body.lines();
    assert_eq!(lines.next(), Some("run,record,stage,reason"));
    let line = lines.next().unwrap();
    assert!(
        line.starts_with(&format!("{run_id},{id},extract,")),
        "{line}"
    );
    // The tile now shows the new run.
    let tiles = ok(&s, "/integrations").await;
    assert!(tiles.contains(&format!("#{run_id}")));
    assert!(tiles.contains(r#"<dd class="fetched">35</dd>"#), "{tiles}");
    // An unknown integration is refused without starting anything.
    let r = send(&s, post("/integrations/Nope/run", &format!("csrf={csrf}"))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(s.state.jobs().get(2).is_none());
    // A run that fails says why on its page.
    s.server
        .handle()
        .push_fault(rollcall_testserver::Fault::scim_error(
            rollcall_testserver::Match::Any,
            usize::MAX,
            401,
            None,
            "bad token",
        ));
    let r = send(
        &s,
        post("/integrations/Miro%20Users/run", &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(r.headers[header::LOCATION], "/jobs/2");
    let state = wait_for_job(&s, 2).await;
    assert!(
        matches!(
            state,
            JobState::Failed {
                run_id: Some(_),
                ..
            }
        ),
        "{state:?}"
    );
    let page = ok(&s, "/jobs/2").await;
    assert!(page.contains(r#"data-state="failed""#), "{page}");
    assert!(!page.contains(TOKEN));
}

#[tokio::test]
async fn pages_escape_what_they_show_and_never_show_secrets() {
    let s = site(10, loopback(), None).await;
    s.store
        .import_users(
            [NewUser {
                username: "<script>alert(1)</script>".into(),
                email: Some("x\"onmouseover=\"alert(2)@example.com".into()),
                first_name: None,
                last_name: None,
                role: None,
                custom: Default::default(),
                source: "test".into(),
            }],
            UserKey::Username,
        )
        .await
        .unwrap();
    let page = ok(&s, "/users?edited=1&col=username&col=email").await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{page}"
    );
    assert!(!page.contains("x\"onmouseover"));
    let q = ok(
        &s,
        &format!(
            "/users?edited=1&filter={}",
            enc("username=\"><script>x</script>")
        ),
    )
    .await;
    assert!(!q.contains("<script>x"));
    for path in [
        "/",
        "/integrations",
        "/users",
        "/saas-users",
        "/reports",
        "/jobs/1",
    ] {
        let r = send(&s, get(path)).await;
        assert!(!r.body.contains(TOKEN), "{path} shows the SCIM token");
        let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
    }
}

#[tokio::test]
async fn loopback_pages_answer_only_to_loopback_hosts() {
    let s = site(5, loopback(), None).await;
    for host in [
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
        "LOCALHOST",
    ] {
        let r = send(
            &s,
            Request::get("/")
                .header(header::HOST, host)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{host}");
    }
    for host in ["evil.example", "evil.example:8080", "10.1.2.3:8080"] {
        let r = send(
            &s,
            Request::get("/")
                .header(header::HOST, host)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    let r = send(&s, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST, "no Host header");
}

#[tokio::test]
async fn other_addresses_need_the_token_on_every_request() {
    // No token: refused before anything listens.
    let open: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let s = site(5, loopback(), None).await;
    let e = match rollcall_serve::AppState::new(
        s.store.clone(),
        std::sync::Arc::new(NoRuns),
        open,
        None,
    ) {
        Err(e) => e,
        Ok(_) => panic!("a non-loopback address without a token was accepted"),
    };
    assert!(e.contains("ROLLCALL_UI_TOKEN"), "{e}");

    let token = "s3cret-ui-token-0123456789";
    let s = site(5, open, Some(UiToken::new(token.into()).unwrap())).await;
    let any_host = |path: &str| {
        Request::get(path)
            .header(header::HOST, "rollcall.internal:8080")
            .body(Body::empty())
            .unwrap()
    };
    for path in [
        "/",
        "/users",
        "/style.css",
        "/reports",
        "/runs/1/errors.csv",
    ] {
        let r = send(&s, any_host(path)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(!r.body.contains(token));
    }
    let wrong = send(
        &s,
        Request::get("/")
            .header(header::HOST, "x")
            .header(header::AUTHORIZATION, "Bearer s3cret-ui-token-012345678X")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let bearer = send(
        &s,
        Request::get("/users")
            .header(header::HOST, "x")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(bearer.status, StatusCode::OK);
    // First visit with ?token=: a cookie, and the token leaves the address.
    let first = send(&s, any_host(&format!("/users?token={token}&per=25"))).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(first.headers[header::LOCATION], "/users?per=25");
    let cookie = first.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let again = send(
        &s,
        Request::get("/users?per=25")
            .header(header::HOST, "x")
            .header(header::COOKIE, format!("other=1; {pair}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(!again.body.contains(token), "the token is never rendered");
    // POSTs need the token too, and the CSRF token on top.
    let run = Request::post("/integrations/Miro%20Users/run")
        .header(header::HOST, "x")
        .header(header::COOKIE, pair.clone())
        .body(Body::from("csrf=nope"))
        .unwrap();
    assert_eq!(send(&s, run).await.status, StatusCode::FORBIDDEN);
    let run = Request::post("/integrations/Miro%20Users/run")
        .header(header::HOST, "x")
        .body(Body::from(format!("csrf={}", s.state.csrf_token())))
        .unwrap();
    assert_eq!(send(&s, run).await.status, StatusCode::UNAUTHORIZED);
    // A token in the query of a POST is not accepted.
    let run = Request::post(format!("/integrations/Miro%20Users/run?token={token}"))
        .header(header::HOST, "x")
        .body(Body::from(format!("csrf={}", s.state.csrf_token())))
        .unwrap();
    assert_eq!(send(&s, run).await.status, StatusCode::UNAUTHORIZED);
}

struct NoRuns;

impl rollcall_serve::Launcher for NoRuns {
    fn prepare<'a>(
        &'a self,
        _name: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<rollcall_serve::PreparedRun, String>> {
        Box::pin(async { Err("no runs here".to_string()) })
    }
}

async fn apply_example(s: &Site, file: &str) -> rollcall_serve::report::Report {
    let path = workspace_root().join("examples/reports").join(file);
    let report =
        rollcall_serve::report::load_report(rollcall_source::SourceFile::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}", e.render()));
    s.store
        .put_report(&report.name, &serde_json::to_value(&report).unwrap())
        .await
        .unwrap();
    report
}

#[tokio::test]
async fn reports_run_from_the_page_in_every_format() {
    let s = site(50, loopback(), None).await;
    apply_example(&s, "inactive-miro-users.yaml").await;
    apply_example(&s, "licences-by-app.yaml").await;
    let list = ok(&s, "/reports").await;
    assert!(list.contains("Inactive Miro users over 90 days"));
    assert!(list.contains("Licences by app and user type"));
    let inactive = saas_count(&s, "active=true").await;
    let html = send(&s, get("/reports/inactive-miro-users")).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(
        html.body.contains(&format!("{inactive} row(s)")),
        "{}",
        html.body
    );
    assert!(html.body.contains("<style>") && html.body.contains("<svg"));
    assert!(
        !html.body.contains("stylesheet"),
        "self-contained: no linked files"
    );
    let csv = send(&s, get("/reports/licences-by-app?format=csv")).await;
    assert!(
        csv.body.starts_with("app,instance,user_type,count\r\n"),
        "{}",
        csv.body
    );
    let total: u64 = csv
        .body
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, inactive, "every active account is counted once");
    let json = send(&s, get("/reports/licences-by-app?format=json")).await;
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["total"], inactive);
    let md = send(&s, get("/reports/inactive-miro-users?format=md")).await;
    assert!(md.body.starts_with("# Inactive Miro users over 90 days\n"));
    assert_eq!(
        send(&s, get("/reports/x?format=pdf")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&s, get("/reports/nope")).await.status,
        StatusCode::NOT_FOUND
    );
}

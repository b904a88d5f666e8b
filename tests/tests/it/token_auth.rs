//! `auth.token_endpoint` (OAuth 2 client credentials and the like) against the test
//! server's token endpoint, through the shipped Zoom manifest: one token for many
//! (concurrent) pages, a new one before expiry and after a 401 (one for all the
//! requests that were refused together), a plain error for a bad client secret, the
//! form body variant, and no token in anything shown or recorded.

use std::sync::Arc;
use std::time::Duration;

use rollcall_core::{Connector, FetchError, FetchOptions, Inputs, Origin, ProvidedInputs};
use rollcall_tests::{Outcome, load_text, run, server_with};
use rollcall_testserver::{Fault, Match, ScimServer, ServerConfig};

const SECRET: &str = "test-client-secret";

/// The shipped Zoom manifest with fast retries, no client rate limit and this paging.
fn zoom_text(page_size: u32, concurrency: u32) -> String {
    let text = rollcall_connectors::builtin("zoom").unwrap().text;
    let replace = |t: String, from: &str, to: &str| {
        assert_eq!(
            t.matches(from).count(),
            1,
            "zoom.yaml should contain `{from}`"
        );
        t.replacen(from, to, 1)
    };
    let mut t = text.to_string();
    t = replace(t, "  rate_limit: { requests: 1, per: 1s }\n", "");
    t = replace(t, "initial_backoff: 1s", "initial_backoff: 10ms");
    t = replace(t, "max_backoff: 30s", "max_backoff: 40ms");
    replace(
        t,
        "scim: { page_size: 100, concurrency: 1 }",
        &format!("scim: {{ page_size: {page_size}, concurrency: {concurrency} }}"),
    )
}

fn zoom(page_size: u32, concurrency: u32) -> Arc<Connector> {
    load_text(&zoom_text(page_size, concurrency))
}

fn zoom_inputs(c: &Connector, srv: &ScimServer, secret: &str) -> Inputs {
    let mut p = ProvidedInputs::new();
    let o = || Origin::Other("test".into());
    p.provide("base_url", srv.scim_base_url(), o());
    p.provide("token_url", format!("{}/oauth/token", srv.origin()), o());
    p.provide("account_id", "acct-7", o());
    p.provide("client_id", "test-client-id", o());
    p.provide("client_secret", secret, o());
    Inputs::resolve(c, p).unwrap_or_else(|e| panic!("inputs refused: {e:?}"))
}

/// Fetches the users through `c` from `srv`, with this client secret.
async fn fetch_zoom(c: Arc<Connector>, srv: &ScimServer, secret: &str) -> Outcome {
    let i = zoom_inputs(&c, srv, secret);
    run(c, &i, FetchOptions::default()).await
}

/// A server whose every token authorizes `uses` requests, then is refused (401).
fn token_uses(uses: usize) -> ServerConfig {
    ServerConfig {
        oauth_token_uses: Some(uses),
        ..ServerConfig::default()
    }
}

async fn start(users: usize, config: ServerConfig) -> ScimServer {
    server_with(ServerConfig { users, ..config }).await
}

#[tokio::test]
async fn one_token_serves_every_page_even_concurrent_ones() {
    let srv = start(300, ServerConfig::default()).await;
    let out = fetch_zoom(zoom(20, 4), &srv, SECRET).await;
    assert_eq!(out.summary().records, 300);
    let h = srv.handle();
    assert_eq!(h.tokens_issued(), 1, "one token for every page");
    let token = h.issued_tokens()[0].clone();
    let requests = h.requests();
    let (token_requests, pages): (Vec<_>, Vec<_>) =
        requests.iter().partition(|r| r.path == "/oauth/token");
    assert_eq!(token_requests.len(), 1);
    let t = &token_requests[0];
    assert_eq!(t.method, "POST");
    assert_eq!(
        t.query.as_deref(),
        Some("grant_type=account_credentials&account_id=acct-7")
    );
    // HTTP basic: base64("test-client-id:test-client-secret").
    assert_eq!(
        t.authorization.as_deref(),
        Some("Basic dGVzdC1jbGllbnQtaWQ6dGVzdC1jbGllbnQtc2VjcmV0")
    );
    assert!(pages.len() >= 15, "{} pages", pages.len());
    for p in &pages {
        assert_eq!(
            p.authorization.as_deref(),
            Some(format!("Bearer {token}").as_str())
        );
    }
    let shown = out.recorder.all_text();
    assert!(shown.contains("POST http://127.0.0.1"), "{shown}");
    assert!(!shown.contains(&token), "{shown}");
    assert!(!shown.contains(SECRET));
}

#[tokio::test]
async fn a_token_is_replaced_before_it_expires() {
    // Tokens live 2 s; with the default 60 s margin rollcall keeps one for half its life.
    let srv = start(
        30,
        ServerConfig {
            oauth_expires_in: 2,
            ..ServerConfig::default()
        },
    )
    .await;
    srv.handle().push_fault(Fault::delay(
        Match::ListUsers,
        4,
        Duration::from_millis(450),
    ));
    let out = fetch_zoom(zoom(10, 1), &srv, SECRET).await;
    assert_eq!(out.summary().records, 30);
    let h = srv.handle();
    assert!(
        h.tokens_issued() >= 2,
        "{} tokens for pages over {} s",
        h.tokens_issued(),
        4.0 * 0.45
    );
    // The server never refused a token: each was replaced before it expired.
    let tokens = h.issued_tokens();
    let pages: Vec<_> = h
        .requests()
        .into_iter()
        .filter(|r| r.path != "/oauth/token")
        .collect();
    assert_eq!(pages.len(), 4, "no page was sent twice");
    let last = pages.last().unwrap().authorization.clone().unwrap();
    assert_ne!(last, format!("Bearer {}", tokens[0]));
}

#[tokio::test]
async fn a_refused_token_is_replaced_once_and_the_page_sent_again() {
    // Each token authorizes two requests, then the API answers 401.
    let srv = start(30, token_uses(2)).await;
    let out = fetch_zoom(zoom(10, 1), &srv, SECRET).await;
    assert_eq!(out.summary().records, 30);
    assert_eq!(srv.handle().tokens_issued(), 2);
}

#[tokio::test]
async fn requests_refused_together_share_one_new_token() {
    let srv = start(100, ServerConfig::default()).await;
    let h = srv.handle();
    h.push_fault(Fault::delay(
        Match::ListUsers,
        100,
        Duration::from_millis(200),
    ));
    let c = zoom(10, 4);
    let i = zoom_inputs(&c, &srv, SECRET);
    let fetch = tokio::spawn(async move { run(c, &i, FetchOptions::default()).await });
    // Once the first page is out, every token so far expires: the pages in flight are
    // all refused with the same token.
    while h.list_pages_served() < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    h.expire_tokens();
    let out = fetch.await.unwrap();
    assert_eq!(out.summary().records, 100);
    assert_eq!(
        h.tokens_issued(),
        2,
        "one new token, not one per refused page"
    );
}

#[tokio::test]
async fn a_token_that_is_refused_twice_fails_with_a_401() {
    let srv = start(5, token_uses(0)).await;
    let out = fetch_zoom(zoom(10, 1), &srv, SECRET).await;
    assert!(
        matches!(out.error(), FetchError::Unauthorized { .. }),
        "{}",
        out.error()
    );
    assert_eq!(
        srv.handle().tokens_issued(),
        2,
        "one retry with a new token"
    );
}

#[tokio::test]
async fn a_bad_client_secret_is_a_clear_error_before_any_api_request() {
    let srv = start(5, ServerConfig::default()).await;
    let wrong = "not-the-client-secret-9f8e";
    let out = fetch_zoom(zoom(10, 1), &srv, wrong).await;
    let e = out.error();
    assert!(
        matches!(e, FetchError::TokenRefused { status: 401, .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    for want in [
        "the token endpoint refused to issue an access token (HTTP 401 from POST http://127.0.0.1:",
        "/oauth/token?grant_type=account_credentials&account_id=acct-7)",
        ": Invalid client_id or client_secret",
        "check the client credentials in the secret inputs (`client_secret`)",
    ] {
        assert!(msg.contains(want), "missing `{want}` in: {msg}");
    }
    assert!(!msg.contains(wrong));
    assert!(!out.recorder.all_text().contains(wrong));
    let h = srv.handle();
    assert_eq!(h.tokens_issued(), 0);
    assert!(
        h.requests().iter().all(|r| r.path == "/oauth/token"),
        "no API request without a token"
    );
    assert_eq!(
        h.request_count(),
        1,
        "a refused token request is not retried"
    );
}

#[tokio::test]
async fn the_client_credentials_may_travel_in_a_form_body() {
    let srv = start(5, ServerConfig::default()).await;
    let text = zoom_text(10, 1);
    let from = text
        .find("  token_endpoint:\n")
        .expect("zoom.yaml has a token_endpoint");
    let to = text[from..].find("\nstreams:").unwrap() + from;
    let form = r#"  token_endpoint:
    url: "{{token_url}}"
    form:
      grant_type: client_credentials
      client_id: "{{client_id}}"
      client_secret: "{{client_secret}}"
      account: "{{account_id}}"
"#;
    let text = format!("{}{form}{}", &text[..from], &text[to..]);
    let out = fetch_zoom(load_text(&text), &srv, SECRET).await;
    assert_eq!(out.summary().records, 5);
    let h = srv.handle();
    let t = h
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth/token")
        .unwrap();
    assert_eq!(
        t.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        t.body,
        "grant_type=client_credentials&client_id=test-client-id&client_secret=test-client-secret&account=acct-7"
    );
    assert_eq!(t.authorization, None);
}

/// `rollcall ARGS` with the Zoom inputs for `live` and this client secret.
fn zoom_cli(live: &crate::cli::Live, args: &[&str], secret: &str) -> crate::cli::Ran {
    crate::cli::ran(
        crate::cli::rollcall()
            .env("RC_ZOOM_SECRET", secret)
            .args(args)
            .arg("--set")
            .arg(format!("base_url={}", live.base()))
            .arg("--set")
            .arg(format!("token_url={}/oauth/token", live.server.origin()))
            .args([
                "--set",
                "account_id=acct-7",
                "--set",
                "client_id=test-client-id",
            ])
            .args(["--secret-env", "client_secret=RC_ZOOM_SECRET"]),
    )
}

#[test]
fn the_fetched_token_is_never_shown_nor_recorded_and_the_cassette_replays() {
    let live = crate::cli::Live::new(7);
    let tmp = tempfile::tempdir().unwrap();
    let cassette = tmp.path().join("zoom.cassette.json");
    let path = cassette.to_str().unwrap();
    let r = zoom_cli(
        &live,
        &["fetch", "zoom", "--explain", "--record", path],
        SECRET,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 7);
    assert!(
        r.stderr
            .contains("/oauth/token?grant_type=account_credentials&account_id=acct-7"),
        "{}",
        r.stderr
    );
    let tokens = live.server.handle().issued_tokens();
    assert_eq!(tokens.len(), 1);
    let text = std::fs::read_to_string(&cassette).unwrap();
    for (what, out) in [
        ("stdout", &r.stdout),
        ("stderr", &r.stderr),
        ("cassette", &text),
    ] {
        assert!(!out.contains(&tokens[0]), "the token in {what}: {out}");
        assert!(!out.contains(SECRET), "the client secret in {what}: {out}");
    }
    assert!(text.contains("\"access_token\": \"***\""), "{text}");

    drop(live);
    let replay = |extra: &[&str]| {
        crate::cli::ran(
            crate::cli::rollcall()
                .args(["test", "zoom", "--cassette", path])
                .args(extra),
        )
    };
    let r = replay(&["--update"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = replay(&[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .starts_with("ok: 7 records from 2 replayed requests"),
        "{}",
        r.stdout
    );
}

#[test]
fn check_says_plainly_when_the_client_credentials_are_wrong() {
    let live = crate::cli::Live::new(3);
    let r = zoom_cli(&live, &["check", "zoom"], SECRET);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with("ok: `zoom` reads `users`"),
        "{}",
        r.stdout
    );
    let r = zoom_cli(&live, &["check", "zoom"], "wrong-secret-4471");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with("bad client credentials: "),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("wrong-secret-4471"));
}

#[tokio::test]
async fn actions_share_the_token_of_the_runner() {
    use rollcall_core::action::{ActionCall, ActionOutcome, ActionRunner};
    let srv = start(3, ServerConfig::default()).await;
    let c = zoom(10, 1);
    let i = zoom_inputs(&c, &srv, SECRET);
    let runner = ActionRunner::new(c, &i, Arc::new(rollcall_core::observe::Silent)).unwrap();
    for id in srv.handle().user_ids() {
        let out = runner
            .call(
                "deactivate_user",
                &ActionCall::new().param("id", id.clone()),
            )
            .await
            .unwrap();
        assert!(
            matches!(out, ActionOutcome::Done { status: 200, .. }),
            "{out:?}"
        );
        assert_eq!(srv.handle().user(&id).unwrap()["active"], false);
    }
    let out = runner
        .call(
            "deactivate_user",
            &ActionCall::new().param("id", "no-such-user"),
        )
        .await
        .unwrap();
    assert!(
        matches!(out, ActionOutcome::NotFound { status: 404, .. }),
        "{out:?}"
    );
    assert_eq!(srv.handle().tokens_issued(), 1, "one token for every call");
    let plan = runner
        .plan("get_user", &ActionCall::new().param("id", "x"))
        .unwrap();
    assert!(
        plan.headers
            .iter()
            .any(|(k, v)| k.contains("token endpoint") && v == "***"),
        "{plan:?}"
    );
}

#[test]
fn explain_shows_where_the_token_comes_from() {
    let r = crate::cli::ran(crate::cli::rollcall().args(["explain", "zoom"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(
            "auth           Authorization: Bearer {{access_token}}, the token from POST {{token_url}}?grant_type=account_credentials&account_id={{urlencode account_id}} ($.access_token), kept until 60s before it expires"
        ),
        "{}",
        r.stdout
    );
}

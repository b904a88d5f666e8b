//! Failures on the wire: retried statuses, Retry-After, statuses that are never
//! retried, HTML and non-JSON bodies, timeouts and refused connections.

use std::time::Duration;

use rollcall_core::FetchError;
use rollcall_tests::{Outcome, TOKEN, TestManifest, inputs, run, run_manifest, server};
use rollcall_testserver::{Fault, FaultBody, FaultKind, Match, ScimServer};

/// How many list requests (`.../Users`) the server has seen.
fn list_requests(srv: &ScimServer) -> usize {
    srv.handle()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/Users"))
        .count()
}

/// A list answer with `status` and a `body` of this kind, for the next `times` list requests.
fn status_fault(status: u16, times: usize, body: FaultBody) -> Fault {
    Fault {
        matcher: Match::ListUsers,
        times,
        kind: FaultKind::Status {
            status,
            retry_after: None,
            body,
        },
    }
}

/// A SCIM error answer with `status` and `detail`, for the next `times` list requests.
fn list_error(status: u16, times: usize, detail: &str) -> Fault {
    Fault::scim_error(Match::ListUsers, times, status, None, detail)
}

/// The test manifest with `attempts` tries per request.
fn with_attempts(attempts: u32) -> TestManifest {
    TestManifest {
        attempts,
        ..TestManifest::default()
    }
}

/// Starts a server with `users` users, queues `faults` on it and runs `manifest` against it;
/// the server comes back too, for its request log.
async fn run_with_faults(
    users: usize,
    faults: impl IntoIterator<Item = Fault>,
    manifest: &TestManifest,
) -> (ScimServer, Outcome) {
    let srv = server(users).await;
    for fault in faults {
        srv.handle().push_fault(fault);
    }
    let out = run_manifest(manifest, &srv.scim_base_url()).await;
    (srv, out)
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_retried() {
    let too_many = Fault::too_many_requests(Match::ListUsers, 1, Some("1"));
    let (srv, out) = run_with_faults(50, [too_many], &TestManifest::default()).await;
    assert_eq!(out.records.len(), 50);
    assert!(out.summary().complete);
    assert_eq!(list_requests(&srv), 2, "one 429, then the page");
    let events = out.recorder.requests.lock().unwrap().clone();
    let retry = events
        .iter()
        .find(|e| e.status == Some(429))
        .expect("the 429 attempt was observed");
    let note = retry.note.as_deref().expect("a retried attempt has a note");
    assert!(note.contains("HTTP 429"), "{note}");
    assert!(note.contains("Rate limit exceeded"), "{note}");
    assert!(note.contains("Retry-After"), "{note}");
    assert_eq!(retry.attempt, 1);
    assert!(
        events
            .iter()
            .any(|e| e.status == Some(200) && e.attempt == 2 && e.note.is_none())
    );
}

#[tokio::test]
async fn a_429_without_retry_after_backs_off_and_retries() {
    let too_many = Fault::too_many_requests(Match::ListUsers, 2, None);
    let (srv, out) = run_with_faults(30, [too_many], &TestManifest::default()).await;
    assert_eq!(out.records.len(), 30);
    assert_eq!(list_requests(&srv), 3);
}

#[tokio::test]
async fn server_errors_then_success() {
    let faults = [
        list_error(500, 1, "Internal error"),
        status_fault(502, 1, FaultBody::Html),
        status_fault(503, 1, FaultBody::Empty),
    ];
    let (srv, out) = run_with_faults(50, faults, &TestManifest::default()).await;
    assert_eq!(out.records.len(), 50);
    assert!(out.summary().complete);
    assert_eq!(list_requests(&srv), 4);
    let notes = out.recorder.notes();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes[0].contains("HTTP 500: Internal error"), "{notes:?}");
    assert!(
        notes[1].contains("HTTP 502") && notes[1].contains("\"502 Bad Gateway\""),
        "{notes:?}"
    );
    assert!(notes[2].contains("HTTP 503"), "{notes:?}");
    assert!(notes.iter().all(|n| n.contains("retrying")), "{notes:?}");
}

#[tokio::test]
async fn server_errors_on_a_later_page_of_a_concurrent_read() {
    // Let the first page through, then fail the next three requests once each.
    let faults = [
        Fault::delay(Match::ListUsers, 1, Duration::ZERO),
        list_error(500, 3, "flaky"),
    ];
    let m = TestManifest {
        page_size: 40,
        concurrency: 4,
        ..TestManifest::default()
    };
    let (srv, out) = run_with_faults(300, faults, &m).await;
    rollcall_tests::assert_same_users(&out.ids(), &srv.handle().user_ids());
    assert!(out.summary().complete);
}

#[tokio::test]
async fn a_retry_after_above_the_cap_fails_at_once_naming_it() {
    let too_many = Fault::too_many_requests(Match::ListUsers, 1, Some("120"));
    let (srv, out) = run_with_faults(10, [too_many], &TestManifest::default()).await;
    let err = out.error();
    assert!(
        matches!(err, FetchError::RetryAfterTooLong { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("HTTP 429"), "{msg}");
    assert!(msg.contains("120s"), "{msg}");
    assert!(msg.contains("60s"), "{msg}");
    assert!(msg.contains("max_retry_after"), "{msg}");
    assert_eq!(list_requests(&srv), 1, "no waiting, no second request");
}

#[tokio::test]
async fn a_retry_after_http_date_far_ahead_is_also_refused() {
    let when = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let too_many = Fault::too_many_requests(Match::ListUsers, 1, Some(&when));
    let (srv, out) = run_with_faults(10, [too_many], &TestManifest::default()).await;
    assert!(
        matches!(out.error(), FetchError::RetryAfterTooLong { .. }),
        "{:?}",
        out.error()
    );
    assert_eq!(list_requests(&srv), 1);
}

#[tokio::test]
async fn always_500_fails_after_the_attempts_with_the_last_failure() {
    let always_500 = list_error(500, 100, "Database unavailable");
    let (srv, out) = run_with_faults(10, [always_500], &with_attempts(3)).await;
    let err = out.error();
    assert!(
        matches!(err, FetchError::RetriesExhausted { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/Users?startIndex=1&count=200 failed 3 times; the last failure: HTTP 500: Database unavailable",
            srv.scim_base_url()
        )
    );
    assert_eq!(list_requests(&srv), 3);
    assert!(out.records.is_empty());
}

#[tokio::test]
async fn a_401_says_the_credentials_were_rejected_without_the_token() {
    let srv = server(10).await;
    let wrong = "wrong-Hq4Xk2Jm8Vt6Rp0Z";
    let c = TestManifest::default().load();
    let i = inputs(&c, &srv.scim_base_url(), wrong);
    let out = run(c, &i, Default::default()).await;
    let err = out.error();
    assert!(matches!(err, FetchError::Unauthorized { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("the API rejected the credentials (HTTP 401"),
        "{msg}"
    );
    assert!(msg.contains("`token`"), "names the secret input: {msg}");
    assert!(!msg.contains(wrong) && !msg.contains(TOKEN), "{msg}");
    assert!(!format!("{err:?}").contains(wrong));
    assert!(!out.recorder.all_text().contains(wrong));
    assert_eq!(list_requests(&srv), 1, "a 401 is never retried");
}

#[tokio::test]
async fn a_403_is_not_retried_and_says_why() {
    let forbidden = list_error(403, 5, "SCIM is disabled for this organization");
    let (srv, out) = run_with_faults(10, [forbidden], &TestManifest::default()).await;
    let err = out.error();
    assert!(matches!(err, FetchError::Forbidden { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 403") && msg.contains("SCIM is disabled for this organization"),
        "{msg}"
    );
    assert_eq!(list_requests(&srv), 1);
}

#[tokio::test]
async fn a_404_is_not_retried() {
    let not_found = list_error(404, 5, "Not found");
    let (srv, out) = run_with_faults(10, [not_found], &TestManifest::default()).await;
    let err = out.error();
    assert!(
        matches!(err, FetchError::Status { status: 404, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("HTTP 404 from GET") && err.to_string().contains("Not found"),
        "{err}"
    );
    assert_eq!(srv.handle().request_count(), 1, "exactly one request");
}

#[tokio::test]
async fn a_wrong_base_path_is_a_404_after_one_request() {
    let srv = server(10).await;
    let h = srv.handle();
    let out = run_manifest(
        &TestManifest::default(),
        &format!("{}/api/v2/nope", srv.origin()),
    )
    .await;
    assert!(
        matches!(out.error(), FetchError::Status { status: 404, .. }),
        "{:?}",
        out.error()
    );
    assert_eq!(h.request_count(), 1);
}

#[tokio::test]
async fn an_html_error_page_is_described_by_its_title() {
    let html = status_fault(502, 10, FaultBody::Html);
    let (srv, out) = run_with_faults(10, [html], &with_attempts(2)).await;
    let msg = out.error().to_string();
    assert!(
        msg.ends_with("failed 2 times; the last failure: HTTP 502: the server answered with an HTML page (\"502 Bad Gateway\"), not JSON"),
        "{msg}"
    );
    assert!(!msg.contains("<html>"), "{msg}");
    assert_eq!(list_requests(&srv), 2);
}

#[tokio::test]
async fn an_html_page_with_a_status_that_is_not_retried() {
    let html = status_fault(400, 1, FaultBody::Html);
    let (srv, out) = run_with_faults(10, [html], &TestManifest::default()).await;
    let err = out.error();
    assert!(
        matches!(err, FetchError::Status { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("(\"502 Bad Gateway\")"), "{err}");
    assert_eq!(list_requests(&srv), 1);
}

#[tokio::test]
async fn a_200_that_is_not_json_is_a_not_json_error() {
    let garbage = Fault {
        matcher: Match::ListUsers,
        times: 1,
        kind: FaultKind::Garbage,
    };
    let (srv, out) = run_with_faults(10, [garbage], &TestManifest::default()).await;
    let err = out.error();
    assert!(matches!(err, FetchError::NotJson { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("answered with a body that is not JSON"),
        "{msg}"
    );
    assert!(
        msg.contains("application/scim+json"),
        "names the content type: {msg}"
    );
    assert!(
        msg.contains("it starts with: {\"schemas\""),
        "shows the start of the body: {msg}"
    );
    assert_eq!(list_requests(&srv), 1);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried() {
    let slow = Fault::delay(Match::ListUsers, 1, Duration::from_millis(1500));
    let m = TestManifest {
        timeout: "300ms",
        ..TestManifest::default()
    };
    let (srv, out) = run_with_faults(20, [slow], &m).await;
    assert_eq!(out.records.len(), 20);
    assert_eq!(list_requests(&srv), 2);
    let notes = out.recorder.notes();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("timeout") && n.contains("300ms")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn always_slow_fails_with_a_timeout_error() {
    let slow = Fault::delay(Match::ListUsers, 5, Duration::from_millis(1500));
    let m = TestManifest {
        timeout: "300ms",
        attempts: 2,
        ..TestManifest::default()
    };
    let (srv, out) = run_with_faults(20, [slow], &m).await;
    let err = out.error();
    assert!(
        matches!(err, FetchError::RetriesExhausted { attempts: 2, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("failed 2 times"), "{msg}");
    assert!(
        msg.contains("no complete answer within 300ms (timeout)"),
        "{msg}"
    );
    assert_eq!(list_requests(&srv), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = run_manifest(&with_attempts(2), &format!("http://127.0.0.1:{port}/scim")).await;
    let msg = out.error().to_string();
    assert!(
        msg.contains("failed 2 times; the last failure: could not connect"),
        "{msg}"
    );
}

/// Fixed bug, kept as a regression test.
/// Where it was (core/src/http/mod.rs, `HttpEngine::send`, `if attempt == attempts { break; }`):
/// the last failed attempt of a retried request is never reported to the observer,
/// so `--explain` ("print each request") shows one request fewer than were made.
#[tokio::test]
async fn every_attempt_is_observed_including_the_last() {
    let always_500 = list_error(500, 100, "Database unavailable");
    let (srv, out) = run_with_faults(10, [always_500], &with_attempts(3)).await;
    assert!(matches!(
        out.error(),
        FetchError::RetriesExhausted { attempts: 3, .. }
    ));
    assert_eq!(list_requests(&srv), 3);
    let events = out.recorder.requests.lock().unwrap().clone();
    let attempts: Vec<u32> = events.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, [1, 2, 3], "three requests were made: {events:?}");
}

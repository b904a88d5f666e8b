//! Where credentials may go: redirects to another host are refused (and the token
//! never reaches it), same-origin redirects are followed, plain http only on loopback.

use std::sync::Arc;

use rollcall_core::FetchError;
use rollcall_core::fetch::{self, FetchOptions};
use rollcall_core::observe::Silent;
use rollcall_tests::{TOKEN, TestManifest, inputs, run_manifest, server};
use rollcall_testserver::{Fault, FaultKind, Match};

fn redirect(location: String, status: u16, times: usize) -> Fault {
    Fault {
        matcher: Match::ListUsers,
        times,
        kind: FaultKind::Redirect { location, status },
    }
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused() {
    let srv = server(10).await;
    let h = srv.handle();
    h.push_fault(redirect(
        "http://127.0.0.2:1/api/v1/scim/Users?startIndex=1&count=200".into(),
        302,
        1,
    ));
    let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
    let err = out.error();
    assert!(
        matches!(err, FetchError::RedirectToOtherHost { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("was redirected to http://127.0.0.2:1/api/v1/scim/Users"),
        "{msg}"
    );
    assert!(
        msg.contains("never sends credentials to another host"),
        "{msg}"
    );
    assert_eq!(h.request_count(), 1, "not retried");
}

#[tokio::test]
async fn the_token_never_reaches_the_host_a_redirect_points_to() {
    let srv = server(10).await;
    let elsewhere = server(10).await;
    for status in [301, 302, 303, 307, 308] {
        srv.handle().push_fault(redirect(
            format!("{}/Users", elsewhere.scim_base_url()),
            status,
            1,
        ));
        let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
        assert!(
            matches!(out.error(), FetchError::RedirectToOtherHost { .. }),
            "{status}: {:?}",
            out.error()
        );
    }
    assert_eq!(
        elsewhere.handle().request_count(),
        0,
        "nothing was sent to the other host"
    );
    for r in srv.handle().requests() {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

#[tokio::test]
async fn a_same_origin_redirect_is_followed_with_the_credentials() {
    let srv = server(25).await;
    let h = srv.handle();
    let target = format!("{}/Users?startIndex=1&count=200", srv.scim_base_url());
    h.push_fault(redirect(target, 307, 1));
    let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
    assert_eq!(out.records.len(), 25);
    let reqs = h.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs.iter()
            .all(|r| r.authorization.as_deref() == Some(format!("Bearer {TOKEN}").as_str()))
    );
}

#[tokio::test]
async fn a_relative_redirect_is_followed() {
    let srv = server(25).await;
    let h = srv.handle();
    h.push_fault(redirect(
        "/api/v1/scim/Users?startIndex=1&count=200".into(),
        302,
        1,
    ));
    let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
    assert_eq!(out.records.len(), 25);
    assert_eq!(h.request_count(), 2);
}

#[tokio::test]
async fn a_redirect_to_another_port_of_the_same_host_is_refused() {
    let srv = server(5).await;
    let other = server(5).await;
    let location = other.scim_base_url().replace("127.0.0.1", "localhost");
    srv.handle()
        .push_fault(redirect(format!("{}/Users", other.scim_base_url()), 302, 1));
    srv.handle()
        .push_fault(redirect(format!("{location}/Users"), 302, 1));
    for _ in 0..2 {
        let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
        assert!(
            matches!(out.error(), FetchError::RedirectToOtherHost { .. }),
            "{:?}",
            out.error()
        );
    }
    assert_eq!(other.handle().request_count(), 0);
}

#[tokio::test]
async fn four_redirects_in_a_row_are_followed() {
    let srv = server(5).await;
    let target = format!("{}/Users?startIndex=1&count=200", srv.scim_base_url());
    srv.handle().push_fault(redirect(target, 302, 4));
    let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
    assert_eq!(out.records.len(), 5);
}

/// Fixed bug, kept as a regression test.
/// Where it was (core/src/http/mod.rs, `for _hop in 0..5` in `HttpEngine::attempt`): the
/// error says "redirected more than 5 times", but the fifth redirect already fails.
#[tokio::test]
async fn five_redirects_are_not_more_than_five() {
    let srv = server(5).await;
    let target = format!("{}/Users?startIndex=1&count=200", srv.scim_base_url());
    srv.handle().push_fault(redirect(target, 302, 5));
    let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
    if let Err(e) = &out.result {
        panic!("five redirects should be followed, as the message promises up to five: {e}");
    }
    assert_eq!(out.records.len(), 5);
}

#[tokio::test]
async fn a_redirect_loop_ends_with_an_error() {
    let srv = server(5).await;
    let h = srv.handle();
    let target = format!("{}/Users?startIndex=1&count=200", srv.scim_base_url());
    h.push_fault(redirect(target, 302, 100));
    let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
    let msg = out.error().to_string();
    assert!(msg.contains("was redirected more than 5 times"), "{msg}");
    assert!(h.request_count() <= 6, "{} requests", h.request_count());
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused_before_any_request() {
    let c = TestManifest::default().load();
    for base in [
        "http://miro.com/api/v1/scim",
        "http://10.0.0.1/scim",
        "http://127.0.0.1.nip.io/scim",
        "http://localhost.example.com/scim",
        "http://127.0.0.1@example.com/scim",
        "ftp://127.0.0.1/scim",
        "not a url",
    ] {
        let i = inputs(&c, base, TOKEN);
        let err = fetch::start(
            c.clone(),
            "users",
            &i,
            FetchOptions::default(),
            Arc::new(Silent),
        )
        .err()
        .unwrap_or_else(|| panic!("{base} should be refused"));
        assert!(matches!(err, FetchError::Url(_)), "{base}: {err:?}");
        let msg = err.to_string();
        if base.starts_with("http://") {
            assert!(msg.contains("plain http"), "{base}: {msg}");
        }
        assert!(!msg.contains(TOKEN));
    }
}

#[tokio::test]
async fn plain_http_to_localhost_is_allowed() {
    let srv = server(5).await;
    let base = srv.scim_base_url().replace("127.0.0.1", "localhost");
    let out = run_manifest(&TestManifest::default(), &base).await;
    assert_eq!(out.records.len(), 5);
}

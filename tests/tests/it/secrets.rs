//! The token never shows: not in errors (even when the server echoes it back), not
//! in observer events (what `--explain` prints), not in Debug output.

use rollcall_core::{FetchError, Origin, ProvidedInputs};
use rollcall_tests::{TOKEN, TestManifest, inputs, run_manifest, server};
use serde_json::json;

use crate::support::{Hit, Reply, tiny};

/// Whether `text` contains the token or any 8-character piece of it.
fn leaks(text: &str, token: &str) -> bool {
    let chars: Vec<char> = token.chars().collect();
    chars
        .windows(8.min(chars.len()))
        .any(|w| text.contains(&w.iter().collect::<String>()))
}

fn echo_detail(hit: &Hit) -> String {
    format!(
        "rejected {} on {}?{}",
        hit.authorization.clone().unwrap_or_default(),
        hit.path,
        hit.raw_query.clone().unwrap_or_default()
    )
}

#[tokio::test]
async fn debug_output_of_inputs_and_connector_hides_the_token() {
    let srv = server(1).await;
    let c = TestManifest::default().load();
    let i = inputs(&c, &srv.scim_base_url(), TOKEN);
    let dbg = format!("{i:?} {c:?} {:?}", i.describe());
    assert!(!dbg.contains(TOKEN), "{dbg}");
    assert!(dbg.contains(&srv.scim_base_url()), "plain inputs are shown");
    assert!(
        i.describe()
            .contains(&("token".to_string(), "***".to_string()))
    );
}

/// Fixed bug, kept as a regression test.
/// Where it was (core/src/inputs.rs, `#[derive(Debug)] pub struct ProvidedInputs`): the values
/// offered for a run, secrets included, are printed by `{:?}`.
#[test]
fn debug_output_of_provided_inputs_hides_the_token() {
    let mut p = ProvidedInputs::new();
    p.provide("token", TOKEN, Origin::Env("ROLLCALL_MIRO_TOKEN".into()));
    let dbg = format!("{p:?}");
    assert!(
        !dbg.contains(TOKEN),
        "ProvidedInputs prints the secret: {dbg}"
    );
}

#[tokio::test]
async fn errors_never_contain_the_token_even_when_the_server_echoes_it() {
    let cases: Vec<(u16, &'static str)> = vec![
        (401, "json"),
        (403, "json"),
        (400, "json"),
        (404, "text"),
        (500, "json"),
        (502, "html"),
        (418, "text"),
        (429, "json"),
        (200, "garbage"),
    ];
    for (status, kind) in cases {
        let srv = tiny(move |hit| {
            let detail = echo_detail(hit);
            match kind {
                "json" => Reply {
                    status,
                    ..Reply::json(json!({"detail": detail, "status": status.to_string()}))
                },
                "html" => Reply {
                    status,
                    content_type: "text/html",
                    body: format!(
                        "<html><head><title>{detail}</title></head><body>{detail}</body></html>"
                    ),
                    headers: Vec::new(),
                },
                "garbage" => Reply {
                    status,
                    content_type: "application/scim+json",
                    body: format!("{{oops {detail}"),
                    headers: Vec::new(),
                },
                _ => Reply {
                    status,
                    content_type: "text/plain",
                    body: detail,
                    headers: Vec::new(),
                },
            }
        })
        .await;
        let m = TestManifest {
            attempts: 2,
            ..TestManifest::default()
        };
        let out = run_manifest(&m, &srv.base).await;
        let err = out.error();
        let msg = err.to_string();
        assert!(!leaks(&msg, TOKEN), "{status} {kind}: {msg}");
        assert!(
            !leaks(&format!("{err:?}"), TOKEN),
            "{status} {kind}: {err:?}"
        );
        assert!(
            !leaks(&out.recorder.all_text(), TOKEN),
            "{status} {kind}: {}",
            out.recorder.all_text()
        );
        assert!(
            srv.hits()
                .iter()
                .all(|h| h.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
        );
        if kind != "garbage" {
            assert!(
                msg.contains("***"),
                "{status} {kind}: the echoed token is replaced, the rest kept: {msg}"
            );
        }
    }
}

#[tokio::test]
async fn a_redirect_location_carrying_the_token_is_redacted() {
    let srv = tiny(|_| Reply {
        status: 302,
        content_type: "text/plain",
        body: String::new(),
        headers: vec![(
            "location",
            format!("https://evil.example/collect?token={TOKEN}"),
        )],
    })
    .await;
    let out = run_manifest(&TestManifest::default(), &srv.base).await;
    let err = out.error();
    assert!(
        matches!(err, FetchError::RedirectToOtherHost { .. }),
        "{err:?}"
    );
    assert!(!leaks(&err.to_string(), TOKEN), "{err}");
    assert!(!leaks(&out.recorder.all_text(), TOKEN));
}

/// Fixed bug, kept as a regression test.
/// Where it was (core/src/http/error.rs `describe_error_body` and core/src/fetch/mod.rs
/// `get_page`): bodies are shortened before they are redacted, so a token that
/// straddles the cut is not recognised and its first characters are shown.
#[tokio::test]
async fn a_token_cut_by_shortening_is_still_hidden() {
    // The error text is cut at 160 characters; put the token across that point.
    let srv = tiny(|hit| Reply {
        status: 400,
        content_type: "text/plain",
        body: format!(
            "{}{}",
            "e".repeat(148),
            hit.authorization
                .clone()
                .unwrap_or_default()
                .trim_start_matches("Bearer ")
        ),
        headers: Vec::new(),
    })
    .await;
    let out = run_manifest(&TestManifest::default(), &srv.base).await;
    let msg = out.error().to_string();
    assert!(!leaks(&msg, TOKEN), "part of the token is shown: {msg}");
}

const QUERY_AUTH: &str = "auth:\n  query:\n    name: api_key\n    value: \"{{token}}\"\n";

#[tokio::test]
async fn query_auth_keeps_the_token_out_of_request_lines() {
    let srv = tiny(|hit| {
        Reply::json(
            json!({"totalResults": 1, "Resources": [{"id": "only", "seen": hit.param("api_key")}]}),
        )
    })
    .await;
    let m = TestManifest {
        auth: Some(QUERY_AUTH),
        ..TestManifest::default()
    };
    let out = run_manifest(&m, &srv.base).await;
    assert_eq!(out.ids(), ["only"]);
    assert_eq!(
        srv.hits()[0].param("api_key"),
        Some(TOKEN),
        "the key went on the wire"
    );
    assert!(srv.hits()[0].authorization.is_none());
    assert!(
        !leaks(&out.recorder.all_text(), TOKEN),
        "{}",
        out.recorder.all_text()
    );
}

/// Fixed bug, kept as a regression test.
/// Where it was (core/src/secret.rs `Redactor::redact`): it knows the raw secret and its
/// `NON_ALPHANUMERIC` percent-encoding, but query parameters are written with
/// form encoding (`-`, `_`, `.`, `*` kept, space as `+`), so a base64url token with
/// padding, as sent in a URL, is not recognised when a server echoes the URL.
#[tokio::test]
async fn query_auth_token_echoed_in_form_encoding_is_hidden() {
    let token = "AbC-dEf_123/x9Q==";
    let srv = tiny(|hit| Reply {
        status: 400,
        ..Reply::json(json!({"detail": echo_detail(hit)}))
    })
    .await;
    let m = TestManifest {
        auth: Some(QUERY_AUTH),
        ..TestManifest::default()
    };
    let c = m.load();
    let i = inputs(&c, &srv.base, token);
    let out = rollcall_tests::run(c, &i, Default::default()).await;
    let sent = srv.hits()[0].raw_query.clone().unwrap();
    assert!(sent.contains("api_key=AbC-dEf_123%2Fx9Q%3D%3D"), "{sent}");
    let msg = out.error().to_string();
    assert!(!msg.contains("AbC-dEf_123"), "the token is shown: {msg}");
}

//! SCIM list responses in the shapes real servers send: no `totalResults`, no
//! `Resources`, lowercase member names, numbers as strings, pages that ignore
//! `startIndex`, totals that lie, duplicates, bodies that are not list responses.

use rollcall_core::FetchError;
use rollcall_tests::{TestManifest, assert_same_users, assert_unique, run_manifest};
use serde_json::json;

use crate::support::{Reply, page_of, tiny, user_ids, users};

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn manifest(concurrency: u32) -> TestManifest {
    TestManifest {
        concurrency,
        ..TestManifest::default()
    }
}

#[tokio::test]
async fn no_total_results_and_no_paging_members() {
    for concurrency in [1, 4] {
        let all = users(130);
        let srv = tiny(move |hit| {
            Reply::json(json!({"schemas": [LIST], "Resources": page_of(&all, hit, 40)}))
        })
        .await;
        let out = run_manifest(&manifest(concurrency), &srv.base).await;
        assert_same_users(&out.ids(), &user_ids(130));
        let s = out.summary();
        assert!(s.complete && s.passes == 1, "{s:?}");
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }
}

#[tokio::test]
async fn resources_omitted_on_an_empty_list() {
    for body in [
        json!({"schemas": [LIST], "totalResults": 0, "itemsPerPage": 0, "startIndex": 1}),
        json!({"schemas": [LIST], "totalResults": "0"}),
        json!({}),
    ] {
        let b = body.clone();
        let srv = tiny(move |_| Reply::json(b.clone())).await;
        let out = run_manifest(&manifest(4), &srv.base).await;
        let s = out.summary();
        assert!(out.records.is_empty(), "{body}");
        assert!(s.complete, "{body}: {s:?}");
        assert_eq!(srv.hits().len(), 1, "{body}");
    }
}

#[tokio::test]
async fn resources_omitted_past_the_end() {
    // A server that stops sending `Resources` once a page would be empty.
    let all = users(80);
    let srv = tiny(move |hit| {
        let page = page_of(&all, hit, 30);
        if page.is_empty() {
            Reply::json(json!({"schemas": [LIST], "itemsPerPage": 0}))
        } else {
            Reply::json(json!({"schemas": [LIST], "itemsPerPage": page.len(), "Resources": page}))
        }
    })
    .await;
    let out = run_manifest(&manifest(1), &srv.base).await;
    assert_same_users(&out.ids(), &user_ids(80));
    assert!(out.summary().complete);
}

#[tokio::test]
async fn lowercase_resources_and_total_results() {
    for concurrency in [1, 4] {
        let all = users(130);
        let srv = tiny(move |hit| {
            Reply::json(json!({"schemas": [LIST], "totalresults": 130, "resources": page_of(&all, hit, 40)}))
        })
        .await;
        let out = run_manifest(&manifest(concurrency), &srv.base).await;
        assert_same_users(&out.ids(), &user_ids(130));
        assert!(out.summary().complete);
    }
}

#[tokio::test]
async fn total_results_as_a_string() {
    for total in [json!("130"), json!(" 130 ")] {
        for concurrency in [1, 4] {
            let all = users(130);
            let t = total.clone();
            let srv = tiny(move |hit| {
                let page = page_of(&all, hit, 40);
                Reply::json(json!({"schemas": [LIST], "totalResults": t, "itemsPerPage": page.len().to_string(), "Resources": page}))
            })
            .await;
            let out = run_manifest(&manifest(concurrency), &srv.base).await;
            assert_same_users(&out.ids(), &user_ids(130));
            let s = out.summary();
            assert!(s.complete && s.passes == 1, "{total} {concurrency}: {s:?}");
            // Four pages of 40 overlapping by one cover 130 users: no request is wasted.
            assert!(srv.hits().len() <= 5, "{} requests", srv.hits().len());
        }
    }
}

#[tokio::test]
async fn duplicates_within_the_answers_are_dropped() {
    let srv = tiny(|_| {
        Reply::json(json!({"totalResults": 3, "Resources": [
            {"id": "a", "userName": "a@x"}, {"id": "a", "userName": "a@x"}, {"id": "b", "userName": "b@x"}
        ]}))
    })
    .await;
    let out = run_manifest(&manifest(1), &srv.base).await;
    assert_eq!(out.ids(), ["a", "b"]);
    assert_eq!(out.summary().duplicates, 1);
}

#[tokio::test]
async fn a_server_that_ignores_start_index_does_not_loop_forever() {
    for concurrency in [1, 4] {
        let all = users(130);
        let srv = tiny(move |_| {
            let first: Vec<_> = all.iter().take(40).cloned().collect();
            Reply::json(json!({"totalResults": 130, "Resources": first}))
        })
        .await;
        let out = run_manifest(&manifest(concurrency), &srv.base).await;
        let s = out.summary();
        assert_unique(&out.ids());
        assert_eq!(out.ids(), user_ids(40));
        assert!(!s.complete, "{s:?}");
        assert!(!s.warnings.is_empty());
        assert!(srv.hits().len() < 60, "{} requests", srv.hits().len());
    }
}

#[tokio::test]
async fn a_total_that_overstates_the_list() {
    for concurrency in [1, 4] {
        let all = users(130);
        let srv = tiny(move |hit| {
            Reply::json(json!({"totalResults": 1000, "Resources": page_of(&all, hit, 40)}))
        })
        .await;
        let out = run_manifest(&manifest(concurrency), &srv.base).await;
        assert_same_users(&out.ids(), &user_ids(130));
        assert!(srv.hits().len() < 100, "{} requests", srv.hits().len());
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_list_response() {
    for (body, ctype) in [
        ("[]", "application/json"),
        ("", "application/json"),
        ("\"users\"", "application/json"),
    ] {
        let srv = tiny(move |_| Reply {
            status: 200,
            content_type: ctype,
            body: body.to_string(),
            headers: Vec::new(),
        })
        .await;
        let out = run_manifest(&manifest(1), &srv.base).await;
        let err = out.error();
        assert!(matches!(err, FetchError::Protocol(_)), "{body:?}: {err:?}");
        assert!(
            err.to_string()
                .contains("did not answer with a SCIM ListResponse"),
            "{err}"
        );
        assert_eq!(srv.hits().len(), 1);
    }
}

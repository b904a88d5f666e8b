//! Fault injection and drift.

use std::time::{Duration, Instant};

use rollcall_testserver::{Drift, Fault, FaultBody, FaultKind, Match};
use serde_json::{Value, json};

use crate::common::{Api, ids, json_of, patch_op};

#[tokio::test]
async fn status_fault_with_retry_after_and_times() {
    let api = Api::new(10).await;
    let h = api.server.handle();
    h.push_fault(Fault::too_many_requests(Match::ListUsers, 2, Some("3")));
    for _ in 0..2 {
        let resp = api.get("/Users").await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "3");
        assert_eq!(resp.headers()["content-type"], "application/scim+json");
        let (_, body) = json_of(resp).await;
        assert_eq!(body["status"], "429");
        assert_eq!(body["scimType"], "tooManyRequests");
    }
    // Third request is normal: `times` honoured.
    assert_eq!(api.get("/Users").await.status(), 200);
    assert!(h.pending_faults().is_empty());
    // All three were recorded.
    assert_eq!(h.request_count(), 3);
}

#[tokio::test]
async fn status_as_number_and_empty_body() {
    let api = Api::new(3).await;
    let h = api.server.handle();
    h.push_fault(Fault {
        matcher: Match::Any,
        times: 1,
        kind: FaultKind::Status {
            status: 503,
            retry_after: None,
            body: FaultBody::Scim {
                scim_type: None,
                detail: "maintenance".into(),
                status_as_number: true,
            },
        },
    });
    h.push_fault(Fault {
        matcher: Match::Any,
        times: 1,
        kind: FaultKind::Status {
            status: 500,
            retry_after: None,
            body: FaultBody::Empty,
        },
    });
    let (status, body) = api.get_json("/ServiceProviderConfig").await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], 503);
    assert_eq!(body["detail"], "maintenance");
    let resp = api.get("/Users").await;
    assert_eq!(resp.status(), 500);
    assert!(resp.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn html_bad_gateway() {
    let api = Api::new(3).await;
    api.server.handle().push_fault(Fault {
        matcher: Match::ListUsers,
        times: 1,
        kind: FaultKind::Status {
            status: 502,
            retry_after: None,
            body: FaultBody::Html,
        },
    });
    let resp = api.get("/Users").await;
    assert_eq!(resp.status(), 502);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let text = resp.text().await.unwrap();
    assert!(text.contains("502 Bad Gateway"));
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn matcher_and_fifo_order() {
    let api = Api::new(3).await;
    let h = api.server.handle();
    let id = h.user_ids()[0].clone();
    assert!(h.set_active(&id, true));
    h.push_fault(Fault::scim_error(Match::GetUser, 1, 500, None, "first"));
    h.push_fault(Fault::scim_error(Match::GetUser, 1, 503, None, "second"));
    h.push_fault(Fault::scim_error(Match::PatchUser, 1, 409, None, "patch"));
    // Other routes are unaffected.
    assert_eq!(api.get("/Users").await.status(), 200);
    assert_eq!(api.get(&format!("/Users/{id}")).await.status(), 500);
    assert_eq!(api.get(&format!("/Users/{id}")).await.status(), 503);
    assert_eq!(api.get(&format!("/Users/{id}")).await.status(), 200);
    let resp = api
        .patch(
            &id,
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(resp.status(), 409);
    // The faulted PATCH did not change the user.
    assert_eq!(h.user(&id).unwrap()["active"], true);
    h.push_fault(Fault::scim_error(Match::Members, 5, 500, None, "x"));
    h.clear_faults();
    let (status, _) = api.members(&[]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn delay_then_normal_answer_and_client_timeout() {
    let api = Api::new(3).await;
    let h = api.server.handle();
    h.push_fault(Fault::delay(
        Match::ListUsers,
        1,
        Duration::from_millis(300),
    ));
    let t = Instant::now();
    let resp = api.get("/Users").await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(resp.status(), 200);

    h.push_fault(Fault::delay(Match::Any, 1, Duration::from_secs(5)));
    let t = Instant::now();
    let err = api
        .http
        .get(api.url("/Users"))
        .bearer_auth("test-scim-token")
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(err.is_err_and(|e| e.is_timeout()));
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn redirect_is_not_followed_by_the_server() {
    let api = Api::new(3).await;
    api.server.handle().push_fault(Fault {
        matcher: Match::Any,
        times: 1,
        kind: FaultKind::Redirect {
            location: "https://miro.com/api/v1/scim/Users".into(),
            status: 301,
        },
    });
    let resp = api.get("/Users").await;
    assert_eq!(resp.status(), 301);
    assert_eq!(
        resp.headers()["location"],
        "https://miro.com/api/v1/scim/Users"
    );
}

#[tokio::test]
async fn garbage_body() {
    let api = Api::new(3).await;
    api.server.handle().push_fault(Fault {
        matcher: Match::ListUsers,
        times: 1,
        kind: FaultKind::Garbage,
    });
    let resp = api.get("/Users").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/scim+json");
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn drift_between_pages() {
    let api = Api::new(30).await;
    let h = api.server.handle();
    let before = h.user_ids();
    h.drift_after_list_page(
        1,
        Drift {
            remove_first: 5,
            insert: 3,
        },
    );
    let (_, p1) = api.get_json("/Users?startIndex=1&count=10").await;
    assert_eq!(ids(&p1), before[..10].to_vec());
    assert_eq!(p1["totalResults"], 30);
    assert_eq!(h.list_pages_served(), 1);

    // The store drifted: 5 gone from the front, 3 new ones at the end.
    let after = h.user_ids();
    assert_eq!(after.len(), 28);
    assert_eq!(after[..25].to_vec(), before[5..].to_vec());
    assert!(after[25..].iter().all(|id| !before.contains(id)));

    // A naive pass now skips 5 users (startIndex 11 is the old 16th).
    let (_, p2) = api.get_json("/Users?startIndex=11&count=10").await;
    assert_eq!(p2["totalResults"], 28);
    assert_eq!(ids(&p2), before[15..25].to_vec());
    let (_, p3) = api.get_json("/Users?startIndex=21&count=10").await;
    assert_eq!(ids(&p3), after[20..].to_vec());

    // Faulted pages do not count as served pages.
    h.drift_after_list_page(
        5,
        Drift {
            remove_first: 1,
            insert: 0,
        },
    );
    h.push_fault(Fault::scim_error(Match::ListUsers, 1, 500, None, "x"));
    api.get("/Users").await;
    assert_eq!(h.list_pages_served(), 3);
    api.get("/Users").await;
    assert_eq!(h.user_count(), 28);
    api.get("/Users").await;
    assert_eq!(h.list_pages_served(), 5);
    assert_eq!(h.user_count(), 27);
}

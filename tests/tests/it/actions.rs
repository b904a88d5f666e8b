//! Connector actions (`get_user`, `deactivate_user`, `reactivate_user` of the Miro
//! manifest) against the in-process SCIM server: 200 with a body, 204, 404 as a typed
//! outcome, 429 with Retry-After, 5xx retried, errors that show the SCIM detail without
//! the token, settings that change the PATCH body, and calls the runner refuses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall_core::action::{ActionCall, ActionError, ActionOutcome, ActionRunner};
use rollcall_core::{Connector, FetchError};
use rollcall_tests::{Recorder, TOKEN, TestManifest, inputs, server, server_with};
use rollcall_testserver::{Fault, Match, ServerConfig, ServerHandle};
use serde_json::{Value, json};

fn runner(c: &Arc<Connector>, base: &str) -> (ActionRunner, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let r = ActionRunner::new(c.clone(), &inputs(c, base, TOKEN), rec.clone())
        .expect("the runner is built");
    (r, rec)
}

fn first_active_user(h: &ServerHandle) -> (String, Value) {
    h.users()
        .into_iter()
        .find(|u| u["active"] == json!(true))
        .map(|u| (u["id"].as_str().unwrap().to_string(), u))
        .expect("the server has an active user")
}

fn patches(h: &ServerHandle) -> Vec<Value> {
    h.requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| serde_json::from_str(&r.body).expect("the PATCH body is JSON"))
        .collect()
}

fn by_id(id: &str) -> ActionCall {
    ActionCall::new().param("id", id)
}

#[tokio::test]
async fn get_user_reads_the_user_with_the_stream_fields() {
    let srv = server(5).await;
    let h = srv.handle();
    let (id, user) = first_active_user(&h);
    let c = TestManifest::default().load();
    let (r, _) = runner(&c, &srv.scim_base_url());
    let ActionOutcome::Done {
        status,
        record: Some(rec),
        body,
    } = r.call("get_user", &by_id(&id)).await.unwrap()
    else {
        panic!("get_user should find the user and read it");
    };
    assert_eq!(status, 200);
    assert_eq!(rec.key, id);
    assert_eq!(rec.get("username"), Some(&user["userName"]));
    assert_eq!(rec.get("active"), Some(&json!(true)));
    assert!(rec.get("role").is_some_and(|v| v.is_string()));
    assert_eq!(body["id"], json!(id));
    let req = h.requests().pop().unwrap();
    assert_eq!(req.method, "GET");
    assert!(req.path.ends_with(&format!("/Users/{id}")), "{}", req.path);
}

#[tokio::test]
async fn deactivate_sends_mirors_documented_patch_and_reads_the_200_body() {
    let srv = server(5).await;
    let h = srv.handle();
    let (id, _) = first_active_user(&h);
    let c = TestManifest::default().load();
    let (r, _) = runner(&c, &srv.scim_base_url());
    let out = r.call("deactivate_user", &by_id(&id)).await.unwrap();
    let ActionOutcome::Done {
        status: 200,
        record: Some(rec),
        ..
    } = out
    else {
        panic!("expected 200 with the user, got {out:?}");
    };
    assert_eq!(rec.get("active"), Some(&json!(false)));
    assert_eq!(h.user(&id).unwrap()["active"], json!(false), "server state");
    assert_eq!(
        patches(&h),
        vec![json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        })]
    );
    let req = h.requests().pop().unwrap();
    assert_eq!(req.content_type.as_deref(), Some("application/scim+json"));

    // Reactivation is the same request with "True".
    r.call("reactivate_user", &by_id(&id)).await.unwrap();
    assert_eq!(h.user(&id).unwrap()["active"], json!(true));
    assert_eq!(patches(&h)[1]["Operations"][0]["value"], json!("True"));
}

#[tokio::test]
async fn a_204_without_body_is_success_too() {
    let srv = server_with(ServerConfig {
        users: 3,
        patch_returns_body: false,
        ..ServerConfig::default()
    })
    .await;
    let h = srv.handle();
    let (id, _) = first_active_user(&h);
    let c = TestManifest::default().load();
    let (r, _) = runner(&c, &srv.scim_base_url());
    let out = r.call("deactivate_user", &by_id(&id)).await.unwrap();
    assert!(
        matches!(
            out,
            ActionOutcome::Done {
                status: 204,
                record: None,
                body: Value::Null
            }
        ),
        "{out:?}"
    );
    assert_eq!(h.user(&id).unwrap()["active"], json!(false));
}

#[tokio::test]
async fn settings_change_the_op_spelling_and_the_value_type() {
    let srv = server(3).await;
    let h = srv.handle();
    let (id, _) = first_active_user(&h);
    let c = TestManifest::default().load();
    let (r, _) = runner(&c, &srv.scim_base_url());
    let call = by_id(&id)
        .setting("op", json!("replace"))
        .setting("active", json!(false));
    r.call("deactivate_user", &call).await.unwrap();
    assert_eq!(
        patches(&h)[0]["Operations"][0],
        json!({"op": "replace", "path": "active", "value": false})
    );
    assert_eq!(h.user(&id).unwrap()["active"], json!(false));
}

#[tokio::test]
async fn an_unknown_user_is_a_typed_not_found() {
    let srv = server(3).await;
    let c = TestManifest::default().load();
    let (r, _) = runner(&c, &srv.scim_base_url());
    for action in ["get_user", "deactivate_user"] {
        match r.call(action, &by_id("no-such-user")).await.unwrap() {
            ActionOutcome::NotFound { status, detail } => {
                assert_eq!(status, 404);
                assert!(detail.contains("no-such-user"), "{detail}");
            }
            other => panic!("{action}: expected NotFound, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let srv = server(3).await;
    let h = srv.handle();
    let (id, _) = first_active_user(&h);
    h.push_fault(Fault::too_many_requests(Match::PatchUser, 1, Some("1")));
    let c = TestManifest::default().load();
    let (r, rec) = runner(&c, &srv.scim_base_url());
    let t0 = Instant::now();
    let out = r.call("deactivate_user", &by_id(&id)).await.unwrap();
    assert!(matches!(out, ActionOutcome::Done { status: 200, .. }));
    assert!(t0.elapsed() >= Duration::from_millis(900), "Retry-After: 1");
    assert_eq!(patches(&h).len(), 2);
    assert!(
        rec.notes().iter().any(|n| n.contains("Retry-After")),
        "{:?}",
        rec.notes()
    );
    assert_eq!(h.user(&id).unwrap()["active"], json!(false));
}

#[tokio::test]
async fn a_500_is_retried_and_a_lasting_one_fails_clearly() {
    let srv = server(3).await;
    let h = srv.handle();
    let (id, _) = first_active_user(&h);
    h.push_fault(Fault::scim_error(
        Match::PatchUser,
        2,
        500,
        None,
        "try again",
    ));
    let c = TestManifest::default().load();
    let (r, _) = runner(&c, &srv.scim_base_url());
    let out = r.call("deactivate_user", &by_id(&id)).await.unwrap();
    assert!(matches!(out, ActionOutcome::Done { status: 200, .. }));
    assert_eq!(patches(&h).len(), 3, "two 500s, then the PATCH");

    h.push_fault(Fault::scim_error(Match::PatchUser, 10, 503, None, "down"));
    let err = r.call("reactivate_user", &by_id(&id)).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("the action `reactivate_user` failed: "),
        "{msg}"
    );
    assert!(msg.contains("failed 4 times"), "{msg}");
    assert!(msg.contains("HTTP 503: down"), "{msg}");
    h.clear_faults();
}

#[tokio::test]
async fn an_unexpected_status_shows_the_scim_detail_and_never_the_token() {
    let srv = server(3).await;
    let h = srv.handle();
    let (id, _) = first_active_user(&h);
    h.push_fault(Fault::scim_error(
        Match::PatchUser,
        1,
        409,
        Some("mutability"),
        &format!("the last admin cannot be deactivated (token {TOKEN})"),
    ));
    let c = TestManifest::default().load();
    let (r, rec) = runner(&c, &srv.scim_base_url());
    let err = r.call("deactivate_user", &by_id(&id)).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(matches!(
        &err,
        ActionError::Http {
            error: FetchError::Status { status: 409, .. },
            ..
        }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 409 from PATCH http://127.0.0.1:"),
        "{msg}"
    );
    assert_eq!(msg.matches("HTTP 409").count(), 1, "{msg}");
    assert!(
        msg.contains("the last admin cannot be deactivated (token ***) (scimType mutability)"),
        "{msg}"
    );
    assert!(!msg.contains(TOKEN));
    assert!(!rec.all_text().contains(TOKEN));
    assert_eq!(
        h.user(&id).unwrap()["active"],
        json!(true),
        "nothing changed"
    );
}

#[tokio::test]
async fn a_bad_token_is_a_401_error_not_a_not_found() {
    let srv = server(3).await;
    let c = TestManifest::default().load();
    let rec = Arc::new(Recorder::default());
    let r = ActionRunner::new(
        c.clone(),
        &inputs(&c, &srv.scim_base_url(), "wrong-token-123"),
        rec,
    )
    .unwrap();
    let err = r
        .call("get_user", &by_id("no-such-user"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(
        err.to_string().contains("rejected the credentials"),
        "{err}"
    );
}

#[tokio::test]
async fn calls_with_missing_unknown_or_empty_values_are_refused_before_sending() {
    let srv = server(3).await;
    let h = srv.handle();
    let c = TestManifest::default().load();
    let (r, _) = runner(&c, &srv.scim_base_url());
    let err = r
        .call("deactivate_user", &ActionCall::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the action `deactivate_user` needs the param `id` (The user's SCIM id)"
    );
    let err = r
        .call(
            "deactivate_user",
            &by_id("x").param("idd", "y").setting("opp", json!(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the action `deactivate_user` has no setting `opp` (did you mean `op`?); the action `deactivate_user` has no param `idd` (did you mean `id`?)"
    );
    let err = r.call("deactivate_user", &by_id(" ")).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("the param `id` of `deactivate_user` is empty"),
        "{err}"
    );
    let err = r.call("deactivate", &by_id("x")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the connector `miro` has no action `deactivate` (did you mean `deactivate_user`?); its actions are: get_user, deactivate_user, reactivate_user"
    );
    assert_eq!(h.request_count(), 0, "nothing was sent");
}

#[tokio::test]
async fn the_plan_shows_the_request_with_secrets_redacted() {
    let c = TestManifest::default().load();
    let (r, _) = runner(&c, "http://127.0.0.1:9/api/v1/scim");
    let plan = r.plan("deactivate_user", &by_id("30744 57/x")).unwrap();
    assert_eq!(plan.method, "PATCH");
    assert_eq!(
        plan.url,
        "http://127.0.0.1:9/api/v1/scim/Users/30744%2057%2Fx"
    );
    assert!(
        plan.headers
            .contains(&("authorization".into(), "***".into()))
    );
    assert!(
        plan.headers
            .contains(&("content-type".into(), "application/scim+json".into()))
    );
    let body: Value = serde_json::from_str(plan.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["Operations"][0]["value"], json!("False"));
    assert!(!format!("{plan:?}").contains(TOKEN));
}

#[tokio::test]
async fn the_patch_rate_limit_of_the_manifest_paces_calls() {
    // 100 per 30 s in the real manifest; a copy with 2 per second shows the pacing
    // (a burst of 2, then one every half second).
    let text = TestManifest::default().text().replace(
        "    # PATCH /Users/{id}: 100 requests per 30 seconds.\n    rate_limit: { requests: 100, per: 30s }",
        "    rate_limit: { requests: 2, per: 1s }",
    );
    assert!(text.contains("requests: 2, per: 1s"));
    let c = rollcall_tests::load_text(&text);
    let srv = server(6).await;
    let h = srv.handle();
    let (r, _) = runner(&c, &srv.scim_base_url());
    let ids: Vec<String> = h.user_ids().into_iter().take(4).collect();
    let t0 = Instant::now();
    for id in &ids {
        r.call("deactivate_user", &by_id(id)).await.unwrap();
    }
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "4 calls at 2/s took {took:?}"
    );
    // get_user has its own limiter, so it is not slowed by the PATCHes.
    let t1 = Instant::now();
    r.call("get_user", &by_id(&ids[0])).await.unwrap();
    assert!(t1.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn slack_web_get_user_reads_dollar_user_and_maps_user_not_found() {
    use crate::support::{Reply, tiny};
    let srv = tiny(|hit| match hit.param("user") {
        Some("U1") => Reply::json(json!({"ok": true, "user": {
            "id": "U1", "name": "ada", "deleted": true, "updated": 1700000000,
            "profile": {"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace"}
        }})),
        Some("U2") => Reply::json(json!({"ok": false, "error": "user_not_found"})),
        _ => Reply::json(json!({"ok": false, "error": "invalid_auth"})),
    })
    .await;
    let text = rollcall_connectors::builtin("slack-web").unwrap().text;
    let c =
        rollcall_tests::load_text(&text.replace("  rate_limit: { requests: 20, per: 60s }\n", ""));
    let (r, _) = runner(&c, &srv.base);
    let call = |id: &str| ActionCall::new().param("id", id);
    match r.call("get_user", &call("U1")).await.unwrap() {
        ActionOutcome::Done {
            record: Some(rec), ..
        } => {
            assert_eq!(rec.get("email"), Some(&json!("ada@example.com")));
            assert_eq!(rec.get("active"), Some(&json!(false)));
            assert_eq!(rec.get("updated_at"), Some(&json!("2023-11-14T22:13:20Z")));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        r.call("get_user", &call("U2")).await.unwrap(),
        ActionOutcome::NotFound { status: 200, ref detail } if detail == "user_not_found"
    ));
    let err = r.call("get_user", &call("U3")).await.unwrap_err();
    assert!(
        err.to_string().contains("($.ok is not true): invalid_auth"),
        "{err}"
    );
    assert_eq!(srv.hits()[0].param("user"), Some("U1"));
}

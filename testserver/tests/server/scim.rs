//! SCIM endpoints: paging, auth, filters, GET, PATCH, ServiceProviderConfig.

use serde_json::{Value, json};

use crate::common::{Api, config, ids, json_of, patch_op};

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

#[tokio::test]
async fn default_page_is_100_and_1_based() {
    let api = Api::new(300).await;
    let resp = api.get("/Users").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/scim+json"
    );
    let (_, body) = json_of(resp).await;
    assert_eq!(body["schemas"], json!([LIST]));
    assert_eq!(body["totalResults"], 300);
    assert_eq!(body["itemsPerPage"], 100);
    assert_eq!(body["startIndex"], 1);
    let all = api.server.handle().user_ids();
    assert_eq!(ids(&body), all[..100].to_vec());

    let (_, second) = api.get_json("/Users?startIndex=101&count=50").await;
    assert_eq!(second["startIndex"], 101);
    assert_eq!(ids(&second), all[100..150].to_vec());
}

#[tokio::test]
async fn full_pass_returns_every_user_once_in_server_order() {
    let api = Api::new(257).await;
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let (status, page) = api
            .get_json(&format!("/Users?startIndex={start}&count=40"))
            .await;
        assert_eq!(status, 200);
        let got = ids(&page);
        if got.is_empty() {
            break;
        }
        start += got.len();
        seen.extend(got);
    }
    assert_eq!(seen, api.server.handle().user_ids());
}

#[tokio::test]
async fn paging_edge_cases() {
    let api = Api::new(5).await;
    // startIndex < 1 is treated as 1.
    for s in ["0", "-3"] {
        let (_, body) = api
            .get_json(&format!("/Users?startIndex={s}&count=2"))
            .await;
        assert_eq!(body["startIndex"], 1);
        assert_eq!(body["itemsPerPage"], 2);
    }
    // Last partial page.
    let (_, body) = api.get_json("/Users?startIndex=5&count=2").await;
    assert_eq!(body["itemsPerPage"], 1);
    // Past the end: empty Resources present.
    let (_, body) = api.get_json("/Users?startIndex=7&count=2").await;
    assert_eq!(body["totalResults"], 5);
    assert_eq!(body["itemsPerPage"], 0);
    assert_eq!(body["Resources"], json!([]));
    // count=0 and negative count: totalResults only, no Resources.
    for c in ["0", "-5"] {
        let (status, body) = api.get_json(&format!("/Users?count={c}")).await;
        assert_eq!(status, 200);
        assert_eq!(body["totalResults"], 5);
        assert!(body.get("Resources").is_none(), "{body}");
    }
    // Non-numeric.
    for q in ["count=abc", "startIndex=x", "count=1.5"] {
        let (status, body) = api.get_json(&format!("/Users?{q}")).await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body["scimType"], "invalidValue");
        assert_eq!(body["status"], "400");
        assert_eq!(
            body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
    }
}

#[tokio::test]
async fn count_is_clamped_to_max_results() {
    let api = Api::new(1205).await;
    let (_, body) = api.get_json("/Users?count=2000").await;
    assert_eq!(body["itemsPerPage"], 1000);
    assert_eq!(body["totalResults"], 1205);

    let small = Api::with(rollcall_testserver::ServerConfig {
        max_results: 3,
        ..config(10)
    })
    .await;
    let (_, body) = small.get_json("/Users?count=100").await;
    assert_eq!(body["itemsPerPage"], 3);
    // Missing count uses the default 100, also clamped.
    let (_, body) = small.get_json("/Users").await;
    assert_eq!(body["itemsPerPage"], 3);
}

#[tokio::test]
async fn missing_or_wrong_token_is_401() {
    let api = Api::new(3).await;
    let no_auth = api.http.get(api.url("/Users")).send().await.unwrap();
    assert_eq!(no_auth.status(), 401);
    assert!(no_auth.headers().contains_key("www-authenticate"));
    let (_, body) = json_of(no_auth).await;
    assert_eq!(body["status"], "401");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Authentication failed")
    );

    for auth in [
        "Bearer nope",
        "test-scim-token",
        "Basic dGVzdA==",
        "Bearer ",
    ] {
        let resp = api
            .http
            .get(api.url("/Users/x"))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{auth}");
    }
    // The REST token is not a SCIM token.
    let resp = api
        .http
        .get(api.url("/Users"))
        .bearer_auth("test-rest-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Scheme is case-insensitive.
    let resp = api
        .http
        .get(api.url("/Users"))
        .header("Authorization", "bearer test-scim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn filters() {
    let api = Api::new(200).await;
    let h = api.server.handle();
    let target = h.users()[42].clone();
    let user_name = target["userName"].as_str().unwrap().to_owned();

    let upper = format!("USERNAME EQ \"{}\"", user_name.to_uppercase());
    for f in [format!("userName eq \"{user_name}\""), upper] {
        let (status, body) = json_of(api.get_query("/Users", &[("filter", &f)]).await).await;
        assert_eq!(status, 200, "{f}");
        assert_eq!(body["totalResults"], 1);
        assert_eq!(body["Resources"][0]["id"], target["id"]);
    }
    let (_, none) = json_of(
        api.get_query(
            "/Users",
            &[("filter", "userName eq \"nobody@example.com\"")],
        )
        .await,
    )
    .await;
    assert_eq!(none["totalResults"], 0);
    assert_eq!(none["Resources"], json!([]));

    let inactive = h
        .users()
        .iter()
        .filter(|u| u["active"] == Value::Bool(false))
        .count();
    assert!(inactive > 0);
    let (_, body) = json_of(
        api.get_query(
            "/Users",
            &[("filter", "active eq false"), ("count", "1000")],
        )
        .await,
    )
    .await;
    assert_eq!(body["totalResults"], inactive);
    assert!(
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["active"] == false)
    );
    // Filter + paging.
    let (_, page) = json_of(
        api.get_query(
            "/Users",
            &[
                ("filter", "Active Eq TRUE"),
                ("startIndex", "3"),
                ("count", "2"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(page["totalResults"], 200 - inactive);
    assert_eq!(page["itemsPerPage"], 2);

    for bad in [
        "displayName co \"a\"",
        "userName eq \"a\" and active eq true",
        "userName eq unquoted",
        "active eq maybe",
        "garbage",
    ] {
        let (status, body) = json_of(api.get_query("/Users", &[("filter", bad)]).await).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["scimType"], "invalidFilter", "{bad}");
    }
}

#[tokio::test]
async fn get_user_and_404() {
    let api = Api::new(10).await;
    let h = api.server.handle();
    let id = h.user_ids()[3].clone();
    let (status, body) = api.get_json(&format!("/Users/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(Some(body.clone()), h.user(&id));
    assert_eq!(
        body["meta"]["location"],
        format!("{}/Users/{id}", api.server.scim_base_url())
    );
    let (status, body) = api.get_json("/Users/does-not-exist").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "404");
    let (status, _) = api.get_json("/Nope").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn malformed_records_are_served_as_is() {
    let api = Api::new(2).await;
    let h = api.server.handle();
    h.insert_user(json!({"userName": "weird@example.com", "active": "yes", "name": 5}));
    h.insert_user(json!({"id": "odd-1", "active": null}));
    let (_, body) = api.get_json("/Users").await;
    assert_eq!(body["totalResults"], 4);
    assert_eq!(body["Resources"][2]["active"], "yes");
    assert_eq!(body["Resources"][2]["name"], 5);
    assert!(body["Resources"][2].get("id").is_none());
    let (status, _) = api.get_json("/Users/odd-1").await;
    assert_eq!(status, 200);
    assert!(h.remove_user("odd-1"));
    assert!(!h.remove_user("odd-1"));
    assert_eq!(h.user_count(), 3);
}

#[tokio::test]
async fn patch_miro_form_replace_with_string_value() {
    let api = Api::new(20).await;
    let h = api.server.handle();
    let id = h
        .users()
        .iter()
        .find(|u| u["active"] == true)
        .and_then(|u| u["id"].as_str().map(str::to_owned))
        .unwrap();
    let resp = api
        .patch(
            &id,
            patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (_, body) = json_of(resp).await;
    assert_eq!(body["active"], false);
    assert_eq!(body["id"], id.as_str());
    assert_eq!(h.user(&id).unwrap()["active"], false);
    // The list serves the re-serialized bytes.
    let (_, list) = json_of(
        api.get_query("/Users", &[("filter", "active eq false"), ("count", "100")])
            .await,
    )
    .await;
    assert!(ids(&list).contains(&id));
}

#[tokio::test]
async fn patch_rfc_forms() {
    let api = Api::new(5).await;
    let h = api.server.handle();
    let id = h.user_ids()[0].clone();

    let resp = api
        .patch(
            &id,
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.user(&id).unwrap()["active"], false);

    // Okta's no-path form.
    let resp = api
        .patch(
            &id,
            patch_op(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.user(&id).unwrap()["active"], true);

    // Several operations, other simple paths.
    let resp = api
        .patch(
            &id,
            patch_op(json!([
                {"op": "REPLACE", "path": "displayName", "value": "New Name"},
                {"op": "Add", "path": "userType", "value": "Full"},
                {"op": "replace", "path": "active", "value": "TRUE"}
            ])),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let user = h.user(&id).unwrap();
    assert_eq!(user["displayName"], "New Name");
    assert_eq!(user["userType"], "Full");
}

#[tokio::test]
async fn patch_errors_are_scim_400_and_atomic() {
    let api = Api::new(5).await;
    let h = api.server.handle();
    let id = h.user_ids()[1].clone();
    let before = h.user(&id).unwrap();

    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
            "invalidSyntax",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []}),
            "invalidSyntax",
        ),
        (
            patch_op(json!([{"op": "deactivate", "path": "active", "value": false}])),
            "invalidValue",
        ),
        (
            patch_op(json!([{"op": "replace", "path": "active", "value": "nope"}])),
            "invalidValue",
        ),
        (
            patch_op(json!([{"op": "replace", "path": "active", "value": false},
                             {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x"}])),
            "invalidPath",
        ),
        (patch_op(json!([{"op": "remove"}])), "noTarget"),
        (json!("just a string"), "invalidSyntax"),
    ];
    for (body, scim_type) in cases {
        let resp = api.patch(&id, body.clone()).await;
        let (status, err) = json_of(resp).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["scimType"], scim_type, "{body}: {err}");
    }
    // Not JSON at all.
    let resp = api
        .http
        .patch(api.url(&format!("/Users/{id}")))
        .bearer_auth("test-scim-token")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, err) = json_of(resp).await;
    assert_eq!(status, 400);
    assert_eq!(err["scimType"], "invalidSyntax");
    // Nothing changed (the failing multi-op request was atomic).
    assert_eq!(h.user(&id).unwrap(), before);

    let resp = api
        .patch(
            "no-such-user",
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn patch_204_mode() {
    let api = Api::with(rollcall_testserver::ServerConfig {
        patch_returns_body: false,
        ..config(3)
    })
    .await;
    let h = api.server.handle();
    let id = h.user_ids()[2].clone();
    let resp = api
        .patch(
            &id,
            patch_op(json!([{"op": "Replace", "path": "active", "value": "false"}])),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert!(resp.text().await.unwrap().is_empty());
    assert_eq!(h.user(&id).unwrap()["active"], false);
}

#[tokio::test]
async fn service_provider_config_is_miro_like() {
    let api = Api::new(1).await;
    let (status, spc) = api.get_json("/ServiceProviderConfig").await;
    assert_eq!(status, 200);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["sort"]["supported"], false);
    assert_eq!(spc["etag"]["supported"], false);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
}

#[tokio::test]
async fn recorded_requests() {
    let api = Api::new(3).await;
    let h = api.server.handle();
    api.get("/Users?startIndex=1&count=2").await;
    api.http.get(api.url("/Users")).send().await.unwrap();
    let reqs = h.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(h.request_count(), 2);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/api/v1/scim/Users");
    assert_eq!(reqs[0].query.as_deref(), Some("startIndex=1&count=2"));
    assert_eq!(reqs[0].query_param("count").as_deref(), Some("2"));
    assert!(reqs[0].has_authorization);
    assert_eq!(
        reqs[0].authorization.as_deref(),
        Some("Bearer test-scim-token")
    );
    assert_eq!(reqs[0].accept.as_deref(), Some("application/scim+json"));
    assert!(!reqs[1].has_authorization);
    assert!(reqs[1].received_at >= reqs[0].received_at);

    let id = h.user_ids()[0].clone();
    let body = patch_op(json!([{"op": "Replace", "path": "active", "value": false}]));
    api.patch(&id, body.clone()).await;
    let last = h.requests().pop().unwrap();
    assert_eq!(last.method, "PATCH");
    assert_eq!(serde_json::from_str::<Value>(&last.body).unwrap(), body);
    h.reset_requests();
    assert_eq!(h.request_count(), 0);
}

#[tokio::test]
async fn custom_base_path_and_shutdown() {
    let api = Api::with(rollcall_testserver::ServerConfig {
        scim_base_path: "scim/v2/".into(),
        ..config(3)
    })
    .await;
    assert!(api.server.scim_base_url().ends_with("/scim/v2"));
    let (status, body) = api.get_json("/Users").await;
    assert_eq!(status, 200);
    assert_eq!(body["totalResults"], 3);
    let url = api.url("/Users");
    let http = api.http.clone();
    api.server.shutdown().await;
    let after = http
        .get(url)
        .bearer_auth("test-scim-token")
        .timeout(std::time::Duration::from_secs(2))
        .send()
        .await;
    assert!(after.is_err(), "server still answering after shutdown");
}

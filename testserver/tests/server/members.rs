//! Miro REST members endpoint.

use serde_json::Value;

use crate::common::{Api, json_of};

#[tokio::test]
async fn cursor_pagination_covers_every_user() {
    let api = Api::new(250).await;
    let h = api.server.handle();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let mut q = vec![("limit", "100")];
        if !cursor.is_empty() {
            q.push(("cursor", cursor.as_str()));
        }
        let (status, body) = api.members(&q).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        assert_eq!(body["type"], "cursor-list");
        assert_eq!(body["limit"], 100);
        let data = body["data"].as_array().unwrap();
        assert_eq!(body["size"], data.len());
        for m in data {
            assert_eq!(m["type"], "organization-member");
            seen.push(m["id"].as_str().unwrap().to_owned());
        }
        match body.get("cursor").and_then(Value::as_str) {
            Some(c) if !c.is_empty() => cursor = c.to_owned(),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    // Same ids as SCIM, same order.
    assert_eq!(seen, h.user_ids());
}

#[tokio::test]
async fn member_fields_follow_the_scim_user() {
    let api = Api::new(300).await;
    let h = api.server.handle();
    let (_, body) = api.members(&[]).await;
    assert_eq!(body["limit"], 100);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 100);
    let mut never = 0;
    for m in data {
        let id = m["id"].as_str().unwrap();
        let user = h.user(id).unwrap();
        assert_eq!(m["email"], user["userName"]);
        assert_eq!(m["active"], user["active"]);
        let license = m["license"].as_str().unwrap();
        assert!(
            [
                "full",
                "occasional",
                "free",
                "free_restricted",
                "full_trial",
                "unknown"
            ]
            .contains(&license)
        );
        if user.get("userType").is_none() {
            assert_eq!(license, "unknown");
        }
        let role = m["role"].as_str().unwrap();
        assert!(role == "organization_internal_admin" || role == "organization_internal_user");
        match m.get("lastActivityAt") {
            None => never += 1,
            Some(v) => {
                let s = v.as_str().unwrap();
                assert_eq!(s.len(), 20, "{s}");
                assert!(s.ends_with('Z') && s.as_bytes()[10] == b'T');
                // Within the last 400 days of 2026-01-01.
                assert!(("2024-11-27".."2026-01-02").contains(&s), "{s}");
            }
        }
        assert_eq!(h.member(id).as_ref(), Some(m));
    }
    assert!(never > 0 && never < 40, "never logged in: {never}");

    let id = h.user_ids()[0].clone();
    assert!(h.set_last_activity(&id, None));
    assert!(h.set_last_activity(&h.user_ids()[1], Some(String::new())));
    let (_, body) = api.members(&[("limit", "2")]).await;
    assert!(body["data"][0].get("lastActivityAt").is_none());
    assert_eq!(body["data"][1]["lastActivityAt"], "");
    assert!(!h.set_last_activity("nope", None));
}

#[tokio::test]
async fn members_errors() {
    let api = Api::new(5).await;
    for limit in ["0", "101", "-1", "abc"] {
        let (status, body) = api.members(&[("limit", limit)]).await;
        assert_eq!(status, 400, "{limit}");
        assert_eq!(body["code"], "invalidParameters");
        assert_eq!(body["status"], 400);
        assert_eq!(body["type"], "error");
    }
    for cursor in ["garbage", "3074457365265951581", "ffffffffffffffffffff"] {
        let (status, body) = api.members(&[("cursor", cursor)]).await;
        assert_eq!(status, 400, "{cursor}");
        assert_eq!(body["code"], "invalidParameters");
    }
    // Last page: no cursor key.
    let (status, body) = api.members(&[("limit", "5")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["size"], 5);
    assert!(body.get("cursor").is_none());

    // Wrong org.
    let url = format!("{}/v2/orgs/999/members", api.server.rest_base_url());
    let resp = api
        .http
        .get(&url)
        .bearer_auth("test-rest-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // The SCIM token is not the REST token.
    let resp = api
        .http
        .get(api.server.members_url())
        .bearer_auth("test-scim-token")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body["status"], 401);
}

#[tokio::test]
async fn members_filters() {
    let api = Api::new(100).await;
    let h = api.server.handle();
    let (_, body) = api.members(&[("active", "false")]).await;
    let inactive = h.users().iter().filter(|u| u["active"] == false).count();
    assert_eq!(body["size"], inactive);
    let email = h.users()[7]["userName"].as_str().unwrap().to_uppercase();
    let (_, body) = api.members(&[("emails", &email)]).await;
    assert_eq!(body["size"], 1);
    assert_eq!(body["data"][0]["id"], h.users()[7]["id"]);
}

//! Deterministic, realistic generation.

use std::collections::HashSet;

use rollcall_testserver::{ScimServer, ServerConfig};
use serde_json::Value;

use crate::common::{Api, config, start_with};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Users without `meta.location` (which contains the port).
fn portless(server: &ScimServer) -> Vec<Value> {
    server
        .handle()
        .users()
        .into_iter()
        .map(|mut u| {
            if let Some(meta) = u.get_mut("meta").and_then(Value::as_object_mut) {
                meta.remove("location");
            }
            u
        })
        .collect()
}

#[tokio::test]
async fn same_seed_same_users_different_seed_different_users() {
    let a = start_with(config(200)).await;
    let b = start_with(config(200)).await;
    assert_eq!(portless(&a), portless(&b));
    let ha = a.handle();
    let hb = b.handle();
    for id in ha.user_ids() {
        assert_eq!(ha.last_activity(&id), hb.last_activity(&id));
    }
    // A prefix of a bigger population is the same population.
    let big = start_with(config(400)).await;
    assert_eq!(portless(&big)[..200].to_vec(), portless(&a));

    let c = start_with(ServerConfig {
        seed: 8,
        ..config(200)
    })
    .await;
    assert_ne!(portless(&a), portless(&c));
}

#[tokio::test]
async fn population_looks_like_miro() {
    let api = Api::new(2000).await;
    let users = api.server.handle().users();
    assert_eq!(users.len(), 2000);
    let n = users.len() as f64;
    let frac = |pred: &dyn Fn(&Value) -> bool| users.iter().filter(|u| pred(u)).count() as f64 / n;

    let names: HashSet<&str> = users
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), users.len(), "userName must be unique");
    let ids: HashSet<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), users.len());
    assert!(users.iter().all(|u| {
        let id = u["id"].as_str().unwrap();
        id.len() >= 19 && id.bytes().all(|b| b.is_ascii_digit())
    }));
    for u in &users {
        let un = u["userName"].as_str().unwrap();
        assert!(un.is_ascii() && un.ends_with("@example.com"), "{un}");
        assert_eq!(u["emails"][0]["value"], u["userName"]);
        assert_eq!(u["emails"][0]["primary"], true);
        assert_eq!(u["meta"]["resourceType"], "User");
        let has_ext = u.get(ENTERPRISE).is_some();
        let lists_ext = u["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == ENTERPRISE);
        assert_eq!(has_ext, lists_ext);
        if let Some(m) = u.get(ENTERPRISE).and_then(|e| e.get("manager")) {
            assert!(
                m["value"]
                    .as_str()
                    .unwrap()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            );
        }
    }
    let active = frac(&|u| u["active"] == true);
    assert!((0.85..0.95).contains(&active), "active {active}");
    let full = frac(&|u| u["userType"] == "Full");
    assert!((0.5..0.65).contains(&full), "full {full}");
    let free = frac(&|u| u["userType"] == "Free");
    assert!((0.14..0.26).contains(&free), "free {free}");
    let minimal = frac(&|u| u.get("displayName").is_none());
    assert!((0.02..0.08).contains(&minimal), "minimal {minimal}");
    assert!(
        users
            .iter()
            .filter(|u| u.get("displayName").is_none())
            .all(|u| u.get("userType").is_none() && u.get("roles").is_none())
    );
    let ext = frac(&|u| u.get(ENTERPRISE).is_some());
    assert!((0.6..0.75).contains(&ext), "enterprise {ext}");
    let admins = frac(&|u| u["roles"][0]["value"] == "ORGANIZATION_INTERNAL_ADMIN");
    assert!((0.02..0.09).contains(&admins), "admins {admins}");
    let admin_roles = frac(&|u| {
        u["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["type"] == "organization_admin_role"))
    });
    assert!(
        (0.01..0.06).contains(&admin_roles),
        "admin roles {admin_roles}"
    );
    let non_ascii = frac(&|u| {
        !u["name"]["givenName"].as_str().unwrap().is_ascii()
            || !u["name"]["familyName"].as_str().unwrap().is_ascii()
    });
    assert!(non_ascii > 0.0);

    let h = api.server.handle();
    let never = h
        .user_ids()
        .iter()
        .filter(|id| h.last_activity(id) == Some(None))
        .count() as f64
        / n;
    assert!((0.06..0.14).contains(&never), "never {never}");
}

#[tokio::test]
async fn startup_is_cheap() {
    // Debug build: 20k users must start quickly (release handles 100k in well under 1 s).
    let t = std::time::Instant::now();
    let server = start_with(config(20_000)).await;
    assert_eq!(server.handle().user_count(), 20_000);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn handle_mutations_continue_the_sequence() {
    let a = start_with(config(10)).await;
    let b = start_with(config(13)).await;
    a.handle().add_generated_users(3);
    assert_eq!(portless(&a), portless(&b));

    let h = a.handle();
    let id = h.user_ids()[4].clone();
    assert!(h.replace_user(
        &id,
        serde_json::json!({"id": "new-id", "userName": "X@Example.com"})
    ));
    assert!(h.user(&id).is_none());
    assert_eq!(h.user_ids()[4], "new-id");
    assert_eq!(h.member("new-id").unwrap()["email"], "X@Example.com");
    assert!(!h.replace_user("missing", serde_json::json!({})));
}

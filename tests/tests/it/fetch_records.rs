//! The records themselves: every user once, fields in manifest order with typed
//! values, server page caps, `limit`, malformed records and an early consumer exit.

use chrono::{DateTime, Utc};
use rollcall_core::fetch::{self, FetchOptions, Item};
use rollcall_core::observe::Silent;
use rollcall_tests::{
    TOKEN, TestManifest, assert_same_users, inputs, run, run_manifest, server, server_with,
};
use rollcall_testserver::ServerConfig;
use serde_json::{Value, json};
use std::sync::Arc;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const FIELD_ORDER: [&str; 16] = [
    "id",
    "username",
    "email",
    "first_name",
    "family_name",
    "display_name",
    "active",
    "user_type",
    "role",
    "admin_roles",
    "resource_type",
    "department",
    "cost_center",
    "employee_number",
    "manager_id",
    "connector_sync_time",
];

fn sync_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-31T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The record the Miro manifest should make of a SCIM user, computed independently.
fn expected_record(user: &Value) -> Value {
    let ent = &user[ENTERPRISE];
    let email = user["emails"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["primary"] == json!(true)))
        .map(|e| json!(e["value"].as_str().unwrap().trim().to_lowercase()))
        .unwrap_or(Value::Null);
    let roles = user["roles"].as_array().cloned().unwrap_or_default();
    let role = roles
        .iter()
        .find(|r| r["type"] == "organization_user_role")
        .map(|r| r["value"].clone())
        .unwrap_or(Value::Null);
    let admin_roles: Vec<Value> = roles
        .iter()
        .filter(|r| r["type"] == "organization_admin_role")
        .map(|r| r["value"].clone())
        .collect();
    json!({
        "id": user["id"],
        "username": user["userName"],
        "email": email,
        "first_name": user["name"]["givenName"],
        "family_name": user["name"]["familyName"],
        "display_name": user["displayName"],
        "active": user["active"],
        "user_type": user["userType"],
        "role": role,
        "admin_roles": admin_roles,
        "resource_type": user["meta"]["resourceType"],
        "department": ent["department"],
        "cost_center": ent["costCenter"],
        "employee_number": ent["employeeNumber"],
        "manager_id": ent["manager"]["value"],
        "connector_sync_time": "2026-01-31T12:00:00Z",
    })
}

#[tokio::test]
async fn happy_path_every_user_once_with_typed_fields_in_manifest_order() {
    let srv = server(300).await;
    let h = srv.handle();
    h.insert_user(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "crafted-1",
        "userName": "Ada@Example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "emails": [
            {"value": "home@example.org", "primary": false, "type": "home"},
            {"value": "  Ada.Lovelace@Example.COM ", "primary": true, "type": "work"}
        ],
        "active": false,
        "userType": "Full",
        "roles": [
            {"value": "ORGANIZATION_INTERNAL_ADMIN", "type": "organization_user_role", "primary": true},
            {"value": "Content Admin", "type": "organization_admin_role"},
            {"value": "User Admin", "type": "organization_admin_role"}
        ],
        "meta": {"resourceType": "User"},
        ENTERPRISE: {"department": "R&D", "costCenter": "CC-7", "employeeNumber": "E9",
                     "manager": {"value": "3074457345618258000"}}
    }));
    let connector = TestManifest::default().load();
    let i = inputs(&connector, &srv.scim_base_url(), TOKEN);
    let options = FetchOptions {
        sync_time: sync_time(),
        ..FetchOptions::default()
    };
    let out = run(connector, &i, options).await;
    let summary = out.summary();

    assert_same_users(&out.ids(), &h.user_ids());
    assert_eq!(summary.records, 301);
    assert!(summary.complete);
    assert_eq!(summary.passes, 1);
    assert_eq!(summary.skipped, 0);
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);

    for r in &out.records {
        let ids: Vec<&str> = r.fields.fields.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, FIELD_ORDER);
        // The serialized record keeps the manifest order too.
        let text = serde_json::to_string(r).unwrap();
        let parsed: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed.keys().map(String::as_str).collect::<Vec<_>>(),
            FIELD_ORDER
        );
        let user = h.user(&r.key).expect("the record is a user of the server");
        assert_eq!(
            Value::Object(parsed),
            expected_record(&user),
            "record {}",
            r.key
        );
        assert!(r.get("active").unwrap().is_boolean());
        assert!(r.get("admin_roles").unwrap().is_array());
        assert_eq!(
            r.get("connector_sync_time"),
            Some(&json!("2026-01-31T12:00:00Z"))
        );
    }

    let crafted = out.records.iter().find(|r| r.key == "crafted-1").unwrap();
    assert_eq!(
        crafted.get("email"),
        Some(&json!("ada.lovelace@example.com"))
    );
    assert_eq!(crafted.get("active"), Some(&json!(false)));
    assert_eq!(
        crafted.get("role"),
        Some(&json!("ORGANIZATION_INTERNAL_ADMIN"))
    );
    assert_eq!(
        crafted.get("admin_roles"),
        Some(&json!(["Content Admin", "User Admin"]))
    );
    assert_eq!(crafted.get("department"), Some(&json!("R&D")));
    assert_eq!(crafted.get("cost_center"), Some(&json!("CC-7")));
    assert_eq!(crafted.get("employee_number"), Some(&json!("E9")));
    assert_eq!(
        crafted.get("manager_id"),
        Some(&json!("3074457345618258000"))
    );

    // The generated data exercises both sides of the optional fields.
    let has = |f: &str, pred: &dyn Fn(&Value) -> bool| {
        out.records.iter().any(|r| pred(r.get(f).unwrap()))
    };
    assert!(has("admin_roles", &|v| v
        .as_array()
        .is_some_and(|a| !a.is_empty())));
    assert!(has("department", &|v| v.is_string()));
    assert!(has("department", &Value::is_null));
    assert!(has("active", &|v| v == &json!(false)));

    // Every request carried the token and the SCIM media type; pages of 200 were asked for.
    let reqs = h.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(r.accept.as_deref(), Some("application/scim+json"));
        assert_eq!(r.query_param("count").as_deref(), Some("200"));
    }
    assert_eq!(reqs[0].query_param("startIndex").as_deref(), Some("1"));
}

#[tokio::test]
async fn sync_time_is_the_same_for_every_record_with_default_options() {
    let srv = server(120).await;
    let out = run_manifest(
        &TestManifest {
            page_size: 25,
            ..TestManifest::default()
        },
        &srv.scim_base_url(),
    )
    .await;
    assert_eq!(out.records.len(), 120);
    let first = out.records[0].get("connector_sync_time").unwrap().clone();
    let text = first.as_str().expect("an RFC 3339 string");
    assert!(DateTime::parse_from_rfc3339(text).is_ok(), "{text}");
    assert!(
        out.records
            .iter()
            .all(|r| r.get("connector_sync_time") == Some(&first))
    );
}

/// Reads `users` users with `page_size`/`concurrency` from a server capping pages at
/// `cap`; returns what went wrong, if anything.
async fn read_all(
    users: usize,
    cap: usize,
    page_size: u32,
    concurrency: u32,
) -> Result<(), String> {
    let ctx = format!("{users} users, cap {cap}, page_size {page_size}, concurrency {concurrency}");
    let srv = server_with(ServerConfig {
        users,
        max_results: cap,
        ..ServerConfig::default()
    })
    .await;
    let m = TestManifest {
        page_size,
        concurrency,
        ..TestManifest::default()
    };
    let out = run_manifest(&m, &srv.scim_base_url()).await;
    let s = out.summary();
    let ids = out.ids();
    let mut want = srv.handle().user_ids();
    let mut got = ids.clone();
    want.sort();
    got.sort();
    got.dedup();
    if got.len() != ids.len() {
        return Err(format!("{ctx}: users emitted twice"));
    }
    if got != want {
        return Err(format!(
            "{ctx}: {} of {} users emitted ({s:?})",
            got.len(),
            want.len()
        ));
    }
    if !s.complete || s.passes != 1 || !s.warnings.is_empty() {
        return Err(format!(
            "{ctx}: no drift, so one complete pass without warnings: {s:?}"
        ));
    }
    let min_pages = users.div_ceil(cap.min(page_size as usize).max(1));
    if (s.pages as usize) < min_pages {
        return Err(format!("{ctx}: {} pages", s.pages));
    }
    Ok(())
}

#[tokio::test]
async fn a_server_page_cap_below_page_size_loses_and_repeats_nobody() {
    let mut failures = Vec::new();
    for users in [0usize, 1, 2, 36, 37, 38, 73, 74, 300] {
        for concurrency in [1, 4] {
            if let Err(e) = read_all(users, 37, 200, concurrency).await {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn small_pages_sequential_and_concurrent() {
    let mut failures = Vec::new();
    for (page_size, concurrency) in [(2, 1), (2, 4), (3, 2), (7, 1), (7, 3), (50, 4)] {
        if let Err(e) = read_all(103, 1000, page_size, concurrency).await {
            failures.push(e);
        }
    }
    // A server cap of 2 under a large page size.
    for concurrency in [1, 4] {
        if let Err(e) = read_all(25, 2, 200, concurrency).await {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Fixed bug, kept as a regression test.
/// Where it was (core/src/fetch/scim.rs, `Cursor::next_start` with `book`'s `overlap_only`):
/// every page after the first starts one record early to overlap the previous one,
/// so a page that can hold one record (page_size 1, or a server capping `count` at
/// 1) only ever returns the overlap record, which `book` takes for the end of the
/// list: one user is read, the rest are silently lost and the read says complete.
#[tokio::test]
async fn pages_of_one_record() {
    let mut failures = Vec::new();
    for concurrency in [1, 4] {
        if let Err(e) = read_all(12, 1000, 1, concurrency).await {
            failures.push(e);
        }
        if let Err(e) = read_all(12, 1, 200, concurrency).await {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn limit_stops_after_exactly_that_many_records() {
    for (page_size, concurrency) in [(200, 4), (3, 1), (3, 4)] {
        let srv = server(300).await;
        let c = TestManifest {
            page_size,
            concurrency,
            ..TestManifest::default()
        }
        .load();
        let i = inputs(&c, &srv.scim_base_url(), TOKEN);
        let out = run(
            c,
            &i,
            FetchOptions {
                limit: Some(10),
                ..FetchOptions::default()
            },
        )
        .await;
        let s = out.summary();
        assert_eq!(out.records.len(), 10, "page_size {page_size}");
        assert_eq!(s.records, 10);
        assert!(!s.complete, "a limited read is not complete");
        let all = srv.handle().user_ids();
        assert_eq!(
            out.ids(),
            all[..10].to_vec(),
            "the first ten users, in server order"
        );
    }
}

#[tokio::test]
async fn a_limit_shrinks_the_pages_it_asks_for() {
    // SCIM: `count` is cut to the limit, so a read of 5 is one request for 5.
    let srv = server(300).await;
    let c = TestManifest::default().load();
    let i = inputs(&c, &srv.scim_base_url(), TOKEN);
    let out = run(
        c,
        &i,
        FetchOptions {
            limit: Some(5),
            ..FetchOptions::default()
        },
    )
    .await;
    assert_eq!(out.records.len(), 5);
    let sent = srv.handle().requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].query_param("count").as_deref(), Some("5"));
    assert_eq!(sent[0].query_param("startIndex").as_deref(), Some("1"));

    // A limit above the page size leaves the page size alone.
    srv.handle().reset_requests();
    let c = TestManifest {
        page_size: 20,
        concurrency: 1,
        ..TestManifest::default()
    }
    .load();
    let out = run(
        c,
        &i,
        FetchOptions {
            limit: Some(30),
            ..FetchOptions::default()
        },
    )
    .await;
    assert_eq!(out.records.len(), 30);
    let counts: Vec<_> = srv
        .handle()
        .requests()
        .iter()
        .map(|r| r.query_param("count").unwrap())
        .collect();
    assert_eq!(counts, ["20", "20"]);

    // Cursor paging with a declared size parameter (Miro's members list): `limit=2`.
    srv.handle().reset_requests();
    let c = TestManifest::default().load();
    let mut p = rollcall_core::ProvidedInputs::new();
    let o = || rollcall_core::Origin::Other("test".into());
    p.provide("base_url", srv.scim_base_url(), o());
    p.provide("token", TOKEN, o());
    p.provide("rest_base_url", srv.rest_base_url(), o());
    p.provide("org_id", srv.handle().config().org_id.clone(), o());
    p.provide("rest_token", srv.handle().config().rest_token.clone(), o());
    let i = rollcall_core::Inputs::resolve(&c, p).unwrap();
    let mut f = fetch::start(
        c,
        "members",
        &i,
        FetchOptions {
            limit: Some(2),
            ..FetchOptions::default()
        },
        Arc::new(Silent),
    )
    .unwrap();
    let mut n = 0;
    while let Some(item) = f.items.recv().await {
        assert!(matches!(item, Item::Record(_)));
        n += 1;
    }
    f.task.await.unwrap().unwrap();
    assert_eq!(n, 2);
    let sent = srv.handle().requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].path.ends_with("/members"), "{}", sent[0].path);
    assert_eq!(sent[0].query_param("limit").as_deref(), Some("2"));
}

/// Fixed bug, kept as a regression test.
/// Where it was (core/src/fetch/mod.rs, `Emitter::emit`): the limit is checked after a
/// record is sent, so `limit: Some(0)` (`--limit 0`) still emits one record.
#[tokio::test]
async fn a_limit_of_zero_emits_nothing() {
    let srv = server(20).await;
    let c = TestManifest::default().load();
    let i = inputs(&c, &srv.scim_base_url(), TOKEN);
    let out = run(
        c,
        &i,
        FetchOptions {
            limit: Some(0),
            ..FetchOptions::default()
        },
    )
    .await;
    assert_eq!(out.records.len(), 0, "{:?}", out.ids());
    assert!(!out.summary().complete);
}

#[tokio::test]
async fn a_limit_above_the_user_count_reads_everything() {
    let srv = server(40).await;
    let c = TestManifest::default().load();
    let i = inputs(&c, &srv.scim_base_url(), TOKEN);
    let out = run(
        c,
        &i,
        FetchOptions {
            limit: Some(1000),
            ..FetchOptions::default()
        },
    )
    .await;
    assert_eq!(out.records.len(), 40);
    assert!(out.summary().complete);
}

#[tokio::test]
async fn malformed_records_are_skipped_with_position_and_reason() {
    let srv = server(300).await;
    let h = srv.handle();
    let good = h.user_ids();
    // Position 301: no id at all. Position 302: `active` is not a boolean.
    h.insert_user(json!({"userName": "ghost@example.com", "active": true}));
    h.insert_user(json!({"id": "bad-active", "userName": "maybe@example.com", "active": "maybe"}));
    let out = run_manifest(
        &TestManifest {
            concurrency: 1,
            ..TestManifest::default()
        },
        &srv.scim_base_url(),
    )
    .await;
    let s = out.summary();

    assert_same_users(&out.ids(), &good);
    assert_eq!(s.skipped, 2);
    assert_eq!(out.skipped.len(), 2);
    // Pages of 200: the second page starts at 200 (one record of overlap).
    let no_id = &out.skipped[0];
    assert_eq!(no_id.position, "page at startIndex=200, record 102");
    assert_eq!(no_id.key, None);
    assert_eq!(no_id.reason, "the required field `id` is missing");
    let maybe = &out.skipped[1];
    assert_eq!(maybe.position, "page at startIndex=200, record 103");
    assert_eq!(maybe.key.as_deref(), Some("bad-active"));
    assert_eq!(
        maybe.reason,
        "field `active` should be true or false, but it is a string (\"maybe\")"
    );
    assert!(s.complete);
}

#[tokio::test]
async fn a_malformed_record_on_a_page_boundary_is_reported_once() {
    // The 50th user is malformed; with pages of 50 it is the last record of page 1
    // and the overlap record of page 2, so it is read twice.
    for concurrency in [1, 4] {
        let srv = server(49).await;
        let h = srv.handle();
        h.insert_user(json!({"id": "boundary", "userName": "b@example.com", "active": "perhaps"}));
        h.add_generated_users(60);
        let m = TestManifest {
            page_size: 50,
            concurrency,
            ..TestManifest::default()
        };
        let out = run_manifest(&m, &srv.scim_base_url()).await;
        let want: Vec<String> = h
            .user_ids()
            .into_iter()
            .filter(|id| id != "boundary")
            .collect();
        assert_same_users(&out.ids(), &want);
        assert_eq!(
            out.skipped.len(),
            1,
            "concurrency {concurrency}: {:?}",
            out.skipped
        );
        assert_eq!(out.summary().skipped, 1);
        assert_eq!(out.skipped[0].position, "page at startIndex=1, record 50");
    }
}

#[tokio::test]
async fn records_that_are_not_objects_are_skipped_not_fatal() {
    let srv = server(20).await;
    let h = srv.handle();
    h.insert_user(json!("just a string"));
    h.insert_user(json!(42));
    h.insert_user(json!({"id": 7, "userName": "numeric-id@example.com"}));
    let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
    let s = out.summary();
    assert_eq!(
        out.records.len(),
        21,
        "20 users and the one with a numeric id"
    );
    assert!(out.ids().contains(&"7".to_string()));
    assert_eq!(s.skipped, 2);
    for sk in &out.skipped {
        assert!(sk.reason.contains("`id`"), "{sk:?}");
    }
}

#[tokio::test]
async fn a_consumer_that_stops_early_ends_the_fetch_cleanly() {
    let srv = server(300).await;
    let c = TestManifest {
        page_size: 20,
        concurrency: 1,
        ..TestManifest::default()
    }
    .load();
    let i = inputs(&c, &srv.scim_base_url(), TOKEN);
    let options = FetchOptions {
        channel_capacity: 1,
        ..FetchOptions::default()
    };
    let mut f = fetch::start(c, "users", &i, options, Arc::new(Silent)).unwrap();
    for _ in 0..5 {
        assert!(matches!(f.items.recv().await, Some(Item::Record(_))));
    }
    drop(f.items);
    let summary = f
        .task
        .await
        .unwrap()
        .expect("a consumer leaving is not an error");
    assert!(!summary.complete);
    assert!(summary.records < 300);
    // It stopped paging: far fewer than the 15 pages of a full read.
    assert!(
        srv.handle().request_count() < 15,
        "{} requests",
        srv.handle().request_count()
    );
}

#[tokio::test]
async fn an_unknown_stream_is_refused_at_start() {
    let srv = server(1).await;
    let c = TestManifest::default().load();
    let i = inputs(&c, &srv.scim_base_url(), TOKEN);
    let err = fetch::start(c, "groups", &i, FetchOptions::default(), Arc::new(Silent))
        .err()
        .expect("no stream `groups`");
    assert!(
        err.to_string()
            .contains("has no stream `groups`; its streams are: users"),
        "{err}"
    );
    assert_eq!(srv.handle().request_count(), 0);
}

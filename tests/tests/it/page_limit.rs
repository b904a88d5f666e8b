//! The page limit (`max_pages`): every paginator that stops there while the API still
//! has a next page fails the read, so a partial list never passes for the whole one;
//! a list that ends within the limit reads as before.

use rollcall_core::FetchOptions;
use rollcall_tests::{TOKEN, inputs, load_text};
use serde_json::json;

use crate::support::{Hit, Reply, tiny};

/// The paginators, as the manifest writes them (indented under `paginator:`).
const STYLES: [(&str, &str); 6] = [
    (
        "scim one at a time",
        "scim: { page_size: 2, concurrency: 1 }",
    ),
    ("scim concurrent", "scim: { page_size: 2, concurrency: 4 }"),
    ("offset", "offset: { page_size: 2 }"),
    ("page numbers", "page: { page_size: 2 }"),
    ("cursor", "cursor: { next: { path: $.next } }"),
    ("link header", "link_header: {}"),
];

const LIMIT: u64 = 3;

fn manifest(paginator: &str) -> String {
    format!(
        r#"apiVersion: rollcall/v1
name: pages
version: 1.0.0
inputs:
  base_url:
    description: The base URL.
  token:
    description: The token.
    secret: true
http:
  base_url: "{{{{base_url}}}}"
auth:
  bearer:
    token: "{{{{token}}}}"
streams:
  users:
    request:
      path: /Users
    paginator:
      {paginator}
    max_pages: {LIMIT}
    records: $.Resources[*]
    primary_key: id
    fields:
      id:
        label: Id
        path: $.id
"#
    )
}

/// One answer for every paging style: the records from the position the request asks
/// for (SCIM `startIndex`, `offset`, `page`, a cursor or the `after` of a Link), two
/// by default, with the next cursor and Link while records remain. `len: None` is a
/// list that never ends.
fn answer(hit: &Hit, len: Option<usize>) -> Reply {
    let size = ["count", "limit", "per_page"]
        .iter()
        .find_map(|p| hit.num(p))
        .unwrap_or(2);
    let start = if let Some(s) = hit.num("startIndex") {
        s.max(1)
    } else if let Some(o) = hit.num("offset") {
        o + 1
    } else if let Some(p) = hit.num("page") {
        (p.max(1) - 1) * size + 1
    } else {
        hit.num("cursor").or_else(|| hit.num("after")).unwrap_or(1)
    };
    let end = len.map_or(start + size, |l| (start + size).min(l + 1));
    let records: Vec<_> = (start..end.max(start))
        .map(|i| json!({"id": format!("u{i}")}))
        .collect();
    let mut body = json!({
        "Resources": records,
        "totalResults": len.unwrap_or(1_000_000),
    });
    let mut reply_headers = Vec::new();
    if len.is_none_or(|l| end <= l) {
        body["next"] = json!(end.to_string());
        reply_headers.push(("link", format!("</scim/Users?after={end}>; rel=\"next\"")));
    }
    Reply {
        headers: reply_headers,
        ..Reply::json(body)
    }
}

#[tokio::test]
async fn every_paginator_fails_at_max_pages_while_the_api_still_has_a_next_page() {
    for (style, paginator) in STYLES {
        let srv = tiny(|hit| answer(hit, None)).await;
        let c = load_text(&manifest(paginator));
        let out = rollcall_tests::run(
            c.clone(),
            &inputs(&c, &srv.base, TOKEN),
            FetchOptions::default(),
        )
        .await;
        let message = out.error().to_string();
        assert!(
            message.starts_with(&format!(
                "the API still had a next page after {LIMIT} pages (the last: GET http://"
            )) && message.contains(
                "that is the stream's limit (`max_pages`), so rollcall stops there and fails the read"
            ),
            "{style}: {message}"
        );
        assert_eq!(
            srv.hits().len() as u64,
            LIMIT,
            "{style}: no request past the limit"
        );
        assert!(!message.contains(TOKEN), "{style}");
    }
}

#[tokio::test]
async fn a_list_that_ends_within_max_pages_is_read_completely() {
    for (style, paginator) in STYLES {
        let srv = tiny(|hit| answer(hit, Some(4))).await;
        let c = load_text(&manifest(paginator));
        let out = rollcall_tests::run(
            c.clone(),
            &inputs(&c, &srv.base, TOKEN),
            FetchOptions::default(),
        )
        .await;
        let s = out.summary();
        assert!(s.complete, "{style}: {s:?}");
        assert_eq!(out.ids(), ["u1", "u2", "u3", "u4"], "{style}");
        assert!(srv.hits().len() as u64 <= LIMIT, "{style}");
    }
}

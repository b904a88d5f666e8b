//! Example rollcall plugin `pager`, as a dynamic library: a paginator.
//!
//! - `scim_pages` (paginator): walks a SCIM list (RFC 7644) by `startIndex`. After
//!   each page it answers the next `startIndex` (this page's `startIndex` plus the
//!   records the page really held), or the end once a page is empty or the list's
//!   `totalResults` are read. The page size is the stream's own `count` query
//!   parameter, which rollcall keeps on every request.
//!
//! It declares the body attributes it reads (`needs`), so rollcall sends it those
//! two numbers and not the page's records.
//!
//! rollcall's built-in `scim` paginator does more (pages in parallel, lists that
//! change while they are read); this is an example of the messages, small enough to
//! read in a minute. `examples/plugin-pager-py/pager.py` does the same as a
//! subprocess.

use rollcall_plugin_sdk::{Capability, CapabilityKind, Description, Request, Response};
use serde_json::Value;
use std::collections::BTreeMap;

rollcall_plugin_sdk::export_plugin!(describe: describe, handle: handle);

/// What the plugin offers.
pub fn describe() -> Description {
    Description {
        name: "pager".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: Some("Paginators for APIs the built-in ones do not fit.".into()),
        capabilities: vec![Capability {
            kind: CapabilityKind::Paginator,
            function: "scim_pages".into(),
            description: Some(
                "SCIM paging: the next startIndex from this page's, until totalResults.".into(),
            ),
            needs_record: false,
            needs: Some(vec!["startIndex".into(), "totalResults".into()]),
        }],
        config_schema: None,
    }
}

/// Answers one request.
pub fn handle(request: Request) -> Result<Response, String> {
    match request {
        Request::Paginate {
            function,
            count,
            body,
            ..
        } if function == "scim_pages" => Ok(scim_pages(count, &body)),
        Request::Paginate { function, .. } => Err(format!("there is no paginator `{function}`")),
        _ => Err("this plugin offers no such request".into()),
    }
}

/// The page after one that held `count` records and answered `body`.
pub fn scim_pages(count: u64, body: &Value) -> Response {
    if count == 0 {
        return Response::End;
    }
    let start = number(body, "startIndex").unwrap_or(1).max(1);
    let next = start + count;
    if number(body, "totalResults").is_some_and(|total| next > total) {
        return Response::End;
    }
    Response::Next {
        url: None,
        params: Some(BTreeMap::from([(
            "startIndex".to_string(),
            Value::from(next),
        )])),
    }
}

/// A non-negative integer attribute (SCIM servers send numbers, some as text).
fn number(body: &Value, name: &str) -> Option<u64> {
    match body.get(name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_by_start_index_until_the_total() {
        let next = |count, body| match scim_pages(count, &body) {
            Response::Next {
                params: Some(p), ..
            } => Some(p["startIndex"].clone()),
            Response::End => None,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            next(10, json!({"startIndex": 1, "totalResults": 25})),
            Some(json!(11))
        );
        assert_eq!(
            next(10, json!({"startIndex": "11", "totalResults": "25"})),
            Some(json!(21))
        );
        assert_eq!(next(5, json!({"startIndex": 21, "totalResults": 25})), None);
        assert_eq!(next(0, json!({"startIndex": 21})), None);
        // Without totalResults it goes on until an empty page.
        assert_eq!(next(10, json!({})), Some(json!(11)));
    }
}

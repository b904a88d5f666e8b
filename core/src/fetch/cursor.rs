//! Cursor paging (a cursor from the body or a header, sent back as a parameter)
//! and RFC 8288 `Link` header paging. Both stop on an empty page or a missing
//! cursor, and refuse to loop on a cursor they have already followed. A list that
//! still has a next page at the stream's `max_pages` fails the read.

use std::collections::HashSet;

use serde_json::Value;

use super::PageCtx;
use crate::compile::{CursorFrom, Paginator};
use crate::http::FetchError;

pub(crate) async fn run(ctx: &mut PageCtx<'_>) -> Result<(), FetchError> {
    let paginator = ctx.req.paginator.clone();
    let mut seen_cursors: HashSet<String> = HashSet::new();
    let mut url = match &paginator {
        Paginator::Cursor {
            size: Some((p, n)), ..
        }
        | Paginator::LinkHeader { size: Some((p, n)) } => {
            ctx.req.page_url(&[(p.as_str(), n.to_string())])
        }
        _ => ctx.req.page_url(&[]),
    };
    let mut last_request = String::new();
    for page_no in 1..=ctx.max_pages {
        let page = ctx.req.get_page(url.clone()).await?;
        let items = ctx.req.select(&page);
        let n = items.len();
        ctx.out.emit(&page, items, &format!("page {page_no}")).await;
        if ctx.out.stopped {
            return Ok(());
        }
        let next = match &paginator {
            Paginator::Cursor {
                next,
                cursor_param,
                size,
            } => {
                let cursor = match next {
                    CursorFrom::Path(p) => match p.first(&page.body) {
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(Value::Number(n)) => Some(n.to_string()),
                        _ => None,
                    },
                    CursorFrom::Header(h) => page
                        .headers
                        .get(h.as_str())
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                };
                match cursor.filter(|c| !c.trim().is_empty()) {
                    None => None,
                    Some(c) => {
                        let mut params = vec![(cursor_param.as_str(), c.clone())];
                        if let Some((p, n)) = size {
                            params.push((p.as_str(), n.to_string()));
                        }
                        Some((c, ctx.req.page_url(&params)))
                    }
                }
            }
            Paginator::LinkHeader { .. } => next_link(&page.headers)
                .and_then(|href| url.join(&href).ok().map(|u| (u.to_string(), u))),
            _ => {
                return Err(FetchError::Protocol(
                    "internal: not a cursor paginator".into(),
                ));
            }
        };
        let Some((token, next_url)) = next else {
            return ctx.list_ended();
        };
        if n == 0 {
            // An API that hands out a cursor with an empty last page (common) ends here.
            return ctx.list_ended();
        }
        if !seen_cursors.insert(token) {
            return Err(FetchError::Protocol(format!(
                "{} returned a cursor that was already followed; rollcall stops instead of looping forever",
                page.request
            )));
        }
        url = next_url;
        last_request = page.request;
    }
    Err(ctx.too_many_pages("the API", &last_request))
}

/// The `rel="next"` target of RFC 8288 `Link` headers.
pub fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    for value in headers.get_all(reqwest::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        for part in split_links(text) {
            let part = part.trim();
            let Some(end) = part.find('>') else { continue };
            if !part.starts_with('<') {
                continue;
            }
            let target = &part[1..end];
            let is_next = part[end + 1..].split(';').any(|p| {
                let p = p.trim();
                let Some(v) = p.strip_prefix("rel=").or_else(|| p.strip_prefix("rel =")) else {
                    return false;
                };
                v.trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return Some(target.to_string());
            }
        }
    }
    None
}

/// Splits a Link header on the commas between links (not those inside `<...>`).
fn split_links(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '<' => depth = true,
            '>' => depth = false,
            ',' if !depth => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

    #[test]
    fn parses_github_style_links() {
        let mut h = HeaderMap::new();
        h.insert(LINK, HeaderValue::from_static(
            "<https://api.github.com/orgs/x/members?page=2&a=1,2>; rel=\"next\", <https://api.github.com/orgs/x/members?page=5>; rel=\"last\"",
        ));
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/orgs/x/members?page=2&a=1,2")
        );
        h.insert(
            LINK,
            HeaderValue::from_static("<https://x/?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h), None);
    }
}

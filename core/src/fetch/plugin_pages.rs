//! Pages chosen by a plugin's paginator function. The first request is the stream's
//! own (its URL and `request.query`); after each page the plugin gets what it needs
//! of the response (the URL requested, the status, the headers, how many records the
//! page held, the body or only the top-level attributes it declared in `needs`) and
//! answers the next request (a URL, or query parameters for the stream's URL) or the
//! end.
//!
//! The engine keeps its guards: at most the stream's `max_pages` pages (a plugin
//! still going there fails the read), never the same request twice (a loop), never
//! a request on another host than the base URL (credentials would leak). A paginator call that fails (a crash, a hang, a wrong answer) fails
//! the stream: unlike a record, a page cannot be skipped.

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;

use url::Url;

use super::{KeyHasher, Page, PageCtx, Requester};
use crate::http::{FetchError, same_origin};
use crate::plugin::{NextPage, PluginFn, Request, Response};
use crate::raw_record::RecordView;

pub(crate) async fn run(ctx: &mut PageCtx<'_>, call: &PluginFn) -> Result<(), FetchError> {
    // 64-bit hashes of the URLs requested so far (8 bytes a page).
    let mut requested: HashSet<u64, KeyHasher> = HashSet::default();
    let mut url = ctx.req.page_url(&[]);
    let mut last_request = String::new();
    for page_no in 1..=ctx.max_pages {
        requested.insert(requested.hasher().hash_one(url.as_str()));
        let page = ctx.req.get_page(url.clone()).await?;
        let items = ctx.req.select(&page);
        let count = items.len() as u64;
        ctx.out.emit(&page, items, &format!("page {page_no}")).await;
        if ctx.out.stopped {
            return Ok(());
        }
        let request = paginate_request(call, &ctx.req, &url, &page, page_no, count);
        let next = match ask(call, request).await {
            // The host's error names the plugin and its file, not the function.
            Err(e) => Err(format!("{} failed: {e}", call.who())),
            Ok(response) => call.paginate_answer(response),
        }
        .map_err(|e| {
            FetchError::Protocol(format!(
                "the stream's paginator could not say what follows page {page_no} ({}): {e}; the stream stops there",
                page.request
            ))
        })?;
        let next = match next {
            NextPage::End => return ctx.list_ended(),
            NextPage::Url(target) => url.join(target.trim()).map_err(|e| {
                FetchError::Protocol(format!(
                    "{} answered `{}` as the page after page {page_no}, which is not a URL ({e})",
                    call.who(),
                    ctx.req.engine.redactor().redact(&target)
                ))
            })?,
            NextPage::Params(params) => with_params(&ctx.req, &params),
        };
        let shown = ctx.req.engine.redactor().redact(next.as_str());
        if !same_origin(&next, ctx.req.engine.origin()) {
            return Err(FetchError::Protocol(format!(
                "{} answered {shown} as the page after page {page_no}, which is on another host than the connector's base URL ({}); rollcall only sends credentials to the base URL's host, so the stream stops",
                call.who(),
                ctx.req.engine.origin().origin().ascii_serialization()
            )));
        }
        if requested.contains(&requested.hasher().hash_one(next.as_str())) {
            return Err(FetchError::Protocol(format!(
                "{} answered {shown} as the page after page {page_no}, but it was already requested; rollcall stops instead of looping forever",
                call.who()
            )));
        }
        url = next;
        last_request = page.request;
    }
    Err(ctx.too_many_pages(&call.who(), &last_request))
}

/// The `paginate` message for a page just read. No credentials travel: the URL is
/// the one requested (auth headers are not part of it, and secrets in it are
/// scrubbed), and only response headers are sent (never `set-cookie`).
fn paginate_request(
    call: &PluginFn,
    req: &Requester,
    url: &Url,
    page: &Page,
    page_no: u64,
    count: u64,
) -> Request {
    let redactor = req.engine.redactor();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &page.headers {
        if name == reqwest::header::SET_COOKIE {
            continue;
        }
        let value = redactor.redact(&String::from_utf8_lossy(value.as_bytes()));
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    Request::Paginate {
        function: call.function.clone(),
        page: page_no,
        url: redactor.redact(url.as_str()),
        status: page.status,
        headers,
        count,
        // what the capability needs of the body (serializing a projection cannot fail)
        body: serde_json::to_value(call.project(RecordView::from(&page.body)))
            .unwrap_or(serde_json::Value::Null),
        config: call.config.clone(),
    }
}

/// Sends the request; a plugin that may block on I/O is called on tokio's blocking
/// pool.
async fn ask(call: &PluginFn, request: Request) -> Result<Response, String> {
    if !call.plugin.blocks() {
        return call.plugin.invoke(&request);
    }
    let plugin = call.plugin.clone();
    match tokio::task::spawn_blocking(move || plugin.invoke(&request)).await {
        Ok(r) => r,
        Err(e) => Err(format!("{} stopped unexpectedly: {e}", call.who())),
    }
}

/// The stream's URL with its static query, `params` set on it (a parameter of the
/// same name replaced; None: left out).
fn with_params(req: &Requester, params: &[(String, Option<String>)]) -> Url {
    let mut url = req.url.clone();
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in req.query.iter() {
            if !params.iter().any(|(p, _)| p == k) {
                q.append_pair(k, v);
            }
        }
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    url
}

//! SCIM 2.0 paging (RFC 7644 §3.4.2.4) that loses no user and repeats none.
//!
//! - `startIndex` is 1-based; the client advances by the number of resources the
//!   server actually returned (servers may cap `count`), never by `count`.
//! - Missing `Resources`, `itemsPerPage` or `startIndex`, `totalResults` as a
//!   string: all tolerated; an empty page ends the list.
//! - Every page after the first starts one record early, so its first record must be
//!   the previous page's last. If it is not, or `totalResults` changed, the list
//!   shifted while being read (users joined or left) and users may have slid past a
//!   page boundary unseen. The pass is finished and the list read again; records
//!   already emitted are recognised by their primary key and not sent twice.
//! - Once the first page gives `totalResults`, the remaining pages are requested
//!   `concurrency` at a time and processed in order (within the rate limit).
//! - A pass that still has a next page after the stream's `max_pages` pages fails
//!   the read.

use futures::StreamExt;
use serde_json::Value;

use super::{FetchedPage, Page, PageCtx, Requester};
use crate::http::FetchError;

/// A spawned page request, cancelled when the plan is abandoned.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// At most this many records are requested ahead of the one being emitted.
const MAX_RECORDS_IN_FLIGHT: u64 = 2048;

pub(crate) async fn run(
    ctx: &mut PageCtx<'_>,
    page_size: u32,
    concurrency: u32,
    max_passes: u32,
) -> Result<(), FetchError> {
    for pass_no in 1..=max_passes {
        ctx.out.summary.passes = pass_no;
        let shifted = one_pass(ctx, page_size, concurrency).await?;
        if ctx.out.stopped {
            return Ok(());
        }
        match shifted {
            None => {
                ctx.out.summary.complete = true;
                return Ok(());
            }
            Some(why) if pass_no < max_passes => {
                ctx.out.warn(format!(
                    "the list changed while it was being read ({why}); reading it again so that no user who moved between pages is missed (users already read are not repeated)"
                ));
            }
            Some(why) => {
                ctx.out.warn(format!(
                    "the list was still changing after {max_passes} passes ({why}); users who joined or left during the sync may be missing from this run"
                ));
                ctx.out.summary.complete = false;
                return Ok(());
            }
        }
    }
    Ok(())
}

fn resources<'p>(req: &Requester, page: &'p Page) -> Vec<&'p Value> {
    let selected = req.select(page);
    if !selected.is_empty() {
        return selected;
    }
    // Attribute names are case-insensitive in SCIM: accept `resources` too.
    match page.member_ci("Resources") {
        Some(Value::Array(a)) => a.iter().collect(),
        _ => Vec::new(),
    }
}

async fn fetch(req: &Requester, start: u64, count: u32) -> Result<Page, FetchError> {
    let url = req.page_url(&[
        ("startIndex", start.to_string()),
        ("count", count.to_string()),
    ]);
    let page = req.get_page(url).await?;
    if !page.body.is_object() {
        return Err(FetchError::Protocol(format!(
            "{} did not answer with a SCIM ListResponse (a JSON object with `Resources`)",
            page.request
        )));
    }
    Ok(page)
}

/// Where a pass stands.
struct Cursor {
    /// 1-based index of the first record not read yet.
    next: u64,
    /// Key of the last record read (the expected first record of the next page).
    prev_last: Option<String>,
    /// totalResults as last reported.
    total: Option<u64>,
    /// Why the list is known to have shifted during this pass.
    shifted: Option<String>,
    /// The list ended.
    done: bool,
    /// Records in the last page booked (overlap needs at least 2).
    prev_n: u64,
    /// Key of the first record of the last page booked (to spot repeated pages).
    prev_first: Option<String>,
}

impl Cursor {
    /// Books a page that started at `start` (`expected` = records the page should
    /// hold if it is not the last); returns nothing, updates the state.
    fn book(
        &mut self,
        start: u64,
        page_total: Option<u64>,
        n: u64,
        first: Option<String>,
        last: Option<String>,
        expected: Option<u64>,
    ) {
        if self.shifted.is_none()
            && let (Some(a), Some(b)) = (self.total, page_total)
            && a != b
        {
            self.shifted = Some(format!("totalResults went from {a} to {b}"));
        }
        if self.shifted.is_none()
            && start < self.next
            && let (Some(p), Some(f)) = (&self.prev_last, &first)
            && p != f
        {
            self.shifted = Some(format!(
                "the record at startIndex={start} was expected to be `{p}` but is `{f}`"
            ));
        }
        let total = page_total.or(self.total);
        if self.shifted.is_none()
            && let (Some(k), Some(t)) = (expected, total)
            && n < k
            && start + n <= t
        {
            self.shifted = Some(format!(
                "the page at startIndex={start} held {n} records where {k} were expected"
            ));
        }
        self.total = total;
        let overlap_only =
            start < self.next && n == 1 && first.is_some() && first == self.prev_last;
        if n == 0 || overlap_only {
            self.done = true;
            return;
        }
        self.next = start + n;
        self.prev_last = last;
        self.prev_n = n;
        if let Some(t) = self.total
            && self.next > t
        {
            self.done = true;
        }
    }

    /// Where the next page starts: one record early when there is a record to overlap.
    fn next_start(&self) -> u64 {
        if self.prev_last.is_some() && self.next > 1 && self.prev_n >= 2 {
            self.next - 1
        } else {
            self.next
        }
    }
}

async fn one_pass(
    ctx: &mut PageCtx<'_>,
    page_size: u32,
    concurrency: u32,
) -> Result<Option<String>, FetchError> {
    let max_pages = ctx.max_pages;
    let first = fetch(&ctx.req, 1, page_size).await?;
    let total = first.count_ci("totalResults");
    if let Some(t) = total {
        ctx.out.expect_total(t);
    }
    let items = resources(&ctx.req, &first);
    let k = items.len() as u64;
    let out = ctx.out.emit(&first, items, "page at startIndex=1").await;
    if ctx.out.stopped {
        return Ok(None);
    }
    if k == 0 {
        if let Some(t) = total.filter(|t| *t > 0) {
            ctx.out.warn(format!(
                "the first page was empty although totalResults is {t}; treating the list as empty"
            ));
        }
        return Ok(None);
    }
    let mut cur = Cursor {
        next: 1,
        prev_last: None,
        total,
        shifted: None,
        done: false,
        prev_n: 0,
        prev_first: None,
    };
    cur.prev_first = out.first_key.clone();
    cur.book(1, total, k, out.first_key, out.last_key, None);
    // Pages read in this pass, and the last request (for the page limit's message).
    let mut pages_read: u64 = 1;
    let mut last_request = first.request;

    // Concurrent phase: the remaining pages are planned from totalResults, `k - 1`
    // apart so each overlaps the previous one by a record.
    // Pages in flight are also capped by records, so memory stays bounded whatever
    // the page size.
    let window = u64::from(concurrency).min((MAX_RECORDS_IN_FLIGHT / k).max(1)) as usize;
    if let (Some(t), true) = (total, window > 1 && k >= 2 && !cur.done) {
        let mut starts = Vec::new();
        let mut s = cur.next_start();
        // No more than the page limit allows; the sequential phase reports the limit.
        while s <= t && pages_read + (starts.len() as u64) < max_pages {
            starts.push(s);
            s += k - 1;
        }
        let req = &ctx.req;
        // Each page is requested, parsed and (without record transforms) extracted in its
        // own task, so that work runs on another worker while this one sends records,
        // and the parsed body is freed where it was allocated; the plan's order is kept.
        let mut pages = futures::stream::iter(starts)
            .map(|s| {
                let r = req.clone();
                let mut task = AbortOnDrop(tokio::spawn(async move {
                    let page = fetch(&r, s, page_size).await?;
                    Ok::<_, FetchError>(r.extract_page(page, resources))
                }));
                async move {
                    let page = match (&mut task.0).await {
                        Ok(p) => p,
                        Err(e) => Err(FetchError::Protocol(format!("a page request stopped: {e}"))),
                    };
                    (s, page)
                }
            })
            .buffered(window);
        while let Some((s, page)) = pages.next().await {
            let page = page?;
            if s != cur.next_start() {
                // An earlier page ended the list or shifted it: the plan no longer
                // holds. The sequential phase takes over from the true position.
                break;
            }
            let position = format!("page at startIndex={s}");
            let (out, total_results, request) = match page {
                FetchedPage::Extracted(extracted) => {
                    let (total, request) = (extracted.total_results, extracted.request.clone());
                    (
                        ctx.out.emit_extracted(extracted, &position).await,
                        total,
                        request,
                    )
                }
                FetchedPage::Raw(page) => {
                    let items = resources(req, &page);
                    let out = ctx.out.emit(&page, items, &position).await;
                    (out, page.count_ci("totalResults"), page.request)
                }
            };
            let n = out.count as u64;
            if ctx.out.stopped {
                return Ok(cur.shifted);
            }
            let expected = if s + k - 1 <= t { Some(k) } else { None };
            cur.prev_first = out.first_key.clone();
            cur.book(s, total_results, n, out.first_key, out.last_key, expected);
            pages_read += 1;
            last_request = request;
            if cur.done {
                break;
            }
        }
    }

    // Sequential phase (and the tail of the concurrent one).
    while !cur.done {
        if pages_read >= max_pages {
            return Err(ctx.too_many_pages("the API", &last_request));
        }
        let start = cur.next_start();
        let page = fetch(&ctx.req, start, page_size).await?;
        let items = resources(&ctx.req, &page);
        let n = items.len() as u64;
        let out = ctx
            .out
            .emit(&page, items, &format!("page at startIndex={start}"))
            .await;
        if ctx.out.stopped {
            return Ok(cur.shifted);
        }
        if n > 1 && out.first_key.is_some() && out.first_key == cur.prev_first {
            ctx.out.warn(format!(
                "the page at startIndex={start} starts with the same record as the page before it; the server seems to ignore startIndex, so the read stops here"
            ));
            return Ok(Some(cur.shifted.unwrap_or_else(|| "pages repeat".into())));
        }
        cur.prev_first = out.first_key.clone();
        cur.book(
            start,
            page.count_ci("totalResults"),
            n,
            out.first_key,
            out.last_key,
            None,
        );
        pages_read += 1;
        last_request = page.request;
    }
    Ok(cur.shifted)
}

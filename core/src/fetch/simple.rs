//! Offset/limit and page-number paging, and single requests.

use serde_json::Value;

use super::PageCtx;
use crate::compile::Paginator;
use crate::http::FetchError;

pub(crate) async fn run_single(ctx: &mut PageCtx<'_>) -> Result<(), FetchError> {
    let url = ctx.req.page_url(&[]);
    let page = ctx.req.get_page(url).await?;
    let items = ctx.req.select(&page);
    ctx.out.emit(&page, items, "the response").await;
    ctx.list_ended()
}

pub(crate) async fn run_numbered(ctx: &mut PageCtx<'_>) -> Result<(), FetchError> {
    let paginator = ctx.req.paginator.clone();
    let mut index: u64;
    let page_size: u32;
    match &paginator {
        Paginator::Offset {
            start,
            page_size: p,
            ..
        } => {
            index = *start;
            page_size = *p;
        }
        Paginator::Page {
            start_page,
            page_size: p,
            ..
        } => {
            index = *start_page;
            page_size = *p;
        }
        _ => {
            return Err(FetchError::Protocol(
                "internal: not a numbered paginator".into(),
            ));
        }
    }
    let mut last_first_key: Option<String> = None;
    // Each page either ends the list (return) or leads to the next; a list still going
    // at the limit fails the read.
    let mut last_request = String::new();
    for _ in 0..ctx.max_pages {
        let (params, position) = match &paginator {
            Paginator::Offset {
                offset_param,
                limit_param,
                ..
            } => (
                vec![
                    (offset_param.as_str(), index.to_string()),
                    (limit_param.as_str(), page_size.to_string()),
                ],
                format!("page at {offset_param}={index}"),
            ),
            Paginator::Page {
                page_param,
                size_param,
                ..
            } => (
                vec![
                    (page_param.as_str(), index.to_string()),
                    (size_param.as_str(), page_size.to_string()),
                ],
                format!("page {page_param}={index}"),
            ),
            _ => unreachable_paginator()?,
        };
        let url = ctx.req.page_url(&params);
        let page = ctx.req.get_page(url).await?;
        let items = ctx.req.select(&page);
        let n = items.len() as u64;
        let out = ctx.out.emit(&page, items, &position).await;
        if ctx.out.stopped {
            return Ok(());
        }
        if n == 0 {
            return ctx.list_ended();
        }
        if out.first_key.is_some() && out.first_key == last_first_key {
            return Err(FetchError::Protocol(format!(
                "{} returned the same page as the previous request; the API seems to ignore the paging parameters, so rollcall stops instead of looping",
                page.request
            )));
        }
        last_first_key = out.first_key;
        match &paginator {
            Paginator::Offset { total, .. } => {
                index += n;
                if let Some(t) = total
                    .as_ref()
                    .and_then(|p| p.first(&page.body))
                    .and_then(as_u64)
                    && index >= t
                {
                    return ctx.list_ended();
                }
            }
            Paginator::Page { total_pages, .. } => {
                if let Some(t) = total_pages
                    .as_ref()
                    .and_then(|p| p.first(&page.body))
                    .and_then(as_u64)
                    && index >= t
                {
                    return ctx.list_ended();
                }
                index += 1;
            }
            _ => unreachable_paginator()?,
        }
        if n < u64::from(page_size) {
            return ctx.list_ended();
        }
        last_request = page.request;
    }
    Err(ctx.too_many_pages("the API", &last_request))
}

fn unreachable_paginator<T>() -> Result<T, FetchError> {
    Err(FetchError::Protocol(
        "internal: not a numbered paginator".into(),
    ))
}

pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

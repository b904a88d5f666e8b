//! `rollcall explain CONNECTOR`: what a manifest will do, in plain text: inputs,
//! requests, pagination, fields with their paths and types, actions.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use rollcall_core::Connector;
use rollcall_core::compile::action::method_name;
use rollcall_core::compile::{Auth, CursorFrom, FieldSource, Paginator};

use crate::registry::Registry;

/// Explain a connector.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Connector name or manifest path.
    connector: String,
}

pub fn run(args: Args, registry: &Registry) -> Result<ExitCode> {
    let c = registry.load(&args.connector).map_err(|e| e.into_error())?;
    print!("{}", explain(&c));
    Ok(ExitCode::SUCCESS)
}

/// The explanation as text.
pub fn explain(c: &Connector) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} ({} {}, {})",
        c.display_name, c.name, c.version, c.origin
    );
    if let Some(d) = &c.description {
        let _ = writeln!(o, "  {}", d.trim());
    }
    if let Some(d) = &c.docs {
        let _ = writeln!(o, "  API docs: {d}");
    }
    let _ = writeln!(o, "\nInputs:");
    for (name, i) in &c.inputs {
        let how = if i.secret {
            format!(
                "secret: environment ROLLCALL_{}_{} or --secret-env {name}=VAR or a credential",
                rollcall_core::inputs::env_key(&c.name),
                rollcall_core::inputs::env_key(name)
            )
        } else if let Some(d) = &i.default {
            format!("default {d}")
        } else if i.required.unwrap_or(true) {
            "required: --set {name}=...".replace("{name}", name)
        } else {
            "optional".to_string()
        };
        let _ = writeln!(o, "  {name:<14} {} ({how})", i.description.trim());
    }
    let h = &c.http;
    let _ = writeln!(o, "\nHTTP:");
    let _ = writeln!(o, "  base URL       {}", h.base_url.source());
    for (k, v) in &h.headers {
        let _ = writeln!(o, "  header         {k}: {}", v.source());
    }
    let auth = match &c.auth {
        Auth::Bearer { token } => format!("Authorization: Bearer {}", token.source()),
        Auth::Header { name, value } => format!("{name}: {}", value.source()),
        Auth::Basic { username, .. } => format!("basic, user {}", username.source()),
        Auth::Query { name, value } => format!("query parameter {name}={}", value.source()),
        Auth::Plugin(p) => format!("headers from {}", p.who()),
        Auth::Token(t) => format!(
            "{}: {}, the token from {} {} ({}), kept until {:?} before it expires",
            t.header,
            t.value.source(),
            rollcall_core::compile::action::method_name(t.method),
            t.url.source(),
            t.token.source(),
            t.refresh_margin
        ),
        Auth::None => "none".into(),
    };
    let _ = writeln!(o, "  auth           {auth}");
    let _ = writeln!(
        o,
        "  retries        {} attempts on {:?}, backoff {:?} to {:?}, Retry-After up to {:?}",
        h.retry.attempts,
        h.retry.on_status,
        h.retry.initial_backoff.get(),
        h.retry.max_backoff.get(),
        h.retry.max_retry_after.get()
    );
    if let Some((n, per)) = h.rate_limit {
        let _ = writeln!(o, "  rate limit     {n} requests per {per:?}");
    }
    if let Some(b) = &h.body_errors {
        let _ = writeln!(
            o,
            "  body errors    a 2xx answer is an error unless {} is true",
            b.ok.source()
        );
    }
    for s in c.streams.values() {
        let _ = writeln!(o, "\nStream `{}`:", s.name);
        if let Some(d) = &s.description {
            let _ = writeln!(o, "  {}", d.trim());
        }
        let mut q: Vec<String> = s
            .query
            .iter()
            .map(|(k, v)| format!("{k}={}", v.source()))
            .collect();
        let paging = match &s.paginator {
            Paginator::Scim {
                page_size,
                concurrency,
                ..
            } => {
                q.push(format!("startIndex=N&count={page_size}"));
                format!(
                    "SCIM: startIndex from 1, advancing by the records each page really holds, until totalResults; {concurrency} page(s) at a time"
                )
            }
            Paginator::Offset {
                page_size,
                offset_param,
                limit_param,
                start,
                total,
            } => {
                q.push(format!("{offset_param}=N&{limit_param}={page_size}"));
                format!(
                    "offset from {start}{}; stops on a short page",
                    total
                        .as_ref()
                        .map(|t| format!(", total at {}", t.source()))
                        .unwrap_or_default()
                )
            }
            Paginator::Page {
                page_size,
                page_param,
                size_param,
                start_page,
                ..
            } => {
                q.push(format!("{page_param}=N&{size_param}={page_size}"));
                format!("page numbers from {start_page}; stops on a short or empty page")
            }
            Paginator::Cursor {
                next,
                cursor_param,
                size,
            } => {
                if let Some((p, n)) = size {
                    q.push(format!("{p}={n}"));
                }
                let from = match next {
                    CursorFrom::Path(p) => format!("the body at {}", p.source()),
                    CursorFrom::Header(h) => format!("the header {h}"),
                };
                format!(
                    "cursor from {from}, sent back as {cursor_param}=...; stops when it is empty or missing"
                )
            }
            Paginator::LinkHeader { size } => {
                if let Some((p, n)) = size {
                    q.push(format!("{p}={n}"));
                }
                "follows the Link header's rel=\"next\" until there is none".to_string()
            }
            Paginator::Plugin(call) => {
                format!("asks {} for the next request after each page", call.who())
            }
            Paginator::None => "one request".to_string(),
        };
        let query = if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        };
        let _ = writeln!(
            o,
            "  request        {} {}{query}",
            method_name(s.method),
            s.path.source()
        );
        let _ = writeln!(o, "  pagination     {paging}");
        if s.max_pages != rollcall_core::compile::DEFAULT_MAX_PAGES {
            let _ = writeln!(
                o,
                "  page limit     {} pages a read; a list still going there fails",
                s.max_pages
            );
        }
        let _ = writeln!(o, "  records        {}", s.records.source());
        for p in &s.record_transforms {
            let _ = writeln!(o, "  record plugin  {}", p.who());
        }
        let _ = writeln!(
            o,
            "  primary key    {}",
            s.fields.fields[s.fields.primary_key].id
        );
        let _ = writeln!(o, "  fields:");
        for f in &s.fields.fields {
            let _ = writeln!(o, "    {}", describe_field(f));
        }
    }
    if !c.actions.is_empty() {
        let _ = writeln!(o, "\nActions:");
    }
    for a in c.actions.values() {
        let q: Vec<String> = a
            .query
            .iter()
            .map(|(k, v)| format!("{k}={}", v.source()))
            .collect();
        let _ = writeln!(
            o,
            "  {}: {} {}{}",
            a.name,
            method_name(a.method),
            a.path.source(),
            if q.is_empty() {
                String::new()
            } else {
                format!("?{}", q.join("&"))
            }
        );
        if let Some(d) = &a.description {
            let _ = writeln!(o, "    {}", d.trim());
        }
        for (k, p) in &a.params {
            let _ = writeln!(o, "    param {k}: {}", p.description.trim());
        }
        for (k, v) in &a.settings {
            let _ = writeln!(o, "    setting {k} = {v}");
        }
        if let Some(b) = &a.body {
            let _ = writeln!(
                o,
                "    body {}",
                b.source().split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
        let success = if a.success.is_empty() {
            "any 2xx".to_string()
        } else {
            format!("{:?}", a.success)
        };
        let _ = writeln!(
            o,
            "    success {success}; not found {:?}{}",
            a.not_found,
            a.rate_limit
                .map(|(n, per)| format!("; {n} requests per {per:?}"))
                .unwrap_or_default()
        );
        if let Some(r) = &a.result {
            let from = match &r.fields_from {
                Some(s) => format!("the fields of stream `{s}`"),
                None => format!(
                    "its own fields: {}",
                    r.fields
                        .fields
                        .iter()
                        .map(|f| f.id.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let _ = writeln!(o, "    result {} read with {from}", r.record.source());
        }
    }
    o
}

fn describe_field(f: &rollcall_core::compile::Field) -> String {
    let source = match &f.source {
        FieldSource::Path(p) => p.source().to_string(),
        FieldSource::Computed(c) => format!("computed {}", serde_name(c)),
    };
    let mut extra = Vec::new();
    if f.required {
        extra.push("required".to_string());
    }
    if let Some(d) = &f.default {
        extra.push(format!("default {d}"));
    }
    if !f.transforms.is_empty() {
        let names: Vec<String> = f.transforms.iter().map(serde_name).collect();
        extra.push(format!("transforms [{}]", names.join(", ")));
    }
    if let Some(p) = &f.plugin {
        extra.push(format!(
            "then plugin `{}` function `{}`",
            p.plugin.description().name,
            p.function
        ));
    }
    let ty = serde_name(&f.field_type);
    format!(
        "{:<20} {:<9} {:<50} {}{}",
        f.id,
        ty,
        source,
        f.label,
        if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        }
    )
}

/// A value as the manifest spells it (`unix_time`, `{"join": ", "}`).
fn serde_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

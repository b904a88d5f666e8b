//! Extraction throughput: the Miro manifest's `users` fields over a page of 1000
//! realistic Miro users (the test server's generator, seed 7), on one core.
//!
//! `cargo bench -p rollcall-bench --bench extract`
//!
//! - `extract/fieldset_1000_users`: `FieldSet::extract` on already-parsed records, the
//!   cost rollcall adds per record.
//! - `extract/parse_select_extract_1000_users`: the whole per-page CPU work: the page's
//!   bytes parsed into a `Value`, `$.Resources[*]` selected, every record extracted.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rollcall_bench::{generated_users, load, miro_manifest};
use rollcall_core::compile::RunContext;
use serde_json::{Value, json};

const PAGE: usize = 1000;

fn extraction(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let users = rt.block_on(generated_users(PAGE));
    assert_eq!(users.len(), PAGE);
    let connector = load(miro_manifest());
    let stream = &connector.streams["users"];
    let fields = stream.fields.clone();
    let ctx = RunContext::new(Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap());

    // Sanity: every generated user extracts, with the fields the manifest promises.
    for u in &users {
        let r = fields.extract(u, &ctx).expect("a generated user extracts");
        assert_eq!(r.get("id"), u.get("id"));
    }

    let page_bytes = serde_json::to_vec(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": PAGE,
        "startIndex": 1,
        "itemsPerPage": PAGE,
        "Resources": users,
    }))
    .expect("a page serializes");

    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(PAGE as u64));
    g.sample_size(30);
    g.bench_function("fieldset_1000_users", |b| {
        b.iter(|| {
            for u in &users {
                black_box(fields.extract(black_box(u), &ctx).expect("extracts"));
            }
        })
    });
    g.bench_function("parse_select_extract_1000_users", |b| {
        b.iter(|| {
            let page: Value = serde_json::from_slice(black_box(&page_bytes)).expect("parses");
            let mut n = 0usize;
            stream.records.for_each(&page, &mut |u| {
                black_box(fields.extract(u, &ctx).expect("extracts"));
                n += 1;
            });
            assert_eq!(n, PAGE);
        })
    });
    g.finish();
}

criterion_group!(benches, extraction);
criterion_main!(benches);

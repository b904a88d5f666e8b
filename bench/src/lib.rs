//! Shared pieces of rollcall's benchmarks (see `BENCHMARKS.md` at the workspace root).
//!
//! - `benches/extract.rs` (criterion): `FieldSet::extract` over a page of 1000 Miro users.
//! - `src/bin/fetch_bench.rs`: end-to-end fetch against a plain download baseline, and the
//!   peak resident memory of a fetch (`--rss N`).
//!
//! Everything here is for measuring; nothing is a timed test.

pub mod server;

pub use server::{ServerChild, TOKEN, serve_until_stdin_closes, server_config};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rollcall_core::Connector;
use rollcall_core::fetch::{self, FetchOptions, FetchSummary, Item};
use rollcall_core::inputs::{Inputs, Origin, ProvidedInputs};
use rollcall_core::manifest::load_connector;
use rollcall_core::observe::Silent;
use rollcall_source::SourceFile;
use rollcall_testserver::{ScimServer, ServerConfig};
use serde_json::Value;

/// The shipped Miro manifest (`connectors/miro.yaml`), as the binary embeds it.
pub fn miro_manifest() -> &'static str {
    rollcall_connectors::builtin("miro")
        .expect("the miro connector is built in")
        .text
}

/// How to change the Miro manifest for a benchmark run.
#[derive(Clone, Copy, Debug, Default)]
pub struct ManifestEdit {
    /// Drop the `rate_limit:` line (200 requests / 30 s would dominate every figure).
    pub strip_rate_limit: bool,
    /// Replace the SCIM paginator's `page_size`.
    pub page_size: Option<u32>,
    /// Replace the SCIM paginator's `concurrency`.
    pub concurrency: Option<u32>,
}

/// The manifest text with `edit` applied. Panics when the lines to edit are not found,
/// so a changed manifest cannot silently turn a benchmark into a different one.
pub fn edit_manifest(text: &str, edit: ManifestEdit) -> String {
    let mut out = String::with_capacity(text.len());
    let mut saw_rate_limit = false;
    let mut saw_scim = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed.starts_with("rate_limit:") {
            saw_rate_limit = true;
            if edit.strip_rate_limit {
                continue;
            }
        }
        if trimmed.starts_with("scim:") && trimmed.contains('{') {
            saw_scim = true;
            let (page_size, concurrency) = scim_settings(trimmed);
            let page_size = edit.page_size.unwrap_or(page_size);
            let concurrency = edit.concurrency.unwrap_or(concurrency);
            out.push_str(&format!(
                "{indent}scim: {{ page_size: {page_size}, concurrency: {concurrency} }}\n"
            ));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(
        saw_rate_limit || !edit.strip_rate_limit,
        "the manifest has no `rate_limit:` line to strip"
    );
    assert!(
        saw_scim || (edit.page_size.is_none() && edit.concurrency.is_none()),
        "the manifest has no one-line `scim: {{ ... }}` paginator to edit"
    );
    out
}

/// `page_size` and `concurrency` of a one-line `scim: { page_size: N, concurrency: M }`.
fn scim_settings(line: &str) -> (u32, u32) {
    let inner = line
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map_or("", |(inner, _)| inner);
    let mut page_size = 100;
    let mut concurrency = 1;
    for part in inner.split(',') {
        if let Some((k, v)) = part.split_once(':') {
            let v = v
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("`{}` is not a number", v.trim()));
            match k.trim() {
                "page_size" => page_size = v,
                "concurrency" => concurrency = v,
                _ => {}
            }
        }
    }
    (page_size, concurrency)
}

/// Loads and compiles a manifest text; panics with the rendered diagnostics.
pub fn load(text: &str) -> Arc<Connector> {
    match load_connector(SourceFile::new("connectors/miro.yaml", text), "bench") {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("the manifest does not load:\n{}", e.render()),
    }
}

/// Inputs for a fetch of the Miro connector against `base_url`.
pub fn inputs(connector: &Connector, base_url: &str, token: &str) -> Inputs {
    let mut provided = ProvidedInputs::new();
    provided.provide("base_url", base_url, Origin::Other("bench".into()));
    provided.provide("token", token, Origin::Other("bench".into()));
    Inputs::resolve(connector, provided)
        .unwrap_or_else(|p| panic!("inputs refused: {}", p.join("; ")))
}

/// What a drained fetch produced.
#[derive(Debug)]
pub struct Drained {
    /// Good records received on the channel.
    pub records: u64,
    /// Skipped records received on the channel.
    pub skipped: u64,
    /// The fetch's own summary.
    pub summary: FetchSummary,
}

/// Runs rollcall's fetch of the `users` stream and drains the channel, counting records.
pub async fn fetch_users(connector: Arc<Connector>, inputs: &Inputs) -> Drained {
    let mut f = fetch::start(
        connector,
        "users",
        inputs,
        FetchOptions::default(),
        Arc::new(Silent),
    )
    .unwrap_or_else(|e| panic!("fetch did not start: {e}"));
    let (mut records, mut skipped) = (0u64, 0u64);
    while let Some(item) = f.items.recv().await {
        match item {
            Item::Record(r) => {
                std::hint::black_box(&r);
                records += 1;
            }
            Item::Skipped(_) => skipped += 1,
        }
    }
    let summary = f
        .task
        .await
        .expect("the fetch task panicked")
        .unwrap_or_else(|e| panic!("fetch failed: {e}"));
    Drained {
        records,
        skipped,
        summary,
    }
}

/// `n` realistic Miro users from the test server's generator (seed 7), in server order.
pub async fn generated_users(n: usize) -> Vec<Value> {
    let server = ScimServer::start(ServerConfig {
        users: n,
        record_requests: false,
        ..ServerConfig::default()
    })
    .await
    .expect("the test server starts");
    let users = server.handle().users();
    server.shutdown().await;
    users
}

/// The median of some durations (the lower middle for an even count).
pub fn median(mut xs: Vec<Duration>) -> Duration {
    assert!(!xs.is_empty(), "median of nothing");
    xs.sort();
    xs[(xs.len() - 1) / 2]
}

/// `key:   value kB` lines of `/proc/self/status`, in kB (Linux only).
pub fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// CPU time (user + system) used so far by this process's live threads, in clock ticks,
/// summed by thread name (`/proc/self/task/*/stat`). Threads that have exited are not
/// counted here; [`process_cpu_ticks`] counts them.
pub fn thread_cpu_ticks() -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        if let Some((name, ticks)) = stat_cpu(&task.path().join("stat")) {
            *by_name.entry(name).or_insert(0) += ticks;
        }
    }
    by_name
}

/// CPU time (user + system) used so far by the whole process, in clock ticks.
pub fn process_cpu_ticks() -> u64 {
    stat_cpu(Path::new("/proc/self/stat")).map_or(0, |(_, ticks)| ticks)
}

/// The command name and utime + stime of one `stat` file. The name is in parentheses and
/// may contain spaces, so fields are counted from the closing parenthesis.
fn stat_cpu(path: &Path) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_string();
    // After ")": state(3) ppid(4) ... utime(14) stime(15); rest starts at field 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

// ---------------------------------------------------------------------------------------
// Sync into the store (`src/bin/sync_bench.rs`)

/// The integration file of the sync benchmark: Miro users, `create-and-update`,
/// `user-plus-saas-user`, sync key `username`, smart mappings plus a custom `miro_id`
/// (the same shape as `tests/tests/sync.rs`).
pub const SYNC_INTEGRATION: &str = "name: Miro Users
connector: miro
users: user-plus-saas-user
saas: { app: Miro, instance: Miro EU }
preference: create-and-update
role: Employee
sync_key: username
mappings:
  smart: true
  fields:
    - { from: id, to: miro_id, label: \"Miro ID\", create: true }
";

/// Loads [`SYNC_INTEGRATION`] against `connector` (as `miro`); panics with the error.
pub fn sync_integration(connector: &Arc<Connector>) -> rollcall_core::integration::Integration {
    let c = connector.clone();
    let find = move |name: &str| (name == "miro").then(|| c.clone());
    rollcall_core::integration::load_integration(
        SourceFile::new("bench-integration.yaml", SYNC_INTEGRATION),
        &find,
    )
    .unwrap_or_else(|e| panic!("the benchmark integration does not load: {e}"))
}

/// One sync run of `integration` into `store` at `sync_time`; panics if it fails.
pub async fn sync_once(
    store: &rollcall_store::Store,
    integration: &rollcall_core::integration::Integration,
    connector: Arc<Connector>,
    inputs: &Inputs,
    sync_time: chrono::DateTime<chrono::Utc>,
) -> rollcall_sync::SyncReport {
    rollcall_sync::run(
        store,
        integration,
        connector,
        inputs,
        rollcall_sync::RunOptions {
            dry_run: false,
            sync_time,
        },
        Arc::new(Silent),
    )
    .await
    .unwrap_or_else(|e| panic!("the sync failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_and_the_result_loads() {
        let text = edit_manifest(
            miro_manifest(),
            ManifestEdit {
                strip_rate_limit: true,
                page_size: Some(1000),
                concurrency: Some(1),
            },
        );
        assert!(!text.contains("rate_limit:"));
        assert!(text.contains("scim: { page_size: 1000, concurrency: 1 }"));
        let c = load(&text);
        assert!(c.http.rate_limit.is_none());
        match c.streams["users"].paginator {
            rollcall_core::compile::Paginator::Scim {
                page_size,
                concurrency,
                ..
            } => {
                assert_eq!((page_size, concurrency), (1000, 1));
            }
            ref other => panic!("not a SCIM paginator: {other:?}"),
        }
    }

    #[test]
    fn unedited_settings_are_kept() {
        let text = edit_manifest(miro_manifest(), ManifestEdit::default());
        assert!(text.contains("rate_limit:"));
        let (a, b) = (load(miro_manifest()), load(&text));
        assert_eq!(a.http.rate_limit, b.http.rate_limit);
        assert_eq!(
            format!("{:?}", a.streams["users"].paginator),
            format!("{:?}", b.streams["users"].paginator)
        );
    }
}

//! Plugin call overhead: a field transform (one short value) and a record transform
//! over a page of 1000 realistic Miro users (the test server's generator, seed 7),
//! through the example plugin `seat_type` as a dynamic library
//! (examples/plugin-seat-type, built here in release mode) and as a Python
//! subprocess (examples/plugin-seat-type-py). Calls go through `PluginFn`, exactly as
//! the fetch makes them: a batch includes projecting each record to what the function
//! needs and applying each answer to its record.
//!
//! `cargo bench -p rollcall-bench --bench plugins`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rollcall_bench::generated_users;
use rollcall_core::plugin::{PluginFn, PluginHost};
use rollcall_core::raw_record::{RawRecord, RecordView};
use rollcall_plugins::{Host, HostOptions};
use serde_json::{Value, json};

const PAGE: usize = 1000;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is inside the workspace")
        .to_path_buf()
}

/// Builds the example library in release mode and returns a plugin directory with it
/// and the Python example.
fn plugin_dir() -> tempfile::TempDir {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "rollcall-plugin-seat-type",
        ])
        .current_dir(workspace_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the example plugin failed");
    // The bench executable is target/release/deps/plugins-HASH.
    let exe = std::env::current_exe().expect("the bench knows its path");
    let release = exe
        .parent()
        .and_then(Path::parent)
        .expect("the bench runs from target/release/deps");
    let lib = format!(
        "{}seat_type.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    );
    let dir_lib = tempfile::tempdir().expect("a temporary directory");
    std::fs::copy(release.join(&lib), dir_lib.path().join(&lib)).expect("the library copies");
    dir_lib
}

fn python_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let to = dir.path().join("seat_type.py");
    std::fs::copy(
        workspace_root().join("examples/plugin-seat-type-py/seat_type.py"),
        &to,
    )
    .expect("the script copies");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))
            .expect("the script is made executable");
    }
    dir
}

fn function(host: &Host, name: &str) -> PluginFn {
    let plugin = host
        .open("seat_type", None)
        .expect("the example plugin loads");
    PluginFn::new(plugin, name, Value::Null).expect("the example offers the function")
}

/// A page through a record transform, as the fetch runs it: the request (each record
/// projected to what the function needs, written from the page), the call, and each
/// answer applied to its record (a `set` is kept next to it, as extraction reads
/// it). Returns the records kept.
fn run_batch(t: &PluginFn, page: &[&Value]) -> usize {
    let views: Vec<RecordView> = page.iter().map(|r| RecordView::from(*r)).collect();
    let answers = t.batch(&views).expect("the batch works");
    page.iter()
        .zip(answers)
        .filter_map(|(r, a)| t.apply(a, RawRecord::Borrowed(r)).ok())
        .count()
}

fn plugins(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let users = rt.block_on(generated_users(PAGE));
    let lib_dir = plugin_dir();
    let py_dir = python_dir();
    let hosts = [
        (
            "dylib",
            Host::new(HostOptions {
                dirs: vec![lib_dir.path().to_path_buf()],
                timeout: Duration::from_secs(10),
            }),
        ),
        (
            "subprocess",
            Host::new(HostOptions {
                dirs: vec![py_dir.path().to_path_buf()],
                timeout: Duration::from_secs(10),
            }),
        ),
    ];
    let record = json!({});
    let mut g = c.benchmark_group("plugin");
    for (kind, host) in &hosts {
        let seat = function(host, "seat_type");
        assert_eq!(
            seat.transform(json!("Full (Trial)"), &record)
                .expect("the call works"),
            json!("trial")
        );
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("field_transform/{kind}"), |b| {
            b.iter(|| seat.transform(black_box(json!("Full (Trial)")), &record))
        });
        let enrich = function(host, "enrich");
        let page: Vec<&Value> = users.iter().collect();
        let kept = run_batch(&enrich, &page);
        assert!(kept > PAGE * 9 / 10, "{kept} of {PAGE} kept");
        g.throughput(Throughput::Elements(PAGE as u64));
        g.bench_function(format!("batch_1000_users/{kind}"), |b| {
            b.iter(|| run_batch(&enrich, black_box(&page)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = plugins
}
criterion_main!(benches);

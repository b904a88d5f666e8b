//! Shared helpers for the integration tests: the `rollcall` binary, fast test
//! copies of the built-in Miro manifest, inputs, an observer that records every
//! event, and a function that runs a fetch to the end.

pub mod cli;
pub mod plugins;
pub mod web;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rollcall_core::fetch::{self, FetchOptions, FetchSummary, Item, Skipped};
use rollcall_core::manifest::load_connector;
use rollcall_core::observe::{Observer, PageEvent, RequestEvent};
use rollcall_core::{Connector, FetchError, Inputs, Origin, ProvidedInputs, Record};
use rollcall_source::SourceFile;
use rollcall_testserver::{ScimServer, ServerConfig};

/// The token every test server accepts. Long and distinctive, so a leak is easy to grep.
pub const TOKEN: &str = "tok-Zq7mXv93Lp2WrT8sK4yN";

/// The workspace root (the parent of this package).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package lives inside the workspace")
        .to_path_buf()
}

/// This package's directory (`tests/`).
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo target directory: `CARGO_TARGET_DIR` (a relative one is taken from the
/// workspace root), else `target/` in the workspace root.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// The `rollcall` binary, built once per test process with `cargo build -p rollcall`.
/// Honours `CARGO_TARGET_DIR` (relative values are taken from the workspace root).
pub fn rollcall_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "rollcall", "--quiet"])
            .current_dir(&root)
            .status()
            .expect("cannot run `cargo build -p rollcall`");
        assert!(status.success(), "`cargo build -p rollcall` failed");
        let bin = target_dir()
            .join("debug")
            .join(format!("rollcall{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "no rollcall binary at {}", bin.display());
        bin
    })
}

/// The text of the built-in Miro manifest.
pub fn miro_text() -> &'static str {
    rollcall_connectors::builtin("miro")
        .expect("the miro connector is built in")
        .text
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the Miro manifest should contain `{from}` exactly once (did it change?)"
    );
    text.replacen(from, to, 1)
}

/// A test copy of the Miro manifest: fast retries, no client rate limit, and the
/// knobs the tests turn. Everything else (fields, paths, auth) is the real manifest.
#[derive(Clone, Debug)]
pub struct TestManifest {
    /// `http.timeout`.
    pub timeout: &'static str,
    /// `http.retry.attempts`.
    pub attempts: u32,
    /// `http.retry.max_retry_after`.
    pub max_retry_after: &'static str,
    /// SCIM `page_size`.
    pub page_size: u32,
    /// SCIM `concurrency`.
    pub concurrency: u32,
    /// SCIM `max_passes`.
    pub max_passes: u32,
    /// The `users` stream's `max_pages` (none: the default).
    pub max_pages: Option<u64>,
    /// Replaces the `auth:` block (YAML text, indented as at the top level).
    pub auth: Option<&'static str>,
}

impl Default for TestManifest {
    fn default() -> Self {
        TestManifest {
            timeout: "10s",
            attempts: 4,
            max_retry_after: "60s",
            page_size: 200,
            concurrency: 4,
            max_passes: 3,
            max_pages: None,
            auth: None,
        }
    }
}

impl TestManifest {
    /// The manifest text.
    pub fn text(&self) -> String {
        let mut t = miro_text().to_string();
        t = replace_once(&t, "timeout: 30s", &format!("timeout: {}", self.timeout));
        t = replace_once(&t, "attempts: 5", &format!("attempts: {}", self.attempts));
        t = replace_once(&t, "initial_backoff: 1s", "initial_backoff: 10ms");
        t = replace_once(&t, "max_backoff: 30s", "max_backoff: 40ms");
        t = replace_once(
            &t,
            "max_retry_after: 60s",
            &format!("max_retry_after: {}", self.max_retry_after),
        );
        t = replace_once(&t, "  rate_limit: { requests: 200, per: 30s }\n", "");
        t = replace_once(
            &t,
            "scim: { page_size: 200, concurrency: 4 }",
            &format!(
                "scim: {{ page_size: {}, concurrency: {}, max_passes: {} }}{}",
                self.page_size,
                self.concurrency,
                self.max_passes,
                self.max_pages
                    .map(|n| format!("\n    max_pages: {n}"))
                    .unwrap_or_default()
            ),
        );
        if let Some(auth) = self.auth {
            t = replace_once(&t, "auth:\n  bearer:\n    token: \"{{token}}\"\n", auth);
        }
        t
    }

    /// The compiled connector.
    pub fn load(&self) -> Arc<Connector> {
        load_text(&self.text())
    }
}

/// Compiles a manifest text, panicking with every diagnostic when it does not load.
pub fn load_text(text: &str) -> Arc<Connector> {
    match load_connector(SourceFile::new("test-miro.yaml", text), "test") {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("the test manifest does not load:\n{e}"),
    }
}

/// Inputs `base_url` and `token` for a connector.
pub fn inputs(connector: &Connector, base_url: &str, token: &str) -> Inputs {
    let mut p = ProvidedInputs::new();
    p.provide("base_url", base_url, Origin::Other("test".into()));
    p.provide("token", token, Origin::Other("test".into()));
    Inputs::resolve(connector, p).unwrap_or_else(|e| panic!("inputs refused: {e:?}"))
}

/// Starts a test server with `users` users and otherwise default settings.
pub async fn server(users: usize) -> ScimServer {
    server_with(ServerConfig {
        users,
        ..ServerConfig::default()
    })
    .await
}

/// Starts a test server that accepts [`TOKEN`].
pub async fn server_with(config: ServerConfig) -> ScimServer {
    ScimServer::start(ServerConfig {
        token: TOKEN.into(),
        ..config
    })
    .await
    .expect("the test server starts")
}

/// An observer that keeps every event.
#[derive(Debug, Default)]
pub struct Recorder {
    /// HTTP attempts.
    pub requests: Mutex<Vec<RequestEvent>>,
    /// Pages.
    pub pages: Mutex<Vec<PageEvent>>,
    /// Warnings.
    pub warnings: Mutex<Vec<String>>,
}

impl Recorder {
    /// The notes of all request events.
    pub fn notes(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| e.note.clone())
            .collect()
    }

    /// Every text the observer received (requests, notes, pages, warnings), one a line.
    pub fn all_text(&self) -> String {
        let mut out = String::new();
        for e in self.requests.lock().unwrap().iter() {
            out.push_str(&format!("{e:?}\n"));
        }
        for e in self.pages.lock().unwrap().iter() {
            out.push_str(&format!("{e:?}\n"));
        }
        for w in self.warnings.lock().unwrap().iter() {
            out.push_str(w);
            out.push('\n');
        }
        out
    }
}

impl Observer for Recorder {
    fn request(&self, event: &RequestEvent) {
        self.requests.lock().unwrap().push(event.clone());
    }
    fn page(&self, event: &PageEvent) {
        self.pages.lock().unwrap().push(event.clone());
    }
    fn warning(&self, message: &str) {
        self.warnings.lock().unwrap().push(message.to_string());
    }
}

/// What a fetch produced.
#[derive(Debug)]
pub struct Outcome {
    /// Good records, in order.
    pub records: Vec<Record>,
    /// Skipped records, in order.
    pub skipped: Vec<Skipped>,
    /// How the task ended.
    pub result: Result<FetchSummary, FetchError>,
    /// Everything observed.
    pub recorder: Arc<Recorder>,
}

impl Outcome {
    /// The primary keys of the records, in order.
    pub fn ids(&self) -> Vec<String> {
        self.records.iter().map(|r| r.key.clone()).collect()
    }

    /// The summary; panics with the error when the fetch failed.
    pub fn summary(&self) -> &FetchSummary {
        match &self.result {
            Ok(s) => s,
            Err(e) => panic!("the fetch failed: {e}"),
        }
    }

    /// The error; panics when the fetch succeeded.
    pub fn error(&self) -> &FetchError {
        match &self.result {
            Ok(s) => panic!("the fetch should have failed, but it ended with {s:?}"),
            Err(e) => e,
        }
    }
}

/// Runs the `users` stream to the end.
pub async fn run(connector: Arc<Connector>, inputs: &Inputs, options: FetchOptions) -> Outcome {
    let recorder = Arc::new(Recorder::default());
    let mut f = fetch::start(connector, "users", inputs, options, recorder.clone())
        .unwrap_or_else(|e| panic!("the fetch did not start: {e}"));
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    while let Some(item) = f.items.recv().await {
        match item {
            Item::Record(r) => records.push(r),
            Item::Skipped(s) => skipped.push(s),
        }
    }
    let result = f.task.await.expect("the fetch task does not panic");
    Outcome {
        records,
        skipped,
        result,
        recorder,
    }
}

/// Runs a test manifest against `base_url` with [`TOKEN`] and default options.
pub async fn run_manifest(manifest: &TestManifest, base_url: &str) -> Outcome {
    run_connector(manifest.load(), base_url).await
}

/// Runs a compiled connector against `base_url` with [`TOKEN`] and default options.
pub async fn run_connector(connector: Arc<Connector>, base_url: &str) -> Outcome {
    let i = inputs(&connector, base_url, TOKEN);
    run(connector, &i, FetchOptions::default()).await
}

/// A multi-thread runtime with one worker, for a synchronous test that needs a server.
pub fn one_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the runtime starts")
}

/// A store in a fresh temporary directory (kept as long as the directory is).
pub async fn temp_store() -> (tempfile::TempDir, rollcall_store::Store) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = rollcall_store::Store::open(dir.path())
        .await
        .expect("the store opens");
    (dir, store)
}

/// Asserts that `ids` holds no id twice.
pub fn assert_unique(ids: &[String]) {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        assert!(seen.insert(id), "the user {id} was emitted twice");
    }
}

/// Asserts that `got` holds exactly the ids of `want`, each once (order ignored).
pub fn assert_same_users(got: &[String], want: &[String]) {
    assert_unique(got);
    let mut a = got.to_vec();
    let mut b = want.to_vec();
    a.sort();
    b.sort();
    if a != b {
        let missing: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
        let extra: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
        panic!(
            "the users differ: {} emitted, {} expected; missing {missing:?}; unexpected {extra:?}",
            a.len(),
            b.len()
        );
    }
}

/// The files in `dir` with extension `ext`, sorted.
pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Asserts that a diagnostic headline reads `DISPLAY:LINE:COLUMN: error: MESSAGE`.
pub fn assert_located(display: &str, headline: &str) {
    let rest = headline
        .strip_prefix(&format!("{display}:"))
        .unwrap_or_else(|| panic!("`{headline}` does not start with the file name"));
    let parts: Vec<&str> = rest.splitn(3, ':').collect();
    assert!(
        parts.len() == 3
            && parts[0].parse::<u32>().is_ok_and(|l| l >= 1)
            && parts[1].parse::<u32>().is_ok_and(|c| c >= 1)
            && parts[2].starts_with(" error: "),
        "`{headline}` is not FILE:LINE:COLUMN: error: MESSAGE"
    );
}

/// How a broken file failed: every diagnostic as displayed (one text) and their headlines;
/// or, as the error, a sentence saying that the file loaded although it is broken.
pub type CorpusOutcome = Result<(String, Vec<String>), String>;

/// Checks a corpus of broken YAML files under `tests/SUBDIR`: each must fail to load
/// (through `load`, given a stable display name and the bytes) with exactly the text of
/// `NAME.expected` next to it, every diagnostic located. `UPDATE_EXPECT=1` rewrites the
/// expected files, so message changes are reviewed as diffs.
pub fn check_broken_corpus(
    subdir: &str,
    min_files: usize,
    load: &dyn Fn(&str, Vec<u8>) -> CorpusOutcome,
) {
    let dir = tests_dir().join(subdir);
    let update = std::env::var("UPDATE_EXPECT").is_ok_and(|v| v == "1");
    let files = files_with_ext(&dir, "yaml");
    assert!(
        files.len() >= min_files,
        "the corpus has {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let file_name = path.file_name().unwrap().to_str().unwrap();
        // A relative name, so the expectations do not depend on the checkout's place.
        let display = format!("{subdir}/{file_name}");
        let (got, headlines) = match load(&display, std::fs::read(path).unwrap()) {
            Ok(d) => d,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        assert!(!headlines.is_empty(), "{display}");
        for h in &headlines {
            assert_located(&display, h);
        }
        let expected_path = path.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{display}: the diagnostics changed (UPDATE_EXPECT=1 rewrites the expected file)\n--- expected\n{want}--- got\n{got}"
            )),
            Err(_) => failures.push(format!(
                "{display}: no {} (UPDATE_EXPECT=1 writes it); the diagnostics are:\n{got}",
                expected_path.display()
            )),
        }
    }
    for expected in files_with_ext(&dir, "expected") {
        if !expected.with_extension("yaml").is_file() {
            failures.push(format!("{} has no file next to it", expected.display()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// An integration of the Miro connector that creates people and accounts (smart mappings).
pub const CREATE_AND_UPDATE_INTEGRATION: &str = "name: Miro Users\nconnector: miro\nusers: user-plus-saas-user\nsaas: { app: Miro, instance: Miro EU }\npreference: create-and-update\nrole: Employee\nsync_key: username\nmappings:\n  smart: true\n";

/// The `Miro Users` integration file (create-and-update) with the SCIM and REST inputs
/// of `server` (base URLs, org id); its tokens come from the environment.
pub fn rest_inputs_integration(server: &ScimServer) -> String {
    let h = server.handle();
    format!(
        "name: Miro Users\nconnector: miro\ninputs: {{ base_url: \"{}\", org_id: \"{}\", rest_base_url: \"{}\" }}\nsaas: {{ app: Miro, instance: Miro EU }}\npreference: create-and-update\nrole: Employee\nsync_key: username\n",
        server.scim_base_url(),
        h.config().org_id,
        h.origin()
    )
}

/// One sync of [`CREATE_AND_UPDATE_INTEGRATION`] with `connector` as `miro` into `store`,
/// at a fixed sync time.
pub async fn sync_create_and_update(
    store: &rollcall_store::Store,
    connector: Arc<Connector>,
    inputs: &Inputs,
) -> Result<rollcall_sync::SyncReport, rollcall_sync::SyncError> {
    use chrono::TimeZone;
    let c = connector.clone();
    let find = move |name: &str| (name == "miro").then(|| c.clone());
    let integration = rollcall_core::integration::load_integration(
        SourceFile::new("it.yaml", CREATE_AND_UPDATE_INTEGRATION),
        &find,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    rollcall_sync::run(
        store,
        &integration,
        connector,
        inputs,
        rollcall_sync::RunOptions {
            dry_run: false,
            sync_time: chrono::Utc
                .with_ymd_and_hms(2026, 11, 26, 10, 0, 0)
                .single()
                .unwrap_or_else(chrono::Utc::now),
        },
        Arc::new(rollcall_core::observe::Silent),
    )
    .await
}

/// Asserts that no file under `data_dir` (database, WAL, key, locks: every byte, in every
/// subdirectory) and none of `outputs` (what commands printed) holds any of `secrets`.
/// Fails, too, when the scan does not see `rollcall.db`, so a wrong directory cannot pass.
pub fn assert_no_secret_in(data_dir: &Path, outputs: &[Vec<u8>], secrets: &[&str]) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let holds =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    let mut files = Vec::new();
    walk(data_dir, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("rollcall.db")),
        "the scan should see the database: {files:?}"
    );
    for secret in secrets {
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                !holds(&bytes, secret),
                "{} holds the secret {secret:?}",
                f.display()
            );
        }
        for (i, out) in outputs.iter().enumerate() {
            assert!(
                !holds(out, secret),
                "output {i} holds the secret {secret:?}:\n{}",
                String::from_utf8_lossy(out)
            );
        }
    }
}

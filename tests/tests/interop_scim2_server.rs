//! Interop: rollcall's generic SCIM fetch, with the shipped Miro manifest, against an
//! independent SCIM 2.0 server: the Python `scim2-server` 0.8.3 (PyPI), which shares no
//! code with rollcall or its test server.
//!
//! The server is installed into a virtualenv at `target/scim2-venv` when missing
//! (`.ci/run` creates it beforehand), started on a free loopback port, seeded over HTTP
//! with 25 users, then read with page size 10:
//! - once with the server's own `maxResults` (1000): pages of 10;
//! - once with `filter.maxResults` = 3 (a `--service-provider-config` file), so the server
//!   returns fewer users than asked and the client must advance by what it got.
//!
//! Without python3, venv or pip, the tests print `SKIPPED: ...` and pass, unless
//! `ROLLCALL_REQUIRE_INTEROP=1` (as `.ci/run` sets), in which case they fail.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rollcall_core::Connector;
use rollcall_core::compile::RunContext;
use rollcall_core::fetch::{self, FetchOptions, Item};
use rollcall_core::inputs::{Inputs, Origin, ProvidedInputs};
use rollcall_core::manifest::load_connector;
use rollcall_core::observe::Silent;
use rollcall_source::SourceFile;
use serde_json::{Value, json};

const VERSION: &str = "0.8.3";
const TOKEN: &str = "interop-test-token";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const USERS: usize = 25;

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn reads_every_user_from_scim2_server() {
    run_interop(None, 10, 3);
}

#[test]
fn reads_every_user_when_the_server_returns_fewer_than_asked() {
    // 25 users, at most 3 a page although 10 are asked: at least 9 pages (each page after
    // the first overlaps the previous one by a record, so it brings 2 new users).
    run_interop(Some(3), 10, 12);
}

#[test]
fn the_generic_scim_connector_reads_and_deactivates_with_a_server_cap_below_its_page_size() {
    // The shipped `scim` connector asks for 100 a page; the server returns at most 3.
    let Some(server) = start_server_or_skip(Some(3)) else {
        return;
    };
    let seeded = seed(&server);
    let connector = match load_connector(
        SourceFile::new(
            "connectors/scim.yaml",
            include_str!("../../connectors/scim.yaml"),
        ),
        "interop",
    ) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("the scim manifest does not load:\n{}", e.render()),
    };
    let base_url = format!("{}/v2", server.origin);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (records, skipped, summary) = rt.block_on(fetch_all(
        connector.clone(),
        &base_url,
        FetchOptions::default(),
    ));
    assert!(skipped.is_empty(), "records were skipped: {skipped:#?}");
    assert!(summary.complete, "{:?}", summary.warnings);
    assert!(summary.pages >= 12, "{} pages at 3 a page", summary.pages);
    assert_eq!(records.len(), USERS);
    let by_id: BTreeMap<&str, &Value> = records
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    assert_eq!(by_id.len(), USERS, "every user once");
    for u in &seeded {
        let got = by_id
            .get(u.id.as_str())
            .unwrap_or_else(|| panic!("user {} was not read", u.index));
        for k in [
            "username",
            "first_name",
            "family_name",
            "display_name",
            "active",
            "user_type",
            "role",
            "department",
        ] {
            assert_eq!(got[k], u.expected[k], "user {} field {k}", u.index);
        }
        // The generic connector takes the first address, primary or not.
        assert!(
            got["email"].as_str().is_some_and(|e| e.contains('@')),
            "{got}"
        );
        assert!(
            got["created_at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{got}"
        );
    }

    // Actions: scim2-server answers PATCH with 204; the user is then inactive.
    use rollcall_core::action::{ActionCall, ActionOutcome, ActionRunner};
    let mut provided = ProvidedInputs::new();
    provided.provide("base_url", &base_url, Origin::Other("test".into()));
    provided.provide("token", TOKEN, Origin::Other("test".into()));
    let inputs = Inputs::resolve(&connector, provided).expect("inputs");
    let runner = ActionRunner::new(connector, &inputs, Arc::new(Silent)).expect("a runner");
    let active = seeded
        .iter()
        .find(|u| u.expected["active"] == json!(true))
        .expect("an active user");
    let call = ActionCall::new().param("id", active.id.clone());
    let out = rt
        .block_on(runner.call("deactivate_user", &call))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(out, ActionOutcome::Done { status: 204, .. }),
        "{out:?}"
    );
    match rt
        .block_on(runner.call("get_user", &call))
        .unwrap_or_else(|e| panic!("{e}"))
    {
        ActionOutcome::Done {
            record: Some(r), ..
        } => {
            assert_eq!(r.get("active"), Some(&json!(false)));
            assert_eq!(r.key, active.id);
        }
        other => panic!("get_user: {other:?}"),
    }
    let gone = ActionCall::new().param("id", "no-such-user");
    assert!(matches!(
        rt.block_on(runner.call("get_user", &gone)),
        Ok(ActionOutcome::NotFound { status: 404, .. })
    ));
}

fn run_interop(max_results: Option<u32>, page_size: u32, min_pages: u64) {
    let Some(server) = start_server_or_skip(max_results) else {
        return;
    };
    let seeded = seed(&server);
    assert_eq!(seeded.len(), USERS);

    let connector = miro_connector(page_size);
    let base_url = format!("{}/v2", server.origin);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let options = FetchOptions::default();
    let sync_time = RunContext::new(options.sync_time).sync_time;
    let (records, skipped, summary) = rt.block_on(fetch_all(connector, &base_url, options));

    assert!(skipped.is_empty(), "records were skipped: {skipped:#?}");
    assert!(
        summary.complete,
        "the fetch did not complete: {:?}",
        summary.warnings
    );
    assert!(
        summary.warnings.is_empty(),
        "unexpected warnings: {:?}",
        summary.warnings
    );
    assert!(
        summary.pages >= min_pages,
        "only {} pages for {USERS} users at page size {page_size} and maxResults {max_results:?}: \
         the server did not page as expected",
        summary.pages
    );

    // Every seeded user exactly once, and nobody else.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        let id = r["id"]
            .as_str()
            .expect("every record has a string id")
            .to_string();
        *seen.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "users emitted more than once: {twice:?}");
    let expected_ids: BTreeMap<String, usize> = seeded.iter().map(|u| (u.id.clone(), 1)).collect();
    assert_eq!(
        seen, expected_ids,
        "the users read are not the users seeded"
    );
    assert_eq!(records.len(), USERS);
    assert_eq!(summary.records, USERS as u64);

    // Every field extracted as the manifest says.
    let by_id: BTreeMap<&str, &Value> = records
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    for u in &seeded {
        let got = by_id[u.id.as_str()];
        let mut want = u.expected.clone();
        want["connector_sync_time"] = sync_time.clone();
        assert_eq!(got, &want, "user {} ({}) extracted wrong", u.index, u.id);
    }
}

// ---------------------------------------------------------------------------------------
// Seeding

/// A seeded user: its index, the id the server gave it and the record rollcall should
/// extract (without the sync time).
struct Seeded {
    index: usize,
    id: String,
    expected: Value,
}

const GIVEN: &[&str] = &[
    "Ada", "Bjørn", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustavo",
];
const FAMILY: &[&str] = &[
    "Lovelace",
    "Ødegaard",
    "Dubois",
    "Ivanov",
    "Kim",
    "Haddad",
    "Pérez",
];
const USER_TYPES: &[&str] = &["Full", "Free", "Basic", "Full (Trial)", "Free Restricted"];
const ADMIN_ROLES: &[&str] = &["Content Admin", "User Admin", "Security Admin"];
const DEPARTMENTS: &[&str] = &["Engineering", "Sales", "Design"];

/// Seeds `USERS` users with `POST /v2/Users`: names, emails (one user with a non-primary
/// email first and a mixed-case primary one), userType, roles (some with admin roles),
/// some inactive, every third with the enterprise extension (the first of them has a
/// manager: user 0). Returns them in seeding order.
fn seed(server: &Scim2Server) -> Vec<Seeded> {
    let mut out: Vec<Seeded> = Vec::new();
    for i in 0..USERS {
        let given = GIVEN[i % GIVEN.len()];
        let family = FAMILY[(i / GIVEN.len()) % FAMILY.len()];
        let user_name = format!("user{i:02}@example.com");
        let primary_email = if i % 5 == 1 {
            format!("User{i:02}.Mixed@Example.COM")
        } else {
            user_name.clone()
        };
        let mut emails = vec![json!({"value": primary_email, "type": "work", "primary": true})];
        if i % 4 == 2 {
            emails.insert(0, json!({"value": format!("private{i:02}@example.org"), "type": "home", "primary": false}));
        }
        let admin = i % 6 == 0;
        let org_role = if admin {
            "ORGANIZATION_INTERNAL_ADMIN"
        } else {
            "ORGANIZATION_INTERNAL_USER"
        };
        let mut roles =
            vec![json!({"value": org_role, "type": "organization_user_role", "primary": true})];
        let admin_roles: Vec<&str> = if admin {
            ADMIN_ROLES[..1 + (i / 6) % 2].to_vec()
        } else {
            Vec::new()
        };
        for r in &admin_roles {
            roles.push(json!({"value": r, "type": "organization_admin_role", "primary": false}));
        }
        let user_type = USER_TYPES[i % USER_TYPES.len()];
        let active = i % 7 != 3;
        let display_name = format!("{given} {family}");
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "name": {"givenName": given, "familyName": family},
            "displayName": display_name,
            "userType": user_type,
            "active": active,
            "emails": emails,
            "roles": roles,
        });
        let enterprise = i % 3 == 0;
        let manager_id = if enterprise && i > 0 && i % 2 == 1 {
            Some(out[0].id.clone())
        } else {
            None
        };
        if enterprise {
            body["schemas"]
                .as_array_mut()
                .unwrap()
                .push(json!(ENTERPRISE));
            let mut ext = json!({
                "employeeNumber": format!("E-{i:04}"),
                "costCenter": format!("CC-{}", 100 + i % 4),
                "department": DEPARTMENTS[(i / 3) % DEPARTMENTS.len()],
            });
            if let Some(m) = &manager_id {
                ext["manager"] = json!({"value": m});
            }
            body[ENTERPRISE] = ext;
        }
        let (status, resp) = server
            .request("POST", "/v2/Users", Some(&body))
            .unwrap_or_else(|e| panic!("seeding user {i}: {e}"));
        assert_eq!(status, 201, "seeding user {i} answered {status}: {resp}");
        let created: Value =
            serde_json::from_str(&resp).unwrap_or_else(|e| panic!("seeding user {i}: {e}: {resp}"));
        let id = created["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {resp}"))
            .to_string();
        let ent = |k: &str| {
            if enterprise {
                body[ENTERPRISE][k].clone()
            } else {
                Value::Null
            }
        };
        let expected = json!({
            "id": id,
            "username": user_name,
            "email": primary_email.to_lowercase(),
            "first_name": given,
            "family_name": family,
            "display_name": display_name,
            "active": active,
            "user_type": user_type,
            "role": org_role,
            "admin_roles": admin_roles,
            "resource_type": "User",
            "department": ent("department"),
            "cost_center": ent("costCenter"),
            "employee_number": ent("employeeNumber"),
            "manager_id": manager_id,
        });
        out.push(Seeded {
            index: i,
            id,
            expected,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------
// The fetch

/// The shipped Miro manifest with the SCIM page size set to `page_size`. The rate limit
/// (200 requests / 30 s) is kept: these runs make a few dozen requests.
fn miro_connector(page_size: u32) -> Arc<Connector> {
    let text = include_str!("../../connectors/miro.yaml");
    let mut edited = String::new();
    let mut found = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("scim:") && trimmed.contains("page_size:") {
            found = true;
            let indent = &line[..line.len() - trimmed.len()];
            let rest: Vec<&str> = trimmed
                .trim_start_matches("scim:")
                .trim()
                .trim_start_matches('{')
                .trim_end_matches('}')
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && !p.starts_with("page_size"))
                .collect();
            let mut settings = vec![format!("page_size: {page_size}")];
            settings.extend(rest.iter().map(|s| s.to_string()));
            edited.push_str(&format!("{indent}scim: {{ {} }}\n", settings.join(", ")));
        } else {
            edited.push_str(line);
            edited.push('\n');
        }
    }
    assert!(
        found,
        "connectors/miro.yaml has no one-line `scim: {{ page_size: ... }}` paginator"
    );
    match load_connector(SourceFile::new("connectors/miro.yaml", edited), "interop") {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("the Miro manifest does not load:\n{}", e.render()),
    }
}

type Fetched = (
    Vec<Value>,
    Vec<rollcall_core::Skipped>,
    rollcall_core::FetchSummary,
);

async fn fetch_all(connector: Arc<Connector>, base_url: &str, options: FetchOptions) -> Fetched {
    let mut provided = ProvidedInputs::new();
    provided.provide("base_url", base_url, Origin::Other("test".into()));
    provided.provide("token", TOKEN, Origin::Other("test".into()));
    let inputs = Inputs::resolve(&connector, provided).unwrap_or_else(|p| panic!("inputs: {p:?}"));
    let mut f = fetch::start(connector, "users", &inputs, options, Arc::new(Silent))
        .unwrap_or_else(|e| panic!("the fetch does not start: {e}"));
    let (mut records, mut skipped) = (Vec::new(), Vec::new());
    while let Some(item) = f.items.recv().await {
        match item {
            Item::Record(r) => records.push(serde_json::to_value(&r).expect("a record serializes")),
            Item::Skipped(s) => skipped.push(s),
        }
    }
    let summary = f
        .task
        .await
        .expect("the fetch task panicked")
        .unwrap_or_else(|e| panic!("the fetch against scim2-server failed: {e}"));
    (records, skipped, summary)
}

// ---------------------------------------------------------------------------------------
// The server process

/// A running `scim2-server`; killed and reaped on drop.
struct Scim2Server {
    child: Child,
    origin: String,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Scim2Server {
    /// One HTTP/1.1 request with `Connection: close`; returns (status, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Accept: application/scim+json\r\nContent-Type: application/scim+json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .map_err(|e| e.to_string())?;
        stream
            .write_all(body.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                format!(
                    "not an HTTP answer: {:?}",
                    text.chars().take(100).collect::<String>()
                )
            })?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Starts scim2-server (installing it first when needed), or reports why it cannot:
/// `None` after a loud `SKIPPED:` line, or a panic when `ROLLCALL_REQUIRE_INTEROP=1`.
fn start_server_or_skip(max_results: Option<u32>) -> Option<Scim2Server> {
    let exe = match scim2_server_exe() {
        Ok(p) => p,
        Err(reason) => {
            skip(&reason);
            return None;
        }
    };
    match start_server(&exe, max_results) {
        Ok(s) => Some(s),
        // Installed but not starting is a real failure, not a missing tool.
        Err(e) => panic!("scim2-server ({}) did not start: {e}", exe.display()),
    }
}

fn skip(reason: &str) {
    if std::env::var("ROLLCALL_REQUIRE_INTEROP").is_ok_and(|v| v == "1") {
        panic!("ROLLCALL_REQUIRE_INTEROP=1 but the scim2-server interop test cannot run: {reason}");
    }
    eprintln!();
    eprintln!("SKIPPED: interop with scim2-server {VERSION}: {reason}");
    eprintln!("SKIPPED: set ROLLCALL_REQUIRE_INTEROP=1 to make this a failure (.ci/run does).");
    eprintln!();
}

fn start_server(exe: &Path, max_results: Option<u32>) -> Result<Scim2Server, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = free_port()?;
    let log = dir.path().join("scim2-server.log");
    let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "--hostname",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--bearer-token",
        TOKEN,
    ]);
    if let Some(max) = max_results {
        let spc = dir.path().join("spc.json");
        let config = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": max},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
        });
        std::fs::write(&spc, config.to_string()).map_err(|e| e.to_string())?;
        cmd.arg("--service-provider-config").arg(&spc);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut server = Scim2Server {
        child,
        origin: format!("http://{addr}"),
        addr,
        log,
        _dir: dir,
    };

    // Ready when /v2/ServiceProviderConfig answers 200 (at most 30 s: a cold Python start
    // on a loaded machine can take a few seconds).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!(
                "it exited with {status}; its output:\n{}",
                server.log_text()
            ));
        }
        match server.request("GET", "/v2/ServiceProviderConfig", None) {
            Ok((200, body)) => {
                if let Some(max) = max_results {
                    let spc: Value =
                        serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
                    if spc["filter"]["maxResults"] != json!(max) {
                        return Err(format!(
                            "the ServiceProviderConfig file was not applied: {body}"
                        ));
                    }
                }
                return Ok(server);
            }
            Ok((status, body)) if Instant::now() > deadline => {
                return Err(format!(
                    "/v2/ServiceProviderConfig answered {status}: {body}"
                ));
            }
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "no answer on {} within 30 s ({e}); its output:\n{}",
                    server.origin,
                    server.log_text()
                ));
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------
// Installing scim2-server

/// `target/scim2-venv` (or `$CARGO_TARGET_DIR/scim2-venv`).
fn venv_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("scim2-venv")
}

/// The `scim2-server` command, installed into the venv when missing. Tests of this binary
/// run in parallel threads: one installs, the others wait for it.
fn scim2_server_exe() -> Result<PathBuf, String> {
    static INSTALL: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);
    let mut slot = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = slot.as_ref() {
        return r.clone();
    }
    let r = install(&venv_dir());
    *slot = Some(r.clone());
    r
}

fn install(venv: &Path) -> Result<PathBuf, String> {
    let bin = venv.join("bin");
    let exe = bin.join("scim2-server");
    let marker = venv.join(format!(".rollcall-scim2-server-{VERSION}"));
    if exe.is_file() && marker.is_file() {
        return Ok(exe);
    }
    let python = bin.join("python3");
    if !python.is_file() {
        run(
            Command::new("python3").arg("--version"),
            "python3 is not available",
        )?;
        run(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(venv),
            "`python3 -m venv` failed (on Debian: apt-get install python3-venv)",
        )?;
    }
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(format!("scim2-server=={VERSION}")),
        &format!("`pip install scim2-server=={VERSION}` failed (no access to PyPI?)"),
    )?;
    if !exe.is_file() {
        return Err(format!(
            "pip installed scim2-server but {} is missing",
            exe.display()
        ));
    }
    std::fs::write(&marker, VERSION)
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(exe)
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    match cmd.stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "{what}: {}\n{}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

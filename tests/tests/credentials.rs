//! `rollcall credentials add|list|remove` and `fetch --credential` on the real binary:
//! secrets from the environment and from stdin, rotation, wrong and missing keys and
//! passphrases (clear errors, nothing destroyed), the key file's mode, and a scan of every
//! file and every output for the secret values.

use std::cell::RefCell;
use std::path::PathBuf;

use assert_cmd::Command;
use rollcall_tests::{TOKEN, rollcall_bin, workspace_root};
use rollcall_testserver::{ScimServer, ServerConfig};
use serde_json::Value;

/// A value that is never accepted by the server; distinctive, so a leak is easy to find.
const OLD_TOKEN: &str = "old-Wm4Rt8Qz1Kx6Np3Jv5Hb";

/// A test server on its own runtime, serving while the binary runs.
struct Live {
    server: ScimServer,
    _rt: tokio::runtime::Runtime,
}

impl Live {
    fn new() -> Live {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(rollcall_tests::server_with(ServerConfig {
            users: 7,
            ..ServerConfig::default()
        }));
        Live { server, _rt: rt }
    }

    fn base_url(&self) -> String {
        format!("base_url={}", self.server.scim_base_url())
    }
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(self) -> Ran {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts a failure (exit 1) whose stderr contains every part of `parts`.
    fn fails_with(self, parts: &[&str]) -> Ran {
        assert_eq!(
            self.code, 1,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        for p in parts {
            assert!(
                self.stderr.contains(p),
                "stderr should contain {p:?}:\n{}",
                self.stderr
            );
        }
        self
    }
}

/// One data directory, and every output of every command run on it.
struct Vault {
    dir: tempfile::TempDir,
    outputs: RefCell<Vec<Vec<u8>>>,
}

impl Vault {
    fn new() -> Vault {
        Vault {
            dir: tempfile::tempdir().unwrap(),
            outputs: RefCell::new(Vec::new()),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn key_file(&self) -> PathBuf {
        self.data().join("vault.key")
    }

    /// The binary on this data directory, with no rollcall setting inherited.
    fn cmd(&self) -> Command {
        let mut c = Command::new(rollcall_bin());
        c.current_dir(workspace_root());
        for (k, _) in std::env::vars() {
            if k.starts_with("ROLLCALL_") {
                c.env_remove(k);
            }
        }
        c.arg("--data-dir").arg(self.data());
        c
    }

    /// Runs a command, keeping its output for [`Vault::assert_never_leaks`].
    fn run(&self, cmd: &mut Command) -> Ran {
        let out = cmd.output().expect("the binary runs");
        self.outputs.borrow_mut().push(out.stdout.clone());
        self.outputs.borrow_mut().push(out.stderr.clone());
        Ran {
            code: out.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// `credentials add NAME --connector miro --secret-env token=RC_TEST_TOKEN`.
    fn add_env(&self, name: &str, value: &str, extra: &[&str]) -> Ran {
        self.run(
            self.cmd()
                .env("RC_TEST_TOKEN", value)
                .args(["credentials", "add", name, "--connector", "miro"])
                .args(["--secret-env", "token=RC_TEST_TOKEN"])
                .args(extra),
        )
    }

    /// `credentials add NAME --connector miro` with `stdin` piped in.
    fn add_stdin(&self, name: &str, stdin: &str, extra: &[&str]) -> Ran {
        self.run(
            self.cmd()
                .args(["credentials", "add", name, "--connector", "miro"])
                .args(extra)
                .write_stdin(stdin),
        )
    }

    /// `fetch miro --credential NAME` against the server.
    fn fetch(&self, live: &Live, name: &str) -> Command {
        let mut c = self.cmd();
        c.args(["fetch", "miro", "--credential", name, "--set"])
            .arg(live.base_url());
        c
    }

    fn list_json(&self) -> Vec<Value> {
        let r = self
            .run(self.cmd().args(["credentials", "list", "--format", "json"]))
            .ok();
        match serde_json::from_str(&r.stdout) {
            Ok(Value::Array(a)) => a,
            other => panic!("`credentials list --format json` printed {other:?}"),
        }
    }

    fn names(&self) -> Vec<String> {
        self.list_json()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// No file under the data directory (recursively, as bytes) and no output of any
    /// command run so far holds any of `secrets`.
    fn assert_never_leaks(&self, secrets: &[&str]) {
        rollcall_tests::assert_no_secret_in(&self.data(), &self.outputs.borrow(), secrets);
    }
}

fn record_count(stdout: &str) -> usize {
    stdout.lines().filter(|l| !l.trim().is_empty()).count()
}

#[test]
fn add_from_the_environment_list_and_fetch() {
    let live = Live::new();
    let v = Vault::new();
    let r = v.add_env("miro-scim", TOKEN, &[]).ok();
    assert!(
        r.stdout
            .contains("stored credential `miro-scim` for `miro` (inputs: token)"),
        "{}",
        r.stdout
    );

    let table = v.run(v.cmd().args(["credentials", "list"])).ok();
    let mut lines = table.stdout.lines();
    let header = lines.next().unwrap();
    for col in ["NAME", "CONNECTOR", "INPUTS", "CREATED", "UPDATED"] {
        assert!(header.contains(col), "{header}");
    }
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..3],
        ["miro-scim", "miro", "token"],
        "{}",
        table.stdout
    );
    assert!(lines.next().is_none(), "{}", table.stdout);

    let list = v.list_json();
    assert_eq!(list.len(), 1);
    let c = list[0].as_object().unwrap();
    assert_eq!(c["name"], "miro-scim");
    assert_eq!(c["kind"], "connector");
    assert_eq!(c["connector"], "miro");
    assert_eq!(c["input_names"], serde_json::json!(["token"]));
    assert!(c.contains_key("created_at") && c.contains_key("updated_at"));
    assert_eq!(c.len(), 6, "only metadata is listed: {c:?}");

    let r = v.run(&mut v.fetch(&live, "miro-scim")).ok();
    assert_eq!(record_count(&r.stdout), 7, "{}", r.stdout);

    v.assert_never_leaks(&[TOKEN]);
}

#[test]
fn add_from_piped_stdin() {
    let live = Live::new();
    let v = Vault::new();
    // Windows line endings are trimmed as well.
    v.add_stdin("miro-scim", &format!("{TOKEN}\r\n"), &[]).ok();
    let r = v.run(&mut v.fetch(&live, "miro-scim")).ok();
    assert_eq!(record_count(&r.stdout), 7, "{}", r.stdout);

    // stdin that ends before the secret: a clear error and nothing stored.
    v.add_stdin("empty", "", &[]).fails_with(&[
        "stdin ended before the value of `token`",
        "one line per secret input",
    ]);
    v.add_stdin("blank", "\n", &[])
        .fails_with(&["the value of `token` is empty"]);
    assert_eq!(v.names(), ["miro-scim"]);
    v.assert_never_leaks(&[TOKEN]);
}

#[test]
fn an_existing_name_needs_replace_which_rotates_it() {
    let live = Live::new();
    let v = Vault::new();
    v.add_env("miro-scim", OLD_TOKEN, &[]).ok();
    v.run(&mut v.fetch(&live, "miro-scim")).fails_with(&["401"]);
    let before = v.list_json();

    v.add_env("miro-scim", TOKEN, &[])
        .fails_with(&["already exists", "--replace"]);
    assert_eq!(v.list_json(), before, "a refused add changes nothing");
    v.run(&mut v.fetch(&live, "miro-scim")).fails_with(&["401"]);

    let r = v
        .add_stdin("miro-scim", &format!("{TOKEN}\n"), &["--replace"])
        .ok();
    assert!(
        r.stdout.contains("replaced credential `miro-scim`"),
        "{}",
        r.stdout
    );
    let after = v.list_json();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["created_at"], before[0]["created_at"]);
    let r = v.run(&mut v.fetch(&live, "miro-scim")).ok();
    assert_eq!(record_count(&r.stdout), 7, "{}", r.stdout);
    v.assert_never_leaks(&[TOKEN, OLD_TOKEN]);
}

#[test]
fn fetch_precedence_and_connector_check() {
    let live = Live::new();
    let v = Vault::new();
    v.add_env("stale", OLD_TOKEN, &[]).ok();
    v.add_env("good", TOKEN, &[]).ok();

    // --secret-env wins over the credential.
    let r = v
        .run(
            v.fetch(&live, "stale")
                .env("RC_GOOD", TOKEN)
                .args(["--secret-env", "token=RC_GOOD"]),
        )
        .ok();
    assert_eq!(record_count(&r.stdout), 7);
    // The environment wins over the credential too.
    v.run(v.fetch(&live, "good").env("ROLLCALL_MIRO_TOKEN", OLD_TOKEN))
        .fails_with(&["401"]);

    v.run(&mut v.fetch(&live, "nope"))
        .fails_with(&["there is no credential named `nope`"]);

    // A credential of another connector is refused.
    let connectors = v.dir.path().join("connectors");
    std::fs::create_dir(&connectors).unwrap();
    let text = rollcall_tests::miro_text().replacen("name: miro\n", "name: miro2\n", 1);
    assert!(text.contains("name: miro2\n"));
    std::fs::write(connectors.join("miro2.yaml"), text).unwrap();
    v.run(
        v.cmd()
            .arg("--connectors-dir")
            .arg(&connectors)
            .args(["fetch", "miro2", "--credential", "good", "--set"])
            .arg(live.base_url()),
    )
    .fails_with(&["the credential `good` is for the connector `miro`, not `miro2`"]);
    v.assert_never_leaks(&[TOKEN, OLD_TOKEN]);
}

#[test]
fn bad_inputs_are_clear_errors_and_store_nothing() {
    let v = Vault::new();
    let add = |pair: &str| {
        v.run(v.cmd().env("RC_SET", "some-value-123").args([
            "credentials",
            "add",
            "c",
            "--connector",
            "miro",
            "--secret-env",
            pair,
        ]))
    };
    add("tokn=RC_SET").fails_with(&[
        "the connector `miro` has no input `tokn`",
        "did you mean `token`?",
    ]);
    add("base_url=RC_SET").fails_with(&["`base_url` is not a secret input of `miro`", "--set"]);
    add("token=RC_UNSET_VARIABLE")
        .fails_with(&["the environment variable `RC_UNSET_VARIABLE`", "is not set"]);
    add("token").fails_with(&["should be INPUT=ENV_VAR"]);
    v.run(
        v.cmd()
            .args(["credentials", "add", "c", "--connector", "nosuch"]),
    )
    .fails_with(&["there is no connector named `nosuch`"]);
    assert!(v.names().is_empty());
    assert!(
        !v.key_file().exists(),
        "no key is made when nothing is stored"
    );
}

#[test]
fn remove_and_remove_again() {
    let v = Vault::new();
    v.add_env("a", TOKEN, &[]).ok();
    v.add_env("b", TOKEN, &[]).ok();
    let r = v.run(v.cmd().args(["credentials", "remove", "a"])).ok();
    assert!(r.stdout.contains("removed credential `a`"), "{}", r.stdout);
    assert_eq!(v.names(), ["b"]);
    v.run(v.cmd().args(["credentials", "remove", "a"]))
        .fails_with(&["there is no credential named `a`"]);
    assert_eq!(v.names(), ["b"]);
}

#[test]
fn another_key_file_is_a_clear_error_and_destroys_nothing() {
    let live = Live::new();
    let v = Vault::new();
    v.add_env("miro-scim", TOKEN, &[]).ok();
    let key_before = std::fs::read(v.key_file()).unwrap();

    // Another vault's key.
    let other = Vault::new();
    other.add_env("x", "whatever-value", &[]).ok();
    let other_key = other.key_file();
    let other_before = std::fs::read(&other_key).unwrap();
    let listed = v.list_json();

    let r = v
        .run(v.fetch(&live, "miro-scim").env("ROLLCALL_VAULT_KEY_FILE", &other_key))
        .fails_with(&[
            &format!(
                "cannot decrypt credential `miro-scim`: the vault key in {} is not the one it was encrypted with",
                other_key.display()
            ),
            // The whole command, kind included, to store it again.
            "or store the credential again with `rollcall credentials add miro-scim --connector miro --replace`",
        ]);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_eq!(std::fs::read(&other_key).unwrap(), other_before);
    assert_eq!(std::fs::read(v.key_file()).unwrap(), key_before);
    assert_eq!(v.list_json(), listed);

    // The right key still opens it.
    let r = v.run(&mut v.fetch(&live, "miro-scim")).ok();
    assert_eq!(record_count(&r.stdout), 7);
    v.assert_never_leaks(&[TOKEN]);
}

#[test]
fn passphrase_instead_of_a_key_file() {
    let live = Live::new();
    let v = Vault::new();
    v.run(
        v.cmd()
            .env("ROLLCALL_VAULT_PASSPHRASE", "pass-one-Ys8")
            .env("RC_TEST_TOKEN", TOKEN)
            .args(["credentials", "add", "miro-scim", "--connector", "miro"])
            .args(["--secret-env", "token=RC_TEST_TOKEN"]),
    )
    .ok();
    assert!(!v.key_file().exists(), "a passphrase needs no key file");

    let r = v
        .run(
            v.fetch(&live, "miro-scim")
                .env("ROLLCALL_VAULT_PASSPHRASE", "pass-one-Ys8"),
        )
        .ok();
    assert_eq!(record_count(&r.stdout), 7);

    v.run(v.fetch(&live, "miro-scim").env("ROLLCALL_VAULT_PASSPHRASE", "pass-two-Qm3"))
        .fails_with(&[
            "cannot decrypt credential `miro-scim`: the passphrase in ROLLCALL_VAULT_PASSPHRASE is not the one it was encrypted with",
        ]);
    v.run(&mut v.fetch(&live, "miro-scim"))
        .fails_with(&["cannot decrypt credential `miro-scim`: it was encrypted with a passphrase"]);
    assert!(!v.key_file().exists());
    assert_eq!(v.names(), ["miro-scim"]);
    v.assert_never_leaks(&[TOKEN, "pass-one-Ys8", "pass-two-Qm3"]);
}

#[test]
fn a_missing_key_file_is_reported_not_replaced() {
    let live = Live::new();
    let v = Vault::new();
    v.add_env("miro-scim", TOKEN, &[]).ok();
    let backup = v.dir.path().join("vault.key.backup");
    std::fs::rename(v.key_file(), &backup).unwrap();

    v.run(&mut v.fetch(&live, "miro-scim")).fails_with(&[
        "cannot decrypt credential `miro-scim`: the vault key file",
        "does not exist",
    ]);
    assert!(!v.key_file().exists());

    v.add_env("second", TOKEN, &[])
        .fails_with(&["is missing, but credentials encrypted with a vault key are stored"]);
    v.add_env("miro-scim", TOKEN, &["--replace"])
        .fails_with(&["will not make a new key"]);
    assert!(!v.key_file().exists(), "no new key was made");
    assert_eq!(v.names(), ["miro-scim"]);

    std::fs::rename(&backup, v.key_file()).unwrap();
    let r = v.run(&mut v.fetch(&live, "miro-scim")).ok();
    assert_eq!(record_count(&r.stdout), 7);
    v.assert_never_leaks(&[TOKEN]);
}

#[test]
fn a_key_file_elsewhere_is_used_and_created_there() {
    let live = Live::new();
    let v = Vault::new();
    let key = v.dir.path().join("keys").join("my.key");
    v.run(
        v.cmd()
            .env("ROLLCALL_VAULT_KEY_FILE", &key)
            .env("RC_TEST_TOKEN", TOKEN)
            .args(["credentials", "add", "miro-scim", "--connector", "miro"])
            .args(["--secret-env", "token=RC_TEST_TOKEN"]),
    )
    .ok();
    assert!(key.is_file());
    assert!(!v.key_file().exists());
    let r = v
        .run(
            v.fetch(&live, "miro-scim")
                .env("ROLLCALL_VAULT_KEY_FILE", &key),
        )
        .ok();
    assert_eq!(record_count(&r.stdout), 7);
}

#[cfg(unix)]
#[test]
fn the_key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let v = Vault::new();
    let r = v.add_env("miro-scim", TOKEN, &[]).ok();
    assert!(r.stderr.contains("created a new vault key"), "{}", r.stderr);
    let r = v.add_env("second", TOKEN, &[]).ok();
    assert!(
        !r.stderr.contains("created a new vault key"),
        "{}",
        r.stderr
    );
    let mode = std::fs::metadata(v.key_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "vault.key has mode {:o}", mode & 0o777);
    let text = std::fs::read_to_string(v.key_file()).unwrap();
    assert!(text.contains("AGE-SECRET-KEY-1"), "an age identity file");
}

/// Every command of the credential lifecycle, then a byte scan of the whole data directory
/// and of every stdout and stderr for the secret values.
#[test]
fn no_secret_value_is_ever_in_a_file_or_an_output() {
    let live = Live::new();
    let v = Vault::new();
    v.add_env("env-cred", TOKEN, &[]).ok();
    v.add_stdin("stdin-cred", &format!("{OLD_TOKEN}\n"), &[])
        .ok();
    v.add_env("env-cred", TOKEN, &[]).fails_with(&["--replace"]);
    v.add_stdin("stdin-cred", &format!("{TOKEN}\n"), &["--replace"])
        .ok();
    v.run(v.cmd().args(["credentials", "list"])).ok();
    v.list_json();
    for name in ["env-cred", "stdin-cred"] {
        v.run(v.fetch(&live, name).args(["--explain", "--format", "json"]))
            .ok();
    }
    v.run(
        v.fetch(&live, "env-cred")
            .args(["--explain"])
            .env("ROLLCALL_VAULT_PASSPHRASE", "not-the-key-Pw9"),
    )
    .fails_with(&["cannot decrypt credential `env-cred`"]);
    v.run(v.cmd().args(["credentials", "remove", "stdin-cred"]))
        .ok();
    assert!(v.outputs.borrow().len() >= 20);
    v.assert_never_leaks(&[TOKEN, OLD_TOKEN, "not-the-key-Pw9"]);
}

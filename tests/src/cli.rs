//! The real `rollcall` binary on a data directory of its own: commands with the test
//! token in `ROLLCALL_MIRO_TOKEN` and no other rollcall settings inherited, stored
//! integrations of the Miro connector, JSON lists, and children that are killed when a
//! test fails before they stop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{TOKEN, rollcall_bin};

/// A temporary directory with the data directory (`data/`) and, when a test writes
/// one, a connectors directory (`connectors/`) passed to every command.
pub struct CliEnv {
    dir: tempfile::TempDir,
    connectors: bool,
}

impl Default for CliEnv {
    fn default() -> Self {
        CliEnv::new()
    }
}

impl CliEnv {
    /// An empty data directory.
    pub fn new() -> CliEnv {
        CliEnv {
            dir: tempfile::tempdir().expect("a temporary directory"),
            connectors: false,
        }
    }

    /// The temporary directory (the data directory is `data/` in it).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes (or replaces) a connector manifest `NAME.yaml` in the connectors
    /// directory, which then overrides the built-in connector of that name.
    pub fn connector(&mut self, name: &str, text: &str) {
        let dir = self.dir.path().join("connectors");
        std::fs::create_dir_all(&dir).expect("the connectors directory is created");
        std::fs::write(dir.join(format!("{name}.yaml")), text).expect("the manifest is written");
        self.connectors = true;
    }

    /// `rollcall --data-dir DATA [--connectors-dir DIR] ARGS` with the test token.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(rollcall_bin());
        c.arg("--data-dir").arg(self.data_dir());
        if self.connectors {
            c.arg("--connectors-dir")
                .arg(self.dir.path().join("connectors"));
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("ROLLCALL_") {
                c.env_remove(k);
            }
        }
        c.args(args)
            .env("ROLLCALL_MIRO_TOKEN", TOKEN)
            .env("ROLLCALL_TIMEZONE", "UTC")
            .stdin(Stdio::null());
        c
    }

    /// Writes `text` to the file `name` in the temporary directory; its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("the file is written");
        path.to_string_lossy().into_owned()
    }

    /// Runs a command to the end.
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the binary runs")
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        assert!(
            o.status.success(),
            "{args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs a command that must fail; its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// A list command's rows, with `--format json`.
    pub fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.ok(&all);
        match serde_json::from_str(&out) {
            Ok(Value::Array(a)) => a,
            other => panic!("{args:?} did not print a JSON array: {other:?}\n{out}"),
        }
    }

    /// Stores an integration `name` of the `miro` connector that creates people and
    /// accounts in app instance `instance`, reading `base_url`; `extra` is appended to
    /// the file (e.g. `schedule: every 1h\n`).
    pub fn integration(&self, name: &str, instance: &str, base_url: &str, extra: &str) {
        let file = self.dir.path().join(format!("{instance}.yaml"));
        std::fs::write(
            &file,
            format!(
                "name: {name}\nconnector: miro\ninputs: {{ base_url: \"{base_url}\" }}\nusers: user-plus-saas-user\nsaas: {{ app: Miro, instance: {instance} }}\npreference: create-and-update\nrole: Employee\nsync_key: username\n{extra}"
            ),
        )
        .expect("the integration file is written");
        self.ok(&[
            "integrations",
            "apply",
            file.to_str().expect("a UTF-8 path"),
        ]);
    }

    /// `rollcall runs`, newest first.
    pub fn runs(&self) -> Vec<Value> {
        self.json(&["runs"])
    }
}

/// Polls `done` until it holds, failing after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process, killed if a test fails before it stops.
pub struct Running(pub Child);

impl Running {
    /// Sends `signal` (e.g. `INT`, `TERM`) to the child.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.0.id().to_string())
            .status()
            .expect("`kill` runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits for the child to exit (at most `limit`): its status, stdout and stderr
    /// (when they were piped).
    pub fn finish(mut self, limit: Duration) -> (std::process::ExitStatus, String, String) {
        let mut status = None;
        wait_for("the process to exit", limit, || {
            status = self.0.try_wait().expect("the child can be waited for");
            status.is_some()
        });
        let read = |pipe: Option<&mut dyn std::io::Read>| {
            let mut text = String::new();
            if let Some(p) = pipe {
                p.read_to_string(&mut text).expect("the output is UTF-8");
            }
            text
        };
        let stdout = read(self.0.stdout.as_mut().map(|p| p as &mut dyn std::io::Read));
        let stderr = read(self.0.stderr.as_mut().map(|p| p as &mut dyn std::io::Read));
        (status.expect("the child exited"), stdout, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

//! Plugins for the tests: the workspace's plugin crates built once per test process,
//! and plugin directories holding copies of them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use rollcall_plugins::{Host, HostOptions};

use crate::{TOKEN, rollcall_bin, target_dir, workspace_root};

/// The plugin crates the tests load (package names).
const PLUGIN_PACKAGES: &[&str] = &[
    "rollcall-plugin-seat-type",
    "rollcall-plugin-pager",
    "rollcall-test-plugin-faulty",
    "rollcall-test-plugin-wrong-abi",
    "rollcall-test-plugin-no-invoke",
    "rollcall-test-plugin-bad-json",
];

/// The built dynamic library of a plugin crate, by its library name (`seat_type`,
/// `pager`, `faulty`, `wrong_abi`, `no_invoke`, `bad_json`). The crates are built once per
/// test process with `cargo build`.
pub fn library(lib_name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "--quiet"]).current_dir(workspace_root());
        for p in PLUGIN_PACKAGES {
            cmd.args(["-p", p]);
        }
        let status = cmd
            .status()
            .expect("cannot run `cargo build` for the plugins");
        assert!(status.success(), "building the plugin crates failed");
    });
    let file = target_dir().join("debug").join(library_file(lib_name));
    assert!(file.is_file(), "no plugin library at {}", file.display());
    file
}

/// `libNAME.so` (or the platform's form).
pub fn library_file(name: &str) -> String {
    format!(
        "{}{name}.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    )
}

/// The Python example plugin (`examples/plugin-seat-type-py/seat_type.py`).
pub fn python_example() -> PathBuf {
    workspace_root().join("examples/plugin-seat-type-py/seat_type.py")
}

/// The Python paginator example (`examples/plugin-pager-py/pager.py`).
pub fn python_pager_example() -> PathBuf {
    workspace_root().join("examples/plugin-pager-py/pager.py")
}

/// Copies `file` into `dir` as `name`, executable.
pub fn install(dir: &Path, file: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(file, &to).unwrap_or_else(|e| panic!("cannot copy {}: {e}", file.display()));
    make_executable(&to);
    to
}

/// Writes an executable script into `dir`.
pub fn install_script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::write(&to, text).expect("the script is written");
    make_executable(&to);
    to
}

#[cfg(unix)]
fn make_executable(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut p = std::fs::metadata(file)
        .expect("the file exists")
        .permissions();
    p.set_mode(0o755);
    std::fs::set_permissions(file, p).expect("permissions are set");
}

#[cfg(not(unix))]
fn make_executable(_file: &Path) {}

/// A plugin host that looks in `dir` only and stops a call after `timeout`.
pub fn host(dir: &Path, timeout: Duration) -> Host {
    Host::new(HostOptions {
        dirs: vec![dir.to_path_buf()],
        timeout,
    })
}

/// A fresh plugin directory with the built library `lib_name` installed; and that file.
pub fn library_dir(lib_name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = install(dir.path(), &library(lib_name), &library_file(lib_name));
    (dir, file)
}

/// Runs `rollcall plugins list --plugins-dir DIR` (home in `DIR/home`); its output, which
/// must be a success.
pub fn list_plugins(dir: &Path) -> String {
    let list = Command::new(rollcall_bin())
        .args(["plugins", "list", "--plugins-dir"])
        .arg(dir)
        .env("ROLLCALL_HOME", dir.join("home"))
        .output()
        .expect("rollcall runs");
    assert!(list.status.success());
    String::from_utf8(list.stdout).expect("the list is UTF-8")
}

/// `rollcall fetch MANIFEST` against `base_url` with [`TOKEN`] from the environment and
/// plugins from `dir` (home in `DIR/home`), for the caller to add arguments and run.
pub fn fetch_with_plugins(dir: &Path, manifest: &Path, base_url: &str) -> Command {
    let mut cmd = Command::new(rollcall_bin());
    cmd.arg("fetch")
        .arg(manifest)
        .args(["--set", &format!("base_url={base_url}")])
        .args(["--secret-env", "token=PLUGIN_TEST_TOKEN"])
        .env("PLUGIN_TEST_TOKEN", TOKEN)
        .env("ROLLCALL_PLUGINS_DIR", dir)
        .env("ROLLCALL_HOME", dir.join("home"));
    cmd
}

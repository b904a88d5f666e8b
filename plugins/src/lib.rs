//! rollcall-plugins: the plugin host. Finds plugins in the plugin directories
//! ([`discover`]), checks sha256 pins ([`pin`]), loads dynamic libraries
//! ([`dylib`], never unloaded, called on the plugin's own threads with per-call
//! timeouts: [`calls`]) and runs subprocess plugins ([`process`], JSON lines
//! with a handshake and per-call timeouts). [`Host`] implements
//! [`rollcall_core::plugin::PluginHost`], through which manifests open plugins.
//!
//! Architecture invariant: plugins load only from the directories the host was
//! given; every failure is an error naming the plugin and its file.

pub mod calls;
pub mod discover;
pub mod dylib;
pub mod pin;
pub mod process;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rollcall_core::plugin::{Description, Plugin, PluginHost};

pub use discover::{Found, Kind};

/// How plugins are found and run.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// Plugin directories, in precedence order (the first that has a plugin wins).
    pub dirs: Vec<PathBuf>,
    /// The longest a plugin may take to answer one request: a subprocess is then
    /// stopped; a library's call is left running and the plugin is stuck until it
    /// returns (see [`calls`]).
    pub timeout: Duration,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            dirs: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

struct Opened {
    plugin: Arc<dyn Plugin>,
    sha256: String,
}

/// The plugins of one rollcall process: each is opened once and kept for the
/// process's lifetime.
pub struct Host {
    options: HostOptions,
    opened: Mutex<HashMap<String, Opened>>,
}

/// One plugin found in a directory, as `rollcall plugins list` shows it.
#[derive(Debug)]
pub struct Listing {
    /// Where it was found.
    pub found: Found,
    /// The file's sha256 (hex), or why it could not be read.
    pub sha256: Result<String, String>,
    /// Its description if it loads, or why it does not.
    pub loaded: Result<Description, String>,
}

impl Host {
    /// A host over these directories.
    pub fn new(options: HostOptions) -> Self {
        Host {
            options,
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The plugin directories.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.options.dirs
    }

    /// Every plugin in the directories, each loaded (once) to see whether it works.
    pub fn list(&self) -> Vec<Listing> {
        discover::discover(&self.options.dirs)
            .into_iter()
            .map(|found| {
                let sha256 = pin::sha256_file(&found.file)
                    .map_err(|e| format!("cannot read {}: {e}", found.file.display()));
                let loaded = match self.open(&found.name, None) {
                    Ok(p) if p.file() == found.file => Ok(p.description().clone()),
                    Ok(p) => Err(format!(
                        "not used: `{}` is provided by {}",
                        found.name,
                        p.file().display()
                    )),
                    Err(e) => Err(e),
                };
                Listing {
                    found,
                    sha256,
                    loaded,
                }
            })
            .collect()
    }
}

impl PluginHost for Host {
    fn open(&self, name: &str, sha256: Option<&str>) -> Result<Arc<dyn Plugin>, String> {
        let mut opened = self.opened.lock().map_err(|_| {
            format!("the plugin `{name}` cannot be opened: an earlier plugin load crashed")
        })?;
        if let Some(o) = opened.get(name) {
            pin::check(name, o.plugin.file(), &o.sha256, sha256)?;
            return Ok(Arc::clone(&o.plugin));
        }
        let found = discover::find(&self.options.dirs, name)?;
        let digest = pin::sha256_file(&found.file).map_err(|e| {
            format!(
                "the plugin `{name}` ({}) cannot be read: {e}",
                found.file.display()
            )
        })?;
        pin::check(name, &found.file, &digest, sha256)?;
        let plugin: Arc<dyn Plugin> = match found.kind {
            Kind::Library => Arc::new(dylib::LibraryPlugin::load_within(
                name,
                &found.file,
                self.options.timeout,
            )?),
            Kind::Executable => Arc::new(process::ProcessPlugin::start(
                name,
                &found.file,
                self.options.timeout,
            )?),
        };
        opened.insert(
            name.to_string(),
            Opened {
                plugin: Arc::clone(&plugin),
                sha256: digest,
            },
        );
        Ok(plugin)
    }
}

/// Checks that a plugin calls itself what its file name says.
fn check_name(name: &str, file: &std::path::Path, d: &Description) -> Result<(), String> {
    if d.name == name {
        Ok(())
    } else {
        Err(format!(
            "the plugin file {} describes itself as `{}`, but its file name makes it `{name}`; rename the file or fix the plugin's name",
            file.display(),
            d.name
        ))
    }
}

/// The start of a text, for error messages.
fn shorten(text: &str, max: usize) -> String {
    let t: String = text.chars().take(max).collect();
    if t.len() < text.len() {
        format!("{t}…")
    } else {
        t
    }
}

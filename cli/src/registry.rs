//! Finding connector manifests: built-in ones, a connectors directory (which wins
//! on a name clash), or a path given directly. Manifests are read and compiled on
//! every run, so an edited file takes effect without recompiling.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use rollcall_core::Connector;
use std::sync::Arc;

use rollcall_core::manifest::{LoadError, load_connector_with_plugins};
use rollcall_core::plugin::{NoPlugins, PluginHost};
use rollcall_source::SourceFile;

/// Where a manifest lives.
#[derive(Clone, Debug)]
pub enum Location {
    /// Embedded in the binary.
    BuiltIn(&'static rollcall_connectors::BuiltIn),
    /// A file.
    File(PathBuf),
}

impl Location {
    /// `built-in` or the path.
    pub fn describe(&self) -> String {
        match self {
            Location::BuiltIn(b) => format!("built-in ({})", b.file),
            Location::File(p) => p.display().to_string(),
        }
    }
}

/// The connector catalogue of this invocation.
#[derive(Clone)]
pub struct Registry {
    dir: Option<PathBuf>,
    plugins: Arc<dyn PluginHost>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry with an optional user directory.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Registry {
            dir,
            plugins: Arc::new(NoPlugins),
        }
    }

    /// The same registry, opening manifests' plugins through `host`.
    pub fn with_plugins(mut self, host: Arc<dyn PluginHost>) -> Self {
        self.plugins = host;
        self
    }

    /// Reads and compiles the manifest at a location, with this registry's plugins.
    pub fn load_at(&self, loc: &Location) -> Result<Connector, LoadFailure> {
        load_location_with(loc, self.plugins.as_ref())
    }

    /// Every connector name with its location, user directory first.
    pub fn list(&self) -> Result<Vec<(String, Location)>> {
        let mut out: Vec<(String, Location)> = Vec::new();
        if let Some(dir) = &self.dir {
            let entries = std::fs::read_dir(dir).with_context(|| {
                format!("cannot read the connectors directory {}", dir.display())
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
                })
                .collect();
            files.sort();
            for f in files {
                let name = manifest_name(&f).unwrap_or_else(|| stem(&f));
                if !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, Location::File(f)));
                }
            }
        }
        for b in rollcall_connectors::BUILTIN {
            if !out.iter().any(|(n, _)| n == b.name) {
                out.push((b.name.to_string(), Location::BuiltIn(b)));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Finds a connector by name, or by path when `spec` names a file.
    pub fn locate(&self, spec: &str) -> Result<Location> {
        let as_path = Path::new(spec);
        if spec.contains('/')
            || spec.ends_with(".yaml")
            || spec.ends_with(".yml")
            || spec.ends_with(".json")
        {
            if as_path.is_file() {
                return Ok(Location::File(as_path.to_path_buf()));
            }
            return Err(anyhow!("there is no manifest file at {spec}"));
        }
        let all = self.list()?;
        if let Some((_, loc)) = all.iter().find(|(n, _)| n == spec) {
            return Ok(loc.clone());
        }
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        let hint = rollcall_source::suggest(spec, names.iter().copied())
            .map(|s| format!(" Did you mean `{s}`?"))
            .unwrap_or_default();
        Err(anyhow!(
            "there is no connector named `{spec}`.{hint} Available: {}. A manifest path also works.",
            names.join(", ")
        ))
    }

    /// Reads and compiles a connector.
    pub fn load(&self, spec: &str) -> Result<Connector, LoadFailure> {
        let loc = self.locate(spec).map_err(LoadFailure::Other)?;
        self.load_at(&loc)
    }
}

/// Why a connector could not be loaded.
pub enum LoadFailure {
    /// Manifest problems (printed with snippets).
    Manifest(LoadError),
    /// Anything else.
    Other(anyhow::Error),
}

impl LoadFailure {
    /// As an anyhow error, with all diagnostics.
    pub fn into_error(self) -> anyhow::Error {
        match self {
            LoadFailure::Manifest(e) => anyhow!("the manifest has problems:\n{}", e.render()),
            LoadFailure::Other(e) => e,
        }
    }
}

/// Reads and compiles the manifest at a location, opening plugins through `plugins`.
pub fn load_location_with(
    loc: &Location,
    plugins: &dyn PluginHost,
) -> Result<Connector, LoadFailure> {
    let (file, origin) = match loc {
        Location::BuiltIn(b) => (
            SourceFile::new(format!("connectors/{}", b.file), b.text),
            format!("built-in:{}", b.name),
        ),
        Location::File(p) => match SourceFile::read(p) {
            Ok(f) => (f, p.display().to_string()),
            Err(d) => {
                return Err(LoadFailure::Manifest(LoadError {
                    diagnostics: vec![d],
                    text: String::new(),
                }));
            }
        },
    };
    load_connector_with_plugins(file, &origin, plugins).map_err(LoadFailure::Manifest)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_string()
}

/// The `name:` of a manifest file, read cheaply (without compiling it).
fn manifest_name(p: &Path) -> Option<String> {
    let text = std::fs::read_to_string(p).ok()?;
    if p.extension().and_then(|e| e.to_str()) == Some("json") {
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        return v.get("name")?.as_str().map(str::to_string);
    }
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("name:")?;
        let v = rest.split('#').next()?.trim().trim_matches(['"', '\'']);
        (!v.is_empty()).then(|| v.to_string())
    })
}

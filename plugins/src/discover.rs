//! Finding plugins: the files of the plugin directories. A dynamic library
//! (`libNAME.so`, `libNAME.dylib`, `NAME.dll`: the platform's own kind) is plugin
//! `NAME`; any other executable file is a subprocess plugin named by its file name
//! without extension (`seat_type.py` → `seat_type`). Hidden files, directories and
//! non-executable files are ignored.

use std::path::{Path, PathBuf};

/// How a plugin runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A dynamic library loaded into rollcall.
    Library,
    /// An executable speaking JSON lines on stdin/stdout.
    Executable,
}

/// A plugin file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The plugin's name, from its file name.
    pub name: String,
    /// The file.
    pub file: PathBuf,
    /// How it runs.
    pub kind: Kind,
}

/// Every plugin file in `dirs`, in directory order then name order. A directory
/// that does not exist holds no plugins.
pub fn discover(dirs: &[PathBuf]) -> Vec<Found> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        out.extend(files.iter().filter_map(|f| classify(f)));
    }
    out
}

/// The plugin `name`: the first directory that has it wins. Two files for one name
/// in the same directory are an error.
pub fn find(dirs: &[PathBuf], name: &str) -> Result<Found, String> {
    let all = discover(dirs);
    let Some(first) = all.iter().find(|f| f.name == name) else {
        let looked = if dirs.is_empty() {
            "no plugin directory is configured".to_string()
        } else {
            format!(
                "looked in {}",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(format!(
            "the plugin `{name}` was not found ({looked}); install `{}{name}.{}` or an executable `{name}` there, or pass --plugins-dir",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_EXTENSION,
        ));
    };
    let dir = first.file.parent();
    let twins: Vec<&Found> = all
        .iter()
        .filter(|f| f.name == name && f.file.parent() == dir)
        .collect();
    if twins.len() > 1 {
        return Err(format!(
            "two files provide the plugin `{name}`: {}; keep one",
            twins
                .iter()
                .map(|f| f.file.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        ));
    }
    Ok(first.clone())
}

fn classify(file: &Path) -> Option<Found> {
    let file_name = file.file_name()?.to_str()?;
    if file_name.starts_with('.') || !file.is_file() {
        return None;
    }
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let stem = file.file_stem()?.to_str()?;
    if ext == std::env::consts::DLL_EXTENSION {
        let name = stem
            .strip_prefix(std::env::consts::DLL_PREFIX)
            .unwrap_or(stem);
        return Some(Found {
            name: name.to_string(),
            file: file.to_path_buf(),
            kind: Kind::Library,
        });
    }
    if is_executable(file) {
        return Some(Found {
            name: stem.to_string(),
            file: file.to_path_buf(),
            kind: Kind::Executable,
        });
    }
    None
}

#[cfg(unix)]
fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(file: &Path) -> bool {
    matches!(
        file.extension().and_then(|e| e.to_str()),
        Some("exe" | "cmd" | "bat")
    )
}

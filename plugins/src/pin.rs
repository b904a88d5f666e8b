//! sha256 pins: a manifest may require a plugin file with a given digest.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Refuses a file whose digest is not the pinned one.
pub fn check(name: &str, file: &Path, actual: &str, pinned: Option<&str>) -> Result<(), String> {
    match pinned {
        Some(p) if !p.eq_ignore_ascii_case(actual) => Err(format!(
            "the plugin `{name}` ({}) has sha256 {actual}, but the manifest pins {}; refusing to load it (if the plugin was updated on purpose, update the pin)",
            file.display(),
            p.to_ascii_lowercase()
        )),
        _ => Ok(()),
    }
}

//! Where rollcall keeps its data: `--data-dir`, else `ROLLCALL_HOME`, else the XDG
//! data directory (`$XDG_DATA_HOME/rollcall`, else `~/.local/share/rollcall`).

use std::path::PathBuf;

use anyhow::{Result, anyhow};

/// The data directory for this invocation.
pub fn resolve(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p);
    }
    if let Some(p) = std::env::var_os("ROLLCALL_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p).join("rollcall"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home).join(".local/share/rollcall"));
    }
    Err(anyhow!(
        "cannot tell where to keep rollcall's data: pass --data-dir DIR or set ROLLCALL_HOME"
    ))
}

/// Opens (creating if needed) the store in the data directory.
pub async fn open_store(flag: Option<PathBuf>) -> Result<rollcall_store::Store> {
    let dir = resolve(flag)?;
    rollcall_store::Store::open(&dir).await.map_err(|e| {
        anyhow!(
            "cannot open the rollcall database in {}: {e}",
            dir.display()
        )
    })
}

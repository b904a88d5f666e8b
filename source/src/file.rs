//! Reading user files.

use std::path::Path;

use crate::diagnostic::{Diagnostic, Pos};

/// Largest file accepted by [`SourceFile::read`] and [`crate::parse`]: 4 MiB.
pub const MAX_FILE_SIZE: usize = 4 * 1024 * 1024;

/// A file as the user wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Display path, used as the `FILE` part of diagnostics.
    pub name: String,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// A file from a display name and its text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// Read a file from disk.
    ///
    /// Fails with a [`Diagnostic`] (never a panic) when the file cannot be
    /// read, is larger than [`MAX_FILE_SIZE`], is binary (contains NUL bytes),
    /// or is not valid UTF-8 (UTF-16 included). A leading UTF-8 byte order mark
    /// is removed.
    pub fn read(path: &Path) -> Result<SourceFile, Diagnostic> {
        let name = path.display().to_string();
        let io_err = |e: std::io::Error| {
            Diagnostic::error(&name, Pos::START, format!("cannot read the file: {e}"))
                .with_hint("check that the path is right and that the file is readable")
        };
        let meta = std::fs::metadata(path).map_err(io_err)?;
        if meta.is_dir() {
            return Err(
                Diagnostic::error(&name, Pos::START, "this is a directory, not a file")
                    .with_hint("give the path of a YAML or JSON file"),
            );
        }
        if meta.len() > MAX_FILE_SIZE as u64 {
            return Err(too_large(&name, meta.len()));
        }
        let bytes = std::fs::read(path).map_err(io_err)?;
        SourceFile::from_bytes(name, bytes)
    }

    /// A file from raw bytes, with the same checks as [`SourceFile::read`].
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Result<SourceFile, Diagnostic> {
        let name = name.into();
        if bytes.len() > MAX_FILE_SIZE {
            return Err(too_large(&name, bytes.len() as u64));
        }
        if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
            return Err(
                Diagnostic::error(&name, Pos::START, "the file is encoded as UTF-16")
                    .with_hint("save the file as UTF-8"),
            );
        }
        if let Some(nul) = bytes.iter().position(|&b| b == 0) {
            return Err(Diagnostic::error(
                &name,
                byte_pos(&bytes, nul),
                "the file is binary, not text (it contains a NUL byte)",
            )
            .with_hint("give the path of a YAML or JSON text file"));
        }
        let mut text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                return Err(Diagnostic::error(
                    &name,
                    byte_pos(e.as_bytes(), at),
                    "the file is not valid UTF-8 text",
                )
                .with_hint("save the file as UTF-8; if it is not a text file, give the path of a YAML or JSON file instead"));
            }
        };
        if text.starts_with('\u{feff}') {
            text.drain(..3);
        }
        Ok(SourceFile { name, text })
    }
}

fn too_large(name: &str, len: u64) -> Diagnostic {
    Diagnostic::error(
        name,
        Pos::START,
        format!("the file is too large ({len} bytes; the limit is {MAX_FILE_SIZE} bytes)"),
    )
    .with_hint("split the configuration into several smaller files")
}

/// Line and column of a byte offset in possibly invalid UTF-8 (columns count
/// characters of the valid prefix of the line).
fn byte_pos(bytes: &[u8], offset: usize) -> Pos {
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Pos::new(clamp_u32(line), clamp_u32(col))
}

pub(crate) fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

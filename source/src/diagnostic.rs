//! Diagnostics: located, human-readable problems in a user file.

use std::fmt;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column number, in characters.
    pub column: u32,
}

impl Pos {
    /// The start of a file, `1:1`.
    pub const START: Pos = Pos { line: 1, column: 1 };

    /// A position from 1-based line and column.
    pub fn new(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The file cannot be used as it is.
    Error,
    /// The file can be used, but something looks wrong.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A problem in a user file, located at a line and column.
///
/// Displays as `FILE:LINE:COLUMN: error: MESSAGE`, then, when there is a
/// hint, a second line `  hint: HINT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Display path of the file.
    pub file: String,
    /// Where the problem is.
    pub pos: Pos,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, as a sentence without a trailing period.
    pub message: String,
    /// How to fix it, if we can tell.
    pub hint: Option<String>,
    /// RFC 6901 JSON pointer of the offending node, when the problem is about one.
    pub pointer: Option<String>,
}

impl Diagnostic {
    /// An error diagnostic without hint or pointer.
    pub fn error(file: impl Into<String>, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.into(),
            pos,
            severity: Severity::Error,
            message: message.into(),
            hint: None,
            pointer: None,
        }
    }

    /// The same diagnostic with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// The same diagnostic with an optional hint.
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Diagnostic {
        self.hint = hint;
        self
    }

    /// The same diagnostic with a JSON pointer.
    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Diagnostic {
        self.pointer = Some(pointer.into());
        self
    }

    /// The same diagnostic as a warning.
    pub fn warning(mut self) -> Diagnostic {
        self.severity = Severity::Warning;
        self
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The first line of the [`Display`](fmt::Display) form: `FILE:LINE:COLUMN: error: MESSAGE`.
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{}: {}: {}",
            self.file, self.pos.line, self.pos.column, self.severity, self.message
        )
    }

    /// The diagnostic with the offending source line and a caret under the
    /// column, rustc-like and without colours:
    ///
    /// ```text
    /// conn.yaml:3:5: error: unknown field `pth` in `request`
    ///   |
    /// 3 |     pth: /users
    ///   |     ^
    ///   hint: did you mean `path`?
    /// ```
    ///
    /// `text` is the file's text; if the line does not exist in it, only the
    /// Display form is returned.
    pub fn render_with_snippet(&self, text: &str) -> String {
        let mut out = self.headline();
        let line_no = self.pos.line as usize;
        if let Some(line) = line_no.checked_sub(1).and_then(|i| text.lines().nth(i)) {
            // One character per column: tabs and control characters become spaces
            // so the caret lines up.
            let shown: String = line
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let shown = shown.trim_end();
            let width = line_no.to_string().len();
            let gutter = " ".repeat(width);
            let col = (self.pos.column.max(1) as usize - 1).min(shown.chars().count());
            out.push_str(&format!(
                "\n{gutter} |\n{line_no} | {shown}\n{gutter} | {}^",
                " ".repeat(col)
            ));
        }
        if let Some(hint) = &self.hint {
            out.push_str("\n  hint: ");
            out.push_str(hint);
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

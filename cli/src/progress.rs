//! What the user sees on stderr while a fetch runs: `--explain` lines (each
//! request, redacted, with its status and record count) and a progress line when
//! stderr is a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rollcall_core::observe::{Observer, PageEvent, RequestEvent};

/// Reports run events on stderr.
pub struct Reporter {
    explain: bool,
    bar: Option<ProgressBar>,
    warnings: Mutex<Vec<String>>,
}

impl Reporter {
    /// A reporter; the progress line appears only on a terminal and without `--explain`.
    pub fn new(explain: bool, quiet: bool) -> Self {
        let bar = (!explain && !quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b.set_message("connecting…");
            b
        });
        Reporter {
            explain,
            bar,
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// Clears the progress line.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }
}

impl Observer for Reporter {
    fn request(&self, e: &RequestEvent) {
        if let Some(note) = &e.note {
            let status = e
                .status
                .map(|s| format!("HTTP {s}"))
                .unwrap_or_else(|| "no answer".into());
            if self.explain {
                self.line(&format!(
                    "{} → {status} ({} ms): {note}",
                    e.request,
                    e.elapsed.as_millis()
                ));
            } else if note.contains("retrying") {
                self.line(&format!("warning: {} → {status}: {note}", e.request));
            }
        }
    }

    fn page(&self, e: &PageEvent) {
        if self.explain {
            self.line(&format!(
                "{} → {} ({} ms), {} record{}",
                e.request,
                e.status,
                e.elapsed.as_millis(),
                e.records,
                if e.records == 1 { "" } else { "s" }
            ));
        }
        if let Some(b) = &self.bar {
            b.set_message(format!("{} records read", e.emitted));
        }
    }

    fn warning(&self, message: &str) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message.to_string());
        }
        self.line(&format!("warning: {message}"));
    }
}

//! Record output formats: JSON lines, a JSON array, CSV and a plain-text table.
//! Every writer streams: memory does not grow with the number of records.

use std::io::{self, Write};

use rollcall_core::Record;
use serde_json::Value;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
    /// Comma-separated values with a header row of field ids.
    Csv,
    /// An aligned text table.
    Table,
}

/// Writes records one at a time.
pub struct RecordWriter<W: Write> {
    out: W,
    format: Format,
    count: u64,
    widths: Option<Vec<usize>>,
    /// Field ids to show (all when `None`), for the table format.
    columns: Option<Vec<String>>,
    /// Table rows held back until the column widths are known.
    pending: Vec<Vec<String>>,
    headers: Vec<String>,
}

/// Rows a table looks at before fixing its column widths.
const TABLE_SAMPLE: usize = 50;

/// Widest a table column gets; longer values are cut with `…`.
const MAX_COL: usize = 36;

impl<W: Write> RecordWriter<W> {
    /// A writer in `format`.
    pub fn new(out: W, format: Format) -> Self {
        RecordWriter {
            out,
            format,
            count: 0,
            widths: None,
            columns: None,
            pending: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Shows only these field ids in the table format.
    pub fn with_columns(mut self, columns: &[&str]) -> Self {
        self.columns = Some(columns.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Writes one record.
    pub fn write(&mut self, r: &Record) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, r)?;
                self.out.write_all(b"\n")?;
            }
            Format::Json => {
                self.out
                    .write_all(if self.count == 0 { b"[\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut self.out, r)?;
            }
            Format::Csv => {
                if self.count == 0 {
                    let header: Vec<String> =
                        r.fields.fields.iter().map(|f| csv_cell(&f.id)).collect();
                    writeln!(self.out, "{}", header.join(","))?;
                }
                let row: Vec<String> = r.values.iter().map(|v| csv_cell(&text(v, ";"))).collect();
                writeln!(self.out, "{}", row.join(","))?;
            }
            Format::Table => {
                let picked: Vec<usize> = match &self.columns {
                    Some(cols) => cols
                        .iter()
                        .filter_map(|c| r.fields.fields.iter().position(|f| &f.id == c))
                        .collect(),
                    None => (0..r.values.len()).collect(),
                };
                if self.headers.is_empty() {
                    self.headers = picked
                        .iter()
                        .map(|&i| r.fields.fields[i].id.to_uppercase())
                        .collect();
                }
                let row: Vec<String> = picked.iter().map(|&i| text(&r.values[i], ", ")).collect();
                match &self.widths {
                    Some(_) => self.write_row(&row)?,
                    None => {
                        self.pending.push(row);
                        if self.pending.len() >= TABLE_SAMPLE {
                            self.flush_pending()?;
                        }
                    }
                }
            }
        }
        self.count += 1;
        Ok(())
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.pending {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count().min(MAX_COL));
            }
        }
        let header: Vec<String> = self
            .headers
            .iter()
            .zip(&widths)
            .map(|(h, w)| pad(h, *w))
            .collect();
        writeln!(self.out, "{}", header.join("  ").trim_end())?;
        self.widths = Some(widths);
        for row in std::mem::take(&mut self.pending) {
            self.write_row(&row)?;
        }
        Ok(())
    }

    fn write_row(&mut self, row: &[String]) -> io::Result<()> {
        let widths = self.widths.as_deref().unwrap_or(&[]);
        let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| pad(c, *w)).collect();
        writeln!(self.out, "{}", cells.join("  ").trim_end())
    }

    /// Closes the output (the JSON array's bracket) and flushes.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.format == Format::Table && self.widths.is_none() && !self.pending.is_empty() {
            self.flush_pending()?;
        }
        if self.format == Format::Json {
            self.out
                .write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()
    }
}

/// A value as display text; lists joined with `sep`, null as empty.
pub fn text(v: &Value, sep: &str) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(|x| text(x, sep)).collect::<Vec<_>>().join(sep),
        other => other.to_string(),
    }
}

pub fn csv_cell(s: &str) -> String {
    let risky = s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err();
    let s = if risky {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn pad(s: &str, width: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let n = clean.chars().count();
    if n > width {
        let mut cut: String = clean.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        format!("{clean}{}", " ".repeat(width - n))
    }
}

/// An aligned table: columns two spaces apart, no trailing spaces.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (k, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if k > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            s.push_str(&" ".repeat(w - cell.chars().count()));
        }
        s.trim_end().to_string()
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", line(headers.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("-5"), "-5");
    }

    #[test]
    fn table_cells_are_cut_and_padded() {
        assert_eq!(pad("abc", 5), "abc  ");
        assert_eq!(pad("abcdef", 4), "abc…");
        assert_eq!(pad("a\tb", 3), "a b");
    }
}

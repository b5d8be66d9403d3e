//! Reading a partner's export from the command line: the shared arguments
//! (mapping, encoding, sheet) and the closing summary every reading command
//! prints.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use poshuk_records::{ColumnMapping, Encoding, ReadOptions, ReadOutcome, Severity};

/// How to read a partner export: shared by every command that reads one.
#[derive(Args, Default)]
pub(crate) struct ReadingArgs {
    /// Column mapping (TOML) from your headers to poshuk's fields.
    #[arg(long)]
    pub(crate) mapping: Option<PathBuf>,
    /// Text encoding of a CSV/JSONL file (utf-8, windows-1251, koi8-u,
    /// utf-16); detected if absent, and the summary says which was used.
    #[arg(long)]
    pub(crate) encoding: Option<String>,
    /// The worksheet of a workbook to read (default: the first).
    #[arg(long)]
    pub(crate) sheet: Option<String>,
    /// The line (CSV) or row (workbook) that holds the headers, from 1.
    /// Found by itself among the first rows (past empty rows and titles);
    /// the summary says which it took.
    #[arg(long, value_name = "N")]
    pub(crate) header_row: Option<usize>,
    /// The list has no case-id column: number the records by their row
    /// (`row-12`, or `Sheet!12` in a workbook). The ids stay the same as
    /// long as no row is inserted above.
    #[arg(long)]
    pub(crate) id_from_row: bool,
    /// Rows that repeat a case id: keep the last one. By default the
    /// repeats are reported by line and not read.
    #[arg(long)]
    pub(crate) merge_duplicates: bool,
}

impl ReadingArgs {
    /// The read options these arguments describe.
    pub(crate) fn options(&self) -> anyhow::Result<ReadOptions> {
        let mut options = read_options(
            self.mapping.as_deref(),
            self.encoding.as_deref(),
            self.sheet.clone(),
        )?;
        options.header_row = self.header_row;
        options.id_from_row = self.id_from_row;
        options.merge_duplicate_ids = self.merge_duplicates;
        Ok(options)
    }
}

/// Builds read options from the command-line pieces.
fn read_options(
    mapping: Option<&Path>,
    encoding: Option<&str>,
    sheet: Option<String>,
) -> anyhow::Result<ReadOptions> {
    let mapping = match mapping {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read mapping {}", path.display()))?;
            ColumnMapping::from_toml(&text)
                .with_context(|| format!("mapping {}", path.display()))?
        }
        None => ColumnMapping::default(),
    };
    let encoding = match encoding {
        Some(name) => Some(Encoding::parse(name).with_context(|| {
            format!("unknown encoding {name:?} (use utf-8, windows-1251, koi8-u or utf-16)")
        })?),
        None => None,
    };
    Ok(ReadOptions {
        mapping,
        encoding,
        sheet,
        ..ReadOptions::default()
    })
}

/// How the file was read: which encoding and delimiter, which row held the
/// headers, which columns were not used (never dropped unseen).
pub(crate) fn print_layout(outcome: &ReadOutcome) {
    let mut layout = Vec::new();
    if let Some(encoding) = outcome.encoding {
        layout.push(format!("encoding {}", encoding.name()));
    }
    if let Some(delimiter) = outcome.delimiter {
        let shown = match delimiter {
            '\t' => "tab".to_string(),
            other => format!("`{other}`"),
        };
        layout.push(format!("separated by {shown}"));
    }
    if outcome.header_line > 0 {
        layout.push(format!(
            "headers on line {} (--header-row to choose another)",
            outcome.header_line
        ));
    }
    if outcome.ids_from_rows {
        layout.push("case ids made from the rows".to_string());
    }
    if !layout.is_empty() {
        eprintln!("read as: {}", layout.join(", "));
    }
    if !outcome.unused_columns.is_empty() {
        eprintln!(
            "columns not used: {} (name them in a --mapping if they hold a field)",
            outcome.unused_columns.join(", ")
        );
    }
}

/// Refuses an outcome with no record: a file where every row was refused
/// (or none was found) must not look like a success.
pub(crate) fn require_records(outcome: &ReadOutcome) -> anyhow::Result<()> {
    if outcome.rows_seen == 0 {
        anyhow::bail!(
            "the file has its headers (line {}) and no row under them",
            outcome.header_line
        );
    }
    if outcome.records.is_empty() {
        anyhow::bail!(
            "no record could be read ({} rows seen, {} refused): see the problems above",
            outcome.rows_seen,
            outcome.rejected()
        );
    }
    Ok(())
}

/// Prints the closing summary and the problems (line and reason, never values).
pub(crate) fn print_read_summary(outcome: &ReadOutcome, encoded: usize) {
    const SHOWN: usize = 50;
    print_layout(outcome);
    for problem in outcome.problems.iter().take(SHOWN) {
        let kind = match problem.severity {
            Severity::Warning => "warning",
            Severity::Rejected => "rejected",
        };
        eprintln!("line {}: {kind}: {}", problem.line, problem.reason);
    }
    if outcome.problems.len() > SHOWN {
        eprintln!("... and {} more problems", outcome.problems.len() - SHOWN);
    }
    eprintln!(
        "read {} rows: {} encoded, {} rejected, {} warnings",
        outcome.rows_seen,
        encoded,
        outcome.rejected(),
        outcome.warnings()
    );
}

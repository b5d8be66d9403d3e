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
    /// Text encoding of a CSV/JSONL file (utf-8, windows-1251); detected if absent.
    #[arg(long)]
    pub(crate) encoding: Option<String>,
    /// The worksheet of a workbook to read (default: the first).
    #[arg(long)]
    pub(crate) sheet: Option<String>,
}

impl ReadingArgs {
    /// The read options these arguments describe.
    pub(crate) fn options(&self) -> anyhow::Result<ReadOptions> {
        read_options(
            self.mapping.as_deref(),
            self.encoding.as_deref(),
            self.sheet.clone(),
        )
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
            format!("unknown encoding {name:?} (use utf-8, windows-1251 or utf-16)")
        })?),
        None => None,
    };
    Ok(ReadOptions {
        mapping,
        encoding,
        sheet,
        format: None,
    })
}

/// Prints the closing summary and the problems (line and reason, never values).
pub(crate) fn print_read_summary(outcome: &ReadOutcome, encoded: usize) {
    const SHOWN: usize = 50;
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

//! `poshuk encode`: a case export to a token file and a local handle map.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use poshuk_core::{Epoch, Tokenizer};
use poshuk_link::{Handle, TokenFile};
use poshuk_records::{ColumnMapping, Encoding, ReadOptions, ReadOutcome, Severity, read_file};
use rayon::prelude::*;

use poshuk_keys::files as keyring_file;

#[derive(Args)]
pub(crate) struct EncodeArgs {
    /// The case export: CSV (comma or semicolon), .xlsx workbook or JSONL.
    input: PathBuf,
    /// The token file to write.
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// The keyring.
    #[arg(long, default_value_os_t = crate::default_keyring_path())]
    keyring: PathBuf,
    /// Where to write the handle → record_id map (stays with you). Default: OUT.handles.csv
    #[arg(long)]
    handles: Option<PathBuf>,
    #[command(flatten)]
    reading: ReadingArgs,
    /// Key epoch (default: the keyring's current one).
    #[arg(long)]
    epoch: Option<u32>,
}

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

/// Tokenizes every record read, each under a fresh random handle. Returns the
/// token file and the handle → record_id pairs.
pub(crate) fn encode_records(
    outcome: &ReadOutcome,
    tokenizer: &Tokenizer,
    progress: &ProgressBar,
) -> anyhow::Result<(TokenFile, Vec<(Handle, String)>)> {
    let encoded: Vec<(Handle, poshuk_core::TokenRecord)> = outcome
        .records
        .par_iter()
        .map(|read| {
            let handle = Handle::random()?;
            let tokens = tokenizer.tokenize(&read.record);
            progress.inc(1);
            Ok((handle, tokens))
        })
        .collect::<Result<_, poshuk_link::TokenFileError>>()?;
    let map = encoded
        .iter()
        .zip(&outcome.records)
        .map(|((handle, _), read)| (*handle, read.record.record_id.clone()))
        .collect();
    Ok((
        TokenFile {
            epoch: tokenizer.hasher().epoch(),
            records: encoded,
        },
        map,
    ))
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

fn write_handle_map(path: &Path, map: &[(Handle, String)]) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write handle map {}", path.display()))?;
    // `mode` applies only to a new file: an existing map is narrowed too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict handle map {}", path.display()))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
    writer.write_record(["handle", "record_id"])?;
    for (handle, record_id) in map {
        writer.write_record([handle.to_hex().as_str(), record_id.as_str()])?;
    }
    writer.flush()?;
    Ok(())
}

pub(crate) fn progress_bar(length: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    let template = format!("{what} {{bar:40}} {{pos}}/{{len}} {{per_sec}} eta {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

pub(crate) fn run(args: EncodeArgs) -> anyhow::Result<()> {
    let ring = keyring_file::load(&args.keyring)?;
    let epoch = args
        .epoch
        .map(Epoch)
        .unwrap_or_else(|| ring.current_epoch());
    let tokenizer = Tokenizer::new(ring.hasher(epoch)?);
    let options = args.reading.options()?;
    let outcome =
        read_file(&args.input, &options).with_context(|| format!("{}", args.input.display()))?;
    let progress = progress_bar(outcome.records.len() as u64, "encoding");
    let (mut token_file, map) = encode_records(&outcome, &tokenizer, &progress)?;
    progress.finish_and_clear();
    token_file.write(&args.out)?;
    let handles_path = args.handles.unwrap_or_else(|| {
        let mut name = args.out.clone().into_os_string();
        name.push(".handles.csv");
        PathBuf::from(name)
    });
    write_handle_map(&handles_path, &map)?;
    print_read_summary(&outcome, map.len());
    let mut stderr = std::io::stderr();
    writeln!(
        stderr,
        "wrote {} (epoch {epoch}) and the handle map {} (keep it: it links handles to your case ids)",
        args.out.display(),
        handles_path.display()
    )?;
    Ok(())
}

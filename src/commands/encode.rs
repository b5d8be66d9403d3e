//! `poshuk encode`: a case export to a token file and a local handle map.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use poshuk_core::{Epoch, Tokenizer};
use poshuk_link::{Handle, TokenFile};
use poshuk_records::{ReadOutcome, read_file};

use crate::commands::progress::progress_bar;
use crate::commands::reading::{ReadingArgs, print_read_summary, require_records};
use indicatif::ProgressBar;
use rayon::prelude::*;

use poshuk_keys::files;

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

/// Tokenizes every record read, each under a fresh random handle. Returns the
/// token file and the handle → record_id pairs.
pub(crate) fn encode_records(
    outcome: &ReadOutcome,
    tokenizer: &Tokenizer,
    progress: &ProgressBar,
) -> anyhow::Result<(TokenFile, Vec<(Handle, String)>)> {
    encode_with(outcome, tokenizer, progress, Tokenizer::tokenize)
}

/// [`encode_records`] in the form of queries (with the one-edit variants of
/// the names), as a searcher's node sends them: for the benchmarks that
/// search one list with another, in memory.
pub(crate) fn encode_queries(
    outcome: &ReadOutcome,
    tokenizer: &Tokenizer,
) -> anyhow::Result<(TokenFile, Vec<(Handle, String)>)> {
    encode_with(
        outcome,
        tokenizer,
        &ProgressBar::hidden(),
        Tokenizer::tokenize_query,
    )
}

fn encode_with(
    outcome: &ReadOutcome,
    tokenizer: &Tokenizer,
    progress: &ProgressBar,
    tokenize: impl Fn(&Tokenizer, &poshuk_core::Record) -> poshuk_core::TokenRecord + Sync,
) -> anyhow::Result<(TokenFile, Vec<(Handle, String)>)> {
    let encoded: Vec<(Handle, poshuk_core::TokenRecord)> = outcome
        .records
        .par_iter()
        .map(|read| {
            let handle = Handle::random()?;
            let tokens = tokenize(tokenizer, &read.record);
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

pub(crate) fn write_handle_map(path: &Path, map: &[(Handle, String)]) -> anyhow::Result<()> {
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
        writer.write_record([
            handle.to_hex().as_str(),
            &crate::commands::report::cell(record_id),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

pub(crate) fn run(args: EncodeArgs) -> anyhow::Result<()> {
    let ring = files::load(&args.keyring)?;
    let epoch = args
        .epoch
        .map(Epoch)
        .unwrap_or_else(|| ring.current_epoch());
    let tokenizer = Tokenizer::new(ring.hasher(epoch)?);
    let options = args.reading.options()?;
    let outcome =
        read_file(&args.input, &options).with_context(|| format!("{}", args.input.display()))?;
    if outcome.records.is_empty() {
        // Nothing is written for a file of which nothing could be read.
        print_read_summary(&outcome, 0);
        require_records(&outcome)?;
    }
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

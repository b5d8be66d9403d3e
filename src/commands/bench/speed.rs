//! Speed: encoding throughput and linking time and memory, in release builds.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::ProgressBar;
use poshuk_core::{KeyRing, Tokenizer};
use poshuk_link::{LinkOptions, link};
use poshuk_records::{ReadOptions, read_file};
use poshuk_synth::{Source, SynthConfig, generate, write_dir};

use crate::commands::encode::encode_records;

#[derive(Args)]
pub(crate) struct SpeedArgs {
    /// Records per side (the link is N x N).
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Random seed.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// Keep the generated files here (a temporary directory otherwise).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Peak resident memory of this process so far, from /proc (Linux).
fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

pub(crate) fn run(args: SpeedArgs) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    // The NGO file holds about 70% of the persons: size it to N records.
    let persons = args.records * 10 / 7 + 100;
    let data = generate(SynthConfig {
        persons,
        seed: args.seed,
    });
    write_dir(&data, &dir)?;
    drop(data);
    let ring = KeyRing::generate()?;
    let tokenizer = Tokenizer::new(ring.hasher(ring.current_epoch())?);

    let mut files = Vec::new();
    for source in [Source::UkrainianNgo, Source::InternationalOrg] {
        let path = dir.join(format!("{}.csv", source.stem()));
        let started = Instant::now();
        let mut outcome = read_file(&path, &ReadOptions::default())?;
        let read_seconds = started.elapsed().as_secs_f64();
        // The international file holds fewer records: repeat it with fresh
        // handles up to N (the link cost is what matters, not uniqueness).
        outcome.records.truncate(args.records);
        while outcome.records.len() < args.records {
            let extra: Vec<_> = outcome
                .records
                .iter()
                .take(args.records - outcome.records.len())
                .cloned()
                .collect();
            outcome.records.extend(extra);
        }
        let started = Instant::now();
        let (file, _) = encode_records(&outcome, &tokenizer, &ProgressBar::hidden())?;
        let encode_seconds = started.elapsed().as_secs_f64();
        println!(
            "encode {}: {} records in {:.2}s = {:.0} records/s (reading and parsing the CSV: {:.2}s more)",
            source.stem(),
            file.records.len(),
            encode_seconds,
            file.records.len() as f64 / encode_seconds,
            read_seconds
        );
        files.push(file);
    }
    let started = Instant::now();
    let (pairs, stats) = link(&files[0], &files[1], &LinkOptions::default());
    let link_seconds = started.elapsed().as_secs_f64();
    println!(
        "link {} x {}: {:.2}s, {} candidate pairs scored ({:.0}/s), {} pairs at possible or strong",
        files[0].records.len(),
        files[1].records.len(),
        link_seconds,
        stats.candidate_pairs,
        stats.candidate_pairs as f64 / link_seconds,
        pairs.len()
    );
    if let Some(peak) = peak_resident_bytes() {
        println!(
            "peak resident memory: {:.2} GiB",
            peak as f64 / (1u64 << 30) as f64
        );
    }
    println!("threads: {}", rayon::current_num_threads());
    Ok(())
}

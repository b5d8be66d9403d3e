//! `poshuk link`: candidate pairs between two token files.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use poshuk_core::{Band, MatchModel};
use poshuk_link::{LinkOptions, TokenFile, link};

#[derive(Args)]
pub(crate) struct LinkArgs {
    /// The left token file.
    left: PathBuf,
    /// The right token file.
    right: PathBuf,
    /// Where to write `left_handle,right_handle,score,band`.
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// Lowest score reported: a probability in [0, 1] or a band (weak, possible, strong).
    #[arg(long, default_value = "possible")]
    min_score: String,
    /// Add a column naming the fields that agreed.
    #[arg(long)]
    explain: bool,
}

/// A probability or a band name to a probability threshold.
pub(crate) fn parse_min_score(text: &str, model: &MatchModel) -> anyhow::Result<f64> {
    if let Some(band) = Band::parse(text) {
        return Ok(match band {
            Band::Strong => model.strong_threshold,
            Band::Possible => model.possible_threshold,
            // Relatives are scored below the possible band.
            Band::Weak | Band::Relative => 0.0,
        });
    }
    let value: f64 = text.parse().with_context(|| {
        format!("--min-score {text:?} is neither a number nor a band (weak, possible, strong)")
    })?;
    if !(0.0..=1.0).contains(&value) {
        bail!("--min-score {value} is outside [0, 1]");
    }
    Ok(value)
}

pub(crate) fn run(args: LinkArgs) -> anyhow::Result<()> {
    let left = TokenFile::read(&args.left)?;
    let right = TokenFile::read(&args.right)?;
    if left.epoch != right.epoch {
        bail!(
            "the token files are of different key epochs ({} is epoch {}, {} is epoch {}); encode both under one epoch",
            args.left.display(),
            left.epoch,
            args.right.display(),
            right.epoch
        );
    }
    let mut options = LinkOptions::default();
    options.min_probability = parse_min_score(&args.min_score, &options.model)?;
    let started = std::time::Instant::now();
    let (pairs, stats) = link(&left, &right, &options);
    let mut writer = csv::Writer::from_path(&args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if args.explain {
        writer.write_record([
            "left_handle",
            "right_handle",
            "score",
            "band",
            "agreeing",
            "why",
        ])?;
    } else {
        writer.write_record(["left_handle", "right_handle", "score", "band"])?;
    }
    for pair in &pairs {
        let left_handle = left.records[pair.left].0.to_hex();
        let right_handle = right.records[pair.right].0.to_hex();
        let score = format!("{:.4}", pair.probability);
        let mut row = vec![
            left_handle,
            right_handle,
            score,
            pair.band.name().to_string(),
        ];
        if args.explain {
            row.push(pair.agreeing.clone());
            row.push(pair.explanation.clone());
        }
        writer.write_record(&row)?;
    }
    writer.flush()?;
    eprintln!(
        "{} x {} records: {} candidate pairs scored, {} pairs written to {} in {:.1}s",
        left.records.len(),
        right.records.len(),
        stats.candidate_pairs,
        pairs.len(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

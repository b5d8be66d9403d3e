//! `poshuk synth`: synthetic partner files with the truth.

use std::path::PathBuf;

use clap::Args;
use poshuk_synth::{Source, SynthConfig, generate, write_dir};

#[derive(Args)]
pub(crate) struct SynthArgs {
    /// Distinct persons to generate (siblings, twins and namesakes included).
    #[arg(long, default_value_t = 1000)]
    persons: usize,
    /// Random seed; the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory.
    #[arg(long, short = 'o')]
    out: PathBuf,
}

pub(crate) fn run(args: SynthArgs) -> anyhow::Result<()> {
    let data = generate(SynthConfig {
        persons: args.persons,
        seed: args.seed,
    });
    write_dir(&data, &args.out)?;
    for source in Source::ALL {
        eprintln!(
            "{}: {} records",
            args.out.join(format!("{}.csv", source.stem())).display(),
            data.rows[source as usize].len()
        );
    }
    eprintln!("{}: who is who", args.out.join("truth.csv").display());
    Ok(())
}

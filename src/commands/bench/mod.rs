//! `poshuk bench`: matching quality on synthetic partners, and speed.

mod quality;
mod speed;

use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Encode and link the synthetic partners pairwise; precision, recall, F1, recall@1.
    Quality(quality::QualityArgs),
    /// Encoding and linking throughput, and peak memory.
    Speed(speed::SpeedArgs),
}

pub(crate) fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Quality(args) => quality::run(args),
        BenchCommand::Speed(args) => speed::run(args),
    }
}

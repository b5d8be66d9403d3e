//! `poshuk bench`: matching quality on synthetic partners, and speed.

mod attack;
mod febrl;
mod federation;
pub(crate) mod node;
mod quality;
mod rekey;
mod search;
mod speed;

use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Red team: steal a token file and give back names and birth years without the key.
    Attack(attack::AttackArgs),
    /// Encode and link the synthetic partners pairwise; precision, recall, F1, recall@1.
    Quality(quality::QualityArgs),
    /// Encoding and linking throughput, and peak memory.
    Speed(speed::SpeedArgs),
    /// Ingest into a real node process, then search latency, throughput and memory.
    Node(node::NodeBenchArgs),
    /// Three nodes and a coordinator: single-node against federated latency, throughput, a batch.
    Federation(federation::FederationBenchArgs),
    /// What a searcher can trust, through a real federation: the right person first, strong, false alarms for unknown persons and siblings.
    Search(search::SearchBenchArgs),
    /// A node re-keys its index to a new epoch while searches run: duration, search latency.
    Rekey(rekey::RekeyBenchArgs),
}

pub(crate) fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Attack(args) => attack::run(args),
        BenchCommand::Quality(args) => quality::run(args),
        BenchCommand::Speed(args) => speed::run(args),
        BenchCommand::Node(args) => node::run(args),
        BenchCommand::Federation(args) => federation::run(args),
        BenchCommand::Rekey(args) => rekey::run(args),
        BenchCommand::Search(args) => search::run(args),
    }
}

//! `poshuk`: the command line of every role in the federation.
//!
//! The binary only wires the library crates together and owns the command
//! line; `anyhow` errors live here, at the edge.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "poshuk",
    version,
    about = "Federated search over keyed-hash tokens of missing-person records"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the federation's hashing keys.
    Keys {
        #[command(subcommand)]
        command: commands::keys::KeysCommand,
    },
    /// The federation's own certificate authority, for HTTPS between its parties.
    Tls {
        #[command(subcommand)]
        command: commands::tls::TlsCommand,
    },
    /// Check a node's or a coordinator's config file: every problem at once.
    Config {
        #[command(subcommand)]
        command: commands::config::ConfigCommand,
    },
    /// An audit log (the coordinator's or a node's): check its chain.
    Audit {
        #[command(subcommand)]
        command: commands::audit::AuditCommand,
    },
    /// Turn a case export into a token file (no raw values) and a local handle map.
    Encode(commands::encode::EncodeArgs),
    /// Link two token files: candidate pairs with scores, by blocking (never all pairs).
    Link(commands::link::LinkArgs),
    /// Run one partner's node: a tantivy index of tokens served over HTTP.
    Node(commands::node::NodeArgs),
    /// Load a case export into your node (upsert by record_id; --replace for a full re-sync).
    Ingest(commands::ingest::IngestArgs),
    /// Delete records from your node by record_id.
    Delete(commands::ingest::DeleteArgs),
    /// The accounts of your node's web page (staff log in at the node's local address, /ui/).
    Staff {
        #[command(subcommand)]
        command: commands::staff::StaffCommand,
    },
    /// Which of your cases a handle is (a partner asks about one of your hits).
    Resolve(commands::ingest::ResolveArgs),
    /// Run the federation's coordinator: fans searches out to every node, merges the hits.
    Coordinator(commands::coordinator::CoordinatorArgs),
    /// Search the federation through your node, by fields or a batch file.
    Search(commands::search::SearchArgs),
    /// Which of your cases are known elsewhere: every case searched, a report per partner.
    Overlap(commands::search::OverlapArgs),
    /// A local federation with sample data: three nodes and a coordinator, example searches.
    Demo(commands::demo::DemoArgs),
    /// Write synthetic case lists of three kinds of partner, with the truth.
    Synth(commands::synth::SynthArgs),
    /// Copy a stopped node's or coordinator's whole state into a new directory; run from it to restore.
    Backup(commands::backup::BackupArgs),
    /// Ask a local health endpoint (for container and Kubernetes probes): exit 0 when it answers 2xx.
    Probe(commands::probe::ProbeArgs),
    /// Benchmarks: matching quality and speed.
    Bench {
        #[command(subcommand)]
        command: commands::bench::BenchCommand,
    },
}

/// Where a command writes or reads its keyring when none is named: the
/// name the README and the example configs use.
pub(crate) fn default_keyring_path() -> PathBuf {
    PathBuf::from("keyring.toml")
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("POSHUK_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    poshuk_tls::install_crypto_provider();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys { command } => commands::keys::run(command),
        Command::Tls { command } => commands::tls::run(command),
        Command::Audit { command } => commands::audit::run(command),
        Command::Config { command } => commands::config::run(command),
        Command::Encode(args) => commands::encode::run(args),
        Command::Link(args) => commands::link::run(args),
        Command::Synth(args) => commands::synth::run(args),
        Command::Node(args) => commands::node::run(args),
        Command::Coordinator(args) => commands::coordinator::run(args),
        Command::Search(args) => commands::search::run_search(args),
        Command::Overlap(args) => commands::search::run_overlap(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Ingest(args) => commands::ingest::run_ingest(args),
        Command::Delete(args) => commands::ingest::run_delete(args),
        Command::Resolve(args) => commands::ingest::run_resolve(args),
        Command::Staff { command } => commands::staff::run(command),
        Command::Bench { command } => commands::bench::run(command),
        Command::Probe(args) => commands::probe::run(args),
        Command::Backup(args) => commands::backup::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: library errors
/// often name their cause in their own message as well as carry it as their
/// source (so a log line is complete), and printing both would repeat it.
fn error_chain(error: &anyhow::Error) -> String {
    let mut line = String::new();
    let mut previous = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        // A cause its parent's message already ends with is said once.
        if previous.ends_with(&text) {
            previous = text;
            continue;
        }
        previous = text.clone();
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = anyhow::Error::from(poshuk_keys::FileError::Io {
            what: "cannot open keyring k.toml".into(),
            source: io,
        })
        .context("loading the keyring");
        assert_eq!(
            error_chain(&error),
            "loading the keyring: cannot open keyring k.toml: no such file"
        );
    }
}

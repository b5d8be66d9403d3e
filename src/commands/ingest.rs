//! `poshuk ingest` and `poshuk delete`: load a case export into one's own node
//! through its local API, in batches.

use std::path::PathBuf;

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use poshuk_protocol::routes::local;
use poshuk_protocol::{
    DeleteRequest, DeleteResult, FinishIngest, IngestBatch, IngestBatchResult, IngestCounts,
    IngestSession,
};
use poshuk_records::{Severity, read_file};

use crate::commands::http::{LocalNeed, NodeAccess, Server};
use crate::commands::pool::run_pool;
use crate::commands::progress::progress_bar;
use crate::commands::reading::{ReadingArgs, print_layout, require_records};

#[derive(Args)]
pub(crate) struct IngestArgs {
    /// The case export: CSV (comma, semicolon, tab or bar), an Excel
    /// workbook (.xlsx, .xls, .ods) or JSON lines.
    input: PathBuf,
    #[command(flatten)]
    node: NodeAccess,
    /// Also delete the records that are missing from this export (a full re-sync).
    #[arg(long)]
    replace: bool,
    /// With --replace: let it delete more than a tenth of the node's
    /// records (without it, that many deletions are refused: a partial
    /// export or the wrong sheet looks like that).
    #[arg(long, requires = "replace")]
    yes: bool,
    #[command(flatten)]
    reading: ReadingArgs,
    /// Records per request.
    #[arg(long, default_value_t = 5000)]
    batch_size: usize,
}

#[derive(Args)]
pub(crate) struct DeleteArgs {
    /// Case ids to delete.
    #[arg(required = true)]
    record_ids: Vec<String>,
    #[command(flatten)]
    node: NodeAccess,
}

pub(crate) fn run_ingest(args: IngestArgs) -> anyhow::Result<()> {
    let options = args.reading.options()?;
    let outcome =
        read_file(&args.input, &options).with_context(|| format!("{}", args.input.display()))?;
    print_layout(&outcome);
    if outcome.records.is_empty() {
        for problem in outcome.problems.iter().take(20) {
            eprintln!("line {}: {}", problem.line, problem.reason);
        }
        require_records(&outcome)?;
    }
    let node = Server::node(&args.node, LocalNeed::Admin, Duration::from_secs(600))?;
    let session: IngestSession = node.post(local::INGEST_SESSIONS, &serde_json::json!({}))?;
    let batches_route = local::ingest_batches(&session.session);

    let progress = progress_bar(outcome.records.len() as u64, "ingesting");
    let batch_size = args.batch_size.max(1);
    let records = &outcome.records;
    // Batches are turned into wire records in the workers, one at a time,
    // so the export is not held twice.
    let chunks: Vec<&[poshuk_records::ReadRecord]> = records.chunks(batch_size).collect();
    let send = |chunk: &&[poshuk_records::ReadRecord]| {
        let batch = IngestBatch {
            records: chunk
                .iter()
                .map(|read| poshuk_node::wire::record_to_wire(&read.record))
                .collect(),
        };
        node.post::<_, IngestBatchResult>(&batches_route, &batch)
    };
    let mut node_rejections: Vec<(usize, String)> = Vec::new();
    let mut failure = None;
    // Two requests in flight: the node tokenizes one batch while it indexes
    // the other.
    run_pool(&chunks, 2, send, |index, result| match result {
        Ok(batch) => {
            for rejected in batch.rejected {
                let line = records
                    .get(index * batch_size + rejected.index)
                    .map_or(0, |read| read.line);
                node_rejections.push((line, rejected.reason));
            }
            let counts = batch.counts;
            progress.inc(counts.added + counts.updated + counts.unchanged + counts.rejected);
            true
        }
        Err(error) => {
            failure = Some(error);
            false
        }
    });
    progress.finish_and_clear();
    if let Some(error) = failure {
        return Err(error.context("ingest stopped; nothing is lost: run the same command again"));
    }
    let finish = FinishIngest {
        replace: args.replace,
        allow_large_delete: args.yes,
    };
    let finished: IngestCounts = node.post(&local::ingest_finish(&session.session), &finish)?;

    let mut problems: Vec<(usize, &str, String)> = outcome
        .problems
        .iter()
        .map(|problem| {
            let kind = match problem.severity {
                Severity::Warning => "warning",
                Severity::Rejected => "rejected",
            };
            (problem.line, kind, problem.reason.clone())
        })
        .collect();
    problems.extend(
        node_rejections
            .into_iter()
            .map(|(line, reason)| (line, "rejected", reason)),
    );
    problems.sort_by_key(|(line, _, _)| *line);
    for (line, kind, reason) in problems.iter().take(50) {
        eprintln!("line {line}: {kind}: {reason}");
    }
    if problems.len() > 50 {
        eprintln!("... and {} more problems", problems.len() - 50);
    }
    let rejected = outcome.rejected() as u64 + finished.rejected;
    eprintln!(
        "read {} rows: {} added, {} updated, {} unchanged, {} deleted, {} rejected, {} warnings",
        outcome.rows_seen,
        finished.added,
        finished.updated,
        finished.unchanged,
        finished.deleted,
        rejected,
        outcome.warnings()
    );
    Ok(())
}

pub(crate) fn run_delete(args: DeleteArgs) -> anyhow::Result<()> {
    let node = Server::node(&args.node, LocalNeed::Admin, Duration::from_secs(600))?;
    let request = DeleteRequest {
        record_ids: args.record_ids,
    };
    let result: DeleteResult = node.post(local::DELETE, &request)?;
    eprintln!("deleted {}, not found {}", result.deleted, result.not_found);
    Ok(())
}

#[derive(Args)]
pub(crate) struct ResolveArgs {
    /// A handle of one of your records (from a partner asking about it):
    /// all 32 hex digits, or its first 12 or more.
    handle: String,
    #[command(flatten)]
    node: NodeAccess,
}

/// `poshuk resolve`: which of your cases a handle is.
pub(crate) fn run_resolve(args: ResolveArgs) -> anyhow::Result<()> {
    let digits = args.handle.trim().to_ascii_lowercase();
    if digits.len() < 12 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        anyhow::bail!("a handle is 32 hex digits (its first 12 or more will do)");
    }
    let node = Server::node(&args.node, LocalNeed::Search, Duration::from_secs(30))?;
    let resolved: poshuk_protocol::Resolved = node.get(&local::resolve_text(&digits))?;
    println!("{} is your case {}", resolved.handle, resolved.record_id);
    Ok(())
}

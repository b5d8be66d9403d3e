//! `poshuk ingest` and `poshuk delete`: load a case export into one's own node
//! through its local API, in batches.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use poshuk_protocol::{
    DeleteRequest, DeleteResult, FinishIngest, IngestBatch, IngestBatchResult, IngestCounts,
    IngestSession,
};
use poshuk_records::{Severity, read_file};

use crate::commands::encode::{ReadingArgs, progress_bar};
use crate::commands::http::post_json;

#[derive(Args)]
pub(crate) struct IngestArgs {
    /// The case export: CSV (comma or semicolon), .xlsx workbook or JSONL.
    input: PathBuf,
    /// Your node's local API.
    #[arg(long, default_value = "http://127.0.0.1:7402")]
    node: String,
    /// Also delete the records that are missing from this export (a full re-sync).
    #[arg(long)]
    replace: bool,
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
    /// Your node's local API.
    #[arg(long, default_value = "http://127.0.0.1:7402")]
    node: String,
}

fn client() -> anyhow::Result<reqwest::blocking::Client> {
    poshuk_tls::blocking_client_builder(None)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(600))
        .build()
        .context("cannot build the HTTP client")
}

pub(crate) fn run_ingest(args: IngestArgs) -> anyhow::Result<()> {
    let options = args.reading.options()?;
    let outcome =
        read_file(&args.input, &options).with_context(|| format!("{}", args.input.display()))?;
    let base = args.node.trim_end_matches('/').to_string();
    let client = client()?;
    let session: IngestSession = post_json(
        &client,
        &format!("{base}/local/v1/ingest/sessions"),
        &serde_json::json!({}),
    )?;
    let batches_url = format!(
        "{base}/local/v1/ingest/sessions/{}/batches",
        session.session
    );

    let progress = progress_bar(outcome.records.len() as u64, "ingesting");
    let batch_size = args.batch_size.max(1);
    // Two requests in flight: the node tokenizes one batch while it indexes
    // the other.
    let (sender, receiver) = mpsc::sync_channel::<(usize, IngestBatch)>(2);
    let (result_sender, result_receiver) =
        mpsc::channel::<anyhow::Result<(usize, IngestBatchResult)>>();
    let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
    let mut workers = Vec::new();
    for _ in 0..2 {
        let receiver = receiver.clone();
        let result_sender = result_sender.clone();
        let client = client.clone();
        let url = batches_url.clone();
        workers.push(std::thread::spawn(move || {
            loop {
                let next = match receiver.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok((first, batch)) = next else { return };
                let result =
                    post_json::<IngestBatchResult>(&client, &url, &batch).map(|r| (first, r));
                if result_sender.send(result).is_err() {
                    return;
                }
            }
        }));
    }
    drop(result_sender);
    // Only the workers hold the batch receiver: when they stop, the sender
    // below sees the channel closed instead of waiting forever.
    drop(receiver);
    let records = &outcome.records;
    let sender_thread = {
        let chunks: Vec<(usize, IngestBatch)> = records
            .chunks(batch_size)
            .enumerate()
            .map(|(index, chunk)| {
                (
                    index * batch_size,
                    IngestBatch {
                        records: chunk
                            .iter()
                            .map(|read| poshuk_node::wire::record_to_wire(&read.record))
                            .collect(),
                    },
                )
            })
            .collect();
        std::thread::spawn(move || {
            for chunk in chunks {
                if sender.send(chunk).is_err() {
                    return;
                }
            }
        })
    };

    let mut totals = IngestCounts::default();
    let mut node_rejections: Vec<(usize, String)> = Vec::new();
    let mut failure = None;
    for result in result_receiver {
        match result {
            Ok((first, batch)) => {
                totals.add(&batch.counts);
                for rejected in batch.rejected {
                    let line = records
                        .get(first + rejected.index)
                        .map_or(0, |read| read.line);
                    node_rejections.push((line, rejected.reason));
                }
                progress.inc(
                    batch.counts.added
                        + batch.counts.updated
                        + batch.counts.unchanged
                        + batch.counts.rejected,
                );
            }
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    let _ = sender_thread.join();
    for worker in workers {
        let _ = worker.join();
    }
    progress.finish_and_clear();
    if let Some(error) = failure {
        return Err(error.context("ingest stopped; nothing is lost: run the same command again"));
    }
    let finished: IngestCounts = post_json(
        &client,
        &format!("{base}/local/v1/ingest/sessions/{}/finish", session.session),
        &FinishIngest {
            replace: args.replace,
        },
    )?;

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
    let base = args.node.trim_end_matches('/');
    let result: DeleteResult = post_json(
        &client()?,
        &format!("{base}/local/v1/delete"),
        &DeleteRequest {
            record_ids: args.record_ids,
        },
    )?;
    eprintln!("deleted {}, not found {}", result.deleted, result.not_found);
    Ok(())
}

//! Federation benchmark: three nodes and a coordinator on loopback, each node
//! loaded with its partner's list; single-node against federated search
//! latency, sustained throughput, and a batch of queries through `poshuk search`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::bail;
use clap::Args;
use poshuk_core::{KeyRing, Tokenizer};
use poshuk_synth::{Source, SynthConfig, generate, write_dir};

use crate::commands::bench::node::{measure_searches, percentile, token_queries};
use crate::commands::processes::{Processes, free_port, ingest, write_private};

#[derive(Args)]
pub(crate) struct FederationBenchArgs {
    /// Records per node.
    #[arg(long, default_value_t = 300_000)]
    records: usize,
    /// Searches for the latency measurement.
    #[arg(long, default_value_t = 2_000)]
    searches: usize,
    /// Seconds of the sustained-throughput measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent searchers for the throughput measurement.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Queries in the `poshuk search --batch` run.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Work directory (a temporary one otherwise).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The coordinator reaches every node over the connection the node
    /// opens (outbound-only nodes) instead of at its listener; the nodes
    /// still listen, for the single-node figure.
    #[arg(long)]
    outbound: bool,
}

pub(crate) fn run(args: FederationBenchArgs) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let dir = std::fs::canonicalize(&dir)?;
    // The smaller partners hold about half the persons each.
    let data = generate(SynthConfig {
        persons: args.records * 2 + 1000,
        seed: 17,
    });
    write_dir(&data, &dir.join("data"))?;
    drop(data);
    for source in Source::ALL {
        let path = dir.join(format!("data/{}.csv", source.stem()));
        let text = std::fs::read_to_string(&path)?;
        let kept: Vec<&str> = text.lines().take(args.records + 1).collect();
        std::fs::write(&path, kept.join("\n") + "\n")?;
    }
    let started = start_federation_parts(&dir, false, Some(args.records), args.outbound)?;
    if args.outbound {
        println!("the coordinator reaches every node over the connection the node opened");
    }
    let (token, node_token) = (bench_token, bench_node_token);
    let (ring, _processes, coordinator_port, ids, ports) = (
        started.ring,
        started.processes,
        started.coordinator_port,
        started.ids,
        started.ports,
    );
    let tokenizer = Tokenizer::new(ring.hasher(ring.current_epoch())?);
    let queries = token_queries(
        &dir.join("data/intl_org.csv"),
        &tokenizer,
        ring.current_epoch().0,
        20,
    )?;
    let single_url = format!(
        "http://127.0.0.1:{}{}",
        ports[0].0,
        poshuk_protocol::routes::node::SEARCH
    );
    let (single, single_throughput) = measure_searches(
        &single_url,
        Some((
            poshuk_protocol::signed::COORDINATOR_KEY_ID,
            &node_token(ids[0]),
        )),
        &queries,
        args.searches,
        3,
        args.concurrency,
    )?;
    println!(
        "single node ({} records): p50 {:.2} ms, p99 {:.2} ms, {:.0} searches/s",
        args.records,
        percentile(&single, 0.5),
        percentile(&single, 0.99),
        single_throughput
    );

    // Federated: straight to the coordinator, with the searcher's token.
    let federated_url = format!("http://127.0.0.1:{coordinator_port}/v1/federated-search");
    let searcher_token = token("intl-org");
    let federated_queries: Vec<String> = queries
        .iter()
        .map(|query| format!("{{\"queries\":[{query}]}}"))
        .collect();
    let (federated, throughput) = measure_searches(
        &federated_url,
        Some(("intl-org", &searcher_token)),
        &federated_queries,
        args.searches,
        args.seconds,
        args.concurrency,
    )?;
    println!(
        "federated (3 nodes x {} records): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms; {:.0} searches/s with {} concurrent searchers",
        args.records,
        percentile(&federated, 0.5),
        percentile(&federated, 0.9),
        percentile(&federated, 0.99),
        throughput,
        args.concurrency
    );

    let batch_file = dir.join("batch.csv");
    let text = std::fs::read_to_string(dir.join("data/intl_org.csv"))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut batch = vec![lines[0].to_string()];
    batch.extend(
        lines[1..]
            .iter()
            .cycle()
            .take(args.batch)
            .map(|line| line.to_string()),
    );
    std::fs::write(&batch_file, batch.join("\n") + "\n")?;
    let started = Instant::now();
    let output = Command::new(std::env::current_exe()?)
        .args([
            "search",
            "--node",
            &format!("http://127.0.0.1:{}", ports[2].1),
            "--batch",
        ])
        .arg(&batch_file)
        .args(["-o"])
        .arg(dir.join("batch-results.jsonl"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    // A query the federation refuses (too thin to identify anyone) is a
    // line with its reason, and the run exits non-zero: the others count.
    let results = std::fs::read_to_string(dir.join("batch-results.jsonl")).unwrap_or_default();
    let refused = results
        .lines()
        .filter(|line| line.contains("\"error\""))
        .count();
    if !output.status.success() && (refused == 0 || refused * 100 > args.batch) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last: Vec<&str> = stderr.lines().rev().take(3).collect();
        bail!("the batch search failed: {}", last.join(" / "));
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "batch: {} queries through `poshuk search --batch` (the searcher's node tokenizes, the coordinator fans out) in {seconds:.1}s = {:.0} queries/s ({refused} refused as too thin to identify anyone)",
        args.batch,
        args.batch as f64 / seconds
    );
    Ok(())
}

/// A federation the benchmarks started: its processes (stopped on drop),
/// the keyring, and where everyone listens.
pub(crate) struct BenchFederation {
    pub(crate) processes: Processes,
    pub(crate) ring: KeyRing,
    pub(crate) coordinator_port: u16,
    pub(crate) ids: [&'static str; 3],
    /// Each node's (federation, local) port, in `Source::ALL` order.
    pub(crate) ports: Vec<(u16, u16)>,
}

/// Starts a coordinator and three nodes in `dir` (which holds `data/`), each
/// node loaded with its partner's list; `share_fields` makes the nodes
/// share field levels with the federation. Returns the processes and each
/// node's local API, in `Source::ALL` order.
pub(crate) fn start_federation(
    dir: &std::path::Path,
    share_fields: bool,
) -> anyhow::Result<(Processes, Vec<String>)> {
    let started = start_federation_parts(dir, share_fields, None, false)?;
    let locals = started
        .ports
        .iter()
        .map(|(_, local)| format!("http://127.0.0.1:{local}"))
        .collect();
    Ok((started.processes, locals))
}

fn start_federation_parts(
    dir: &std::path::Path,
    share_fields: bool,
    records: Option<usize>,
    outbound: bool,
) -> anyhow::Result<BenchFederation> {
    let ring = KeyRing::generate()?;
    let keyring = dir.join("keyring.toml");
    let _ = std::fs::remove_file(&keyring);
    poshuk_keys::files::create(&keyring, &ring)?;

    let coordinator_port = free_port()?;
    let ids = ["ngo-ua", "ru-sources", "intl-org"];
    let ports: Vec<(u16, u16)> = ids
        .iter()
        .map(|_| Ok((free_port()?, free_port()?)))
        .collect::<anyhow::Result<_>>()?;
    let (token, node_token) = (bench_token, bench_node_token);
    let mut coordinator = format!(
        "listen = \"127.0.0.1:{coordinator_port}\"\nplain_http_on_loopback = true\naudit_log = \"audit.jsonl\"\n[deadlines]\nper_node_ms = 2000\noverall_ms = 3000\n\
         # A benchmark searches far faster than a case worker.\n[limits]\nsearches_per_minute = 100000000\nsearches_per_day = 100000000\nconcurrent_searches = 1024\nhits_per_day_min = 100000000\n"
    );
    for (id, (federation, local)) in ids.iter().zip(&ports) {
        let reached = if outbound {
            "outbound = true".to_string()
        } else {
            format!("node_url = \"http://127.0.0.1:{federation}\"")
        };
        coordinator.push_str(&format!(
            "[[partner]]\nid = \"{id}\"\nname = \"{id}\"\n{reached}\ntoken = \"{}\"\nnode_token = \"{}\"\n",
            token(id),
            node_token(id)
        ));
        let _ = std::fs::remove_dir_all(dir.join(format!("{id}-data")));
        write_private(
            &dir.join(format!("{id}.toml")),
            &format!(
                "partner_id = \"{id}\"\ndata_dir = \"{id}-data\"\nkeyring = \"keyring.toml\"\nplain_http_on_loopback = true\n[listen]\nfederation = \"127.0.0.1:{federation}\"\nlocal = \"127.0.0.1:{local}\"\n[coordinator]\nurl = \"http://127.0.0.1:{coordinator_port}\"\ntoken = \"{}\"\noutbound = {outbound}\n[federation]\ntoken = \"{}\"\nshare_agreeing_fields = {share_fields}\n",
                token(id),
                node_token(id)
            ),
        )?;
    }
    write_private(&dir.join("coordinator.toml"), &coordinator)?;
    let mut processes = Processes::default();
    processes.start(
        dir,
        &["coordinator", "--config", "coordinator.toml"],
        "coordinator.log",
        Some(&format!("http://127.0.0.1:{coordinator_port}")),
    )?;
    for ((id, (federation, local)), source) in ids.iter().zip(&ports).zip(Source::ALL) {
        let config = format!("{id}.toml");
        processes.start(
            dir,
            &["node", "--config", &config],
            &format!("{id}.log"),
            Some(&format!("http://127.0.0.1:{federation}")),
        )?;
        let started = Instant::now();
        ingest(
            dir,
            &format!("http://127.0.0.1:{local}"),
            &dir.join(format!("data/{}.csv", source.stem())),
            false,
        )?;
        if let Some(records) = records {
            println!(
                "{id}: {records} records ingested in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
    }

    // An outbound node is searchable once its connection is open, which
    // its readiness says.
    for (_, local) in &ports {
        let ready = format!("http://127.0.0.1:{local}/readyz");
        let started = Instant::now();
        while reqwest::blocking::get(&ready).map_or(true, |answer| !answer.status().is_success()) {
            if started.elapsed() > std::time::Duration::from_secs(60) {
                bail!("a node did not become ready within a minute");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    Ok(BenchFederation {
        processes,
        ring,
        coordinator_port,
        ids,
        ports,
    })
}

/// A partner's token in the benchmarks' federations.
fn bench_token(id: &str) -> String {
    format!("bench-token-{id}-000000000000")
}

/// The coordinator's token for a partner's node in the benchmarks.
fn bench_node_token(id: &str) -> String {
    format!("bench-node-token-{id}-0000000000")
}

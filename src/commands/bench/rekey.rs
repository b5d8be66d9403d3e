//! Re-key benchmark: a node process holding N records re-keys its index to
//! a new epoch (installed from a sealed file, as an admin would) while
//! searches keep running against it; the re-key's duration and the search
//! latency before and during it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use poshuk_core::{Epoch, Tokenizer};
use poshuk_protocol::{NodeStatus, SearchResponse};

use crate::commands::bench::node::{
    BenchNode, directory_bytes, percentile, resident, start_bench_node, token_queries,
};
use crate::commands::processes::ingest;

#[derive(Args)]
pub(crate) struct RekeyBenchArgs {
    /// Records in the node.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Random seed.
    #[arg(long, default_value_t = 17)]
    seed: u64,
    /// Work directory (a temporary one otherwise).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn search(
    client: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    body: &str,
) -> anyhow::Result<SearchResponse> {
    let path = reqwest::Url::parse(url)?.path().to_string();
    let authorization = poshuk_protocol::signed::sign(
        poshuk_protocol::signed::COORDINATOR_KEY_ID,
        token.as_bytes(),
        "POST",
        &path,
        body.as_bytes(),
        poshuk_protocol::signed::now_ms(),
    )?;
    let response = client
        .post(url)
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()?;
    if !response.status().is_success() {
        bail!("search failed: {}", response.status());
    }
    Ok(response.json()?)
}

fn status(
    client: &reqwest::blocking::Client,
    local: &str,
    token: &str,
) -> anyhow::Result<NodeStatus> {
    Ok(client
        .get(format!("{local}{}", poshuk_protocol::routes::local::STATUS))
        .bearer_auth(token)
        .send()?
        .json()?)
}

pub(crate) fn run(args: RekeyBenchArgs) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let signer = poshuk_keys::sealed::AdminKey::generate()?;
    let BenchNode {
        ring,
        ngo,
        federation,
        local,
        federation_token,
        local_token,
        pid: node_pid,
        processes: _processes,
    } = start_bench_node(
        &dir,
        args.records,
        args.seed,
        &format!("[keys]\nadmin_key = \"{}\"\n", signer.public()),
    )?;
    // The identity is read when a key is installed, not at start.
    let (secret, public) = poshuk_keys::sealed::generate_identity();
    poshuk_keys::files::create_identity(&dir.join("node-data/identity.age"), &secret, &public)?;
    println!("ingesting {} records into a node process...", args.records);
    ingest(&dir, &local, &ngo, true)?;

    // The admin's side: rotate a copy of the keyring, seal epoch 2.
    let mut admin_ring = ring.clone();
    let epoch = admin_ring.rotate()?;
    let sealed = poshuk_keys::sealed::seal(&admin_ring, epoch, "bench", &public, &signer)?;

    let queries_one = token_queries(
        &dir.join("data/ru_sources.csv"),
        &Tokenizer::new(ring.hasher(Epoch(1))?),
        1,
        20,
    )?;
    let url = format!("{federation}{}", poshuk_protocol::routes::node::SEARCH);
    let client = poshuk_tls::blocking_client_builder(None)?.build()?;
    let mut before = Vec::new();
    for body in queries_one.iter().cycle().take(2_000) {
        let started = Instant::now();
        search(&client, &url, &federation_token, body)?;
        before.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    before.sort_by(f64::total_cmp);

    // Searches run without pause while the node re-keys.
    let stop = Arc::new(AtomicBool::new(false));
    let searcher = {
        let (stop, url, queries, client, token) = (
            stop.clone(),
            url.clone(),
            queries_one.clone(),
            client.clone(),
            federation_token.clone(),
        );
        std::thread::spawn(move || {
            let (mut latencies, mut failures) = (Vec::new(), 0usize);
            for body in queries.iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let started = Instant::now();
                match search(&client, &url, &token, body) {
                    Ok(_) => latencies.push(started.elapsed().as_secs_f64() * 1000.0),
                    Err(_) => failures += 1,
                }
            }
            (latencies, failures)
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let response = client
        .post(format!(
            "{local}{}",
            poshuk_protocol::routes::local::KEYS_INSTALL
        ))
        .bearer_auth(&local_token)
        .body(sealed)
        .send()?;
    if !response.status().is_success() {
        bail!("install failed: {}", response.text().unwrap_or_default());
    }
    loop {
        let current = status(&client, &local, &local_token)?;
        if current.epochs.contains(&epoch.0) {
            break;
        }
        if let Some(error) = current.rekey.and_then(|rekey| rekey.error) {
            bail!("the re-key failed: {error}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let seconds = started.elapsed().as_secs_f64();
    let memory = resident(node_pid);
    stop.store(true, Ordering::Relaxed);
    let (mut during, failures) = searcher
        .join()
        .map_err(|_| anyhow::anyhow!("searcher panicked"))?;
    during.sort_by(f64::total_cmp);
    println!(
        "re-key: {} records to epoch {epoch} in {seconds:.1}s = {:.0} records/s (install to switch, including the final commit and reopening)",
        args.records,
        args.records as f64 / seconds
    );
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    println!(
        "node memory after the switch: {:.2} GiB resident ({:.2} GiB own heap, {:.2} GiB mapped index pages), {:.2} GiB peak since start",
        gib(memory.total),
        gib(memory.anonymous),
        gib(memory.file),
        gib(memory.peak)
    );
    println!(
        "search before the re-key: p50 {:.2} ms, p99 {:.2} ms ({} searches)",
        percentile(&before, 0.5),
        percentile(&before, 0.99),
        before.len()
    );
    println!(
        "search during the re-key: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} searches, {failures} failed)",
        percentile(&during, 0.5),
        percentile(&during, 0.99),
        during.last().copied().unwrap_or(f64::NAN),
        during.len()
    );

    // The new generation answers as the old one did: same handles, same
    // scores, for queries tokenized from source under epoch 2.
    let queries_two = token_queries(
        &dir.join("data/ru_sources.csv"),
        &Tokenizer::new(admin_ring.hasher(epoch)?),
        epoch.0,
        20,
    )?;
    let mut same = 0;
    let compared = 500.min(queries_one.len());
    for (one, two) in queries_one.iter().zip(&queries_two).take(compared) {
        let (first, second) = (
            search(&client, &url, &federation_token, one)?,
            search(&client, &url, &federation_token, two)?,
        );
        let hits = |answer: &SearchResponse| {
            answer
                .hits
                .iter()
                .map(|hit| (hit.handle, hit.band))
                .collect::<Vec<_>>()
        };
        if hits(&first) == hits(&second) {
            same += 1;
        } else {
            println!(
                "  differs: {} vs {} candidates (the cap is the node's max_candidates), {} vs {} hits",
                first.candidates,
                second.candidates,
                first.hits.len(),
                second.hits.len()
            );
        }
    }
    println!(
        "epoch 2 answers equal epoch 1's (handles and bands) for {same} of {compared} queries"
    );
    // Background merges of the new generation's segments hold old and new
    // files at once for a while: measure once the size has settled.
    let size_of = |number: u32| {
        directory_bytes(&dir.join(format!("node-data/index-epoch-{number}"))) as f64
            / (1u64 << 20) as f64
    };
    let (mut settled, mut stable_seconds) = (size_of(2), 0);
    for _ in 0..180 {
        std::thread::sleep(Duration::from_secs(1));
        let now = size_of(2);
        if (now - settled).abs() < 0.5 {
            stable_seconds += 1;
            if stable_seconds >= 10 {
                break;
            }
        } else {
            stable_seconds = 0;
        }
        settled = now;
    }
    let sizes = [size_of(1), size_of(2)];
    println!(
        "index on disk once merges settled: epoch 1 {:.0} MiB, epoch 2 {:.0} MiB (both kept until epoch 1 is retired)",
        sizes[0], sizes[1]
    );
    Ok(())
}

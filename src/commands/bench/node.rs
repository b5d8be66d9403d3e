//! Node benchmark: ingest through the CLI into a real node process, then
//! single-person searches against it: latency percentiles, sustained
//! throughput, the node's memory and the index size.

use poshuk_protocol::signed::COORDINATOR_KEY_ID;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use poshuk_core::{KeyRing, Tokenizer};
use poshuk_protocol::TokenQuery;
use poshuk_records::{ReadOptions, read_file};
use poshuk_synth::{SynthConfig, generate, write_dir};

use crate::commands::processes::{Processes, free_port, ingest, write_private};

#[derive(Args)]
pub(crate) struct NodeBenchArgs {
    /// Records to ingest into the node.
    #[arg(long, default_value_t = 1_000_000)]
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
    /// Random seed.
    #[arg(long, default_value_t = 13)]
    seed: u64,
    /// Work directory (a temporary one otherwise).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The node keeps its data encrypted at rest (`[storage]`, the key in
    /// a file beside its data directory): the cost on ingest and search.
    #[arg(long)]
    encrypted: bool,
}

/// A process's resident memory, from /proc (Linux).
pub(crate) struct Resident {
    /// All resident pages now.
    pub(crate) total: u64,
    /// The peak of `total`.
    pub(crate) peak: u64,
    /// Anonymous pages: the process's own heap and stacks.
    pub(crate) anonymous: u64,
    /// Pages of mapped files (the index, read through mmap): page cache the
    /// kernel can reclaim under pressure.
    pub(crate) file: u64,
}

pub(crate) fn resident(pid: u32) -> Resident {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Resident {
        total: field("VmRSS:"),
        peak: field("VmHWM:"),
        anonymous: field("RssAnon:"),
        file: field("RssFile:"),
    }
}

pub(crate) fn directory_bytes(path: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![path.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                total += metadata.len();
            }
        }
    }
    total
}

pub(crate) fn percentile(sorted: &[f64], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * quantile).round() as usize]
}

/// Makes a request's `Authorization` value from its body.
type Authorize = dyn Fn(&str) -> anyhow::Result<String> + Send + Sync;

/// Measures latency (sequential) and throughput (concurrent) of `queries`
/// against a search URL. Returns (sorted latencies in ms, searches per second).
pub(crate) fn measure_searches(
    url: &str,
    signer: Option<(&str, &str)>,
    queries: &[String],
    count: usize,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<(Vec<f64>, f64)> {
    // Each request signed as the federation's parties sign theirs
    // (key id and secret), the signing counted in the latency.
    let path = reqwest::Url::parse(url)?.path().to_string();
    let authorization: Arc<Authorize> = match signer {
        Some((key_id, secret)) => {
            let (key_id, secret) = (
                key_id.to_string(),
                zeroize::Zeroizing::new(secret.to_string()),
            );
            Arc::new(move |body: &str| {
                Ok(poshuk_protocol::signed::sign(
                    &key_id,
                    secret.as_bytes(),
                    "POST",
                    &path,
                    body.as_bytes(),
                    poshuk_protocol::signed::now_ms(),
                )?)
            })
        }
        None => Arc::new(|_: &str| Ok(String::new())),
    };
    let send = |client: &reqwest::blocking::Client,
                url: &str,
                authorization: &Authorize,
                body: &str|
     -> anyhow::Result<()> {
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .header("authorization", authorization(body)?)
            .body(body.to_string())
            .send()?;
        if !response.status().is_success() {
            bail!("search failed: {}", response.status());
        }
        let _ = response.bytes()?;
        Ok(())
    };
    let client = poshuk_tls::blocking_client_builder(None)?.build()?;
    for body in queries.iter().take(50) {
        send(&client, url, authorization.as_ref(), body)?;
    }
    let mut latencies = Vec::with_capacity(count);
    for body in queries.iter().cycle().take(count) {
        let started = Instant::now();
        send(&client, url, authorization.as_ref(), body)?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);

    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let queries = Arc::new(queries.to_vec());
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (done, stop, queries, url, authorization, client) = (
                done.clone(),
                stop.clone(),
                queries.clone(),
                url.to_string(),
                authorization.clone(),
                client.clone(),
            );
            std::thread::spawn(move || {
                let mut index = worker;
                while !stop.load(Ordering::Relaxed) {
                    if send(
                        &client,
                        &url,
                        authorization.as_ref(),
                        &queries[index % queries.len()],
                    )
                    .is_ok()
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    index += concurrency;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let throughput = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    Ok((latencies, throughput))
}

/// Token queries (JSON bodies) for the records of a CSV file.
pub(crate) fn token_queries(
    path: &Path,
    tokenizer: &Tokenizer,
    epoch: u32,
    limit: usize,
) -> anyhow::Result<Vec<String>> {
    let outcome = read_file(path, &ReadOptions::default())?;
    // Records that name no one (a name without date, place or patronymic)
    // are refused by the protocol: a searcher is asked for more.
    outcome
        .records
        .iter()
        .map(|read| TokenQuery::from_record(epoch, &tokenizer.tokenize_query(&read.record), limit))
        .filter(|query| query.to_record().is_ok())
        .take(5_000)
        .map(|query| Ok(serde_json::to_string(&query)?))
        .collect()
}

/// The heaviest query the protocol admits against a list: its most common
/// given names and surnames with its most common birth year, every slot
/// filled up to its bound, then trimmed until the combination bounds hold.
/// What a hostile partner would send to make a node work hardest.
pub(crate) fn worst_case_query(
    path: &Path,
    tokenizer: &Tokenizer,
    epoch: u32,
) -> anyhow::Result<String> {
    use std::collections::HashMap;

    use poshuk_core::{Slot, Token, TokenRecord};
    use poshuk_protocol::ProtocolError;

    let outcome = read_file(path, &ReadOptions::default())?;
    let most_common = |field: &dyn Fn(&poshuk_core::Record) -> String, count: usize| {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for read in &outcome.records {
            let value = field(&read.record);
            if !value.is_empty() {
                *seen.entry(value).or_default() += 1;
            }
        }
        let mut ranked: Vec<(String, usize)> = seen.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(count)
            .map(|(value, _)| value)
            .collect::<Vec<_>>()
    };
    let givens = most_common(&|record| record.given_name.clone(), 12);
    let families = most_common(&|record| record.family_name.clone(), 12);
    let year = most_common(
        &|record| {
            record
                .birth_date
                .map(|date| date.year.to_string())
                .unwrap_or_default()
        },
        1,
    );
    let mut slots: HashMap<Slot, Vec<Token>> = HashMap::new();
    for given in &givens {
        for family in &families {
            let record = poshuk_core::Record {
                given_name: given.clone(),
                family_name: family.clone(),
                birth_date: year
                    .first()
                    .and_then(|year| poshuk_core::BirthDate::parse(year).ok()),
                ..poshuk_core::Record::default()
            };
            for (slot, token) in tokenizer.tokenize_query(&record).iter() {
                let tokens = slots.entry(slot).or_default();
                if !tokens.contains(&token) {
                    tokens.push(token);
                }
            }
        }
    }
    for (slot, tokens) in slots.iter_mut() {
        tokens.truncate(poshuk_protocol::max_tokens(*slot));
    }
    loop {
        let record = TokenRecord::from_slots(
            slots
                .iter()
                .map(|(slot, tokens)| (*slot, tokens.clone()))
                .collect(),
        );
        let query = TokenQuery::from_record(epoch, &record, 20);
        let trim = match query.to_record() {
            Ok(_) => return Ok(serde_json::to_string(&query)?),
            Err(ProtocolError::TooManyCombinations { .. }) => [Slot::FamilyYear, Slot::FamilyDate],
            Err(ProtocolError::TooManyNamePairs { .. }) => [Slot::FamilyWhole, Slot::AliasWhole],
            Err(error) => bail!("no worst-case query: {error}"),
        };
        let Some(slot) = trim
            .into_iter()
            .find(|slot| slots.get(slot).is_some_and(|tokens| !tokens.is_empty()))
        else {
            bail!("no worst-case query within the bounds");
        };
        if let Some(tokens) = slots.get_mut(&slot) {
            tokens.pop();
        }
    }
}

/// A node process for a benchmark, with what it was made from.
pub(crate) struct BenchNode {
    /// Its keyring.
    pub(crate) ring: KeyRing,
    /// The NGO file cut to the wanted number of records (not ingested yet).
    pub(crate) ngo: PathBuf,
    /// Its federation API.
    pub(crate) federation: String,
    /// Its local API.
    pub(crate) local: String,
    /// The token its federation API wants (the coordinator's).
    pub(crate) federation_token: String,
    /// Its local admin credential.
    pub(crate) local_token: String,
    /// Its process id.
    pub(crate) pid: u32,
    /// Stops the node when dropped.
    pub(crate) processes: Processes,
}

/// Writes the synthetic partners to `dir/data` (the NGO file cut to exactly
/// `records`), a fresh keyring, and starts a node on free ports with an empty
/// data directory; `extra_config` is appended to its config.
pub(crate) fn start_bench_node(
    dir: &Path,
    records: usize,
    seed: u64,
    extra_config: &str,
) -> anyhow::Result<BenchNode> {
    let data = generate(SynthConfig {
        persons: records * 10 / 7 + 100,
        seed,
    });
    write_dir(&data, &dir.join("data"))?;
    drop(data);
    let ngo = dir.join("data/ngo_ua.csv");
    let text = std::fs::read_to_string(&ngo)?;
    let kept: Vec<&str> = text.lines().take(records + 1).collect();
    std::fs::write(&ngo, kept.join("\n") + "\n")?;
    drop(text);

    let ring = KeyRing::generate()?;
    let keyring = dir.join("keyring.toml");
    let _ = std::fs::remove_file(&keyring);
    poshuk_keys::files::create(&keyring, &ring)?;
    let (federation_port, local_port) = (free_port()?, free_port()?);
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|_| anyhow::anyhow!("no OS randomness"))?;
    let federation_token = format!("bench-coordinator-{}", hex::encode(random));
    write_private(
        &dir.join("node.toml"),
        &format!(
            "partner_id = \"bench\"\ndata_dir = \"node-data\"\nkeyring = \"keyring.toml\"\nplain_http_on_loopback = true\n[listen]\n\
             federation = \"127.0.0.1:{federation_port}\"\nlocal = \"127.0.0.1:{local_port}\"\n\
             [federation]\ntoken = \"{federation_token}\"\n{extra_config}"
        ),
    )?;
    let _ = std::fs::remove_dir_all(dir.join("node-data"));
    let federation = format!("http://127.0.0.1:{federation_port}");
    let mut processes = Processes::default();
    let pid = processes.start(
        dir,
        &["node", "--config", "node.toml"],
        "node.log",
        Some(&federation),
    )?;
    let local_token = std::fs::read_to_string(
        dir.join("node-data")
            .join(poshuk_protocol::local_credentials::ADMIN_TOKEN_FILE),
    )?
    .trim()
    .to_string();
    Ok(BenchNode {
        ring,
        ngo,
        federation,
        local: format!("http://127.0.0.1:{local_port}"),
        federation_token,
        local_token,
        pid,
        processes,
    })
}

/// The `[storage]` section of an encrypted bench node (its key in a file
/// outside the data directory), or nothing.
fn storage_config(dir: &Path, encrypted: bool) -> anyhow::Result<String> {
    if !encrypted {
        return Ok(String::new());
    }
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|_| anyhow::anyhow!("no OS randomness"))?;
    write_private(&dir.join("storage.key"), &hex::encode(random))?;
    Ok("[storage]\nencrypted = true\nkey = \"file:storage.key\"\n".to_string())
}

pub(crate) fn run(args: NodeBenchArgs) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let BenchNode {
        ring,
        ngo,
        federation,
        local,
        federation_token,
        pid: node_pid,
        processes: _processes,
        ..
    } = start_bench_node(
        &dir,
        args.records,
        args.seed,
        &storage_config(&dir, args.encrypted)?,
    )?;
    if args.encrypted {
        println!("the node keeps its index, database, keyring and audit log encrypted at rest");
    }

    println!(
        "ingesting {} records through `poshuk ingest` into a node process...",
        args.records
    );
    let started = Instant::now();
    ingest(&dir, &local, &ngo, true)?;
    let ingest_seconds = started.elapsed().as_secs_f64();
    let ingest_peak = resident(node_pid).peak;
    let index_bytes = directory_bytes(&dir.join("node-data/index-epoch-1"));
    println!(
        "ingest: {} records in {:.1}s = {:.0} records/s; index {:.1} MiB = {:.0} bytes/record; node peak RSS during ingest {:.2} GiB",
        args.records,
        ingest_seconds,
        args.records as f64 / ingest_seconds,
        index_bytes as f64 / (1u64 << 20) as f64,
        index_bytes as f64 / args.records as f64,
        ingest_peak as f64 / (1u64 << 30) as f64,
    );

    let tokenizer = Tokenizer::new(ring.hasher(ring.current_epoch())?);
    let queries = token_queries(
        &dir.join("data/ru_sources.csv"),
        &tokenizer,
        ring.current_epoch().0,
        20,
    )?;
    let url = format!("{federation}{}", poshuk_protocol::routes::node::SEARCH);
    let (latencies, throughput) = measure_searches(
        &url,
        Some((COORDINATOR_KEY_ID, &federation_token)),
        &queries,
        args.searches,
        args.seconds,
        args.concurrency,
    )?;
    println!(
        "search ({} sequential, Russian-script queries against the Ukrainian-script index): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99)
    );
    println!(
        "throughput ({} concurrent searchers, {} s): {:.0} searches/s",
        args.concurrency, args.seconds, throughput
    );
    // The heaviest query the protocol admits, sequentially, and what the
    // node's own memory did meanwhile.
    let worst = worst_case_query(&ngo, &tokenizer, ring.current_epoch().0)?;
    let before = resident(node_pid);
    let (worst_latencies, _) = measure_searches(
        &url,
        Some((COORDINATOR_KEY_ID, &federation_token)),
        std::slice::from_ref(&worst),
        200,
        1,
        1,
    )?;
    let after = resident(node_pid);
    println!(
        "worst-case query (most common names and surnames at every bound, {} bytes): p50 {:.2} ms, p99 {:.2} ms; node heap {:+.1} MiB over {} runs",
        worst.len(),
        percentile(&worst_latencies, 0.5),
        percentile(&worst_latencies, 0.99),
        (after.anonymous as f64 - before.anonymous as f64) / (1u64 << 20) as f64,
        worst_latencies.len()
    );
    let memory = resident(node_pid);
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    println!(
        "node resident memory: {:.2} GiB now ({:.2} GiB own heap, {:.2} GiB mapped index pages), {:.2} GiB peak",
        gib(memory.total),
        gib(memory.anonymous),
        gib(memory.file),
        gib(memory.peak)
    );
    Ok(())
}

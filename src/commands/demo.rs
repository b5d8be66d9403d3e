//! `poshuk demo`: a whole federation on loopback with synthetic partners —
//! three nodes, a coordinator, example searches across scripts — kept running
//! for the user's own `poshuk search` until Ctrl-C.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use poshuk_coordinator::{CoordinatorConfig, PartnerConfig};
use poshuk_core::KeyRing;
use poshuk_node::NodeConfig;
use poshuk_node::config::CoordinatorLink;
use poshuk_protocol::RawRecord;
use poshuk_records::{ReadOptions, read_file};
use poshuk_synth::{Source, SynthConfig, generate, write_dir};

use crate::commands::processes::write_private;
use crate::commands::processes::{Processes, ingest};
use crate::commands::search::{federated_search, print_table, searcher_node};

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Persons in the synthetic federation.
    #[arg(long, default_value_t = 3000)]
    persons: usize,
    /// Random seed.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// First port: the coordinator gets it, the nodes the next ones.
    #[arg(long, default_value_t = 7400)]
    base_port: u16,
    /// Where to keep the demo's files (a temporary directory otherwise).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Run the example searches and stop, instead of waiting for Ctrl-C.
    #[arg(long)]
    no_wait: bool,
}

struct DemoPartner {
    id: &'static str,
    name: &'static str,
    source: Source,
    token: String,
    node_token: String,
    federation_port: u16,
    local_port: u16,
}

fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no OS randomness"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn write_configs(
    dir: &Path,
    partners: &[DemoPartner],
    coordinator_port: u16,
) -> anyhow::Result<()> {
    let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let coordinator_url = format!("http://127.0.0.1:{coordinator_port}");
    let mut registry = Vec::new();
    for partner in partners {
        let node_url = format!("http://127.0.0.1:{}", partner.federation_port);
        // Each partner's age identity (it opens sealed keys and contact
        // requests); the coordinator lists the public keys.
        let identity = dir.join(format!("{}-data/identity.age", partner.id));
        let public_key = if identity.exists() {
            poshuk_keys::sealed::public_key(&poshuk_keys::files::load_identity(&identity)?)?
        } else {
            let (secret, public) = poshuk_keys::sealed::generate_identity();
            poshuk_keys::files::create_identity(&identity, &secret, &public)?;
            public
        };
        registry.push(PartnerConfig {
            name: partner.name.to_string(),
            node_token: Some(partner.node_token.clone()),
            contact: format!("demo: contact {}", partner.name),
            public_key: Some(public_key),
            ..PartnerConfig::new(partner.id, &node_url, &partner.token)
        });
        let mut node = NodeConfig::new(
            partner.id,
            format!("{}-data", partner.id),
            "keyring.toml",
            loopback(partner.federation_port),
            loopback(partner.local_port),
        );
        node.limits.commit_interval_ms = 500;
        // The demo runs on one machine: plain HTTP on loopback, said so.
        node.plain_http_on_loopback = true;
        node.coordinator = Some(CoordinatorLink::new(&coordinator_url, &partner.token));
        node.federation.token = Some(partner.node_token.clone());
        // Synthetic data: hits say which fields agreed, so the web page
        // explains them (off by default for real lists: THREAT_MODEL.md).
        node.federation.share_agreeing_fields = true;
        write_private(&dir.join(format!("{}.toml", partner.id)), &node.to_toml())?;
    }
    let mut coordinator = CoordinatorConfig::new(
        loopback(coordinator_port),
        "coordinator-audit.jsonl",
        registry,
    );
    coordinator.plain_http_on_loopback = true;
    coordinator.deadlines.per_node_ms = 2000;
    coordinator.deadlines.overall_ms = 3000;
    write_private(&dir.join("coordinator.toml"), &coordinator.to_toml())?;
    Ok(())
}

/// Persons present in all three partners' files, as the partner writing
/// `stem` wrote them (`intl_org`: Latin, `ngo_ua`: Ukrainian Cyrillic), for
/// the example searches.
fn example_queries(dir: &Path, stem: &str, count: usize) -> anyhow::Result<Vec<RawRecord>> {
    let truth = csv::Reader::from_path(dir.join("data/truth.csv"))?
        .records()
        .filter_map(Result::ok)
        .map(|row| (row[1].to_string(), (row[0].to_string(), row[2].to_string())))
        .collect::<HashMap<String, (String, String)>>();
    let mut sources_of: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (source, person) in truth.values() {
        sources_of
            .entry(person.as_str())
            .or_default()
            .insert(source.as_str());
    }
    let written = read_file(
        &dir.join(format!("data/{stem}.csv")),
        &ReadOptions::default(),
    )?;
    Ok(written
        .records
        .iter()
        .filter(|read| {
            let person = &truth[&read.record.record_id].1;
            sources_of
                .get(person.as_str())
                .is_some_and(|s| s.len() == 3)
                && read.record.birth_date.is_some()
                && !read.record.patronymic.is_empty()
        })
        .take(count)
        .map(|read| RawRecord {
            record_id: String::new(),
            ..poshuk_node::wire::record_to_wire(&read.record)
        })
        .collect())
}

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<()> {
    let temporary = tempfile::Builder::new().prefix("poshuk-demo-").tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let dir = std::fs::canonicalize(&dir)?;
    let base = args.base_port;
    let ports: Vec<u16> = (0..7).map(|offset| base + offset).collect();
    if let Some(busy) = ports.iter().find(|port| !port_is_free(**port)) {
        bail!("port {busy} is in use: pass --base-port with 7 free ports from there");
    }
    println!(
        "poshuk demo: a federation of three partners on this machine ({})",
        dir.display()
    );
    let data = generate(SynthConfig {
        persons: args.persons,
        seed: args.seed,
    });
    write_dir(&data, &dir.join("data"))?;
    println!(
        "  synthetic case lists: Ukrainian NGO {} records (Ukrainian Cyrillic), sources in Russia {} (Russian forms), international organization {} (Latin)",
        data.rows[0].len(),
        data.rows[1].len(),
        data.rows[2].len()
    );
    let keyring = dir.join("keyring.toml");
    if !keyring.exists() {
        poshuk_keys::files::create(&keyring, &KeyRing::generate()?)?;
    }
    let partners = vec![
        DemoPartner {
            id: "ngo-ua",
            name: "Ukrainian NGO",
            source: Source::UkrainianNgo,
            token: random_token()?,
            node_token: random_token()?,
            federation_port: ports[1],
            local_port: ports[2],
        },
        DemoPartner {
            id: "ru-sources",
            name: "Sources in Russia",
            source: Source::RussianSources,
            token: random_token()?,
            node_token: random_token()?,
            federation_port: ports[3],
            local_port: ports[4],
        },
        DemoPartner {
            id: "intl-org",
            name: "International org",
            source: Source::InternationalOrg,
            token: random_token()?,
            node_token: random_token()?,
            federation_port: ports[5],
            local_port: ports[6],
        },
    ];
    write_configs(&dir, &partners, ports[0])?;

    let mut processes = Processes::default();
    processes.start(
        &dir,
        &["coordinator", "--config", "coordinator.toml"],
        "coordinator.log",
        Some(&format!("http://127.0.0.1:{}", ports[0])),
    )?;
    for partner in &partners {
        let config = format!("{}.toml", partner.id);
        processes.start(
            &dir,
            &["node", "--config", &config],
            &format!("{}.log", partner.id),
            Some(&format!("http://127.0.0.1:{}", partner.federation_port)),
        )?;
    }
    println!(
        "  coordinator on 127.0.0.1:{}; nodes' local APIs: {}",
        ports[0],
        partners
            .iter()
            .map(|p| format!("{} 127.0.0.1:{}", p.id, p.local_port))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  plain HTTP on loopback, as the demo's configs say (plain_http_on_loopback); across machines the federation speaks mutual TLS (`poshuk tls init`), with signed requests either way"
    );
    for partner in &partners {
        ingest(
            &dir,
            &format!("http://127.0.0.1:{}", partner.local_port),
            &dir.join(format!("data/{}.csv", partner.source.stem())),
            false,
        )
        .with_context(|| format!("see the logs in {}", dir.display()))?;
    }
    println!("  each partner ingested its own list into its own node (tokens only)");
    let password = random_token()?[..16].to_string();
    for partner in &partners {
        let local = format!("http://127.0.0.1:{}", partner.local_port);
        let node = crate::commands::http::Server::node(
            &crate::commands::http::NodeAccess::at(&local),
            crate::commands::http::LocalNeed::Admin,
            std::time::Duration::from_secs(30),
        )?;
        let _: poshuk_protocol::local::StaffAccount = node.post(
            poshuk_protocol::routes::local::STAFF,
            &poshuk_protocol::local::StaffAccountRequest {
                name: "demo".into(),
                password: password.clone(),
                role: "admin".into(),
            },
        )?;
    }
    println!(
        "  web pages (log in as `demo`, password {password}): {}\n",
        partners
            .iter()
            .map(|p| format!("{} http://localhost:{}/ui/", p.id, p.local_port))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let searcher = &partners[2];
    let node_url = format!("http://127.0.0.1:{}", searcher.local_port);
    let node = searcher_node(&crate::commands::http::NodeAccess::at(&node_url))?;
    for query in example_queries(&dir, "intl_org", 3)? {
        println!(
            "{} searches for: {} {} {} born {} {}",
            searcher.name,
            query.given_name,
            query.patronymic,
            query.family_name,
            query.birth_date,
            query.birth_place
        );
        let response = federated_search(&node, query, 5, None)?;
        print_table(&response);
        println!();
    }
    // A name alone names no one: the federation refuses it, so that no
    // partner can list another's cases name by name. With a year it is a
    // search (a person the NGO wrote in Cyrillic, known to all three).
    let known = example_queries(&dir, "ngo_ua", 1)?
        .into_iter()
        .next()
        .context("no person of the NGO's list is known to all three partners")?;
    let year: String = known.birth_date.chars().take(4).collect();
    let thin = RawRecord {
        given_name: known.given_name.clone(),
        family_name: known.family_name.clone(),
        ..RawRecord::default()
    };
    println!(
        "{} searches for: {} {} (Cyrillic, no date)",
        searcher.name, thin.given_name, thin.family_name
    );
    match federated_search(&node, thin.clone(), 5, None) {
        Ok(response) => print_table(&response),
        Err(error) => println!("  refused: {error}\n"),
    }
    println!(
        "{} searches for: {} {}, born {year} (Cyrillic, a year)",
        searcher.name, thin.given_name, thin.family_name
    );
    let with_year = RawRecord {
        birth_date: year.clone(),
        ..thin.clone()
    };
    let answer = federated_search(&node, with_year, 5, None)?;
    print_table(&answer);
    if let Some(advice) = &answer.advice {
        println!("  {advice}\n");
    }

    if args.no_wait {
        return Ok(());
    }
    println!(
        "\nThe federation keeps running. Search it yourself, e.g.:\n  poshuk search --node {node_url} --given {} --family {} --birth-date {year}\n  poshuk search --node http://127.0.0.1:{} --given {} --family {} --birth-date {year}\nCtrl-C stops everything.",
        thin.given_name,
        thin.family_name,
        partners[1].local_port,
        thin.given_name,
        thin.family_name
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(crate::commands::signals::shutdown_signal());
    println!("\nstopping the demo federation...");
    drop(processes);
    Ok(())
}

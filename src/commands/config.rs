//! `poshuk config check FILE`: every problem of a node's or a coordinator's
//! config, named at once, before a server is started with it (the servers
//! themselves stop at the first).

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Subcommand;
use poshuk_coordinator::CoordinatorConfig;
use poshuk_node::NodeConfig;

#[derive(Subcommand)]
pub(crate) enum ConfigCommand {
    /// Check a node's or a coordinator's config (told apart by its
    /// fields): form, file permissions, tokens, transport, the files it
    /// names. Exits non-zero when anything is wrong.
    Check {
        /// The config file.
        file: PathBuf,
    },
}

pub(crate) fn run(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check { file } => check(&file),
    }
}

fn check(file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", file.display()))?;
    let starts = |key: &str| text.lines().any(|line| line.trim_start().starts_with(key));
    let (kind, problems) = if starts("partner_id") {
        ("a node's config", node_problems(file)?)
    } else if starts("[[partner]]") || starts("audit_log") {
        ("a coordinator's config", coordinator_problems(file)?)
    } else {
        bail!(
            "{} is neither a node's config (no partner_id) nor a coordinator's (no [[partner]])",
            file.display()
        );
    };
    if problems.is_empty() {
        println!("{}: {kind}, no problem found", file.display());
        return Ok(());
    }
    println!("{}: {kind}, {} problem(s):", file.display(), problems.len());
    for problem in &problems {
        println!("  - {problem}");
    }
    bail!("{} has {} problem(s)", file.display(), problems.len())
}

/// Every `Err` of `checks`, in order.
fn collect(checks: Vec<Result<(), String>>) -> Vec<String> {
    checks.into_iter().filter_map(Result::err).collect()
}

/// A file a config names must exist (and, for a secret, be private).
fn names_a_file(what: &str, path: Option<&Path>, secret: bool) -> Result<(), String> {
    let Some(path) = path else {
        return Ok(());
    };
    if !path.exists() {
        return Err(format!("{what}: {} does not exist", path.display()));
    }
    if secret {
        poshuk_protocol::bearer::check_private_file(path, what)?;
    }
    Ok(())
}

fn node_problems(file: &Path) -> anyhow::Result<Vec<String>> {
    let config = match NodeConfig::read(file) {
        Ok(config) => config,
        Err(error) => return Ok(vec![error.to_string()]),
    };
    let holds_tokens = config.coordinator.is_some() || config.federation.token.is_some();
    let link = config.coordinator.as_ref();
    let mut checks = vec![
        if holds_tokens {
            poshuk_protocol::bearer::check_private_file(file, "tokens")
        } else {
            Ok(())
        },
        config.check_secrets(),
        config.check_transport(),
        names_a_file("keyring", Some(&config.keyring), true),
        names_a_file("listen.tls_cert", config.listen.tls_cert.as_deref(), false),
        names_a_file("listen.tls_key", config.listen.tls_key.as_deref(), true),
        names_a_file("listen.tls_ca", config.listen.tls_ca.as_deref(), false),
        names_a_file("coordinator.ca", link.and_then(|l| l.ca.as_deref()), false),
        names_a_file(
            "coordinator.cert",
            link.and_then(|l| l.cert.as_deref()),
            false,
        ),
        names_a_file("coordinator.key", link.and_then(|l| l.key.as_deref()), true),
    ];
    checks.push(match config.keys.admin_key.as_deref() {
        None => Err("keys.admin_key is not set: the node will install no sealed key (`poshuk keys admin-key` prints the admin's)".into()),
        Some(key) if key.to_ascii_uppercase().contains("CHANGE-ME") => {
            Err("keys.admin_key is the example's placeholder: put the admin's public key there (`poshuk keys admin-key`)".into())
        }
        Some(_) => Ok(()),
    });
    if config.federation.token.is_none() {
        checks.push(Err(
            "federation.token is not set: no coordinator can search this node".into(),
        ));
    }
    Ok(collect(checks))
}

fn coordinator_problems(file: &Path) -> anyhow::Result<Vec<String>> {
    let config = match CoordinatorConfig::read(file) {
        Ok(config) => config,
        Err(error) => return Ok(vec![error.to_string()]),
    };
    let mut checks = vec![
        poshuk_protocol::bearer::check_private_file(file, "tokens"),
        config.check_secrets(),
        config.check_transport(),
        names_a_file("tls.cert", config.tls.cert.as_deref(), false),
        names_a_file("tls.key", config.tls.key.as_deref(), true),
        names_a_file("tls.ca", config.tls.ca.as_deref(), false),
    ];
    for partner in &config.partners {
        if partner.node_token.is_none() {
            checks.push(Err(format!(
                "partner `{}`: no node_token: its node cannot be searched (a node answers only signed requests)",
                partner.id
            )));
        }
    }
    Ok(collect(checks))
}

//! `poshuk keys`: the federation's hashing keys — creating, rotating,
//! sealing to partners, installing on a node, status and retirement.
//!
//! Admin commands (`rotate`, `seal`, `status`, `retire`) work on the admin's
//! own keyring and talk to the coordinator with the admin token; `identity`
//! and `install` run at a partner's node.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use poshuk_core::{Epoch, EpochState, KeyRing};
use poshuk_keys::files as keyring_file;
use poshuk_protocol::{ErrorBody, FederationKeys, Installed, NodeStatus, RetireRequest};

use crate::commands::http::post_json;

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Write a new keyring holding one random 256-bit key (epoch 1), mode 0600.
    Init {
        /// Where to write it (must not exist).
        #[arg(long, short = 'o', default_value_os_t = crate::default_keyring_path())]
        out: PathBuf,
    },
    /// Show the epochs of a keyring and their states (never the keys).
    List {
        /// The keyring.
        #[arg(long, default_value_os_t = crate::default_keyring_path())]
        keyring: PathBuf,
    },
    /// Create this partner's age identity (mode 0600) and print its public
    /// key for the admin; prints the public key of an existing one.
    Identity(IdentityArgs),
    /// Admin: create the signing key that proves sealed keys come from you
    /// (mode 0600), and print its public key for every node's [keys]
    /// admin_key; prints the public key of an existing one.
    AdminKey {
        /// The signing key file.
        #[arg(long, default_value = "poshuk-admin.key")]
        out: PathBuf,
    },
    /// Admin: add epoch n+1 with a fresh key to the keyring, pending.
    Rotate {
        /// The admin's keyring.
        #[arg(long, default_value_os_t = crate::default_keyring_path())]
        keyring: PathBuf,
    },
    /// Admin: seal an epoch's key to each partner's public key, one file each.
    Seal(SealArgs),
    /// At a node: install a sealed key (a file, or fetched from the
    /// coordinator) and wait while the node re-keys its index.
    Install(InstallArgs),
    /// Admin: which node serves which epochs, and how far each re-key is.
    Status(AdminArgs),
    /// Admin: retire an epoch once every node serves the next one.
    Retire(RetireArgs),
}

#[derive(Args)]
pub(crate) struct IdentityArgs {
    /// The node's config (the identity goes where it says, by default
    /// `identity.age` in its data directory).
    #[arg(long, conflicts_with = "out")]
    config: Option<PathBuf>,
    /// Or: where to write the identity.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct SealArgs {
    /// The admin's keyring.
    #[arg(long, default_value_os_t = crate::default_keyring_path())]
    keyring: PathBuf,
    /// The epoch to seal (default: the newest).
    #[arg(long)]
    epoch: Option<u32>,
    /// A recipient as PARTNER_ID=age1...; repeat for each partner. A partner
    /// left out cannot obtain the epoch.
    #[arg(long = "to", required = true, value_name = "PARTNER=PUBKEY")]
    recipients: Vec<String>,
    /// The admin's signing key (`poshuk keys admin-key`).
    #[arg(long, default_value = "poshuk-admin.key")]
    signing_key: PathBuf,
    /// Where to write the sealed files (PARTNER.epoch-N.sealed).
    #[arg(long, default_value = ".")]
    out_dir: PathBuf,
    /// Also leave each file at the coordinator for the partner's node to fetch.
    #[arg(long)]
    upload: bool,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Args)]
pub(crate) struct InstallArgs {
    /// The sealed key file (absent with --from-coordinator).
    #[arg(required_unless_present = "from_coordinator")]
    file: Option<PathBuf>,
    /// Fetch this partner's sealed key from the coordinator instead.
    #[arg(long)]
    from_coordinator: bool,
    /// With --from-coordinator: the epoch (default: the one after the newest
    /// this node holds).
    #[arg(long)]
    epoch: Option<u32>,
    /// Your node's local API.
    #[arg(long, default_value = "http://127.0.0.1:7402")]
    node: String,
    /// Return once the key is installed, without waiting for the re-key.
    #[arg(long)]
    no_wait: bool,
}

#[derive(Args, Clone)]
pub(crate) struct AdminArgs {
    /// The coordinator.
    #[arg(long, default_value = "http://127.0.0.1:7400")]
    coordinator: String,
    /// The coordinator's admin token.
    #[arg(long, env = "POSHUK_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The federation's CA certificate, for an https coordinator.
    #[arg(long, env = "POSHUK_CA")]
    ca: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct RetireArgs {
    /// The epoch to retire (and every older one).
    epoch: u32,
    /// A partner left out of the new epoch (compromised or leaving): not
    /// required to serve it, and suspended. Repeatable.
    #[arg(long)]
    exclude: Vec<String>,
    /// The admin's keyring, to mark the epoch retired there too.
    #[arg(long)]
    keyring: Option<PathBuf>,
    #[command(flatten)]
    admin: AdminArgs,
}

pub(crate) fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Init { out } => {
            let ring = KeyRing::generate()?;
            keyring_file::create(&out, &ring)?;
            eprintln!(
                "wrote keyring {} (epoch 1, mode 0600). Share it only with the federation's partners, sealed.",
                out.display()
            );
            Ok(())
        }
        KeysCommand::List { keyring } => {
            let ring = keyring_file::load(&keyring)?;
            for entry in ring.entries() {
                println!("epoch {}\t{:?}", entry.epoch, entry.state);
            }
            Ok(())
        }
        KeysCommand::Identity(args) => identity(args),
        KeysCommand::AdminKey { out } => {
            if out.exists() {
                println!("{}", keyring_file::load_admin_key(&out)?.public());
                eprintln!(
                    "admin key {} exists; its public key is above",
                    out.display()
                );
                return Ok(());
            }
            let key = poshuk_keys::sealed::AdminKey::generate()?;
            keyring_file::create_admin_key(&out, &key)?;
            println!("{}", key.public());
            eprintln!(
                "wrote admin signing key {} (mode 0600). Put the public key above in every node's config as [keys] admin_key.",
                out.display()
            );
            Ok(())
        }
        KeysCommand::Rotate { keyring } => {
            let mut ring = keyring_file::load(&keyring)?;
            let epoch = ring.rotate()?;
            keyring_file::replace(&keyring, &ring)?;
            eprintln!(
                "created epoch {epoch} (pending) in {}. Next: `poshuk keys seal --to PARTNER=age1... ...` for every partner that stays.",
                keyring.display()
            );
            Ok(())
        }
        KeysCommand::Seal(args) => seal(args),
        KeysCommand::Install(args) => install(args),
        KeysCommand::Status(admin) => {
            let keys = admin_get(&admin)?;
            print_status(&keys);
            Ok(())
        }
        KeysCommand::Retire(args) => retire(args),
    }
}

fn identity(args: IdentityArgs) -> anyhow::Result<()> {
    let path = match (args.config, args.out) {
        (Some(config), _) => poshuk_node::NodeConfig::load(&config)?.identity_path(),
        (None, Some(out)) => out,
        (None, None) => bail!("name the node's config (--config) or where to write (--out)"),
    };
    if path.exists() {
        let secret = keyring_file::load_identity(&path)?;
        println!("{}", poshuk_keys::sealed::public_key(&secret)?);
        eprintln!(
            "identity {} exists; its public key is above",
            path.display()
        );
        return Ok(());
    }
    let (secret, public) = poshuk_keys::sealed::generate_identity();
    keyring_file::create_identity(&path, &secret, &public)?;
    println!("{public}");
    eprintln!(
        "wrote identity {} (mode 0600). Give the public key above to the federation's admin.",
        path.display()
    );
    Ok(())
}

fn blocking_client() -> anyhow::Result<reqwest::blocking::Client> {
    poshuk_tls::blocking_client_builder(None)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .build()
        .context("cannot build the HTTP client")
}

/// A client for the coordinator: trusting the federation's CA alone when
/// one is given.
fn admin_client(admin: &AdminArgs) -> anyhow::Result<reqwest::blocking::Client> {
    if admin.ca.is_none() && admin.coordinator.starts_with("https:") {
        bail!("the coordinator is https: name the federation's CA with --ca (or POSHUK_CA)");
    }
    poshuk_tls::blocking_client_builder(admin.ca.as_deref())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .build()
        .context("cannot build the HTTP client")
}

fn admin_token(admin: &AdminArgs) -> anyhow::Result<&str> {
    admin
        .admin_token
        .as_deref()
        .context("the coordinator's admin token is needed: --admin-token or POSHUK_ADMIN_TOKEN")
}

fn error_message(response: reqwest::blocking::Response) -> String {
    let status = response.status();
    let message = response
        .json::<ErrorBody>()
        .map(|error| error.message)
        .unwrap_or_else(|_| status.to_string());
    format!("{status}: {message}")
}

fn seal(args: SealArgs) -> anyhow::Result<()> {
    let ring = keyring_file::load(&args.keyring)?;
    let signer = keyring_file::load_admin_key(&args.signing_key)?;
    let epoch = Epoch(args.epoch.unwrap_or(ring.newest_epoch().0));
    if epoch.0 < 2 {
        bail!("epoch 1 is the keyring itself: seal a rotated epoch (`poshuk keys rotate` first)");
    }
    let mut recipients = Vec::new();
    for recipient in &args.recipients {
        let Some((partner, public)) = recipient.split_once('=') else {
            bail!("a --to value is not PARTNER_ID=age1... (the value is not repeated here)");
        };
        recipients.push((partner.trim().to_string(), public.trim().to_string()));
    }
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let client = admin_client(&args.admin)?;
    for (partner, public) in &recipients {
        let sealed = poshuk_keys::sealed::seal(&ring, epoch, partner, public, &signer)
            .with_context(|| format!("sealing for `{partner}`"))?;
        let path = args
            .out_dir
            .join(format!("{partner}.epoch-{}.sealed", epoch.0));
        std::fs::write(&path, &sealed)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("sealed epoch {epoch} for `{partner}`: {}", path.display());
        if args.upload {
            let url = format!(
                "{}/v1/admin/sealed/{partner}/{}",
                args.admin.coordinator.trim_end_matches('/'),
                epoch.0
            );
            let response = client
                .put(&url)
                .bearer_auth(admin_token(&args.admin)?)
                .body(sealed)
                .send()
                .with_context(|| format!("cannot reach {url}"))?;
            if !response.status().is_success() {
                bail!("uploading for `{partner}`: {}", error_message(response));
            }
            eprintln!("  left at the coordinator for `{partner}` to fetch");
        }
    }
    Ok(())
}

fn install(args: InstallArgs) -> anyhow::Result<()> {
    let base = args.node.trim_end_matches('/').to_string();
    let client = blocking_client()?;
    let installed: Installed = if args.from_coordinator {
        post_json(
            &client,
            &format!("{base}/local/v1/keys/fetch"),
            &poshuk_protocol::FetchKey { epoch: args.epoch },
        )?
    } else {
        let Some(file) = &args.file else {
            bail!("name the sealed file, or use --from-coordinator");
        };
        let sealed =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let url = format!("{base}/local/v1/keys/install");
        let response = client
            .post(&url)
            .body(sealed)
            .send()
            .with_context(|| format!("cannot reach {url}"))?;
        if !response.status().is_success() {
            bail!("{}", error_message(response));
        }
        response.json().context("unexpected answer from the node")?
    };
    eprintln!(
        "installed key epoch {}; the node re-keys its index now and keeps answering meanwhile",
        installed.epoch
    );
    if args.no_wait {
        return Ok(());
    }
    let bar = crate::commands::progress::progress_bar(0, "re-keyed");
    loop {
        let status: NodeStatus = client
            .get(format!("{base}/local/v1/status"))
            .send()
            .and_then(|response| response.json())
            .context("cannot read the node's status")?;
        if status.epochs.contains(&installed.epoch) {
            bar.finish_and_clear();
            eprintln!(
                "the node serves key epochs {:?} ({} records)",
                status.epochs, status.records
            );
            return Ok(());
        }
        if let Some(rekey) = status.rekey {
            if let Some(error) = rekey.error {
                bar.abandon();
                bail!(
                    "the re-key to epoch {} failed: {error} (it restarts when the node restarts)",
                    rekey.epoch
                );
            }
            bar.set_length(rekey.total);
            bar.set_position(rekey.done);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn admin_get(admin: &AdminArgs) -> anyhow::Result<FederationKeys> {
    let url = format!("{}/v1/admin/keys", admin.coordinator.trim_end_matches('/'));
    let response = admin_client(admin)?
        .get(&url)
        .bearer_auth(admin_token(admin)?)
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    if !response.status().is_success() {
        bail!("{}", error_message(response));
    }
    response
        .json()
        .context("unexpected answer from the coordinator")
}

fn print_status(keys: &FederationKeys) {
    println!(
        "{:<20} {:<10} {:<12} {:>10} {:>9}  re-key",
        "partner", "reachable", "epochs", "records", "tokenizer"
    );
    for (partner, view) in &keys.partners {
        let suspended = if keys.suspended.contains(partner) {
            " (suspended)"
        } else {
            ""
        };
        let rekey = match &view.rekey {
            Some(rekey) if rekey.error.is_some() => format!("to {}: failed", rekey.epoch),
            Some(rekey) => format!(
                "to {}: {}/{} ({}/s)",
                rekey.epoch, rekey.done, rekey.total, rekey.records_per_second
            ),
            None if !view.sealed_waiting.is_empty() => {
                format!("sealed key waiting: {:?}", view.sealed_waiting)
            }
            None => "-".into(),
        };
        let epochs = view
            .epochs
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let tokenizer = match view.tokenizer_version {
            0 => "-".to_string(),
            version if version < poshuk_core::TOKENIZER_VERSION => format!("{version} (old)"),
            version => version.to_string(),
        };
        println!(
            "{:<20} {:<10} {:<12} {:>10} {:>9}  {rekey}{suspended}",
            partner,
            if view.reachable { "yes" } else { "NO" },
            epochs,
            view.records,
            tokenizer
        );
    }
    if !keys.retired.is_empty() {
        println!("retired epochs: {:?}", keys.retired);
    }
}

fn retire(args: RetireArgs) -> anyhow::Result<()> {
    // Check the admin's keyring before the federation changes.
    let ring = match &args.keyring {
        Some(path) => {
            let ring = keyring_file::load(path)?;
            if ring.state(Epoch(args.epoch + 1)).is_none() {
                bail!(
                    "{} has no epoch {}: retire only an epoch that has a successor",
                    path.display(),
                    args.epoch + 1
                );
            }
            Some(ring)
        }
        None => None,
    };
    let url = format!(
        "{}/v1/admin/retire",
        args.admin.coordinator.trim_end_matches('/')
    );
    let response = admin_client(&args.admin)?
        .post(&url)
        .bearer_auth(admin_token(&args.admin)?)
        .json(&RetireRequest {
            epoch: args.epoch,
            exclude: args.exclude.clone(),
        })
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    if !response.status().is_success() {
        bail!("{}", error_message(response));
    }
    let keys: FederationKeys = response
        .json()
        .context("unexpected answer from the coordinator")?;
    if let (Some(path), Some(mut ring)) = (&args.keyring, ring) {
        for number in 1..=args.epoch {
            ring.set_state(Epoch(number), EpochState::Retired)?;
        }
        let next = Epoch(args.epoch + 1);
        if ring.state(next) == Some(EpochState::Pending) {
            ring.set_state(next, EpochState::Active)?;
        }
        keyring_file::replace(path, &ring)?;
    }
    eprintln!(
        "retired epoch {}: the coordinator refuses it from now on",
        args.epoch
    );
    for (partner, outcome) in &keys.retire_outcomes {
        eprintln!("  {partner}: {outcome}");
    }
    if args.keyring.is_none() {
        eprintln!(
            "your keyring was not updated (no --keyring): mark the epoch retired there before the next rotation"
        );
    }
    print_status(&keys);
    Ok(())
}

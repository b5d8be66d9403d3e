//! `poshuk keys`: the federation's hashing keys — creating, rotating,
//! sealing to partners, installing on a node, status and retirement.
//!
//! Admin commands (`rotate`, `seal`, `status`, `retire`) work on the admin's
//! own keyring and talk to the coordinator with the admin token; `identity`
//! and `install` run at a partner's node.

mod admin;
mod install;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use poshuk_core::KeyRing;
use poshuk_keys::files;

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
    #[command(flatten)]
    node: crate::commands::http::NodeAccess,
    /// Return once the key is installed, without waiting for the re-key.
    #[arg(long)]
    no_wait: bool,
}

#[derive(Args, Clone)]
pub(crate) struct AdminArgs {
    /// The coordinator.
    #[arg(long, default_value = "http://127.0.0.1:7400")]
    coordinator: String,
    /// A file holding the coordinator's admin token (mode 0600). Or set
    /// POSHUK_ADMIN_TOKEN. Never on the command line, where `ps` shows it.
    #[arg(long, env = "POSHUK_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// The federation's CA certificate, for an https coordinator.
    #[arg(long, env = "POSHUK_CA")]
    ca: Option<PathBuf>,
    /// The admin's certificate for an https coordinator (mutual TLS; made
    /// by `poshuk tls init --party admin`).
    #[arg(long, env = "POSHUK_TLS_CERT", requires = "key")]
    cert: Option<PathBuf>,
    /// Its private key (mode 0600).
    #[arg(long, env = "POSHUK_TLS_KEY", requires = "cert")]
    key: Option<PathBuf>,
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
            files::create(&out, &ring)?;
            eprintln!(
                "wrote keyring {} (epoch 1, mode 0600). Share it only with the federation's partners, sealed.",
                out.display()
            );
            Ok(())
        }
        KeysCommand::List { keyring } => {
            let ring = files::load(&keyring)?;
            for entry in ring.entries() {
                println!("epoch {}\t{:?}", entry.epoch, entry.state);
            }
            Ok(())
        }
        KeysCommand::Identity(args) => identity(args),
        KeysCommand::AdminKey { out } => {
            if out.exists() {
                println!("{}", files::load_admin_key(&out)?.public());
                eprintln!(
                    "admin key {} exists; its public key is above",
                    out.display()
                );
                return Ok(());
            }
            let key = poshuk_keys::sealed::AdminKey::generate()?;
            files::create_admin_key(&out, &key)?;
            println!("{}", key.public());
            eprintln!(
                "wrote admin signing key {} (mode 0600). Put the public key above in every node's config as [keys] admin_key.",
                out.display()
            );
            Ok(())
        }
        KeysCommand::Rotate { keyring } => {
            let mut ring = files::load(&keyring)?;
            let epoch = ring.rotate()?;
            files::replace(&keyring, &ring)?;
            eprintln!(
                "created epoch {epoch} (pending) in {}. Next: `poshuk keys seal --to PARTNER=age1... ...` for every partner that stays.",
                keyring.display()
            );
            Ok(())
        }
        KeysCommand::Seal(args) => admin::seal(args),
        KeysCommand::Install(args) => install::install(args),
        KeysCommand::Status(args) => admin::status(&args),
        KeysCommand::Retire(args) => admin::retire(args),
    }
}

/// `keys identity` for an encrypted node: the identity is made sealed by the
/// node's vault (never written in the clear), and its public key read back
/// through the vault.
fn sealed_identity(
    config: &poshuk_node::NodeConfig,
    source: &poshuk_node::vault::KeySource,
) -> anyhow::Result<()> {
    use poshuk_node::vault::{KeySource, StorageKey, Vault};
    let key = match source {
        KeySource::Prompt => {
            let typed = zeroize::Zeroizing::new(rpassword::prompt_password(format!(
                "storage passphrase of node {}: ",
                config.partner_id
            ))?);
            StorageKey::new(typed.as_bytes())?
        }
        other => StorageKey::from_source(other)?,
    };
    std::fs::create_dir_all(&config.data_dir)?;
    std::fs::set_permissions(
        &config.data_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )?;
    let vault = Vault::open_or_create(&config.data_dir, &key)?;
    let path = config.identity_path();
    if path.exists() {
        let text = vault.read_file(&path)?;
        let text = std::str::from_utf8(&text).context("the identity is not text")?;
        println!("{}", poshuk_keys::sealed::public_key(text)?);
        eprintln!(
            "identity {} exists (sealed); its public key is above",
            path.display()
        );
        return Ok(());
    }
    let (secret, public) = poshuk_keys::sealed::generate_identity();
    let text = files::identity_text(&secret, &public);
    vault.write_file(&path, text.as_bytes())?;
    println!("{public}");
    eprintln!(
        "wrote identity {}, sealed by the node's vault. Give the public key above to the federation's admin.",
        path.display()
    );
    Ok(())
}

fn identity(args: IdentityArgs) -> anyhow::Result<()> {
    let path = match (args.config, args.out) {
        (Some(config), _) => {
            let config = poshuk_node::NodeConfig::load(&config)?;
            if let Some(source) = config.storage.source().map_err(anyhow::Error::msg)? {
                return sealed_identity(&config, &source);
            }
            config.identity_path()
        }
        (None, Some(out)) => out,
        (None, None) => bail!("name the node's config (--config) or where to write (--out)"),
    };
    if path.exists() {
        let secret = files::load_identity(&path)?;
        println!("{}", poshuk_keys::sealed::public_key(&secret)?);
        eprintln!(
            "identity {} exists; its public key is above",
            path.display()
        );
        return Ok(());
    }
    let (secret, public) = poshuk_keys::sealed::generate_identity();
    files::create_identity(&path, &secret, &public)?;
    println!("{public}");
    eprintln!(
        "wrote identity {} (mode 0600). Give the public key above to the federation's admin.",
        path.display()
    );
    Ok(())
}

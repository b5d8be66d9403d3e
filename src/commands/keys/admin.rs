//! The admin's key commands that talk to the coordinator: sealing (and
//! leaving sealed keys at the relay), the federation's key status, retiring
//! an epoch.

use anyhow::{Context, bail};
use poshuk_core::{Epoch, EpochState};
use poshuk_keys::files;
use poshuk_protocol::routes::coordinator as route;
use poshuk_protocol::{FederationKeys, RetireRequest};

use super::{AdminArgs, RetireArgs, SealArgs};
use crate::commands::http::Server;

/// The coordinator, with the admin's token.
fn coordinator(admin: &AdminArgs) -> anyhow::Result<Server> {
    let token = match &admin.admin_token_file {
        Some(path) => files::load_secret(path, "admin token", "a 0600 file holding the coordinator's admin_token")?,
        None => zeroize::Zeroizing::new(
            std::env::var("POSHUK_ADMIN_TOKEN")
                .ok()
                .filter(|token| !token.trim().is_empty())
                .context("the coordinator's admin token is needed: POSHUK_ADMIN_TOKEN or --admin-token-file (never on the command line)")?,
        ),
    };
    let identity = match (&admin.cert, &admin.key) {
        (Some(cert), Some(key)) => Some(poshuk_tls::ClientCertificate { cert, key }),
        _ => None,
    };
    Server::coordinator(
        &admin.coordinator,
        token.trim(),
        admin.ca.as_deref(),
        identity,
    )
}

/// `poshuk keys status`.
pub(super) fn status(admin: &AdminArgs) -> anyhow::Result<()> {
    let keys: FederationKeys = coordinator(admin)?.get(route::ADMIN_KEYS)?;
    print_status(&keys);
    Ok(())
}

pub(super) fn seal(args: SealArgs) -> anyhow::Result<()> {
    let ring = files::load(&args.keyring)?;
    let signer = files::load_admin_key(&args.signing_key)?;
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
    let relay = if args.upload {
        Some(coordinator(&args.admin)?)
    } else {
        None
    };
    for (partner, public) in &recipients {
        let sealed = poshuk_keys::sealed::seal(&ring, epoch, partner, public, &signer)
            .with_context(|| format!("sealing for `{partner}`"))?;
        let path = args
            .out_dir
            .join(format!("{partner}.epoch-{}.sealed", epoch.0));
        std::fs::write(&path, &sealed)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("sealed epoch {epoch} for `{partner}`: {}", path.display());
        if let Some(relay) = &relay {
            relay
                .put_file(&route::admin_sealed(partner, epoch.0), sealed)
                .with_context(|| format!("uploading for `{partner}`"))?;
            eprintln!("  left at the coordinator for `{partner}` to fetch");
        }
    }
    Ok(())
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

pub(super) fn retire(args: RetireArgs) -> anyhow::Result<()> {
    // Check the admin's keyring before the federation changes.
    let ring = match &args.keyring {
        Some(path) => {
            let ring = files::load(path)?;
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
    let request = RetireRequest {
        epoch: args.epoch,
        exclude: args.exclude.clone(),
    };
    let keys: FederationKeys = coordinator(&args.admin)?.post(route::ADMIN_RETIRE, &request)?;
    if let (Some(path), Some(mut ring)) = (&args.keyring, ring) {
        for number in 1..=args.epoch {
            ring.set_state(Epoch(number), EpochState::Retired)?;
        }
        let next = Epoch(args.epoch + 1);
        if ring.state(next) == Some(EpochState::Pending) {
            ring.set_state(next, EpochState::Active)?;
        }
        files::replace(path, &ring)?;
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

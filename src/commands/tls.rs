//! `poshuk tls`: the federation's own certificate authority.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum TlsCommand {
    /// Create the federation's CA and a certificate for each party (the
    /// coordinator, every node, the key admin), signed by it. Give each party its NAME.pem
    /// and NAME.key, and everyone ca.pem; keep ca.key offline.
    Init {
        /// Where to write ca.pem, ca.key, NAME.pem, NAME.key.
        #[arg(long, default_value = "tls")]
        out_dir: PathBuf,
        /// A party as NAME=HOST[,HOST...] (host names or IP addresses it is
        /// reached at); repeat for each. NAME is what the certificate proves
        /// in mutual TLS: `coordinator`, each partner's id, and `admin` (a
        /// client only, given without hosts) for the key admin.
        #[arg(long = "party", required = true, value_name = "NAME[=HOSTS]")]
        parties: Vec<String>,
    },
}

pub(crate) fn run(command: TlsCommand) -> anyhow::Result<()> {
    match command {
        TlsCommand::Init { out_dir, parties } => {
            let mut parsed = Vec::new();
            for party in &parties {
                // A party without hosts is a client only (the key admin).
                let (name, hosts) = party.split_once('=').unwrap_or((party, ""));
                let name = name.trim();
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    bail!("--party `{party}`: a name holds only letters, digits, `.`, `_`, `-`");
                }
                let hosts: Vec<String> = hosts
                    .split(',')
                    .map(|host| host.trim().to_string())
                    .filter(|host| !host.is_empty())
                    .collect();
                parsed.push((name.to_string(), hosts));
            }
            let generated = poshuk_tls::generate(&out_dir, &parsed)?;
            eprintln!(
                "wrote the federation CA {} (and ca.key, mode 0600: keep it offline)",
                generated.ca_certificate.display()
            );
            for (name, cert, key) in &generated.parties {
                eprintln!(
                    "  {name}: {} and {} (mode 0600)",
                    cert.display(),
                    key.display()
                );
            }
            Ok(())
        }
    }
}

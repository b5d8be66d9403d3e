//! `poshuk probe URL`: a health check for container and Kubernetes probes
//! (the runtime image has no curl). GETs the URL with a short timeout and
//! exits 0 on a 2xx answer, 1 otherwise, printing the status or the error.

use std::time::Duration;

use clap::Args;

#[derive(Args)]
pub(crate) struct ProbeArgs {
    /// What to ask, e.g. http://127.0.0.1:7402/readyz (the node's local
    /// listener) or the coordinator's [health] listener.
    url: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
}

pub(crate) fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(&args.url)?;
    if url.scheme() != "http" || !url.host_str().is_some_and(is_loopback) {
        anyhow::bail!(
            "probe asks plain http on this machine's loopback only (the health and local listeners)"
        );
    }
    let answer = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(args.timeout))
        .build()?
        .get(url)
        .send()?;
    let status = answer.status();
    let body: String = answer
        .text()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    println!("{} {}", status.as_u16(), body.trim());
    if !status.is_success() {
        anyhow::bail!("not healthy: {status}");
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

//! The command line's HTTP calls to one's own node.

use anyhow::{Context, bail};
use poshuk_protocol::ErrorBody;

/// Posts a JSON body and reads a JSON answer; an error answer becomes an error
/// carrying the server's own message.
pub(crate) fn post_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::blocking::Client,
    url: &str,
    body: &impl serde::Serialize,
) -> anyhow::Result<T> {
    let response = client
        .post(url)
        .json(body)
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let message = response
            .json::<ErrorBody>()
            .map(|error| error.message)
            .unwrap_or_else(|_| status.to_string());
        bail!("{status}: {message}");
    }
    response
        .json()
        .with_context(|| format!("unexpected answer from {url}"))
}

//! `poshuk overlap --offline CONFIG`: a partner that runs no node takes part
//! from its own machine. The list is tokenized here, with the federation's
//! keyring, and never leaves the machine otherwise. Then either:
//!
//! - the coordinator is asked case by case over mutual TLS, signed as the
//!   partner, under the partner's limits, and the hits come back in the
//!   answers (nothing is left anywhere);
//! - or, with `--sealed-to age1...`, the token queries go into a file sealed
//!   to one partner, who answers it with its node (`poshuk overlap
//!   --answer`) in a file sealed back to this partner's identity, read with
//!   `--read`. The files travel by any channel.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use poshuk_core::{BirthDate, Epoch, KeyRing, Tokenizer};
use poshuk_protocol::client::{ApiClient, ClientError};
use poshuk_protocol::offline::{
    MAX_OFFLINE_QUERIES, MAX_REQUEST_BYTES, OfflineReply, OfflineRequest, Sealed,
};
use poshuk_protocol::{
    EpochQueries, FederatedHit, FederatedResponse, PartnerOutcome, PartnerStatus, RawRecord,
    TokenQuery,
};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::commands::http::{LocalNeed, NodeAccess, Server};

/// Hits asked per case (as `poshuk overlap` through a node).
const LIMIT: usize = 20;

/// The config of a partner without a node.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OfflineConfig {
    /// This partner's id in the federation.
    partner_id: String,
    /// The federation's keyring (mode 0600).
    keyring: PathBuf,
    /// This partner's age identity (`poshuk keys identity`): opens the
    /// replies sealed to it.
    #[serde(default)]
    identity: Option<PathBuf>,
    /// The coordinator, when cases are asked through it.
    #[serde(default)]
    coordinator: Option<poshuk_node::config::CoordinatorLink>,
}

/// A partner without a node: its config and its keyring.
pub(crate) struct Offline {
    config: OfflineConfig,
    ring: KeyRing,
}

/// SHA-256 of a file's bytes, in hex: which list a request was made of.
pub(crate) fn digest_of(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

impl Offline {
    /// Reads the config (relative paths from its directory) and the keyring.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Offline> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut config: OfflineConfig =
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        if config.coordinator.is_some() {
            poshuk_protocol::bearer::check_private_file(path, "bearer tokens")
                .map_err(anyhow::Error::msg)?;
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        resolve(&mut config.keyring);
        if let Some(identity) = config.identity.as_mut() {
            resolve(identity);
        }
        if let Some(link) = config.coordinator.as_mut() {
            for path in [&mut link.ca, &mut link.cert, &mut link.key]
                .into_iter()
                .flatten()
            {
                resolve(path);
            }
        }
        let ring = poshuk_keys::files::load(&config.keyring)?;
        Ok(Offline { config, ring })
    }

    fn identity(&self) -> anyhow::Result<Zeroizing<String>> {
        let path = self.config.identity.as_ref().context(
            "the offline config names no identity (`identity = ...`, made with `poshuk keys identity`)",
        )?;
        Ok(poshuk_keys::files::load_identity(path)?)
    }

    /// The secret of a request made of the list `input`: derived from this
    /// partner's identity, so that reading the reply needs no file besides
    /// the list, and no one without the identity (or the request) knows it.
    fn nonce(&self, input: &str) -> anyhow::Result<String> {
        use hmac::{KeyInit, Mac};
        let identity = self.identity()?;
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(identity.as_bytes())
            .map_err(|_| anyhow::anyhow!("the identity cannot key a MAC"))?;
        mac.update(b"poshuk offline request\0");
        mac.update(input.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// The token query of each case in `epoch`, `None` for a case that
    /// cannot identify anyone (the federation refuses it too).
    fn queries(
        &self,
        records: &[RawRecord],
        epoch: Epoch,
    ) -> anyhow::Result<Vec<Option<TokenQuery>>> {
        let tokenizer = Tokenizer::new(self.ring.hasher(epoch)?);
        Ok(records
            .iter()
            .map(|raw| {
                let years: Vec<u16> = BirthDate::parse_year_range(&raw.birth_date)
                    .map(|(first, last)| (first..=last).collect())
                    .unwrap_or_default();
                let record = poshuk_node::wire::record_from_wire(raw.clone());
                if !record.is_identifiable() {
                    return None;
                }
                let tokens = tokenizer.tokenize_query_years(&record, &years);
                let query = TokenQuery::from_record(epoch.0, &tokens, LIMIT);
                query.to_record().is_ok().then_some(query)
            })
            .collect())
    }

    /// The coordinator's client, signed as this partner.
    fn coordinator(&self) -> anyhow::Result<(tokio::runtime::Runtime, ApiClient)> {
        let link = self.config.coordinator.as_ref().context(
            "the offline config has no [coordinator]: give one, or seal the request to a partner with --sealed-to",
        )?;
        let identity = match (&link.cert, &link.key) {
            (Some(cert), Some(key)) => Some(poshuk_tls::ClientCertificate { cert, key }),
            _ => None,
        };
        if link.url.starts_with("https:") && (link.ca.is_none() || identity.is_none()) {
            bail!("coordinator.url is https: give coordinator.ca, cert and key");
        }
        let http = poshuk_tls::client_builder(
            link.ca.as_deref(),
            identity,
            Some(poshuk_protocol::signed::COORDINATOR_KEY_ID),
        )?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_millis(link.timeout_ms.max(1000)))
        .build()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let client = ApiClient::signed(http, &link.url, &self.config.partner_id, &link.token);
        Ok((runtime, client))
    }

    /// Searches the federation for each case through the coordinator, at
    /// most `concurrency` at once; `each` gets every answer.
    pub(crate) fn search_all(
        &self,
        records: &[RawRecord],
        concurrency: u16,
        mut each: impl FnMut(usize, &RawRecord, anyhow::Result<FederatedResponse>),
    ) -> anyhow::Result<()> {
        let (runtime, client) = self.coordinator()?;
        // The newest epoch of ours the federation still serves.
        let live = runtime
            .block_on(client.epochs())
            .map_err(|error| anyhow::anyhow!("the coordinator: {error}"))?
            .live;
        let epoch = self
            .ring
            .entries()
            .iter()
            .rev()
            .map(|entry| entry.epoch)
            .find(|epoch| live.contains(&epoch.0))
            .context(
                "the keyring has none of the epochs the federation serves: install the current key",
            )?;
        let queries = self.queries(records, epoch)?;
        let search = |query: &Option<TokenQuery>| -> Result<FederatedResponse, ClientError> {
            let Some(query) = query else {
                // Refused here as the federation would refuse it.
                return Err(ClientError::BadAnswer("query that identifies someone"));
            };
            let queries = EpochQueries {
                queries: vec![query.clone()],
            };
            runtime.block_on(client.federated_search(&queries, None))
        };
        crate::commands::pool::search_all(
            &queries,
            usize::from(concurrency),
            search,
            |error: &ClientError| matches!(error, ClientError::Refused { status: 429, .. }),
            |index, answer| {
                let answer = answer.map_err(|error| match (&queries[index], error) {
                    (None, _) => anyhow::anyhow!(
                        "the case has no name and no document with a date, place or patronymic: it cannot identify anyone"
                    ),
                    (Some(_), error) => anyhow::anyhow!("{error}"),
                });
                each(index, &records[index], answer);
            },
        );
        Ok(())
    }

    /// Writes the token queries of `records` sealed to `recipient` (a
    /// partner's `age1...` key) into `out`; `input` is the list file.
    pub(crate) fn seal_request(
        &self,
        records: &[RawRecord],
        input: &Path,
        recipient: &str,
        out: &Path,
    ) -> anyhow::Result<usize> {
        if records.len() > MAX_OFFLINE_QUERIES {
            bail!(
                "the list has {} cases; a sealed request carries at most {MAX_OFFLINE_QUERIES}: split it",
                records.len()
            );
        }
        let identity = self.identity()?;
        let reply_to = poshuk_keys::letters::public_key_of(&identity)?;
        let epoch = self.ring.current_epoch();
        let queries = self.queries(records, epoch)?;
        let thin = queries.iter().filter(|query| query.is_none()).count();
        // A case that identifies no one is sent as an empty query, which
        // finds nothing: the order of the cases is kept.
        let empty = TokenQuery::from_record(epoch.0, &poshuk_core::TokenRecord::default(), 1);
        let digest = digest_of(input)?;
        let request = OfflineRequest {
            from: self.config.partner_id.clone(),
            reply_to,
            nonce: self.nonce(&digest)?,
            input: digest,
            queries: queries
                .into_iter()
                .map(|query| query.unwrap_or_else(|| empty.clone()))
                .collect(),
        };
        let plain = Zeroizing::new(request.to_bytes());
        let sealed = poshuk_keys::letters::seal_bytes(recipient, &plain)?;
        if sealed.len() > MAX_REQUEST_BYTES {
            bail!(
                "the request would be {} MB; a node reads at most {} MB: split the list (long names carry many spelling variants)",
                sealed.len() / 1_000_000,
                MAX_REQUEST_BYTES / 1_000_000
            );
        }
        std::fs::write(out, sealed).with_context(|| format!("cannot write {}", out.display()))?;
        Ok(thin)
    }

    /// Opens a partner's sealed reply to a request made of `input`: per
    /// case, that partner's hits as a federated answer.
    pub(crate) fn read_reply(
        &self,
        reply: &Path,
        input: &Path,
        cases: usize,
    ) -> anyhow::Result<Vec<FederatedResponse>> {
        let sealed =
            std::fs::read(reply).with_context(|| format!("cannot read {}", reply.display()))?;
        let opened = poshuk_keys::letters::open_bytes(&self.identity()?, &sealed)?;
        let reply: OfflineReply =
            serde_json::from_slice(&opened).context("the opened reply is not an offline reply")?;
        let digest = digest_of(input)?;
        if reply.input != digest || reply.answers.len() != cases {
            bail!(
                "the reply answers a request made of another list (or another version of it): read it with the list the request was made of"
            );
        }
        // Anyone can seal a file to this partner's public key; only the
        // partner the request went to knows its secret.
        if reply.nonce != self.nonce(&digest)? {
            bail!(
                "the reply does not carry the secret of this partner's request: it was not made by the partner the request was sealed to"
            );
        }
        if reply.refused > 0 {
            eprintln!(
                "{} cases were not answered (they identify no one, or the partner's node refused them)",
                reply.refused
            );
        }
        Ok(reply
            .answers
            .into_iter()
            .map(|hits| {
                let status = PartnerStatus {
                    status: PartnerOutcome::Ok,
                    took_ms: 0,
                    hits: hits.len(),
                    error: None,
                };
                FederatedResponse {
                    hits: hits
                        .into_iter()
                        .map(|hit| FederatedHit {
                            partner: reply.from.clone(),
                            partner_name: reply.from.clone(),
                            handle: hit.handle,
                            score: hit.score.clamp(0.0, 1.0),
                            band: hit.band,
                            agreeing: hit.agreeing,
                            fields: hit.fields,
                            namesakes: hit.namesakes,
                            own: false,
                            record_id: None,
                        })
                        .collect(),
                    partners: [(reply.from.clone(), status)].into_iter().collect(),
                    partial: false,
                    took_ms: 0,
                    contacts: Default::default(),
                    advice: None,
                }
            })
            .collect())
    }
}

/// `poshuk overlap --answer REQUEST --node URL -o REPLY`: this partner's
/// node answers a sealed request of a partner without a node.
pub(crate) fn answer(node: &NodeAccess, request: &Path, out: &Path) -> anyhow::Result<()> {
    let sealed =
        std::fs::read(request).with_context(|| format!("cannot read {}", request.display()))?;
    let server = Server::node(node, LocalNeed::Admin, Duration::from_secs(600))?;
    let reply: Sealed = server.post_file(poshuk_protocol::routes::local::OFFLINE_ANSWER, sealed)?;
    let bytes = hex::decode(reply.sealed).context("the node's reply is not hex")?;
    std::fs::write(out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "answered: the reply, sealed to the asking partner, is in {} (only that partner can open it)",
        out.display()
    );
    Ok(())
}

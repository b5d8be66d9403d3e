//! The node's configuration file (TOML).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors reading the configuration, naming the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read node config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or a field is missing or of the wrong type.
    #[error("node config {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with the field (from the TOML parser).
        message: String,
    },
}

/// Listen addresses.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// The federation API (searched by the coordinator). Absent for an
    /// outbound node (`[coordinator] outbound = true`), which opens no port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<SocketAddr>,
    /// The local API for the partner's own staff and tools. Loopback by
    /// default: it accepts raw records.
    #[serde(default = "default_local")]
    pub local: SocketAddr,
    /// Serve the federation API over HTTPS with this certificate chain (PEM;
    /// `poshuk tls init` makes one signed by the federation's CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// The federation's CA, which must have signed the coordinator's client
    /// certificate (mutual TLS). Default: `[coordinator] ca`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
}

fn default_local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7402))
}

/// Limits that protect the node.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body, bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Requests handled at once; more are refused with 503.
    pub max_concurrent_requests: usize,
    /// Time a request may take, milliseconds.
    pub request_timeout_ms: u64,
    /// Candidates re-ranked per search at most.
    pub max_candidates: usize,
    /// Blocks (records sharing a blocking key) larger than this are not used
    /// for retrieval: the key is not selective.
    pub max_block_size: u32,
    /// Index writer memory budget, bytes.
    pub writer_memory_bytes: usize,
    /// Commit once this many ingested records are pending.
    pub commit_every_records: usize,
    /// Commit pending records at least this often, milliseconds.
    pub commit_interval_ms: u64,
    /// Threads the index writer uses: 2 ingests ~50% faster on two cores, at
    /// the cost of more memory while ingesting.
    pub indexing_threads: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            max_concurrent_requests: 256,
            request_timeout_ms: 30_000,
            max_candidates: 2_000,
            max_block_size: 2_000,
            writer_memory_bytes: 200 * 1024 * 1024,
            commit_every_records: 100_000,
            commit_interval_ms: 5_000,
            indexing_threads: 2,
        }
    }
}

/// Where the federation's coordinator is, for searches across the federation.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorLink {
    /// The coordinator's URL.
    pub url: String,
    /// This partner's bearer token at the coordinator.
    pub token: String,
    /// Time to wait for a federated answer, milliseconds.
    #[serde(default = "default_federated_timeout")]
    pub timeout_ms: u64,
    /// The federation's CA certificate (PEM), trusted alone for an https
    /// coordinator URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// The certificate this node presents to an https coordinator (mutual
    /// TLS; its name must be this partner's id). Default: `[listen] tls_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// Its private key. Default: `[listen] tls_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Answer the federation over a connection this node opens to the
    /// coordinator and keeps open, instead of (or besides) a listening
    /// federation API: for a node behind NAT, or one that must not be
    /// found by a scan. The coordinator's config marks the partner
    /// `outbound = true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outbound: bool,
    /// With `outbound`: the coordinator replicas to keep a connection to,
    /// each by its own address (a replica searches only the nodes connected
    /// to it). Default: `url` alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tunnel_urls: Vec<String>,
}

fn default_federated_timeout() -> u64 {
    5_000
}

/// The bearer token is a credential: never printed.
impl std::fmt::Debug for CoordinatorLink {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CoordinatorLink")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field("timeout_ms", &self.timeout_ms)
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("outbound", &self.outbound)
            .field("tunnel_urls", &self.tunnel_urls)
            .finish()
    }
}

/// The bearer token is a credential: never printed.
impl std::fmt::Debug for FederationAuth {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = self.token.as_ref().map(|_| "<redacted>");
        formatter
            .debug_struct("FederationAuth")
            .field("token", &token)
            .finish()
    }
}

impl CoordinatorLink {
    /// A link to the coordinator at `url` with this partner's token, the
    /// default timeout and no CA (plain HTTP).
    pub fn new(url: &str, token: &str) -> CoordinatorLink {
        CoordinatorLink {
            url: url.to_string(),
            token: token.to_string(),
            timeout_ms: default_federated_timeout(),
            ca: None,
            cert: None,
            key: None,
            outbound: false,
            tunnel_urls: Vec::new(),
        }
    }
}

/// The whole node configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This partner's id in the federation.
    pub partner_id: String,
    /// Where the index and the node's own secret live.
    pub data_dir: PathBuf,
    /// The federation keyring (mode 0600).
    pub keyring: PathBuf,
    /// The audit log (hash-chained JSON lines, rotated by size). Default:
    /// `audit.jsonl` in `data_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_log: Option<PathBuf>,
    /// The size beyond which the audit log is rotated (`audit.jsonl.1`,
    /// `.2`, ... keep the chain). Default 64 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_max_bytes: Option<u64>,
    /// Plain HTTP, to and from loopback addresses only: for a demo or a test
    /// on one machine. Otherwise the federation API and the link to the
    /// coordinator speak mutual TLS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plain_http_on_loopback: bool,
    /// Receiving new key epochs.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Listen addresses.
    pub listen: ListenConfig,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// The coordinator (absent: this node answers searches but does not search
    /// the federation itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<CoordinatorLink>,
    /// Who may call the federation API.
    #[serde(default)]
    pub federation: FederationAuth,
    /// The staff's web page on the local listener.
    #[serde(default)]
    pub web: WebConfig,
    /// Encryption at rest.
    #[serde(default, skip_serializing_if = "StorageConfig::is_plain")]
    pub storage: StorageConfig,
}

/// Encryption at rest (`[storage]`): for a partner whose machine may be
/// seized. The index, the node's database, the keyring and the identity are
/// kept encrypted under a key that is not in the data directory.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Keep the node's data encrypted. Chosen when the data directory is
    /// made: an unencrypted node is not converted.
    #[serde(default)]
    pub encrypted: bool,
    /// Where the storage key comes from: `prompt` (typed when the node
    /// starts), `file:PATH` (say on a removable drive) or `env:NAME` (an
    /// environment secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl StorageConfig {
    fn is_plain(&self) -> bool {
        !self.encrypted && self.key.is_none()
    }

    /// The key's source, when the node is encrypted.
    pub fn source(&self) -> Result<Option<crate::vault::KeySource>, String> {
        if !self.encrypted {
            return Ok(None);
        }
        let Some(key) = &self.key else {
            return Err("storage.encrypted is true, and storage.key is not set: say where the storage key comes from (`prompt`, `file:PATH` or `env:NAME`)".into());
        };
        crate::vault::KeySource::parse(key).map(Some)
    }
}

/// The staff's web page (served on the local listener, under `/ui/`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Whether the page is served.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// A single sign-on header set by the operator's proxy (say
    /// `X-Forwarded-User`). It is trusted only on requests that also carry
    /// the node's local credential (`Authorization: Bearer`, which the proxy
    /// holds), never alone, and names a staff account that must exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_header: Option<String>,
    /// A link to a case in the partner's own case system, with `{id}` for
    /// the case id (say `https://cases.example.org/case/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_link: Option<String>,
    /// A session ends after this many minutes without a request.
    #[serde(default = "default_idle_minutes")]
    pub session_idle_minutes: u32,
    /// A session ends this many hours after the login, used or not.
    #[serde(default = "default_session_hours")]
    pub session_max_hours: u32,
}

fn default_true() -> bool {
    true
}

fn default_idle_minutes() -> u32 {
    30
}

fn default_session_hours() -> u32 {
    10
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            enabled: true,
            sso_header: None,
            case_link: None,
            session_idle_minutes: default_idle_minutes(),
            session_max_hours: default_session_hours(),
        }
    }
}

/// How new key epochs reach this node.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// This partner's age identity, which opens sealed keys (mode 0600;
    /// `poshuk keys identity`). Default: `identity.age` in `data_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PathBuf>,
    /// The federation admin's public signing key
    /// (`poshuk-admin-ed25519:...`, printed by `poshuk keys admin-key`). A
    /// sealed key is installed only with the admin's signature; without this
    /// setting, none is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_key: Option<String>,
}

/// Authentication of the federation API.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FederationAuth {
    /// The bearer token the coordinator presents when it searches this node.
    /// Without one, the federation API answers nothing but the probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Whether answers to the federation name the fields that agreed
    /// (`given_name`, `birth_date`, ...). Off by default: a partner trying
    /// token sets one by one would learn each record's fields from them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub share_agreeing_fields: bool,
}

impl NodeConfig {
    /// A configuration with every optional part at its default: no
    /// coordinator, no federation token, the default limits.
    pub fn new(
        partner_id: &str,
        data_dir: impl Into<PathBuf>,
        keyring: impl Into<PathBuf>,
        federation: SocketAddr,
        local: SocketAddr,
    ) -> NodeConfig {
        NodeConfig {
            partner_id: partner_id.to_string(),
            data_dir: data_dir.into(),
            keyring: keyring.into(),
            audit_log: None,
            audit_max_bytes: None,
            plain_http_on_loopback: false,
            keys: KeysConfig::default(),
            storage: StorageConfig::default(),
            listen: ListenConfig {
                federation: Some(federation),
                local,
                tls_cert: None,
                tls_key: None,
                tls_ca: None,
            },
            limits: Limits::default(),
            coordinator: None,
            federation: FederationAuth::default(),
            web: WebConfig::default(),
        }
    }

    /// The configuration as a file's text (what [`NodeConfig::parse`] reads).
    pub fn to_toml(&self) -> String {
        // Every field is a string, number, path or table: always serializable.
        toml::to_string(self).expect("config types serialize to TOML (tested)")
    }

    /// Where this partner's age identity is.
    pub fn identity_path(&self) -> PathBuf {
        self.keys
            .identity
            .clone()
            .unwrap_or_else(|| self.data_dir.join("identity.age"))
    }

    /// Refuses tokens that are placeholders from the examples, short or not
    /// random: checked when a node starts from a file, so that the examples
    /// still parse as documentation.
    pub fn check_secrets(&self) -> Result<(), String> {
        use poshuk_protocol::bearer::check_bearer_token;
        if let Some(link) = &self.coordinator {
            check_bearer_token("coordinator.token", &link.token)?;
        }
        if let Some(token) = &self.federation.token {
            check_bearer_token("federation.token", token)?;
        }
        Ok(())
    }

    /// Reads and checks a configuration file. Relative paths in it are taken
    /// relative to the file's directory.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let config = NodeConfig::read(path)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        };
        if config.coordinator.is_some() || config.federation.token.is_some() {
            poshuk_protocol::bearer::check_private_file(path, "bearer tokens").map_err(invalid)?;
        }
        config.check_secrets().map_err(invalid)?;
        Ok(config)
    }

    /// Reads a configuration file, with relative paths taken relative to its
    /// directory, and checks only its form (`poshuk config check` runs the
    /// other checks one by one, to name every problem).
    pub fn read(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let mut config = NodeConfig::parse(&text).map_err(invalid)?;
        let base = path.parent().unwrap_or(Path::new("."));
        if config.data_dir.is_relative() {
            config.data_dir = base.join(&config.data_dir);
        }
        if config.keyring.is_relative() {
            config.keyring = base.join(&config.keyring);
        }
        if let Some(key) = config.storage.key.as_mut()
            && let Some(file) = key.strip_prefix("file:")
            && Path::new(file).is_relative()
        {
            *key = format!("file:{}", base.join(file).display());
        }
        // A key beside what it opens protects nothing.
        if let Ok(Some(crate::vault::KeySource::File(key))) = config.storage.source() {
            let absolute = |path: &Path| {
                std::fs::canonicalize(path).unwrap_or_else(|_| {
                    std::env::current_dir()
                        .map(|dir| dir.join(path))
                        .unwrap_or_else(|_| path.to_path_buf())
                })
            };
            let folder = absolute(key.parent().unwrap_or(Path::new(".")));
            if folder.starts_with(absolute(&config.data_dir)) {
                return Err(invalid(
                    "storage.key is a file in the data directory: a seized disk would hold the key beside what it opens; keep it on removable media".into(),
                ));
            }
        }
        for path in [
            &mut config.audit_log,
            &mut config.keys.identity,
            &mut config.listen.tls_cert,
            &mut config.listen.tls_key,
            &mut config.listen.tls_ca,
        ] {
            if let Some(relative) = path.as_ref().filter(|p| p.is_relative()) {
                *path = Some(base.join(relative));
            }
        }
        if let Some(link) = config.coordinator.as_mut() {
            for path in [&mut link.ca, &mut link.cert, &mut link.key] {
                if let Some(relative) = path.as_ref().filter(|p| p.is_relative()) {
                    *path = Some(base.join(relative));
                }
            }
        }
        Ok(config)
    }

    /// Where the audit log is.
    pub fn audit_log_path(&self) -> PathBuf {
        self.audit_log
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.jsonl"))
    }

    /// The CA that must have signed the coordinator's client certificate.
    pub fn federation_ca(&self) -> Option<&Path> {
        self.listen.tls_ca.as_deref().or_else(|| {
            self.coordinator
                .as_ref()
                .and_then(|link| link.ca.as_deref())
        })
    }

    /// The certificate and key this node presents to the coordinator.
    pub fn client_certificate(&self) -> Option<(&Path, &Path)> {
        let link = self.coordinator.as_ref();
        let cert = link
            .and_then(|link| link.cert.as_deref())
            .or(self.listen.tls_cert.as_deref())?;
        let key = link
            .and_then(|link| link.key.as_deref())
            .or(self.listen.tls_key.as_deref())?;
        Some((cert, key))
    }

    /// Checks how the node talks: the federation API over mutual TLS
    /// (certificate, key and the federation's CA) or plain HTTP on loopback
    /// when the config says so; the same toward the coordinator. Checked
    /// when the node starts serving.
    pub fn check_transport(&self) -> Result<(), String> {
        if self.listen.tls_cert.is_some() {
            if self.federation_ca().is_none() {
                return Err("listen.tls_cert is set, and neither listen.tls_ca nor coordinator.ca: name the federation's CA, which must have signed the coordinator's client certificate".into());
            }
        } else if let Some(federation) = self.listen.federation {
            poshuk_tls::check_plain_http(
                &format!("the federation API ({federation})"),
                federation.ip().is_loopback(),
                self.plain_http_on_loopback,
            )?;
        }
        if let Some(link) = &self.coordinator {
            for url in &link.tunnel_urls {
                if !url.trim_start().starts_with("https:") {
                    poshuk_tls::check_plain_http(
                        "coordinator.tunnel_urls",
                        poshuk_tls::url_is_loopback(url),
                        self.plain_http_on_loopback,
                    )?;
                }
            }
            if link.url.trim_start().starts_with("https:") {
                if self.client_certificate().is_none() {
                    return Err("coordinator.url is https: the node presents a client certificate (coordinator.cert and key, or listen.tls_cert and tls_key)".into());
                }
            } else {
                poshuk_tls::check_plain_http(
                    "coordinator.url",
                    poshuk_tls::url_is_loopback(&link.url),
                    self.plain_http_on_loopback,
                )?;
            }
        }
        Ok(())
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<NodeConfig, String> {
        let config: NodeConfig = toml::from_str(text).map_err(|error: toml::de::Error| {
            poshuk_protocol::bearer::config_error_at(text, error.message(), error.span())
        })?;
        if config.partner_id.trim().is_empty() {
            return Err("partner_id must not be empty".into());
        }
        if let Some(link) = &config.coordinator
            && link.url.trim_start().starts_with("https:")
            && link.ca.is_none()
        {
            return Err("coordinator.url is https, and coordinator.ca is not set: name the federation's CA (the system's roots would trust any public certificate)".into());
        }
        config.storage.source()?;
        let outbound = config
            .coordinator
            .as_ref()
            .is_some_and(|link| link.outbound);
        if config.listen.federation.is_none() && !outbound {
            return Err("listen.federation is not set, and [coordinator] outbound is not true: no coordinator could search this node (set one of them)".into());
        }
        if outbound && config.federation.token.is_none() {
            return Err("[coordinator] outbound is true, and [federation] token is not set: the coordinator's requests over the connection are signed with it".into());
        }
        if config.listen.tls_cert.is_some() != config.listen.tls_key.is_some() {
            return Err(
                "listen.tls_cert and listen.tls_key go together: give both or neither".into(),
            );
        }
        if config.limits.max_candidates == 0 || config.limits.max_concurrent_requests == 0 {
            return Err(
                "limits.max_candidates and limits.max_concurrent_requests must be positive".into(),
            );
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let config =
            NodeConfig::parse(include_str!("../../../config/node.example.toml")).expect("valid");
        assert_eq!(config.partner_id, "ngo-ua");
        assert!(config.listen.local.ip().is_loopback());
        let debug = format!("{config:?}");
        let token = config.coordinator.as_ref().map(|link| link.token.clone());
        assert!(
            !debug.contains(&token.expect("a coordinator token")),
            "{debug}"
        );
        // Written back, it reads the same: configs are made by serializing.
        let text = config.to_toml();
        let again = NodeConfig::parse(&text).expect("a written config parses");
        assert_eq!(again.to_toml(), text);
        assert_eq!(
            again.coordinator.map(|link| link.url),
            config.coordinator.map(|link| link.url)
        );
    }

    #[test]
    fn errors_name_the_field() {
        let missing = NodeConfig::parse("partner_id = \"a\"\ndata_dir = \"d\"\nkeyring = \"k\"\n")
            .unwrap_err();
        assert!(missing.contains("listen"), "{missing}");
        let wrong = NodeConfig::parse(
            "partner_id = \"a\"\ndata_dir = \"d\"\nkeyring = \"k\"\n[listen]\nfederation = \"not an address\"\n",
        )
        .unwrap_err();
        assert!(wrong.contains("federation"), "{wrong}");
        let unknown = NodeConfig::parse(
            "partner_id = \"a\"\ndata_dir = \"d\"\nkeyring = \"k\"\ncolour = 1\n[listen]\nfederation = \"127.0.0.1:1\"\n",
        )
        .unwrap_err();
        assert!(unknown.contains("colour"), "{unknown}");
    }
}

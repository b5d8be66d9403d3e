//! The coordinator's configuration: the partner registry and deadlines.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors reading the configuration, naming the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read coordinator config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("coordinator config {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// What a partner may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Search the federation.
    Search,
    /// Be searched (its node is part of the fan-out).
    BeSearched,
    /// Administer keys and the federation.
    Admin,
}

/// One partner of the federation.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The partner node's federation API. Empty for an outbound node.
    #[serde(default)]
    pub node_url: String,
    /// The partner's node opens no port: it connects out to the coordinator
    /// and keeps the connection open, and its searches go over it
    /// (`[coordinator] outbound = true` in its config). It has no
    /// `node_url`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outbound: bool,
    /// The partner is anonymous: its hits reach searchers as "a partner of
    /// the federation" under a pseudonym of one search, its name, contact
    /// and record count in no answer or listing; only this config (the
    /// coordinator's operator) says who it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// The bearer token the partner's node presents to the coordinator.
    pub token: String,
    /// The bearer token the coordinator presents to the partner's node (its
    /// `[federation] token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_token: Option<String>,
    /// What the partner may do.
    #[serde(default = "default_permissions")]
    pub permissions: Vec<Permission>,
    /// How other partners can ask this partner about a hit.
    #[serde(default)]
    pub contact: String,
    /// The partner's age public key (`poshuk keys identity`): other
    /// partners seal contact requests to it. Without it, no contact request
    /// can reach this partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// This partner's searches per minute, instead of `[limits]`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searches_per_minute: Option<u32>,
    /// This partner's searches per day (UTC), instead of `[limits]`'s: raise
    /// it for an agreed overlap run of a whole list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searches_per_day: Option<u32>,
}

fn default_permissions() -> Vec<Permission> {
    vec![Permission::Search, Permission::BeSearched]
}

/// Deadlines of the fan-out.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deadlines {
    /// Per node, milliseconds.
    pub per_node_ms: u64,
    /// For the whole search, milliseconds.
    pub overall_ms: u64,
    /// Connecting to a node, milliseconds.
    pub connect_ms: u64,
}

impl Default for Deadlines {
    fn default() -> Deadlines {
        Deadlines {
            per_node_ms: 2_000,
            overall_ms: 3_000,
            connect_ms: 500,
        }
    }
}

/// How much each partner may search: against one partner listing another's
/// cases by trying names, and against one partner's flood slowing the
/// others'. The day's counts are saved in the state directory each
/// second: a restart keeps them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchLimits {
    /// Searches per minute and partner (a burst of as many, refilled evenly).
    pub searches_per_minute: u32,
    /// Searches per UTC day and partner.
    pub searches_per_day: u32,
    /// Searches of one partner in flight at once; more are refused (429).
    pub concurrent_searches: u32,
    /// Share of the daily quota at which a partner's volume is reported
    /// (a warning in the log and the `poshuk_quota_alerts` metric).
    pub alert_share: f64,
    /// Hits one partner may receive from another per UTC day, as a share of
    /// the other's records; beyond it they are withheld (outcome
    /// `limited`). Bounds what any query trick can harvest in a day.
    pub hits_per_day_share: f64,
    /// The least number of such hits per day, for small lists.
    pub hits_per_day_min: u32,
}

impl Default for SearchLimits {
    fn default() -> SearchLimits {
        SearchLimits {
            searches_per_minute: 10,
            searches_per_day: 300,
            concurrent_searches: 4,
            alert_share: 0.8,
            hits_per_day_share: 0.005,
            hits_per_day_min: 5,
        }
    }
}

/// The whole coordinator configuration.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    /// Where the coordinator listens.
    pub listen: SocketAddr,
    /// The PostgreSQL database several coordinator replicas share
    /// (`postgres://user:password@host/dbname`); `POSHUK_DATABASE_URL`
    /// overrides it. Without one, the state stays in `state_dir` and one
    /// coordinator process serves the federation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// A plain-HTTP listener for probes (`/livez`, `/readyz`) on a loopback
    /// address: the main listener speaks mutual TLS only, which a container
    /// runtime's probe cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_listen: Option<SocketAddr>,
    /// Plain HTTP, to and from loopback addresses only: for a demo or a test
    /// on one machine. Otherwise the coordinator speaks mutual TLS ([tls]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plain_http_on_loopback: bool,
    /// The append-only audit log (JSON lines).
    pub audit_log: PathBuf,
    /// Deadlines.
    #[serde(default)]
    pub deadlines: Deadlines,
    /// Most hits returned per search.
    #[serde(default = "default_max_hits")]
    pub max_hits: usize,
    /// Rate limits and quotas per partner.
    #[serde(default)]
    pub limits: SearchLimits,
    /// The partners.
    #[serde(rename = "partner", default)]
    pub partners: Vec<PartnerConfig>,
    /// The bearer token of the federation's key admin (`poshuk keys status`,
    /// `retire`, uploading sealed keys). Without one, no key administration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    /// Where the coordinator keeps its state: retired epochs, suspended
    /// partners, sealed key files waiting to be fetched.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// How often each node's status (epochs served, re-key progress) is
    /// refreshed, milliseconds.
    #[serde(default = "default_status_interval")]
    pub status_interval_ms: u64,
    /// Mutual TLS: the coordinator's own certificate (also presented to the
    /// nodes), and the federation's CA, which must have signed every
    /// client's certificate and every node's.
    #[serde(default)]
    pub tls: TlsConfig,
}

/// TLS settings of the coordinator.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Serve HTTPS with this certificate chain (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// The federation's CA certificate (PEM): trusted alone, for node URLs
    /// and for the certificates partners present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("coordinator-state")
}

fn default_status_interval() -> u64 {
    1_000
}

fn default_max_hits() -> usize {
    100
}

/// Bearer tokens are credentials: never printed.
impl std::fmt::Debug for PartnerConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PartnerConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("node_url", &self.node_url)
            .field("outbound", &self.outbound)
            .field("anonymous", &self.anonymous)
            .field("token", &"<redacted>")
            .field(
                "node_token",
                &self.node_token.as_ref().map(|_| "<redacted>"),
            )
            .field("permissions", &self.permissions)
            .field("contact", &self.contact)
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// The admin token is a credential: never printed.
impl std::fmt::Debug for CoordinatorConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CoordinatorConfig")
            .field("listen", &self.listen)
            .field("health_listen", &self.health_listen)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("audit_log", &self.audit_log)
            .field("deadlines", &self.deadlines)
            .field("max_hits", &self.max_hits)
            .field("limits", &self.limits)
            .field("partners", &self.partners)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("state_dir", &self.state_dir)
            .field("status_interval_ms", &self.status_interval_ms)
            .field("tls", &self.tls)
            .finish()
    }
}

impl PartnerConfig {
    /// A partner that searches and is searched, without a node token or
    /// contact.
    pub fn new(id: &str, node_url: &str, token: &str) -> PartnerConfig {
        PartnerConfig {
            id: id.to_string(),
            name: id.to_string(),
            node_url: node_url.to_string(),
            outbound: false,
            anonymous: false,
            token: token.to_string(),
            node_token: None,
            permissions: default_permissions(),
            contact: String::new(),
            public_key: None,
            searches_per_minute: None,
            searches_per_day: None,
        }
    }
}

impl CoordinatorConfig {
    /// A coordinator of `partners` with every optional part at its default.
    pub fn new(
        listen: SocketAddr,
        audit_log: impl Into<PathBuf>,
        partners: Vec<PartnerConfig>,
    ) -> CoordinatorConfig {
        CoordinatorConfig {
            listen,
            database_url: None,
            health_listen: None,
            plain_http_on_loopback: false,
            audit_log: audit_log.into(),
            deadlines: Deadlines::default(),
            max_hits: default_max_hits(),
            limits: SearchLimits::default(),
            partners,
            admin_token: None,
            state_dir: default_state_dir(),
            status_interval_ms: default_status_interval(),
            tls: TlsConfig::default(),
        }
    }

    /// The configuration as a file's text (what [`CoordinatorConfig::parse`]
    /// reads).
    pub fn to_toml(&self) -> String {
        // Every field is a string, number, path, list or table.
        toml::to_string(self).expect("config types serialize to TOML (tested)")
    }

    /// Refuses tokens that are placeholders from the examples, short or
    /// not random: checked when a coordinator starts from a file, so that
    /// the examples still parse as documentation.
    pub fn check_secrets(&self) -> Result<(), String> {
        use poshuk_protocol::bearer::check_bearer_token;
        // Every weak token named at once, not the first only.
        let mut problems = Vec::new();
        for partner in &self.partners {
            let what = format!("partner `{}`: token", partner.id);
            problems.extend(check_bearer_token(&what, &partner.token).err());
            if let Some(node_token) = &partner.node_token {
                let what = format!("partner `{}`: node_token", partner.id);
                problems.extend(check_bearer_token(&what, node_token).err());
            }
        }
        if let Some(admin) = &self.admin_token {
            problems.extend(check_bearer_token("admin_token", admin).err());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Checks how the coordinator talks: mutual TLS (certificate, key and
    /// the federation's CA), or plain HTTP on loopback when the config says
    /// so; the same for every node URL. Checked when it starts serving.
    pub fn check_transport(&self) -> Result<(), String> {
        match (&self.tls.cert, &self.tls.ca) {
            (Some(_), Some(_)) => {}
            (Some(_), None) => {
                return Err("[tls] needs ca as well as cert and key: the federation's CA, which must have signed each partner's client certificate".into());
            }
            (None, _) => poshuk_tls::check_plain_http(
                &format!("the coordinator's listener ({})", self.listen),
                self.listen.ip().is_loopback(),
                self.plain_http_on_loopback,
            )?,
        }
        // A partner with no node (it takes part with `overlap --offline`)
        // has no URL to check.
        for partner in self
            .partners
            .iter()
            .filter(|partner| !partner.outbound && !partner.node_url.is_empty())
        {
            if partner.node_url.starts_with("http:") {
                poshuk_tls::check_plain_http(
                    &format!("partner `{}`: node_url", partner.id),
                    poshuk_tls::url_is_loopback(&partner.node_url),
                    self.plain_http_on_loopback,
                )?;
            } else if self.tls.cert.is_none() {
                return Err(format!(
                    "partner `{}`: node_url is https, and [tls] cert and key are not set: the coordinator presents its certificate to the nodes (mutual TLS)",
                    partner.id
                ));
            }
        }
        Ok(())
    }

    /// Reads and checks a configuration file; relative paths are taken
    /// relative to its directory.
    pub fn load(path: &Path) -> Result<CoordinatorConfig, ConfigError> {
        let config = CoordinatorConfig::read(path)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        };
        poshuk_protocol::bearer::check_private_file(path, "bearer tokens").map_err(invalid)?;
        config.check_secrets().map_err(invalid)?;
        Ok(config)
    }

    /// Reads a configuration file, with relative paths taken relative to its
    /// directory, and checks only its form (`poshuk config check` runs the
    /// other checks one by one, to name every problem).
    pub fn read(path: &Path) -> Result<CoordinatorConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let mut config = CoordinatorConfig::parse(&text).map_err(invalid)?;
        let base = path.parent().unwrap_or(Path::new("."));
        if config.audit_log.is_relative() {
            config.audit_log = base.join(&config.audit_log);
        }
        if config.state_dir.is_relative() {
            config.state_dir = base.join(&config.state_dir);
        }
        for path in [
            &mut config.tls.cert,
            &mut config.tls.key,
            &mut config.tls.ca,
        ] {
            if let Some(relative) = path.as_ref().filter(|p| p.is_relative()) {
                *path = Some(base.join(relative));
            }
        }
        Ok(config)
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<CoordinatorConfig, String> {
        let config: CoordinatorConfig =
            toml::from_str(text).map_err(|error: toml::de::Error| {
                poshuk_protocol::bearer::config_error_at(text, error.message(), error.span())
            })?;
        if config.partners.is_empty() {
            return Err("no [[partner]] is configured".into());
        }
        let mut ids = HashSet::new();
        let mut tokens = HashSet::new();
        if let Some(health) = config.health_listen
            && !health.ip().is_loopback()
        {
            return Err(format!(
                "health_listen {health} is not a loopback address: the probes' listener is plain HTTP and answers anyone who reaches it"
            ));
        }
        for partner in &config.partners {
            if partner.id.trim().is_empty() {
                return Err("a partner has an empty id".into());
            }
            if !partner
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            {
                return Err(format!(
                    "partner id `{}` may hold only letters, digits, `.`, `_` and `-`",
                    partner.id
                ));
            }
            if [
                poshuk_protocol::signed::ADMIN_KEY_ID,
                poshuk_protocol::signed::COORDINATOR_KEY_ID,
            ]
            .contains(&partner.id.as_str())
            {
                return Err(format!(
                    "partner id `{}` is reserved (it names the admin or the coordinator in signed requests)",
                    partner.id
                ));
            }
            if !ids.insert(partner.id.as_str()) {
                return Err(format!("duplicate partner id `{}`", partner.id));
            }
            // An age X25519 public key: `age1` and 58 Bech32 characters. A
            // secret identity pasted here is named as such (not repeated).
            if let Some(key) = &partner.public_key {
                if key
                    .trim()
                    .to_ascii_uppercase()
                    .starts_with("AGE-SECRET-KEY-")
                {
                    return Err(format!(
                        "partner `{}`: public_key is a SECRET identity (AGE-SECRET-KEY-...): give `poshuk keys identity`'s output, and treat that secret as leaked",
                        partner.id
                    ));
                }
                let bech32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
                let well_formed = key.len() == 62
                    && key.starts_with("age1")
                    && key[4..].chars().all(|c| bech32.contains(c));
                if !well_formed {
                    return Err(format!(
                        "partner `{}`: public_key is not an age public key (age1 and 58 more characters, as `poshuk keys identity` prints)",
                        partner.id
                    ));
                }
            }
            if partner.outbound {
                if !partner.node_url.is_empty() {
                    return Err(format!(
                        "partner `{}`: an outbound node (outbound = true) connects to the coordinator and has no node_url",
                        partner.id
                    ));
                }
                if partner.node_token.is_none() {
                    return Err(format!(
                        "partner `{}`: an outbound node needs node_token (its [federation] token): the requests sent over its connection are signed with it",
                        partner.id
                    ));
                }
            }
            let searched = partner.permissions.contains(&Permission::BeSearched);
            if !partner.outbound && partner.node_url.is_empty() && searched {
                return Err(format!(
                    "partner `{}`: no node_url, and the partner may be searched: give its node's URL, mark it `outbound = true`, or leave `be_searched` out of its permissions (a partner without a node)",
                    partner.id
                ));
            }
            if !partner.outbound && !partner.node_url.is_empty() {
                let url = reqwest::Url::parse(&partner.node_url).map_err(|error| {
                    format!(
                        "partner `{}`: node_url `{}` is not a URL ({error})",
                        partner.id, partner.node_url
                    )
                })?;
                if url.scheme() == "https" && config.tls.ca.is_none() {
                    return Err(format!(
                        "partner `{}`: node_url is https, and [tls] ca is not set: name the federation's CA (the system's roots would trust any public certificate)",
                        partner.id
                    ));
                }
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(format!(
                        "partner `{}`: node_url `{}` must be an http(s) URL with a host",
                        partner.id, partner.node_url
                    ));
                }
            }
            // Every secret differs from every other: a MAC does not say
            // which server it was made for, so a partner holding a token
            // that is also another's node token or the admin's could sign
            // as them.
            if !tokens.insert(partner.token.as_str()) {
                return Err(format!(
                    "partner `{}`: token is the same as another token of this config (each partner token, node token and the admin token must differ)",
                    partner.id
                ));
            }
            if let Some(node_token) = &partner.node_token
                && !tokens.insert(node_token.as_str())
            {
                return Err(format!(
                    "partner `{}`: node_token is the same as another token of this config (each partner token, node token and the admin token must differ)",
                    partner.id
                ));
            }
        }
        if let Some(admin) = &config.admin_token
            && tokens.contains(admin.as_str())
        {
            return Err("admin_token is the same as a partner's token or node_token".into());
        }
        if config.tls.cert.is_some() != config.tls.key.is_some() {
            return Err("tls.cert and tls.key go together: give both or neither".into());
        }
        if config.deadlines.per_node_ms == 0
            || config.deadlines.overall_ms < config.deadlines.per_node_ms
        {
            return Err(
                "deadlines: per_node_ms must be positive and overall_ms at least per_node_ms"
                    .into(),
            );
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "listen = \"127.0.0.1:7400\"\naudit_log = \"audit.jsonl\"\n";

    fn partner(id: &str, url: &str, token: &str) -> String {
        format!(
            "[[partner]]\nid = \"{id}\"\nname = \"{id}\"\nnode_url = \"{url}\"\ntoken = \"{token}\"\n"
        )
    }

    #[test]
    fn example_config_parses() {
        let config =
            CoordinatorConfig::parse(include_str!("../../../config/coordinator.example.toml"))
                .expect("valid");
        assert_eq!(config.partners.len(), 3);
        let debug = format!("{config:?}");
        for partner in &config.partners {
            assert!(
                !debug.contains(&partner.token),
                "tokens never print: {debug}"
            );
        }
        let text = config.to_toml();
        let again = CoordinatorConfig::parse(&text).expect("a written config parses");
        assert_eq!(again.to_toml(), text);
        assert_eq!(again.partners.len(), 3);
        assert_eq!(
            again.partners[1].permissions,
            config.partners[1].permissions
        );
    }

    #[test]
    fn public_keys_must_be_age_public_keys() {
        let with_key = |key: &str| {
            format!(
                "{BASE}[[partner]]\nid = \"ngo\"\nname = \"N\"\nnode_url = \"http://127.0.0.1:1\"\ntoken = \"{}\"\npublic_key = \"{key}\"\n",
                "t".repeat(40)
            )
        };
        let good = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        assert!(CoordinatorConfig::parse(&with_key(good)).is_ok());
        for bad in ["age1short", "AGE-SECRET-KEY-1QQQQ", "ssh-ed25519 AAAA"] {
            let message = CoordinatorConfig::parse(&with_key(bad))
                .expect_err("refused")
                .to_string();
            assert!(message.contains("public_key"), "{message}");
            assert!(!message.contains(bad), "the value is repeated: {message}");
        }
    }

    #[test]
    fn duplicate_ids_and_bad_urls_are_named() {
        let duplicate = format!(
            "{BASE}{}{}",
            partner("ngo", "http://127.0.0.1:1", "aaaaaaaaaaaaaaaa1"),
            partner("ngo", "http://127.0.0.1:2", "aaaaaaaaaaaaaaaa2")
        );
        assert!(
            CoordinatorConfig::parse(&duplicate)
                .unwrap_err()
                .contains("duplicate partner id `ngo`")
        );
        let bad = format!(
            "{BASE}{}",
            partner("intl", "127.0.0.1:7401", "aaaaaaaaaaaaaaaa1")
        );
        let message = CoordinatorConfig::parse(&bad).unwrap_err();
        assert!(
            message.contains("`intl`") && message.contains("node_url"),
            "{message}"
        );
    }

    #[test]
    fn no_two_secrets_of_a_config_are_the_same() {
        // A node token that is another partner's token: that partner could
        // sign as the coordinator toward this node, or the other way round.
        let crossed = format!(
            "{BASE}{}node_token = \"aaaaaaaaaaaaaaaa2\"\n{}",
            partner("ngo", "http://127.0.0.1:1", "aaaaaaaaaaaaaaaa1"),
            partner("intl", "http://127.0.0.1:2", "aaaaaaaaaaaaaaaa2")
        );
        let message = CoordinatorConfig::parse(&crossed).unwrap_err();
        assert!(message.contains("must differ"), "{message}");
        let admin = format!(
            "{BASE}admin_token = \"aaaaaaaaaaaaaaaa3\"\n{}node_token = \"aaaaaaaaaaaaaaaa3\"\n",
            partner("ngo", "http://127.0.0.1:1", "aaaaaaaaaaaaaaaa1"),
        );
        let message = CoordinatorConfig::parse(&admin).unwrap_err();
        assert!(message.contains("admin_token"), "{message}");
    }
}

//! TLS between the federation's parties: the node's federation API and the
//! coordinator serve HTTPS; the coordinator and the nodes trust the
//! federation's own certificate authority.
//!
//! The federation runs its own small CA (`poshuk tls init`): the operator
//! signs a certificate for the coordinator and for each node, and every party
//! trusts that CA alone for federation traffic, so a certificate bought from a
//! public CA for a look-alike name does not pass. TLS is opt-in per listener
//! (plain HTTP stays for loopback-only demos and tests).

mod guarded;
mod signed_requests;
pub mod tunnel;
pub use guarded::{
    GuardedIo, GuardedListener, IDLE_TIMEOUT, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_PEER,
};
pub use signed_requests::{SignedBody, is_body_mismatch, verify_signed_request};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Errors loading or creating TLS material. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// A certificate file holds no certificate.
    #[error("{0} holds no PEM certificate")]
    NoCertificate(String),
    /// A key file holds no private key.
    #[error("{0} holds no PEM private key")]
    NoKey(String),
    /// A private key file that group or others may read.
    #[error("{path} is a private key that others may read (mode {mode:o}): `chmod 600 {path}`")]
    KeyReadableByOthers {
        /// The key file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The certificate and key do not make a TLS configuration.
    #[error("TLS configuration from {cert} and {key}: {reason}")]
    Config {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// Why.
        reason: String,
    },
    /// Generating certificates failed.
    #[error("generating certificates: {0}")]
    Generate(String),
    /// Writing generated files failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: io::Error,
    },
}

/// Makes aws-lc-rs the process's TLS crypto provider (idempotent). Call once at
/// start, before any TLS client or server is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Refuses a private key file that group or others may read.
fn check_key_file(key: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(key)
        .map_err(|source| TlsError::Read {
            path: key.display().to_string(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(TlsError::KeyReadableByOthers {
            path: key.display().to_string(),
            mode,
        });
    }
    Ok(())
}

fn certificates_in(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(path)?)
        .filter_map(Result::ok)
        .collect();
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate(path.display().to_string()));
    }
    Ok(certificates)
}

/// The server side of mutual TLS: a certificate chain and its private key
/// (PEM files), and the federation's CA, which must have signed every
/// client's certificate: a host holding a stolen token but no certificate
/// of the federation does not get past the handshake.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    install_crypto_provider();
    let certificates = certificates_in(cert)?;
    check_key_file(key)?;
    let private_key = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|_| TlsError::NoKey(key.display().to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for authority in certificates_in(client_ca)? {
        roots.add(authority).map_err(|error| TlsError::Config {
            cert: client_ca.display().to_string(),
            key: key.display().to_string(),
            reason: error.to_string(),
        })?;
    }
    let failed = |reason: String| TlsError::Config {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        reason,
    };
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|error| failed(error.to_string()))?;
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certificates, private_key)
        .map_err(|error| failed(error.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A party's certificate and key as a client identity (mutual TLS).
pub fn client_identity(cert: &Path, key: &Path) -> Result<reqwest::Identity, TlsError> {
    install_crypto_provider();
    check_key_file(key)?;
    let mut pem = read(key)?;
    pem.push(b'\n');
    pem.extend_from_slice(&read(cert)?);
    reqwest::Identity::from_pem(&pem).map_err(|error| TlsError::Config {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        reason: error.to_string(),
    })
}

/// The federation party a certificate names (its one common name, as
/// `poshuk tls init` writes it: a partner id, `coordinator` or `admin`). A
/// certificate with no common name or several names no party: tools
/// disagree on which of several is meant.
pub fn party_of(certificate: &[u8]) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).ok()?;
    let mut names = parsed.subject().iter_common_name();
    let name = names.next()?.as_str().ok()?;
    if names.next().is_some() {
        return None;
    }
    Some(name.to_string())
}

/// Who is at the other end of a connection: over mutual TLS, the party its
/// client certificate names; over plain HTTP (loopback only), nobody known.
/// Handlers read it as `ConnectInfo<PeerParty>` and require the
/// certificate's party to be the one that signed the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerParty {
    tls: bool,
    name: Option<String>,
}

impl PeerParty {
    /// The party of the connection a request came on (served with
    /// `into_make_service_with_connect_info::<PeerParty>`); nobody known
    /// when the router was served without it (in-process tests).
    pub fn of(request: &axum::extract::Request) -> PeerParty {
        request
            .extensions()
            .get::<axum::extract::ConnectInfo<PeerParty>>()
            .map(|info| info.0.clone())
            .unwrap_or_default()
    }

    /// Whether `signer` may sign requests on this connection: on plain HTTP
    /// anyone (the signature alone decides), over TLS only the party its
    /// certificate names.
    pub fn may_sign_as(&self, signer: &str) -> bool {
        !self.tls || self.name.as_deref() == Some(signer)
    }

    /// The party at the other end of a mutual-TLS connection that named
    /// `name` (a tunnel opened over one: [`tunnel`]).
    pub fn over_tls(name: &str) -> PeerParty {
        PeerParty {
            tls: true,
            name: Some(name.to_string()),
        }
    }

    /// Nobody known: a plain-HTTP connection (loopback only).
    pub fn plain() -> PeerParty {
        PeerParty::default()
    }

    /// The certificate's party, when the connection has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, GuardedListener<TlsListener>>,
    > for PeerParty
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, GuardedListener<TlsListener>>) -> Self {
        let (_, connection) = stream.io().get_ref().get_ref();
        PeerParty {
            tls: true,
            name: connection
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| party_of(leaf)),
        }
    }
}

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, GuardedListener<TcpListener>>,
    > for PeerParty
{
    fn connect_info(_: axum::serve::IncomingStream<'_, GuardedListener<TcpListener>>) -> Self {
        PeerParty::default()
    }
}

/// The federation CA's certificates (PEM bundle), for an HTTP client that
/// should trust them alone.
pub fn trusted_certificates(ca: &Path) -> Result<Vec<reqwest::Certificate>, TlsError> {
    install_crypto_provider();
    let bundle = read(ca)?;
    let certificates = reqwest::Certificate::from_pem_bundle(&bundle)
        .map_err(|_| TlsError::NoCertificate(ca.display().to_string()))?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate(ca.display().to_string()));
    }
    Ok(certificates)
}

/// Handshakes in progress at most, per listener.
const MAX_HANDSHAKES: usize = 512;
/// Handshakes in progress at most from one IP address: one host opening
/// silent connections must not take every handshake place (the connection
/// cap per address applies only once a handshake is done).
const MAX_HANDSHAKES_PER_PEER: usize = 16;
/// How long a handshake may take: the federation's parties finish theirs
/// in milliseconds; a silent client is dropped before a search's deadline.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// A party's certificate and key files, presented as a TLS client.
#[derive(Debug, Clone, Copy)]
pub struct ClientCertificate<'a> {
    /// The certificate (PEM), signed by the federation's CA.
    pub cert: &'a Path,
    /// Its private key (PEM, mode 0600).
    pub key: &'a Path,
}

/// An HTTP client builder that trusts the federation's CA alone, or, with
/// none, no certificate at all: plain HTTP then works on a host without a
/// system CA store, and https is refused rather than checked against public
/// roots. With `identity`, it presents that certificate (mutual TLS). With
/// `server_party`, the server's certificate must also name that party (a
/// partner id, `coordinator`): a certificate of the federation for the
/// right address but another party's is refused, so one partner cannot
/// stand in for another's node.
pub fn client_builder(
    ca: Option<&Path>,
    identity: Option<ClientCertificate<'_>>,
    server_party: Option<&str>,
) -> Result<reqwest::ClientBuilder, TlsError> {
    if let (Some(ca), Some(party)) = (ca, server_party) {
        let config = party_client_config(ca, identity, party)?;
        return Ok(reqwest::Client::builder().tls_backend_preconfigured(config));
    }
    let trusted = match ca {
        Some(ca) => trusted_certificates(ca)?,
        None => Vec::new(),
    };
    let builder = reqwest::Client::builder().tls_certs_only(trusted);
    Ok(match identity {
        Some(identity) => builder.identity(client_identity(identity.cert, identity.key)?),
        None => builder,
    })
}

/// A rustls client configuration: the federation's CA alone, the server's
/// certificate naming `party`, and this party's own certificate if given.
pub fn party_client_config(
    ca: &Path,
    identity: Option<ClientCertificate<'_>>,
    party: &str,
) -> Result<rustls::ClientConfig, TlsError> {
    install_crypto_provider();
    let failed = |reason: String| TlsError::Config {
        cert: ca.display().to_string(),
        key: identity
            .map(|identity| identity.key.display().to_string())
            .unwrap_or_default(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for authority in certificates_in(ca)? {
        roots
            .add(authority)
            .map_err(|error| failed(error.to_string()))?;
    }
    let inner = rustls::client::WebPkiServerVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|error| failed(error.to_string()))?;
    let verifier = Arc::new(PartyVerifier {
        inner,
        party: party.to_string(),
    });
    let builder = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        Some(identity) => {
            let certificates = certificates_in(identity.cert)?;
            check_key_file(identity.key)?;
            let key = PrivateKeyDer::from_pem_slice(&read(identity.key)?)
                .map_err(|_| TlsError::NoKey(identity.key.display().to_string()))?;
            builder
                .with_client_auth_cert(certificates, key)
                .map_err(|error| failed(error.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The federation CA's checks (chain, validity, host name), and then the
/// certificate's party.
#[derive(Debug)]
struct PartyVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    party: String,
}

impl rustls::client::danger::ServerCertVerifier for PartyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        match party_of(end_entity) {
            Some(party) if party == self.party => Ok(verified),
            found => Err(rustls::Error::General(format!(
                "the server's certificate is {}'s, not {}'s",
                found.as_deref().unwrap_or("no party"),
                self.party
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The blocking twin of [`client_builder`], for the command line.
pub fn blocking_client_builder(
    ca: Option<&Path>,
) -> Result<reqwest::blocking::ClientBuilder, TlsError> {
    let trusted = match ca {
        Some(ca) => trusted_certificates(ca)?,
        None => Vec::new(),
    };
    Ok(reqwest::blocking::Client::builder().tls_certs_only(trusted))
}

/// A listener that hands axum TLS streams. Handshakes run in their own
/// tasks (with a deadline), so a slow or silent client holds up no one.
pub struct TlsListener {
    connections: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Wraps a bound TCP listener.
    pub fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (sender, connections) = mpsc::channel(256);
        // At most this many handshakes at once: a flood of silent
        // connections waits here instead of piling up tasks and sockets.
        let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        let per_peer: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>> =
            Arc::default();
        let accepting = tokio::spawn(async move {
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else {
                    return;
                };
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, say: back off as axum does.
                        tracing::warn!(error = %error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let admitted = per_peer.lock().is_ok_and(|mut peers| {
                    let held = peers.entry(peer.ip()).or_insert(0);
                    *held += 1;
                    *held <= MAX_HANDSHAKES_PER_PEER
                });
                let release = {
                    let per_peer = per_peer.clone();
                    move || {
                        if let Ok(mut peers) = per_peer.lock()
                            && let Some(held) = peers.get_mut(&peer.ip())
                        {
                            *held = held.saturating_sub(1);
                            if *held == 0 {
                                peers.remove(&peer.ip());
                            }
                        }
                    }
                };
                if !admitted {
                    tracing::debug!(peer = %peer, "too many handshakes from one address: closed");
                    release();
                    continue;
                }
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    release();
                    match handshake {
                        Ok(Ok(tls)) => {
                            let _ = sender
                                .send_timeout((tls, peer), Duration::from_secs(10))
                                .await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(peer = %peer, error = %error, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            connections,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            None => {
                // The accepting task ended (it does not on its own): say so
                // loudly rather than sit on a port that accepts nothing.
                tracing::error!(address = %self.local, "the TLS listener stopped accepting");
                std::future::pending().await
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Whether a URL's host is a loopback address (`127.0.0.1`, `::1`,
/// `localhost`): the only place plain HTTP is allowed, and only when a
/// config says so.
pub fn url_is_loopback(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Checks that plain HTTP (`what`, on or toward a loopback address or not)
/// is allowed: on loopback only, and only when the config says
/// `plain_http_on_loopback = true` (a demo or a test on one machine).
pub fn check_plain_http(what: &str, on_loopback: bool, allowed: bool) -> Result<(), String> {
    if !on_loopback {
        return Err(format!(
            "{what} is plain HTTP beyond loopback: serve the federation over mutual TLS (`poshuk tls init`; see [tls] in the example configs)"
        ));
    }
    if !allowed {
        return Err(format!(
            "{what} is plain HTTP: use mutual TLS (`poshuk tls init`), or, for a demo or test on one machine, set plain_http_on_loopback = true"
        ));
    }
    Ok(())
}

/// Files written by [`generate`].
#[derive(Debug)]
pub struct Generated {
    /// The CA certificate every party trusts.
    pub ca_certificate: PathBuf,
    /// Per party: (name, certificate, key).
    pub parties: Vec<(String, PathBuf, PathBuf)>,
}

/// Creates a federation CA in `dir` (`ca.pem`, `ca.key`) and, signed by it, a
/// certificate and key for each party (`NAME.pem`, `NAME.key`) valid for the
/// given host names or IP addresses. Keys are written mode 0600.
pub fn generate(dir: &Path, parties: &[(String, Vec<String>)]) -> Result<Generated, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, date_time_ymd,
    };
    let failed = |error: rcgen::Error| TlsError::Generate(error.to_string());
    let mut names = std::collections::HashSet::new();
    for (name, _) in parties {
        if name == "ca" || !names.insert(name.as_str()) {
            return Err(TlsError::Generate(format!(
                "party name `{name}` is taken (by the CA or another party)"
            )));
        }
    }
    let year = 1970
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0)
            / 31_556_952) as i32;
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    for file in std::iter::once("ca".to_string())
        .chain(parties.iter().map(|(name, _)| name.clone()))
        .flat_map(|name| [format!("{name}.pem"), format!("{name}.key")])
    {
        if dir.join(&file).exists() {
            return Err(TlsError::Generate(format!(
                "{} exists already: use a new directory (existing certificates stay valid)",
                dir.join(file).display()
            )));
        }
    }
    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    // The CA signs party certificates only, for ten years.
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.not_after = date_time_ymd(year + 10, 1, 1);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "poshuk federation CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_certificate = ca_params.self_signed(&ca_key).map_err(failed)?;
    let ca_path = dir.join("ca.pem");
    write(&ca_path, ca_certificate.pem().as_bytes(), false)?;
    write(&dir.join("ca.key"), ca_key.serialize_pem().as_bytes(), true)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let mut written = Vec::new();
    for (name, hosts) in parties {
        let key = KeyPair::generate().map_err(failed)?;
        let mut params = CertificateParams::new(hosts.clone()).map_err(failed)?;
        params
            .distinguished_name
            .push(DnType::CommonName, name.as_str());
        // Each party is a server (the coordinator, a node) and a client
        // (mutual TLS: the certificate's name is the party's id), for
        // three years.
        params.not_after = date_time_ymd(year + 3, 1, 1);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let certificate = params.signed_by(&key, &issuer).map_err(failed)?;
        let (cert_path, key_path) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        write(&cert_path, certificate.pem().as_bytes(), false)?;
        write(&key_path, key.serialize_pem().as_bytes(), true)?;
        written.push((name.clone(), cert_path, key_path));
    }
    Ok(Generated {
        ca_certificate: ca_path,
        parties: written,
    })
}

fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // Never over an existing file: a second `tls init` in the same
    // directory would replace the CA that every party already trusts.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    if secret {
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|source| TlsError::Write {
            path: path.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_make_server_and_client_configs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let generated = generate(
            dir.path(),
            &[(
                "node-a".to_string(),
                vec!["127.0.0.1".to_string(), "localhost".to_string()],
            )],
        )
        .expect("generates");
        let (_, cert, key) = &generated.parties[0];
        server_config(cert, key, &generated.ca_certificate).expect("server config");
        let leaf = certificates_in(cert).expect("certificate");
        assert_eq!(party_of(&leaf[0]).as_deref(), Some("node-a"));
        client_identity(cert, key).expect("client identity");
        assert_eq!(
            trusted_certificates(&generated.ca_certificate)
                .expect("ca")
                .len(),
            1
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A key others may read is refused.
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        assert!(matches!(
            server_config(cert, key, &generated.ca_certificate),
            Err(TlsError::KeyReadableByOthers { .. })
        ));
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        // A private file that holds no key.
        let not_a_key = dir.path().join("not-a-key.pem");
        std::fs::copy(cert, &not_a_key).expect("copy");
        std::fs::set_permissions(&not_a_key, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        assert!(matches!(
            server_config(
                &generated.ca_certificate,
                &not_a_key,
                &generated.ca_certificate
            ),
            Err(TlsError::NoKey(_))
        ));
    }

    #[tokio::test]
    async fn mutual_tls_names_both_ends_and_refuses_another_party() {
        let dir = tempfile::tempdir().expect("tempdir");
        let loopback = vec!["127.0.0.1".to_string()];
        let generated = generate(
            dir.path(),
            &[
                ("node-a".to_string(), loopback.clone()),
                ("node-b".to_string(), loopback),
                ("coordinator".to_string(), Vec::new()),
            ],
        )
        .expect("generates");
        let ca = generated.ca_certificate.clone();
        let files = |name: &str| {
            (
                dir.path().join(format!("{name}.pem")),
                dir.path().join(format!("{name}.key")),
            )
        };
        let (cert, key) = files("node-a");
        let config = server_config(&cert, &key, &ca).expect("server config");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(
                |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<PeerParty>| async move {
                    peer.name().unwrap_or("nobody").to_string()
                },
            ),
        );
        let served = GuardedListener::new(TlsListener::new(listener, config).expect("listener"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                served,
                app.into_make_service_with_connect_info::<PeerParty>(),
            )
            .await;
        });
        let (cert, key) = files("coordinator");
        let client = |expected: &str| {
            client_builder(
                Some(&ca),
                Some(ClientCertificate {
                    cert: &cert,
                    key: &key,
                }),
                Some(expected),
            )
            .expect("builder")
            .build()
            .expect("client")
        };
        let url = format!("https://127.0.0.1:{}/", address.port());
        // The right party at both ends: the server sees the client's party.
        let answer = client("node-a").get(&url).send().await.expect("answered");
        assert_eq!(answer.text().await.expect("text"), "coordinator");
        // A client expecting node-b refuses node-a's certificate, although
        // the federation's CA signed it for this address.
        assert!(client("node-b").get(&url).send().await.is_err());
        // A client without a certificate does not get through the handshake.
        let anonymous = client_builder(Some(&ca), None, Some("node-a"))
            .expect("builder")
            .build()
            .expect("client");
        assert!(anonymous.get(&url).send().await.is_err());
        server.abort();
    }

    #[tokio::test]
    async fn silent_handshakes_from_one_address_are_capped_and_cut() {
        use tokio::io::AsyncReadExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let generated = generate(
            dir.path(),
            &[("node-a".to_string(), vec!["127.0.0.1".to_string()])],
        )
        .expect("generates");
        let (_, cert, key) = &generated.parties[0];
        let config = server_config(cert, key, &generated.ca_certificate).expect("config");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let mut tls = TlsListener::new(listener, config).expect("listener");
        let accepting = tokio::spawn(async move {
            let _ = axum::serve::Listener::accept(&mut tls).await;
        });
        // Silent connections from one address: the first ones wait in a
        // handshake, the one beyond the cap is closed at once.
        let mut silent = Vec::new();
        for _ in 0..MAX_HANDSHAKES_PER_PEER {
            silent.push(TcpStream::connect(address).await.expect("connects"));
        }
        let mut beyond = TcpStream::connect(address).await.expect("connects");
        let mut byte = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(2), beyond.read(&mut byte)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "the connection beyond the cap is closed: {closed:?}"
        );
        // The silent ones are cut when their handshake time is up.
        for stream in &mut silent {
            let cut = tokio::time::timeout(HANDSHAKE_TIMEOUT * 3, stream.read(&mut byte)).await;
            assert!(matches!(cut, Ok(Ok(0)) | Ok(Err(_))), "{cut:?}");
        }
        accepting.abort();
    }
}

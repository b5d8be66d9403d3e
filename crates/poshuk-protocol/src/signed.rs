//! Signed requests between the federation's parties: a request carries a
//! MAC of itself instead of a bearer token, so the shared secret never
//! travels, and a request captured on the wire cannot be sent again.
//!
//! ```text
//! Authorization: Poshuk-Signed key=ngo-ua, time=1764471600000,
//!                nonce=<32 hex>, body=<sha256 of the body, 64 hex>, mac=<64 hex>
//! ```
//!
//! `mac` is HMAC-SHA256, keyed with the secret both sides hold (a partner's
//! `token`, the coordinator's `node_token` for a node, the admin token), of
//! the domain, the key id, the method, the path and query, the time, the
//! nonce and the body's digest. The receiver checks the header **before
//! reading the body** (known key, time within [`MAX_CLOCK_SKEW_MS`], the
//! MAC, a nonce it has not seen), then the body against the signed digest
//! while it reads it. Why not a bearer token: one captured search could be
//! replayed for as long as the token lives (the red team replayed one 159 s
//! later), and on plain HTTP the token itself was on the wire.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The `Authorization` scheme.
pub const SCHEME: &str = "Poshuk-Signed";

/// How far a request's time may be from the receiver's clock, either way.
/// Parties keep their clocks by NTP; two minutes covers a drifting one.
pub const MAX_CLOCK_SKEW_MS: u64 = 120_000;

/// Nonces one key may have in one generation of the replay window (four
/// minutes); beyond, its requests are refused (429) until the next. Far
/// above any honest party (a node is polled once a second, searches are
/// rate-limited per partner; the node benchmark's 1,500 searches a second
/// stay under it for two minutes), and a bound on the memory a key holder
/// can make the receiver use: about 8 MB per key over both generations.
pub const MAX_NONCES_PER_KEY: usize = 200_000;

/// Separates these MACs from any other use of the same secret.
const DOMAIN: &[u8] = b"poshuk-signed-request-v1";

/// The key id the coordinator signs with toward the nodes.
pub const COORDINATOR_KEY_ID: &str = "coordinator";
/// The key id the federation's key admin signs with toward the coordinator.
pub const ADMIN_KEY_ID: &str = "admin";

/// Why a signed request is refused. The messages name no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Authorization: Poshuk-Signed ...` header.
    #[error(
        "sign the request (`Authorization: Poshuk-Signed key=…, time=…, nonce=…, body=…, mac=…`): bearer tokens are not accepted on the federation's API"
    )]
    Missing,
    /// The header does not parse.
    #[error("malformed Poshuk-Signed header: {0}")]
    Malformed(&'static str),
    /// The key id is not one the receiver knows.
    #[error("unknown key or bad signature")]
    UnknownKey,
    /// The MAC does not match.
    #[error("unknown key or bad signature")]
    BadSignature,
    /// The time is too far from the receiver's clock.
    #[error(
        "the request's time is {skew_ms} ms from this server's clock (at most {MAX_CLOCK_SKEW_MS} ms): check both clocks (NTP)"
    )]
    Stale {
        /// The difference, in milliseconds.
        skew_ms: u64,
    },
    /// The connection's certificate names another party than the signer.
    #[error(
        "the client certificate's party is not the one that signed the request: each party signs with its own token"
    )]
    WrongParty,
    /// The request was signed before this server started: its nonce may
    /// have been seen by the process before.
    #[error("the request was signed before this server started; sign it again")]
    BeforeStart,
    /// The nonce was seen before: a replay.
    #[error("this request was received before (replayed nonce)")]
    Replayed,
    /// The key has too many requests in the replay window.
    #[error("too many signed requests from this key in the last minutes; retry shortly")]
    TooManyNonces,
    /// The body is not the one signed.
    #[error("the request body is not the one signed")]
    BodyMismatch,
    /// The system has no randomness for a nonce.
    #[error("no OS randomness for a nonce")]
    NoRandomness,
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// A key id: a partner id, `coordinator` or `admin`.
fn valid_key_id(key_id: &str) -> bool {
    !key_id.is_empty()
        && key_id.len() <= 128
        && key_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

fn mac(
    secret: &[u8],
    key_id: &str,
    method: &str,
    path_and_query: &str,
    time_ms: u64,
    nonce: &[u8; 16],
    body_sha256: &[u8; 32],
) -> Hmac<Sha256> {
    // Any key length is accepted by HMAC; the error arm cannot happen.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    // Each field length-prefixed: no two requests sign the same bytes.
    for field in [
        DOMAIN,
        key_id.as_bytes(),
        method.as_bytes(),
        path_and_query.as_bytes(),
        &time_ms.to_be_bytes(),
        nonce,
        body_sha256,
    ] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field);
    }
    mac
}

/// The `Authorization` value for a request: `method` (`GET`, `POST`),
/// `path_and_query` as sent (`/v1/epochs`, `/v1/keys/sealed?epoch=2`), and
/// the body's bytes (empty for none), signed at `time_ms` with a fresh nonce.
pub fn sign(
    key_id: &str,
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    body: &[u8],
    time_ms: u64,
) -> Result<String, SignatureError> {
    if !valid_key_id(key_id) {
        return Err(SignatureError::Malformed("key id"));
    }
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|_| SignatureError::NoRandomness)?;
    let body_sha256: [u8; 32] = Sha256::digest(body).into();
    let tag = mac(
        secret,
        key_id,
        method,
        path_and_query,
        time_ms,
        &nonce,
        &body_sha256,
    )
    .finalize()
    .into_bytes();
    Ok(format!(
        "{SCHEME} key={key_id}, time={time_ms}, nonce={}, body={}, mac={}",
        hex::encode(nonce),
        hex::encode(body_sha256),
        hex::encode(tag)
    ))
}

/// A parsed `Authorization: Poshuk-Signed` header, not yet verified.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHeader {
    key_id: String,
    time_ms: u64,
    nonce: [u8; 16],
    body_sha256: [u8; 32],
    mac: [u8; 32],
}

impl std::fmt::Debug for SignedHeader {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "SignedHeader(key={}, time={})",
            self.key_id, self.time_ms
        )
    }
}

fn hex_array<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], SignatureError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| SignatureError::Malformed(what))?;
    Ok(out)
}

impl SignedHeader {
    /// Parses the header's value (`Poshuk-Signed key=…, …`).
    pub fn parse(value: &str) -> Result<SignedHeader, SignatureError> {
        let fields = value
            .strip_prefix(SCHEME)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or(SignatureError::Missing)?;
        if fields.len() > 512 {
            return Err(SignatureError::Malformed("too long"));
        }
        let (mut key_id, mut time_ms, mut nonce, mut body, mut tag) =
            (None, None, None, None, None);
        for field in fields.split(',') {
            let (name, value) = field
                .trim()
                .split_once('=')
                .ok_or(SignatureError::Malformed("a field without `=`"))?;
            let slot = match name {
                "key" => &mut key_id,
                "time" => &mut time_ms,
                "nonce" => &mut nonce,
                "body" => &mut body,
                "mac" => &mut tag,
                _ => return Err(SignatureError::Malformed("unknown field")),
            };
            if slot.replace(value).is_some() {
                return Err(SignatureError::Malformed("a repeated field"));
            }
        }
        let key_id = key_id.ok_or(SignatureError::Malformed("no key"))?;
        if !valid_key_id(key_id) {
            return Err(SignatureError::Malformed("key id"));
        }
        let time_ms = time_ms
            .ok_or(SignatureError::Malformed("no time"))?
            .parse::<u64>()
            .map_err(|_| SignatureError::Malformed("time"))?;
        Ok(SignedHeader {
            key_id: key_id.to_string(),
            time_ms,
            nonce: hex_array(nonce.ok_or(SignatureError::Malformed("no nonce"))?, "nonce")?,
            body_sha256: hex_array(body.ok_or(SignatureError::Malformed("no body"))?, "body")?,
            mac: hex_array(tag.ok_or(SignatureError::Malformed("no mac"))?, "mac")?,
        })
    }

    /// The request's nonce, in hex (what replicas remember together).
    pub fn nonce_hex(&self) -> String {
        hex::encode(self.nonce)
    }

    /// Who signed (a partner id, `coordinator`, `admin`): not yet proven.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The SHA-256 of the body the signer sent.
    pub fn body_sha256(&self) -> [u8; 32] {
        self.body_sha256
    }

    /// Checks the time against `now_ms` and the MAC against `secret` (in
    /// constant time). The nonce is checked by a [`ReplayGuard`] after.
    pub fn verify(
        &self,
        secret: &[u8],
        method: &str,
        path_and_query: &str,
        now_ms: u64,
    ) -> Result<(), SignatureError> {
        let skew_ms = now_ms.abs_diff(self.time_ms);
        // The MAC first: a stranger learns nothing about our clock.
        mac(
            secret,
            &self.key_id,
            method,
            path_and_query,
            self.time_ms,
            &self.nonce,
            &self.body_sha256,
        )
        .verify_slice(&self.mac)
        .map_err(|_| SignatureError::BadSignature)?;
        if skew_ms > MAX_CLOCK_SKEW_MS {
            return Err(SignatureError::Stale { skew_ms });
        }
        Ok(())
    }
}

/// The nonces seen in the replay window, per key. A nonce is remembered for
/// at least twice [`MAX_CLOCK_SKEW_MS`] (two generations, each that long),
/// which is the longest a request's time stays acceptable after its first
/// arrival; after that the time check alone refuses a replay.
#[derive(Debug)]
pub struct ReplayGuard {
    state: Mutex<Generations>,
    generation_length: Duration,
    max_per_key: usize,
    /// When the guard was made (ms): its nonces are in memory only, so a
    /// request signed before then could be a replay of one the previous
    /// process saw, and is refused.
    started_ms: u64,
}

#[derive(Debug)]
struct Generations {
    started: Instant,
    current: HashSet<[u8; 16]>,
    previous: HashSet<[u8; 16]>,
    per_key: HashMap<String, usize>,
}

impl Default for ReplayGuard {
    fn default() -> ReplayGuard {
        ReplayGuard::new(
            Duration::from_millis(2 * MAX_CLOCK_SKEW_MS),
            MAX_NONCES_PER_KEY,
        )
    }
}

impl ReplayGuard {
    /// Generations of `generation_length`, at most `max_per_key` nonces per
    /// key and generation.
    pub fn new(generation_length: Duration, max_per_key: usize) -> ReplayGuard {
        ReplayGuard {
            state: Mutex::new(Generations {
                started: Instant::now(),
                current: HashSet::new(),
                previous: HashSet::new(),
                per_key: HashMap::new(),
            }),
            generation_length,
            max_per_key,
            started_ms: now_ms(),
        }
    }

    /// Remembers a verified header's nonce; refuses one seen before.
    pub fn check(&self, header: &SignedHeader) -> Result<(), SignatureError> {
        if header.time_ms < self.started_ms {
            return Err(SignatureError::BeforeStart);
        }
        let mut state = self
            .state
            .lock()
            .map_err(|_| SignatureError::TooManyNonces)?;
        if state.started.elapsed() >= self.generation_length {
            let current = std::mem::take(&mut state.current);
            state.previous = current;
            state.per_key.clear();
            state.started = Instant::now();
        }
        if state.current.contains(&header.nonce) || state.previous.contains(&header.nonce) {
            return Err(SignatureError::Replayed);
        }
        let count = state.per_key.entry(header.key_id.clone()).or_insert(0);
        if *count >= self.max_per_key {
            return Err(SignatureError::TooManyNonces);
        }
        *count += 1;
        state.current.insert(header.nonce);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"3f1c9a6b2e7d4058a1c3e9f7b2d46a80";

    fn signed(time_ms: u64) -> SignedHeader {
        let value = sign(
            "ngo-ua",
            SECRET,
            "POST",
            "/v1/federated-search",
            b"{}",
            time_ms,
        )
        .expect("signs");
        SignedHeader::parse(&value).expect("parses")
    }

    #[test]
    fn a_signed_request_verifies_once_and_only_as_signed() {
        let guard = ReplayGuard::default();
        let now = now_ms();
        let header = signed(now);
        assert_eq!(header.key_id(), "ngo-ua");
        assert_eq!(
            header.body_sha256(),
            <[u8; 32]>::from(Sha256::digest(b"{}"))
        );
        header
            .verify(SECRET, "POST", "/v1/federated-search", now + 1_000)
            .expect("verifies");
        // Another secret, method or path does not verify.
        for (secret, method, path) in [
            (
                &b"another secret entirely 0123456789"[..],
                "POST",
                "/v1/federated-search",
            ),
            (SECRET, "GET", "/v1/federated-search"),
            (SECRET, "POST", "/v1/federated-search?partners=intl-org"),
        ] {
            assert_eq!(
                header.verify(secret, method, path, now),
                Err(SignatureError::BadSignature)
            );
        }
        // Too old, or from the future.
        for at in [now + MAX_CLOCK_SKEW_MS + 1, now - MAX_CLOCK_SKEW_MS - 1] {
            assert!(matches!(
                header.verify(SECRET, "POST", "/v1/federated-search", at),
                Err(SignatureError::Stale { .. })
            ));
        }
        // The same nonce twice is a replay.
        guard.check(&header).expect("first time");
        assert_eq!(guard.check(&header), Err(SignatureError::Replayed));
        guard.check(&signed(now)).expect("a new nonce");
    }

    #[test]
    fn a_tampered_header_does_not_verify() {
        let now = now_ms();
        let value = sign("ngo-ua", SECRET, "GET", "/v1/epochs", b"", now).expect("signs");
        // Another key id, time, body digest or nonce in the same header.
        let tampered = [
            value.replace("key=ngo-ua", "key=intl-org"),
            value.replace(&format!("time={now}"), &format!("time={}", now + 1)),
            value.replace(
                &format!("body={}", hex::encode(Sha256::digest(b""))),
                &format!("body={}", hex::encode(Sha256::digest(b"x"))),
            ),
        ];
        for value in tampered {
            let header = SignedHeader::parse(&value).expect("parses");
            assert_eq!(
                header.verify(SECRET, "GET", "/v1/epochs", now),
                Err(SignatureError::BadSignature),
                "{value}"
            );
        }
        for malformed in [
            "Bearer 3f1c9a6b2e7d4058a1c3e9f7b2d46a80",
            "Poshuk-Signed key=a",
            "Poshuk-Signed key=a b, time=1, nonce=00, body=00, mac=00",
            &value.replace("time=", "time=x"),
            &format!("{value}, key=again"),
        ] {
            assert!(SignedHeader::parse(malformed).is_err(), "{malformed}");
        }
    }

    #[test]
    fn the_replay_window_is_bounded_per_key() {
        let guard = ReplayGuard::new(Duration::from_secs(3600), 3);
        let now = now_ms();
        for _ in 0..3 {
            guard.check(&signed(now)).expect("within the cap");
        }
        assert_eq!(
            guard.check(&signed(now)),
            Err(SignatureError::TooManyNonces)
        );
        // Another key has its own count.
        let other = SignedHeader::parse(
            &sign("intl-org", SECRET, "GET", "/v1/epochs", b"", now).expect("signs"),
        )
        .expect("parses");
        guard.check(&other).expect("another key");
        // A new generation forgets the counts, but a nonce stays known for
        // two generations.
        let guard = ReplayGuard::new(Duration::from_millis(0), 1);
        let header = signed(now_ms());
        guard.check(&header).expect("first");
        assert_eq!(guard.check(&header), Err(SignatureError::Replayed));
    }

    #[test]
    fn a_request_signed_before_the_server_started_is_refused() {
        // A restarted process has forgotten the nonces it saw: what was
        // signed before it started might be one of them.
        let before = signed(now_ms());
        std::thread::sleep(Duration::from_millis(5));
        let guard = ReplayGuard::default();
        assert_eq!(guard.check(&before), Err(SignatureError::BeforeStart));
        guard.check(&signed(now_ms())).expect("signed since");
    }
}

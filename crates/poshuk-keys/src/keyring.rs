//! Hashing keys: epochs, the keyring, and the per-domain keys derived from them.
//!
//! Every partner of the federation holds the same keyring. A token is computed
//! under the key of one *domain* (names, patronymic, birth date, ...), derived by
//! HKDF-SHA256 from the epoch key with `info = "poshuk/v1/" ‖ domain ‖ epoch`, so
//! one domain's tokens say nothing about another's.
//!
//! Epochs chain: a token of epoch n+1 is `HMAC(k(n+1, domain), token of epoch n)`.
//! A node can therefore re-key its index without raw data, and computing a token
//! from raw data needs every key of the chain (see `docs/` for the trade-off).
//!
//! Key bytes live in [`EpochKey`], which zeroizes itself on drop and never prints
//! its bytes in `Debug`. The keyring text format is parsed here (pure); reading and
//! writing the file, with its permission checks, happens at the edge.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use poshuk_tokens::{Domain, Token};

/// The number of an epoch of the federation's keys, starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u32);

impl fmt::Display for Epoch {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// Where an epoch is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochState {
    /// Distributed but not yet used for searching.
    Pending,
    /// In use.
    Active,
    /// No longer served; kept because later epochs chain from it.
    Retired,
}

impl EpochState {
    fn as_str(self) -> &'static str {
        match self {
            EpochState::Pending => "pending",
            EpochState::Active => "active",
            EpochState::Retired => "retired",
        }
    }

    fn parse(text: &str) -> Option<EpochState> {
        match text {
            "pending" => Some(EpochState::Pending),
            "active" => Some(EpochState::Active),
            "retired" => Some(EpochState::Retired),
            _ => None,
        }
    }
}

/// 256 secret bits of one epoch. Zeroized on drop; `Debug` shows no bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EpochKey([u8; 32]);

impl EpochKey {
    /// Wraps key bytes (taking ownership; the caller's copy should be zeroized).
    pub fn from_bytes(bytes: [u8; 32]) -> EpochKey {
        EpochKey(bytes)
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<EpochKey, KeyError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| KeyError::NoRandomness)?;
        let key = EpochKey(bytes);
        bytes.zeroize();
        Ok(key)
    }

    /// The raw bytes, for sealing to a partner (never for printing).
    pub(crate) fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key of one domain in one epoch (HKDF-SHA256).
    fn domain_key(&self, epoch: Epoch, domain: Domain) -> Zeroizing<[u8; 32]> {
        let hkdf = Hkdf::<Sha256>::new(Some(b"poshuk-token-keys"), &self.0);
        let mut info = Vec::with_capacity(40);
        info.extend_from_slice(b"poshuk/v1/");
        info.extend_from_slice(domain.name().as_bytes());
        info.push(b'/');
        info.extend_from_slice(&epoch.0.to_be_bytes());
        let mut okm = Zeroizing::new([0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA256 output length.
        if hkdf.expand(&info, okm.as_mut()).is_err() {
            unreachable!("hkdf-sha256 expands to 32 bytes");
        }
        okm
    }
}

impl fmt::Debug for EpochKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("EpochKey(<redacted>)")
    }
}

/// One epoch in the keyring.
#[derive(Debug, Clone)]
pub struct EpochEntry {
    /// Its number.
    pub epoch: Epoch,
    /// Its state.
    pub state: EpochState,
    /// Its secret key.
    pub key: EpochKey,
}

/// Errors reading or using a keyring.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The keyring text is not in the expected format.
    #[error("keyring line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong (never key material).
        reason: String,
    },
    /// The keyring holds no epoch.
    #[error("the keyring holds no epoch")]
    Empty,
    /// Epochs must be numbered 1, 2, 3, ... without gaps.
    #[error("epochs out of sequence: expected epoch {expected}, found {found}")]
    OutOfSequence {
        /// The number expected next.
        expected: u32,
        /// The number found.
        found: u32,
    },
    /// A requested epoch is not in the keyring.
    #[error("epoch {0} is not in the keyring")]
    UnknownEpoch(Epoch),
    /// A rotation is already under way.
    #[error(
        "epoch {0} is still pending in this keyring: finish that rotation first (every node installs it, then `poshuk keys retire <previous epoch> --keyring <this file>` marks it active here)"
    )]
    RotationPending(Epoch),
    /// The epoch is already in the keyring with this key.
    #[error("epoch {0} is already installed; nothing changed")]
    AlreadyInstalled(Epoch),
    /// The keyring holds a different key for the epoch.
    #[error(
        "this keyring already holds a different key for epoch {0}; nothing changed (was the keyring rotated twice?)"
    )]
    Conflicting(Epoch),
    /// The key does not chain from this keyring's newest epoch.
    #[error(
        "the key for epoch {0} chains from a different keyring than this one (its previous epoch does not match); nothing changed"
    )]
    ForeignChain(Epoch),
    /// The operating system's random generator failed.
    #[error("the operating system's random generator is unavailable")]
    NoRandomness,
}

/// Numbered epochs of the federation's hashing keys.
#[derive(Debug, Clone)]
pub struct KeyRing {
    entries: Vec<EpochEntry>,
}

impl KeyRing {
    /// A new keyring holding one fresh active epoch 1.
    pub fn generate() -> Result<KeyRing, KeyError> {
        Ok(KeyRing {
            entries: vec![EpochEntry {
                epoch: Epoch(1),
                state: EpochState::Active,
                key: EpochKey::generate()?,
            }],
        })
    }

    /// A keyring holding one active epoch 1 with the given key (tests,
    /// examples, and keys received from elsewhere).
    pub fn with_key(bytes: [u8; 32]) -> KeyRing {
        KeyRing {
            entries: vec![EpochEntry {
                epoch: Epoch(1),
                state: EpochState::Active,
                key: EpochKey::from_bytes(bytes),
            }],
        }
    }

    /// A keyring from given entries; they must be numbered 1, 2, 3, ...
    pub fn from_entries(entries: Vec<EpochEntry>) -> Result<KeyRing, KeyError> {
        if entries.is_empty() {
            return Err(KeyError::Empty);
        }
        for (index, entry) in entries.iter().enumerate() {
            let expected = index as u32 + 1;
            if entry.epoch.0 != expected {
                return Err(KeyError::OutOfSequence {
                    expected,
                    found: entry.epoch.0,
                });
            }
        }
        Ok(KeyRing { entries })
    }

    /// The epochs, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The newest epoch that is active (the one new tokens are made for).
    pub fn current_epoch(&self) -> Epoch {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.state == EpochState::Active)
            .or(self.entries.last())
            .map(|entry| entry.epoch)
            .unwrap_or(Epoch(1))
    }

    /// The newest epoch in the keyring, whatever its state.
    pub fn newest_epoch(&self) -> Epoch {
        self.entries
            .last()
            .map(|entry| entry.epoch)
            .unwrap_or(Epoch(1))
    }

    /// The state of an epoch, if the keyring holds it.
    pub fn state(&self, epoch: Epoch) -> Option<EpochState> {
        self.entry(epoch).map(|entry| entry.state)
    }

    fn entry(&self, epoch: Epoch) -> Option<&EpochEntry> {
        self.entries.get((epoch.0 as usize).wrapping_sub(1))
    }

    /// Sets the state of an epoch.
    pub fn set_state(&mut self, epoch: Epoch, state: EpochState) -> Result<(), KeyError> {
        let entry = self
            .entries
            .get_mut((epoch.0 as usize).wrapping_sub(1))
            .ok_or(KeyError::UnknownEpoch(epoch))?;
        entry.state = state;
        Ok(())
    }

    /// Adds epoch n+1 with a fresh random key, pending until every node
    /// serves it. Refused while the newest epoch is still pending: one
    /// rotation at a time.
    pub fn rotate(&mut self) -> Result<Epoch, KeyError> {
        let newest = self.newest_epoch();
        if self.state(newest) == Some(EpochState::Pending) {
            return Err(KeyError::RotationPending(newest));
        }
        let epoch = Epoch(newest.0 + 1);
        self.entries.push(EpochEntry {
            epoch,
            state: EpochState::Pending,
            key: EpochKey::generate()?,
        });
        Ok(epoch)
    }

    /// A fingerprint of an epoch's key that reveals nothing about it
    /// (HMAC of a fixed label): a sealed key for epoch n+1 carries the
    /// fingerprint of epoch n, so a node refuses a key that chains from a
    /// keyring other than its own.
    pub fn fingerprint(&self, epoch: Epoch) -> Result<[u8; 16], KeyError> {
        let entry = self.entry(epoch).ok_or(KeyError::UnknownEpoch(epoch))?;
        let mut mac = match HmacSha256::new_from_slice(&entry.key.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("hmac accepts keys of any length"),
        };
        mac.update(b"poshuk/v1/epoch-fingerprint/");
        mac.update(&epoch.0.to_be_bytes());
        let output = mac.finalize().into_bytes();
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(&output[..16]);
        Ok(fingerprint)
    }

    /// The key of an epoch (for sealing it to a partner).
    pub fn key(&self, epoch: Epoch) -> Result<&EpochKey, KeyError> {
        self.entry(epoch)
            .map(|entry| &entry.key)
            .ok_or(KeyError::UnknownEpoch(epoch))
    }

    /// Appends a received epoch as pending. It must be the next number, and
    /// `previous_fingerprint` must be the fingerprint of this keyring's
    /// newest epoch (the key chains from ours). Nothing changes on refusal.
    pub fn install(
        &mut self,
        epoch: Epoch,
        key: EpochKey,
        previous_fingerprint: &[u8; 16],
    ) -> Result<(), KeyError> {
        let newest = self.newest_epoch();
        if epoch <= newest {
            if self.key(epoch)?.0 == key.0 {
                return Err(KeyError::AlreadyInstalled(epoch));
            }
            return Err(KeyError::Conflicting(epoch));
        }
        if epoch.0 != newest.0 + 1 {
            return Err(KeyError::OutOfSequence {
                expected: newest.0 + 1,
                found: epoch.0,
            });
        }
        if &self.fingerprint(newest)? != previous_fingerprint {
            return Err(KeyError::ForeignChain(epoch));
        }
        self.entries.push(EpochEntry {
            epoch,
            state: EpochState::Pending,
            key,
        });
        Ok(())
    }

    /// The hasher that computes tokens of `epoch` from raw feature values,
    /// chaining through every earlier epoch.
    pub fn hasher(&self, epoch: Epoch) -> Result<TokenHasher, KeyError> {
        let count = epoch.0 as usize;
        if count == 0 || count > self.entries.len() {
            return Err(KeyError::UnknownEpoch(epoch));
        }
        let chain = self.entries[..count]
            .iter()
            .map(|entry| DomainMacs::derive(&entry.key, entry.epoch))
            .collect();
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(TokenHasher {
            epoch,
            chain,
            instance,
        })
    }

    /// The re-keyer that turns tokens of `epoch - 1` into tokens of `epoch`.
    pub fn rekeyer(&self, epoch: Epoch) -> Result<TokenRekeyer, KeyError> {
        let entry = self
            .entries
            .get((epoch.0 as usize).wrapping_sub(1))
            .filter(|_| epoch.0 >= 2)
            .ok_or(KeyError::UnknownEpoch(epoch))?;
        Ok(TokenRekeyer {
            epoch,
            macs: DomainMacs::derive(&entry.key, entry.epoch),
        })
    }

    /// The keyring in its text form (TOML). Holds secrets: write it only to a
    /// file readable by its owner alone.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::from(
            "# poshuk keyring: SECRET. Keep this file mode 0600 and never send it anywhere.\n",
        ));
        for entry in &self.entries {
            text.push_str("\n[[epoch]]\n");
            text.push_str(&format!("number = {}\n", entry.epoch.0));
            text.push_str(&format!("state = \"{}\"\n", entry.state.as_str()));
            text.push_str("key = \"");
            let hex_key = Zeroizing::new(hex::encode(entry.key.0));
            text.push_str(&hex_key);
            text.push_str("\"\n");
        }
        text
    }

    /// Parses the text form written by [`KeyRing::to_text`].
    ///
    /// Hand-parsed rather than through a TOML library so that no copy of the key
    /// text is left in memory that we cannot zeroize.
    pub fn from_text(text: &str) -> Result<KeyRing, KeyError> {
        let mut entries = Vec::new();
        let mut current: Option<PartialEntry> = None;
        for (index, raw_line) in text.lines().enumerate() {
            let line_number = index + 1;
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line == "[[epoch]]" {
                if let Some(partial) = current.take() {
                    entries.push(partial.finish(line_number)?);
                }
                current = Some(PartialEntry::default());
                continue;
            }
            let malformed = |reason: &str| KeyError::Malformed {
                line: line_number,
                reason: reason.to_string(),
            };
            let Some(partial) = current.as_mut() else {
                return Err(malformed("expected [[epoch]] before any setting"));
            };
            let Some((name, value)) = line.split_once('=') else {
                return Err(malformed("expected `name = value`"));
            };
            let value = value.trim();
            match name.trim() {
                "number" => {
                    let number = value
                        .parse::<u32>()
                        .map_err(|_| malformed("number must be a positive integer"))?;
                    partial.number = Some(number);
                }
                "state" => {
                    let state = EpochState::parse(value.trim_matches('"'))
                        .ok_or_else(|| malformed("state must be pending, active or retired"))?;
                    partial.state = Some(state);
                }
                "key" => {
                    let hex_text = value.trim_matches('"');
                    let mut bytes = [0u8; 32];
                    if hex::decode_to_slice(hex_text, &mut bytes).is_err() {
                        bytes.zeroize();
                        return Err(malformed("key must be 64 hexadecimal digits"));
                    }
                    partial.key = Some(EpochKey(bytes));
                    bytes.zeroize();
                }
                _ => return Err(malformed("unknown setting (expected number, state, key)")),
            }
        }
        if let Some(partial) = current.take() {
            entries.push(partial.finish(text.lines().count())?);
        }
        KeyRing::from_entries(entries)
    }
}

#[derive(Default)]
struct PartialEntry {
    number: Option<u32>,
    state: Option<EpochState>,
    key: Option<EpochKey>,
}

impl PartialEntry {
    fn finish(self, line: usize) -> Result<EpochEntry, KeyError> {
        let missing = |what: &str| KeyError::Malformed {
            line,
            reason: format!("epoch entry lacks `{what}`"),
        };
        Ok(EpochEntry {
            epoch: Epoch(self.number.ok_or_else(|| missing("number"))?),
            state: self.state.unwrap_or(EpochState::Active),
            key: self.key.ok_or_else(|| missing("key"))?,
        })
    }
}

type HmacSha256 = Hmac<Sha256>;

/// Keyed HMAC states, one per domain, for one epoch. Cloning a keyed state is
/// cheaper than keying a new one, which matters on the encoding hot path.
#[derive(Clone)]
struct DomainMacs {
    macs: Vec<HmacSha256>,
}

impl DomainMacs {
    fn derive(key: &EpochKey, epoch: Epoch) -> DomainMacs {
        let macs = Domain::ALL
            .iter()
            .map(|&domain| {
                let domain_key = key.domain_key(epoch, domain);
                match HmacSha256::new_from_slice(domain_key.as_ref()) {
                    Ok(mac) => mac,
                    Err(_) => unreachable!("hmac accepts keys of any length"),
                }
            })
            .collect();
        DomainMacs { macs }
    }

    fn token(&self, domain: Domain, parts: &[&[u8]]) -> Token {
        let mut mac = self.macs[domain as usize].clone();
        for part in parts {
            mac.update(part);
        }
        let output = mac.finalize().into_bytes();
        let mut first = [0u8; 16];
        first.copy_from_slice(&output[..16]);
        Token(u128::from_be_bytes(first))
    }
}

/// Computes tokens of one epoch from feature values.
#[derive(Clone)]
pub struct TokenHasher {
    epoch: Epoch,
    chain: Vec<DomainMacs>,
    /// Distinguishes hashers (and so their tokens) in caches; clones share it.
    instance: u64,
}

impl TokenHasher {
    /// The epoch whose tokens this hasher makes.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// An id shared by this hasher and its clones only (for caches of tokens).
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// The token of a feature: `kind` says what the value is (a whole name, a
    /// class, a date, ...), so that equal bytes of different kinds differ.
    #[inline]
    pub fn token(&self, domain: Domain, kind: u8, value: &[u8]) -> Token {
        let mut chain = self.chain.iter();
        let Some(first) = chain.next() else {
            unreachable!("a hasher holds at least epoch 1");
        };
        let mut token = first.token(domain, &[&[kind], value]);
        for macs in chain {
            token = macs.token(domain, &[&token.0.to_be_bytes()]);
        }
        token
    }
}

impl fmt::Debug for TokenHasher {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "TokenHasher(epoch {}, <keys redacted>)",
            self.epoch
        )
    }
}

/// Turns tokens of epoch n−1 into tokens of epoch n, without raw data.
#[derive(Clone)]
pub struct TokenRekeyer {
    epoch: Epoch,
    macs: DomainMacs,
}

impl TokenRekeyer {
    /// The epoch this re-keyer produces.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The next-epoch token of `token` in `domain`.
    #[inline]
    pub fn rekey(&self, domain: Domain, token: Token) -> Token {
        self.macs.token(domain, &[&token.0.to_be_bytes()])
    }
}

impl fmt::Debug for TokenRekeyer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "TokenRekeyer(epoch {}, <keys redacted>)",
            self.epoch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_with_two_epochs() -> KeyRing {
        KeyRing::from_entries(vec![
            EpochEntry {
                epoch: Epoch(1),
                state: EpochState::Active,
                key: EpochKey::from_bytes([7; 32]),
            },
            EpochEntry {
                epoch: Epoch(2),
                state: EpochState::Pending,
                key: EpochKey::from_bytes([9; 32]),
            },
        ])
        .expect("valid ring")
    }

    #[test]
    fn text_round_trip_keeps_tokens() {
        let ring = ring_with_two_epochs();
        let parsed = KeyRing::from_text(&ring.to_text()).expect("parses");
        let before = ring
            .hasher(Epoch(2))
            .expect("epoch 2")
            .token(Domain::Name, b'W', b"x");
        let after = parsed
            .hasher(Epoch(2))
            .expect("epoch 2")
            .token(Domain::Name, b'W', b"x");
        assert_eq!(before, after);
        assert_eq!(parsed.entries()[1].state, EpochState::Pending);
    }

    #[test]
    fn rekeying_equals_hashing_from_source() {
        let ring = ring_with_two_epochs();
        let epoch_one = ring
            .hasher(Epoch(1))
            .expect("epoch 1")
            .token(Domain::Name, b'W', b"x");
        let rekeyed = ring
            .rekeyer(Epoch(2))
            .expect("rekeyer")
            .rekey(Domain::Name, epoch_one);
        let direct = ring
            .hasher(Epoch(2))
            .expect("epoch 2")
            .token(Domain::Name, b'W', b"x");
        assert_eq!(rekeyed, direct);
        assert_ne!(epoch_one, direct);
    }

    #[test]
    fn domains_and_kinds_separate_tokens() {
        let hasher = ring_with_two_epochs().hasher(Epoch(1)).expect("epoch 1");
        let name = hasher.token(Domain::Name, b'W', b"x");
        assert_ne!(name, hasher.token(Domain::Place, b'W', b"x"));
        assert_ne!(name, hasher.token(Domain::Name, b'G', b"x"));
    }

    #[test]
    fn debug_output_hides_keys() {
        let ring = ring_with_two_epochs();
        let debug = format!("{ring:?} {:?}", ring.hasher(Epoch(1)));
        assert!(!debug.contains("07"), "{debug}");
        assert!(!debug.contains("[7, 7"), "{debug}");
        assert!(debug.contains("redacted"));
    }

    #[test]
    fn malformed_keyring_names_the_line() {
        let error = KeyRing::from_text("[[epoch]]\nnumber = 1\nkey = \"zz\"\n").unwrap_err();
        assert!(error.to_string().contains("line 3"), "{error}");
        let gap = "[[epoch]]\nnumber = 2\nkey = \"".to_string() + &"00".repeat(32) + "\"\n";
        assert!(matches!(
            KeyRing::from_text(&gap),
            Err(KeyError::OutOfSequence { .. })
        ));
    }
}

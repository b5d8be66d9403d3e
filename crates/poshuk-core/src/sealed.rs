//! Sealed epoch keys: a new epoch's key, encrypted to one partner's age
//! X25519 identity, so it can travel through the coordinator (or any channel)
//! that cannot open it.
//!
//! A sealed file is one plain header line naming the partner and the epoch
//! (so the wrong file is refused with a clear message before any decryption),
//! followed by the age ciphertext. Inside: the same partner and epoch again
//! (authenticated, so an edited header is detected), the fingerprint of the
//! previous epoch's key (so a node refuses a key that does not chain from its
//! own keyring) and the key itself.

use std::str::FromStr;

use age::secrecy::ExposeSecret;
use zeroize::{Zeroize, Zeroizing};

use crate::keys::{Epoch, EpochKey, KeyError, KeyRing};

const MAGIC: &str = "poshuk-sealed-epoch/v1";

/// Errors sealing or opening an epoch key. Messages never carry key material.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Not a sealed epoch file at all.
    #[error("not a poshuk sealed key file (its first line is not `{MAGIC} partner=... epoch=...`)")]
    NotSealedFile,
    /// The file is addressed to another partner.
    #[error(
        "this sealed key is for partner `{sealed_for}`, and this node is `{this}`; ask the admin for your own file"
    )]
    ForAnotherPartner {
        /// Whom the file names.
        sealed_for: String,
        /// This node's partner id.
        this: String,
    },
    /// This identity is not among the file's recipients.
    #[error(
        "this node's identity cannot open the sealed key: it was sealed to another public key (check `poshuk keys identity` against what the admin used)"
    )]
    NotForThisIdentity,
    /// The ciphertext is damaged or cut short.
    #[error("the sealed key file is corrupted or truncated; ask the admin to send it again")]
    Corrupted,
    /// The plain header does not match the authenticated contents.
    #[error("the sealed key file's header was altered (it does not match the sealed contents)")]
    HeaderMismatch,
    /// A public key is not an age X25519 recipient.
    #[error("`{0}` is not an age X25519 public key (age1...)")]
    BadRecipient(String),
    /// An identity file does not hold an age X25519 identity.
    #[error("the identity is not an age X25519 secret key (AGE-SECRET-KEY-1...)")]
    BadIdentity,
    /// The keyring cannot give what is asked.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A new partner identity: the secret (to keep mode 0600 on the node) and
/// the public key (to give the admin).
pub fn generate_identity() -> (Zeroizing<String>, String) {
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let secret = Zeroizing::new(identity.to_string().expose_secret().to_string());
    (secret, public)
}

/// The public key of an identity's secret text.
pub fn public_key(identity_text: &str) -> Result<String, SealError> {
    Ok(parse_identity(identity_text)?.to_public().to_string())
}

fn parse_identity(identity_text: &str) -> Result<age::x25519::Identity, SealError> {
    let line = identity_text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .ok_or(SealError::BadIdentity)?;
    age::x25519::Identity::from_str(line).map_err(|_| SealError::BadIdentity)
}

/// Seals `epoch`'s key of `ring` to one partner's public key.
pub fn seal(
    ring: &KeyRing,
    epoch: Epoch,
    partner_id: &str,
    recipient: &str,
) -> Result<Vec<u8>, SealError> {
    if epoch.0 < 2 {
        return Err(SealError::Key(KeyError::UnknownEpoch(epoch)));
    }
    let recipient = age::x25519::Recipient::from_str(recipient.trim())
        .map_err(|_| SealError::BadRecipient(recipient.to_string()))?;
    let previous = ring.fingerprint(Epoch(epoch.0 - 1))?;
    let key = ring.key(epoch)?;
    let mut plaintext = Zeroizing::new(format!(
        "{MAGIC}\npartner={partner_id}\nepoch={}\nprevious={}\nkey=",
        epoch.0,
        hex::encode(previous)
    ));
    plaintext.push_str(&Zeroizing::new(hex::encode(key.expose_bytes())));
    plaintext.push('\n');
    let ciphertext = age::encrypt(&recipient, plaintext.as_bytes()).map_err(|_| {
        SealError::Key(KeyError::NoRandomness) // age fails only without randomness
    })?;
    let mut sealed = format!("{MAGIC} partner={partner_id} epoch={}\n", epoch.0).into_bytes();
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// What a sealed file's plain header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHeader {
    /// The partner it is for.
    pub partner: String,
    /// The epoch it carries.
    pub epoch: Epoch,
}

/// Reads the plain header of a sealed file, and the offset of the ciphertext.
pub fn read_header(sealed: &[u8]) -> Result<(SealedHeader, usize), SealError> {
    let end = sealed
        .iter()
        .take(512)
        .position(|&byte| byte == b'\n')
        .ok_or(SealError::NotSealedFile)?;
    let line = std::str::from_utf8(&sealed[..end]).map_err(|_| SealError::NotSealedFile)?;
    let mut words = line.split(' ');
    if words.next() != Some(MAGIC) {
        return Err(SealError::NotSealedFile);
    }
    let (mut partner, mut epoch) = (None, None);
    for word in words {
        match word.split_once('=') {
            Some(("partner", value)) => partner = Some(value.to_string()),
            Some(("epoch", value)) => epoch = value.parse::<u32>().ok().map(Epoch),
            _ => return Err(SealError::NotSealedFile),
        }
    }
    match (partner, epoch) {
        (Some(partner), Some(epoch)) => Ok((SealedHeader { partner, epoch }, end + 1)),
        _ => Err(SealError::NotSealedFile),
    }
}

/// An opened sealed key, ready for [`KeyRing::install`].
pub struct OpenedEpoch {
    /// The epoch.
    pub epoch: Epoch,
    /// The fingerprint of the epoch before it.
    pub previous_fingerprint: [u8; 16],
    /// The key.
    pub key: EpochKey,
}

impl std::fmt::Debug for OpenedEpoch {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "OpenedEpoch(epoch {}, <key redacted>)",
            self.epoch
        )
    }
}

/// Opens a sealed file addressed to `partner_id` with its identity.
pub fn open(
    sealed: &[u8],
    identity_text: &str,
    partner_id: &str,
) -> Result<OpenedEpoch, SealError> {
    let (header, offset) = read_header(sealed)?;
    if header.partner != partner_id {
        return Err(SealError::ForAnotherPartner {
            sealed_for: header.partner,
            this: partner_id.to_string(),
        });
    }
    let identity = parse_identity(identity_text)?;
    let plaintext = Zeroizing::new(age::decrypt(&identity, &sealed[offset..]).map_err(
        |error| match error {
            age::DecryptError::NoMatchingKeys => SealError::NotForThisIdentity,
            _ => SealError::Corrupted,
        },
    )?);
    let text = std::str::from_utf8(&plaintext).map_err(|_| SealError::Corrupted)?;
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err(SealError::Corrupted);
    }
    let (mut partner, mut epoch, mut previous, mut key) = (None, None, None, None);
    for line in lines {
        match line.split_once('=') {
            Some(("partner", value)) => partner = Some(value),
            Some(("epoch", value)) => epoch = value.parse::<u32>().ok().map(Epoch),
            Some(("previous", value)) => {
                let mut bytes = [0u8; 16];
                previous = hex::decode_to_slice(value, &mut bytes).ok().map(|()| bytes);
            }
            Some(("key", value)) => {
                let mut bytes = [0u8; 32];
                if hex::decode_to_slice(value, &mut bytes).is_ok() {
                    key = Some(EpochKey::from_bytes(bytes));
                }
                bytes.zeroize();
            }
            _ => return Err(SealError::Corrupted),
        }
    }
    let (Some(partner), Some(epoch), Some(previous_fingerprint), Some(key)) =
        (partner, epoch, previous, key)
    else {
        return Err(SealError::Corrupted);
    };
    if partner != header.partner || epoch != header.epoch {
        return Err(SealError::HeaderMismatch);
    }
    Ok(OpenedEpoch {
        epoch,
        previous_fingerprint,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Domain;

    fn rotated() -> KeyRing {
        let mut ring = KeyRing::with_key([3; 32]);
        ring.rotate().expect("rotates");
        ring
    }

    #[test]
    fn sealed_key_opens_for_its_partner_and_installs() {
        let admin = rotated();
        let (secret, public) = generate_identity();
        let sealed = seal(&admin, Epoch(2), "ngo", &public).expect("seals");
        assert!(
            !sealed
                .windows(8)
                .any(|w| w == &hex::encode([3u8; 4]).as_bytes()[..8])
        );
        let opened = open(&sealed, &secret, "ngo").expect("opens");
        let mut node = KeyRing::with_key([3; 32]);
        node.install(opened.epoch, opened.key, &opened.previous_fingerprint)
            .expect("installs");
        let token = |ring: &KeyRing| {
            ring.hasher(Epoch(2))
                .expect("epoch 2")
                .token(Domain::Name, b'W', b"x")
        };
        assert_eq!(token(&node), token(&admin));
    }

    #[test]
    fn wrong_partner_identity_and_damage_are_refused() {
        let admin = rotated();
        let (_, public) = generate_identity();
        let (other_secret, _) = generate_identity();
        let sealed = seal(&admin, Epoch(2), "ngo", &public).expect("seals");
        assert!(matches!(
            open(&sealed, &other_secret, "intl"),
            Err(SealError::ForAnotherPartner { .. })
        ));
        assert!(matches!(
            open(&sealed, &other_secret, "ngo"),
            Err(SealError::NotForThisIdentity)
        ));
        let (secret, public) = generate_identity();
        let sealed = seal(&admin, Epoch(2), "ngo", &public).expect("seals");
        let truncated = &sealed[..sealed.len() - 20];
        assert!(matches!(
            open(truncated, &secret, "ngo"),
            Err(SealError::Corrupted)
        ));
        let mut flipped = sealed.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 1;
        assert!(matches!(
            open(&flipped, &secret, "ngo"),
            Err(SealError::Corrupted)
        ));
        assert!(matches!(
            open(b"hello\n", &secret, "ngo"),
            Err(SealError::NotSealedFile)
        ));
    }

    #[test]
    fn foreign_chain_and_gaps_are_refused() {
        let admin = rotated();
        let (secret, public) = generate_identity();
        let opened = open(
            &seal(&admin, Epoch(2), "ngo", &public).expect("seals"),
            &secret,
            "ngo",
        )
        .expect("opens");
        let mut stranger = KeyRing::with_key([4; 32]);
        assert!(matches!(
            stranger.install(
                opened.epoch,
                opened.key.clone(),
                &opened.previous_fingerprint
            ),
            Err(KeyError::ForeignChain(_))
        ));
        assert_eq!(stranger.entries().len(), 1);
        let mut ahead = rotated();
        ahead.rotate().expect_err("one rotation at a time");
        ahead
            .set_state(Epoch(2), crate::EpochState::Active)
            .expect("state");
        ahead.rotate().expect("epoch 3");
        let (secret, public) = generate_identity();
        let third = open(
            &seal(&ahead, Epoch(3), "ngo", &public).expect("seals"),
            &secret,
            "ngo",
        )
        .expect("opens");
        let mut node = KeyRing::with_key([3; 32]);
        assert!(matches!(
            node.install(third.epoch, third.key, &third.previous_fingerprint),
            Err(KeyError::OutOfSequence {
                expected: 2,
                found: 3
            })
        ));
    }
}

//! Sealed epoch keys: a new epoch's key, encrypted to one partner's age
//! X25519 identity, so it can travel through the coordinator (or any channel)
//! that cannot open it.
//!
//! A sealed file is one plain header line naming the partner and the epoch
//! (so the wrong file is refused with a clear message before any decryption)
//! and carrying the admin's Ed25519 signature, followed by the age
//! ciphertext. Inside: the same partner and epoch again (so an edited header
//! is detected), the fingerprint of the previous epoch's key (so a node
//! refuses a key that does not chain from its own keyring) and the key.
//!
//! Why a signature: age encryption is anonymous, and every partner — also
//! one being left out — holds the previous epoch's key and can compute its
//! fingerprint. Without the admin's signature, a left-out partner could seal
//! a key of its own choosing to another partner and so keep reading the
//! "new" epoch. Nodes pin the admin's public key in their config.

use std::str::FromStr;

use age::secrecy::ExposeSecret;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use zeroize::{Zeroize, Zeroizing};

use poshuk_protocol::sealed_header::{HeaderError, MAGIC, SealedHeader, read_header};

use crate::keyring::{Epoch, EpochKey, KeyError, KeyRing};

/// Errors sealing or opening an epoch key. Messages never carry key material.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Not a sealed epoch file at all, or its header is unreadable.
    #[error(transparent)]
    Header(#[from] HeaderError),
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
    /// A public key is not an age X25519 recipient (the value is not
    /// repeated: it might be a pasted secret).
    #[error("the public key for `{0}` is not an age X25519 public key (age1...)")]
    BadRecipient(String),
    /// A secret identity was given where a public key belongs.
    #[error(
        "the key given for `{0}` is a SECRET identity (AGE-SECRET-KEY-...), not its public key: give `poshuk keys identity`'s output, and treat that secret as leaked"
    )]
    SecretGivenAsRecipient(String),
    /// An identity file does not hold an age X25519 identity.
    #[error("the identity is not an age X25519 secret key (AGE-SECRET-KEY-1...)")]
    BadIdentity,
    /// The file carries no admin signature.
    #[error(
        "the sealed key carries no admin signature; refuse it and ask the admin to seal it again"
    )]
    Unsigned,
    /// The signature is not the admin's.
    #[error(
        "the sealed key is not signed by this federation's admin key (the node's [keys] admin_key): refuse it, and tell the admin; someone else sealed it"
    )]
    BadSignature,
    /// An admin key cannot be read.
    #[error("{0}")]
    BadAdminKey(String),
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

const ADMIN_PUBLIC_PREFIX: &str = "poshuk-admin-ed25519:";

/// The admin's signing key: signs every sealed key file. Zeroized on drop;
/// `Debug` shows nothing secret.
pub struct AdminKey(SigningKey);

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "AdminKey({}, <secret redacted>)", self.public())
    }
}

impl AdminKey {
    /// A fresh random signing key.
    pub fn generate() -> Result<AdminKey, SealError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|_| SealError::Key(KeyError::NoRandomness))?;
        Ok(AdminKey(SigningKey::from_bytes(&seed)))
    }

    /// The secret in its text form (for a 0600 file).
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "# poshuk admin signing key: SECRET, keep mode 0600.\n# public key: {}\nsecret = {}\n",
            self.public(),
            Zeroizing::new(hex::encode(self.0.to_bytes())).as_str()
        ))
    }

    /// Parses the text written by [`AdminKey::to_text`].
    pub fn from_text(text: &str) -> Result<AdminKey, SealError> {
        let value = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("secret"))
            .filter_map(|rest| rest.trim_start().strip_prefix('='))
            .map(|value| value.trim())
            .next()
            .ok_or_else(|| {
                SealError::BadAdminKey("the admin key file has no `secret = ...` line".into())
            })?;
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(value, seed.as_mut()).map_err(|_| {
            SealError::BadAdminKey("the admin key's secret must be 64 hexadecimal digits".into())
        })?;
        Ok(AdminKey(SigningKey::from_bytes(&seed)))
    }

    /// The public key to pin in every node's config.
    pub fn public(&self) -> String {
        format!(
            "{ADMIN_PUBLIC_PREFIX}{}",
            hex::encode(self.0.verifying_key().to_bytes())
        )
    }
}

/// Reads an admin public key as written by [`AdminKey::public`].
pub fn admin_public_key(text: &str) -> Result<VerifyingKey, SealError> {
    let bad = || {
        SealError::BadAdminKey(format!(
            "the admin public key must look like {ADMIN_PUBLIC_PREFIX}<64 hex digits> (`poshuk keys admin-key` prints it)"
        ))
    };
    let hex_part = text
        .trim()
        .strip_prefix(ADMIN_PUBLIC_PREFIX)
        .ok_or_else(bad)?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| bad())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())
}

/// What the signature covers: the header without it, and the ciphertext.
fn signed_message(partner_id: &str, epoch: Epoch, ciphertext: &[u8]) -> Vec<u8> {
    let mut message = SealedHeader::unsigned_line(partner_id, epoch.0).into_bytes();
    message.extend_from_slice(ciphertext);
    message
}

/// Seals `epoch`'s key of `ring` to one partner's public key, signed by the
/// admin.
pub fn seal(
    ring: &KeyRing,
    epoch: Epoch,
    partner_id: &str,
    recipient: &str,
    admin: &AdminKey,
) -> Result<Vec<u8>, SealError> {
    if epoch.0 < 2 {
        return Err(SealError::Key(KeyError::UnknownEpoch(epoch)));
    }
    if recipient
        .trim()
        .to_ascii_uppercase()
        .starts_with("AGE-SECRET-KEY-")
    {
        return Err(SealError::SecretGivenAsRecipient(partner_id.to_string()));
    }
    let recipient = age::x25519::Recipient::from_str(recipient.trim())
        .map_err(|_| SealError::BadRecipient(partner_id.to_string()))?;
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
    let signature = admin
        .0
        .sign(&signed_message(partner_id, epoch, &ciphertext));
    let mut sealed = SealedHeader {
        partner: partner_id.to_string(),
        epoch: epoch.0,
        signature: Some(signature.to_bytes()),
    }
    .line()
    .into_bytes();
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
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

/// Opens a sealed file addressed to `partner_id` with its identity, after
/// checking the admin's signature.
pub fn open(
    sealed: &[u8],
    identity_text: &str,
    partner_id: &str,
    admin: &VerifyingKey,
) -> Result<OpenedEpoch, SealError> {
    let (header, offset) = read_header(sealed)?;
    if header.partner != partner_id {
        return Err(SealError::ForAnotherPartner {
            sealed_for: header.partner,
            this: partner_id.to_string(),
        });
    }
    let signature = header.signature.ok_or(SealError::Unsigned)?;
    let message = signed_message(&header.partner, Epoch(header.epoch), &sealed[offset..]);
    admin
        .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&signature))
        .map_err(|_| {
            // A cut or damaged file also fails here: say which it most
            // likely is.
            if age::decrypt(
                &parse_identity(identity_text)
                    .unwrap_or_else(|_| age::x25519::Identity::generate()),
                &sealed[offset..],
            )
            .is_err()
            {
                SealError::Corrupted
            } else {
                SealError::BadSignature
            }
        })?;
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
    if partner != header.partner || epoch != Epoch(header.epoch) {
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
    use poshuk_tokens::Domain;

    fn admin() -> AdminKey {
        AdminKey::generate().expect("admin key")
    }

    fn rotated() -> KeyRing {
        let mut ring = KeyRing::with_key([3; 32]);
        ring.rotate().expect("rotates");
        ring
    }

    #[test]
    fn sealed_key_opens_for_its_partner_and_installs() {
        let signer = admin();
        let verifier = admin_public_key(&signer.public()).expect("public key");
        let admin = rotated();
        let (secret, public) = generate_identity();
        let sealed = seal(&admin, Epoch(2), "ngo", &public, &signer).expect("seals");
        assert!(
            !sealed
                .windows(8)
                .any(|w| w == &hex::encode([3u8; 4]).as_bytes()[..8])
        );
        let opened = open(&sealed, &secret, "ngo", &verifier).expect("opens");
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
        let signer = admin();
        let verifier = admin_public_key(&signer.public()).expect("public key");
        let admin = rotated();
        let (_, public) = generate_identity();
        let (other_secret, _) = generate_identity();
        let sealed = seal(&admin, Epoch(2), "ngo", &public, &signer).expect("seals");
        assert!(matches!(
            open(&sealed, &other_secret, "intl", &verifier),
            Err(SealError::ForAnotherPartner { .. })
        ));
        assert!(matches!(
            open(&sealed, &other_secret, "ngo", &verifier),
            Err(SealError::NotForThisIdentity)
        ));
        let (secret, public) = generate_identity();
        let sealed = seal(&admin, Epoch(2), "ngo", &public, &signer).expect("seals");
        let truncated = &sealed[..sealed.len() - 20];
        assert!(matches!(
            open(truncated, &secret, "ngo", &verifier),
            Err(SealError::Corrupted)
        ));
        let mut flipped = sealed.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 1;
        assert!(matches!(
            open(&flipped, &secret, "ngo", &verifier),
            Err(SealError::Corrupted)
        ));
        assert!(matches!(
            open(b"hello\n", &secret, "ngo", &verifier),
            Err(SealError::Header(HeaderError::NotSealedFile))
        ));
    }

    #[test]
    fn foreign_chain_and_gaps_are_refused() {
        let signer = admin();
        let verifier = admin_public_key(&signer.public()).expect("public key");
        let admin = rotated();
        let (secret, public) = generate_identity();
        let opened = open(
            &seal(&admin, Epoch(2), "ngo", &public, &signer).expect("seals"),
            &secret,
            "ngo",
            &verifier,
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
            &seal(&ahead, Epoch(3), "ngo", &public, &signer).expect("seals"),
            &secret,
            "ngo",
            &verifier,
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

    #[test]
    fn a_key_sealed_by_anyone_but_the_admin_is_refused() {
        let signer = admin();
        let verifier = admin_public_key(&signer.public()).expect("public key");
        let ring = rotated();
        let (secret, public) = generate_identity();
        // A left-out partner holds epoch 1 and seals a key of its own.
        let forger = admin();
        let forged = seal(&ring, Epoch(2), "ngo", &public, &forger).expect("seals");
        assert!(matches!(
            open(&forged, &secret, "ngo", &verifier),
            Err(SealError::BadSignature)
        ));
        // Stripping the signature does not help.
        let text_end = forged.iter().position(|&b| b == b'\n').expect("header");
        let header = std::str::from_utf8(&forged[..text_end]).expect("utf-8");
        let unsigned_header = header.split(" signature=").next().expect("prefix");
        let mut unsigned = format!("{unsigned_header}\n").into_bytes();
        unsigned.extend_from_slice(&forged[text_end + 1..]);
        assert!(matches!(
            open(&unsigned, &secret, "ngo", &verifier),
            Err(SealError::Unsigned)
        ));
        let text = signer.to_text();
        assert_eq!(
            AdminKey::from_text(&text).expect("parses").public(),
            signer.public()
        );
        assert!(!format!("{signer:?}").contains(&text[text.len() - 20..text.len() - 1]));
    }
}

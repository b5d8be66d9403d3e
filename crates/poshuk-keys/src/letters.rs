//! Sealed letters between partners: a contact request's message and its
//! reply, encrypted to the other partner's age X25519 public key (the same
//! identity that opens sealed epoch keys), so the coordinator that relays
//! them holds ciphertext only.
//!
//! A letter is bound to what it is about: the sealed plaintext starts with
//! a line naming the sender, the receiver and a subject the caller chooses
//! (the node uses `request HANDLE` for a request and `reply ID HANDLE` for a
//! reply), and the receiver checks it. A relay that swaps the sender, shows
//! a reply as a request, moves a letter to another record or a reply to
//! another request, is caught. It could still swap two requests one sender
//! made about the same record, or show one twice: both are that sender's
//! own words about that record.

use std::str::FromStr;

use zeroize::Zeroizing;

/// The first line of every sealed letter.
const MAGIC: &str = "poshuk-letter-v1";

/// What a letter is about, checked when it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The sending partner's id.
    pub from: &'a str,
    /// The receiving partner's id.
    pub to: &'a str,
    /// What the letter is about (a record's handle, in hex).
    pub subject: &'a str,
}

impl Envelope<'_> {
    fn line(&self) -> String {
        format!(
            "{MAGIC} from={} to={} subject={}",
            self.from, self.to, self.subject
        )
    }
}

/// Errors sealing or opening a letter; messages never carry its text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LetterError {
    /// The public key is not an age X25519 recipient.
    #[error("the partner's public key is not an age X25519 public key (age1...)")]
    BadRecipient,
    /// The identity cannot be read.
    #[error("this node's identity is not an age X25519 secret key")]
    BadIdentity,
    /// Sealed to another key, damaged, or not a letter.
    #[error(
        "the letter cannot be opened with this node's identity (sealed to another key, or damaged)"
    )]
    Unreadable,
    /// The letter's envelope is not the request's.
    #[error("the letter was sealed for another request or sender: refused")]
    WrongEnvelope,
    /// No randomness for encryption.
    #[error("no randomness available to seal the letter")]
    NoRandomness,
}

/// The secret key line of an identity file's text (comments left out).
fn identity_line(identity_text: &str) -> Result<&str, LetterError> {
    identity_text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .ok_or(LetterError::BadIdentity)
}

/// Seals `text` to `recipient` (an `age1...` public key), bound to
/// `envelope`.
pub fn seal_letter(
    recipient: &str,
    envelope: &Envelope<'_>,
    text: &str,
) -> Result<Vec<u8>, LetterError> {
    let recipient = age::x25519::Recipient::from_str(recipient.trim())
        .map_err(|_| LetterError::BadRecipient)?;
    let mut plaintext = Zeroizing::new(envelope.line());
    plaintext.push('\n');
    plaintext.push_str(text);
    age::encrypt(&recipient, plaintext.as_bytes()).map_err(|_| LetterError::NoRandomness)
}

/// Opens a letter with this partner's identity (the identity file's text)
/// and checks that it was sealed for `envelope`.
pub fn open_letter(
    identity_text: &str,
    envelope: &Envelope<'_>,
    sealed: &[u8],
) -> Result<Zeroizing<String>, LetterError> {
    let line = identity_line(identity_text)?;
    let identity = age::x25519::Identity::from_str(line).map_err(|_| LetterError::BadIdentity)?;
    let plaintext =
        Zeroizing::new(age::decrypt(&identity, sealed).map_err(|_| LetterError::Unreadable)?);
    let text = std::str::from_utf8(&plaintext).map_err(|_| LetterError::Unreadable)?;
    let (first, rest) = text.split_once('\n').ok_or(LetterError::Unreadable)?;
    if first != envelope.line() {
        return Err(LetterError::WrongEnvelope);
    }
    Ok(Zeroizing::new(rest.to_string()))
}

/// The identity an anonymous partner answers as under `pseudonym`: derived
/// from its own identity, so that each search's pseudonym has its own key
/// pair (two letters to two pseudonyms cannot be told to go to the same
/// partner by their keys) and nothing is stored per pseudonym. Returned as
/// an identity file's text, for [`open_letter`] and [`public_key_of`].
pub fn pseudonymous_identity(
    identity_text: &str,
    pseudonym: &str,
) -> Result<Zeroizing<String>, LetterError> {
    use hmac::{KeyInit, Mac};
    let line = identity_line(identity_text)?;
    // Checked to be an identity: a derivation from garbage must fail.
    age::x25519::Identity::from_str(line).map_err(|_| LetterError::BadIdentity)?;
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(line.as_bytes())
        .map_err(|_| LetterError::BadIdentity)?;
    mac.update(b"poshuk pseudonymous identity\0");
    mac.update(pseudonym.as_bytes());
    let secret = Zeroizing::new(mac.finalize().into_bytes().to_vec());
    let hrp = bech32::Hrp::parse("AGE-SECRET-KEY-").map_err(|_| LetterError::BadIdentity)?;
    let encoded = Zeroizing::new(
        bech32::encode::<bech32::Bech32>(hrp, &secret)
            .map_err(|_| LetterError::BadIdentity)?
            .to_uppercase(),
    );
    // Round-trips through age: the text is an identity it accepts.
    age::x25519::Identity::from_str(&encoded).map_err(|_| LetterError::BadIdentity)?;
    Ok(encoded)
}

/// Seals bytes to `recipient` (an `age1...` public key): a file for one
/// partner's eyes (an offline request or its reply).
pub fn seal_bytes(recipient: &str, bytes: &[u8]) -> Result<Vec<u8>, LetterError> {
    let recipient = age::x25519::Recipient::from_str(recipient.trim())
        .map_err(|_| LetterError::BadRecipient)?;
    age::encrypt(&recipient, bytes).map_err(|_| LetterError::NoRandomness)
}

/// Opens what [`seal_bytes`] sealed, with an identity file's text.
pub fn open_bytes(identity_text: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, LetterError> {
    let line = identity_line(identity_text)?;
    let identity = age::x25519::Identity::from_str(line).map_err(|_| LetterError::BadIdentity)?;
    age::decrypt(&identity, sealed)
        .map(Zeroizing::new)
        .map_err(|_| LetterError::Unreadable)
}

/// The public key (`age1...`) of an identity file's text.
pub fn public_key_of(identity_text: &str) -> Result<String, LetterError> {
    let line = identity_line(identity_text)?;
    let identity = age::x25519::Identity::from_str(line).map_err(|_| LetterError::BadIdentity)?;
    Ok(identity.to_public().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    fn identity() -> (String, String) {
        let identity = age::x25519::Identity::generate();
        (
            identity.to_string().expose_secret().to_string(),
            identity.to_public().to_string(),
        )
    }

    #[test]
    fn each_pseudonym_has_its_own_key_pair_derived_again_on_demand() {
        let (secret, public) = identity();
        let first = pseudonymous_identity(&secret, "anon-1").expect("derived");
        let again = pseudonymous_identity(&secret, "anon-1").expect("derived");
        let second = pseudonymous_identity(&secret, "anon-2").expect("derived");
        assert_eq!(first, again);
        let keys = [
            public_key_of(&first).expect("key"),
            public_key_of(&second).expect("key"),
            public.clone(),
        ];
        assert!(keys[0] != keys[1] && keys[0] != keys[2] && keys[1] != keys[2]);
        let envelope = Envelope {
            from: "ngo-ua",
            to: "anon-1",
            subject: "contact request about a handle",
        };
        let sealed = seal_letter(&keys[0], &envelope, "please call").expect("sealed");
        assert_eq!(
            open_letter(&first, &envelope, &sealed)
                .expect("opens")
                .as_str(),
            "please call"
        );
        assert!(open_letter(&second, &envelope, &sealed).is_err());
        assert!(open_letter(&secret, &envelope, &sealed).is_err());
        assert!(pseudonymous_identity("not an identity", "anon-1").is_err());
    }

    #[test]
    fn a_letter_opens_only_for_its_receiver_and_its_request() {
        let (secret, public) = identity();
        let (other_secret, _) = identity();
        let envelope = Envelope {
            from: "a",
            to: "b",
            subject: "00ff",
        };
        let sealed = seal_letter(&public, &envelope, "Подзвоніть: <b>+380</b>").expect("seals");
        assert!(!String::from_utf8_lossy(&sealed).contains("380"));
        assert_eq!(
            open_letter(&secret, &envelope, &sealed)
                .expect("opens")
                .as_str(),
            "Подзвоніть: <b>+380</b>"
        );
        assert_eq!(public_key_of(&secret).expect("public"), public);
        assert_eq!(
            open_letter(&other_secret, &envelope, &sealed).expect_err("not for it"),
            LetterError::Unreadable
        );
        let moved = Envelope {
            subject: "11ee",
            ..envelope.clone()
        };
        assert_eq!(
            open_letter(&secret, &moved, &sealed).expect_err("moved"),
            LetterError::WrongEnvelope
        );
        let mut damaged = sealed.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(open_letter(&secret, &envelope, &damaged).is_err());
        assert_eq!(
            seal_letter("age1nonsense", &envelope, "x").expect_err("bad key"),
            LetterError::BadRecipient
        );
    }
}

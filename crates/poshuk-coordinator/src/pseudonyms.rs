//! Anonymous partners: how their hits reach searchers without their name.
//!
//! Each search gives each anonymous partner with a hit a fresh pseudonym,
//! `anon-` and the partner's id sealed under the coordinator's pseudonym
//! key with a random nonce: two searches' pseudonyms of one partner look
//! unrelated to anyone but the coordinator, which opens them again when a
//! contact request names one. The hits' handles are disguised too, each
//! enciphered with a key of the pseudonym (a 128-bit block cipher: a handle
//! is one block), so a record found in two searches cannot be recognized by
//! its handle; the coordinator deciphers it for the owner.
//!
//! Nothing is stored per search: the pseudonym key (32 random bytes in the
//! state directory, or in the shared database with replicas) is all.

use std::path::Path;

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit as _};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use poshuk_protocol::Handle;
use sha2::Sha256;
use zeroize::Zeroizing;

/// What a pseudonym starts with.
pub(crate) const PREFIX: &str = "anon-";

/// How an anonymous partner is named to searchers.
pub(crate) const ANONYMOUS_NAME: &str = "a partner of the federation";

/// The pseudonym key's file in the state directory.
pub(crate) const KEY_FILE: &str = "pseudonym.key";

const AAD: &[u8] = b"poshuk pseudonym";

/// A partner id is padded to this length before it is sealed: every
/// pseudonym has the same length, whatever the id's.
const PADDED_ID: usize = 64;

/// How long a pseudonym can be written to: a searcher writes soon after
/// its search, and an old pseudonym must not stay an oracle forever.
const VALID_FOR_SECONDS: u64 = 60 * 24 * 3600;

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// The coordinator's pseudonym key.
pub(crate) struct Pseudonyms {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Pseudonyms(<redacted>)")
    }
}

/// Whether `text` is a pseudonym (not whose: only the coordinator knows).
pub(crate) fn is_pseudonym(text: &str) -> bool {
    text.starts_with(PREFIX)
}

impl Pseudonyms {
    /// The key read from `state_dir`, made there (0600) on first start.
    pub(crate) fn load_or_create(state_dir: &Path) -> std::io::Result<Pseudonyms> {
        use std::io::{Read, Write};
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let path = state_dir.join(KEY_FILE);
        if path.exists() {
            let mut file = std::fs::File::open(&path)?;
            if file.metadata()?.permissions().mode() & 0o077 != 0 {
                return Err(std::io::Error::other(format!(
                    "{} may be read by others: chmod 600 it",
                    path.display()
                )));
            }
            let mut key = Zeroizing::new([0u8; 32]);
            file.read_exact(key.as_mut())?;
            return Ok(Pseudonyms { key });
        }
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|_| std::io::Error::other("no OS randomness"))?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(key.as_ref())?;
        file.sync_all()?;
        Ok(Pseudonyms { key })
    }

    /// From a key held elsewhere (the replicas' shared database).
    pub(crate) fn from_key(key: [u8; 32]) -> Pseudonyms {
        Pseudonyms {
            key: Zeroizing::new(key),
        }
    }

    fn sealing(&self) -> ChaCha20Poly1305 {
        match ChaCha20Poly1305::new_from_slice(self.key.as_ref()) {
            Ok(cipher) => cipher,
            Err(_) => unreachable!("ChaCha20-Poly1305 takes 32-byte keys"),
        }
    }

    /// A fresh pseudonym for `partner`: random, different each time.
    pub(crate) fn new_for(&self, partner: &str) -> String {
        let mut nonce = [0u8; 12];
        if getrandom::fill(&mut nonce).is_err() {
            // Without randomness a pseudonym would repeat: better no hit.
            return format!("{PREFIX}unavailable");
        }
        // The id, padded, then when the pseudonym was made.
        let mut plain = partner.as_bytes().to_vec();
        plain.resize(PADDED_ID.max(plain.len()), 0);
        plain.extend_from_slice(&now_seconds().to_be_bytes());
        let sealed = self
            .sealing()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: AAD,
                },
            )
            .unwrap_or_default();
        format!("{PREFIX}{}{}", hex::encode(nonce), hex::encode(sealed))
    }

    /// The partner a pseudonym stands for, if it is one of this
    /// coordinator's.
    pub(crate) fn partner_of(&self, pseudonym: &str) -> Option<String> {
        let bytes = hex::decode(pseudonym.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let opened = self
            .sealing()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: AAD,
                },
            )
            .ok()?;
        let (id, made) = opened.split_at(opened.len().checked_sub(8)?);
        let made = u64::from_be_bytes(made.try_into().ok()?);
        if now_seconds().saturating_sub(made) > VALID_FOR_SECONDS {
            return None;
        }
        let id = id.split(|&byte| byte == 0).next()?;
        String::from_utf8(id.to_vec()).ok()
    }

    fn block_cipher(&self, pseudonym: &str) -> aes::Aes128 {
        let hkdf = Hkdf::<Sha256>::new(Some(b"poshuk handle alias"), self.key.as_ref());
        let mut key = Zeroizing::new([0u8; 16]);
        let _ = hkdf.expand(pseudonym.as_bytes(), key.as_mut());
        match aes::Aes128::new_from_slice(key.as_ref()) {
            Ok(cipher) => cipher,
            Err(_) => unreachable!("AES-128 takes 16-byte keys"),
        }
    }

    /// The handle a searcher sees for the record `handle`, under
    /// `pseudonym`.
    pub(crate) fn alias(&self, pseudonym: &str, handle: &Handle) -> Handle {
        let mut block = aes::Block::from(handle.0);
        self.block_cipher(pseudonym).encrypt_block(&mut block);
        Handle(block.into())
    }

    /// The owner's handle of `alias`, under `pseudonym`.
    pub(crate) fn unalias(&self, pseudonym: &str, alias: &Handle) -> Handle {
        let mut block = aes::Block::from(alias.0);
        self.block_cipher(pseudonym).decrypt_block(&mut block);
        Handle(block.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_differ_each_time_and_open_only_here() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pseudonyms = Pseudonyms::load_or_create(dir.path()).expect("made");
        let first = pseudonyms.new_for("memorial-x");
        let second = pseudonyms.new_for("memorial-x");
        assert_ne!(first, second);
        assert!(is_pseudonym(&first) && !first.contains("memorial"));
        let again = Pseudonyms::load_or_create(dir.path()).expect("read");
        assert_eq!(again.partner_of(&first).as_deref(), Some("memorial-x"));
        let other = Pseudonyms::from_key([9u8; 32]);
        assert_eq!(other.partner_of(&first), None);
        assert_eq!(pseudonyms.partner_of("anon-00"), None);
        assert_eq!(pseudonyms.partner_of("memorial-x"), None);
        // Ids of any length make pseudonyms of one length.
        assert_eq!(
            pseudonyms.new_for("a").len(),
            pseudonyms.new_for("a-much-longer-id").len()
        );
    }

    #[test]
    fn handles_are_disguised_per_pseudonym_and_recovered() {
        let pseudonyms = Pseudonyms::from_key([3u8; 32]);
        let handle = Handle([7u8; 16]);
        let (one, two) = (pseudonyms.new_for("p"), pseudonyms.new_for("p"));
        let (a, b) = (
            pseudonyms.alias(&one, &handle),
            pseudonyms.alias(&two, &handle),
        );
        assert!(a != b && a != handle);
        assert_eq!(
            pseudonyms.alias(&one, &handle),
            a,
            "the same within one search"
        );
        assert_eq!(pseudonyms.unalias(&one, &a), handle);
        assert_eq!(pseudonyms.unalias(&two, &b), handle);
    }
}

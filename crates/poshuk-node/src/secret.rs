//! The node's own secret (`node.key` in the data directory): not shared with
//! anyone, it keys the record lookup and seals the partner's case ids stored
//! in the index, so that the index itself holds no case id in the clear.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::NodeError;

/// Key material derived from `node.key`.
pub(crate) struct NodeSecret {
    lookup: Hmac<Sha256>,
    handles: Hmac<Sha256>,
    sealing: ChaCha20Poly1305,
}

impl std::fmt::Debug for NodeSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("NodeSecret(<redacted>)")
    }
}

impl NodeSecret {
    /// Opens `node.key` in `dir`, creating it (mode 0600) on first start.
    pub(crate) fn open_or_create(dir: &Path) -> Result<NodeSecret, NodeError> {
        let path = dir.join("node.key");
        let mut master = Zeroizing::new([0u8; 32]);
        if path.exists() {
            let bytes = poshuk_keys::files::load_secret_bytes(
                &path,
                "node secret",
                "poshuk node (it creates one on first start)",
            )?;
            if bytes.len() != 32 {
                return Err(NodeError::Insecure(format!(
                    "{} is not a 32-byte key",
                    path.display()
                )));
            }
            master.copy_from_slice(&bytes);
        } else {
            getrandom::fill(master.as_mut())
                .map_err(|_| NodeError::Insecure("no OS randomness".into()))?;
            poshuk_keys::files::create_secret(&path, "node secret", master.as_ref())?;
        }
        NodeSecret::from_master(master)
    }

    /// The secret derived from a master key held elsewhere (an encrypted
    /// node derives it from its vault: nothing of it is on disk).
    pub(crate) fn from_master(master: Zeroizing<[u8; 32]>) -> Result<NodeSecret, NodeError> {
        let hkdf = Hkdf::<Sha256>::new(Some(b"poshuk-node"), master.as_ref());
        let mut lookup_key = Zeroizing::new([0u8; 32]);
        let mut handle_key = Zeroizing::new([0u8; 32]);
        let mut sealing_key = Zeroizing::new([0u8; 32]);
        if hkdf.expand(b"record-lookup", lookup_key.as_mut()).is_err()
            || hkdf.expand(b"record-handle", handle_key.as_mut()).is_err()
            || hkdf
                .expand(b"record-id-sealing", sealing_key.as_mut())
                .is_err()
        {
            unreachable!("hkdf-sha256 expands to 32 bytes");
        }
        let mac = |key: &[u8]| match Hmac::<Sha256>::new_from_slice(key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("hmac takes keys of any length"),
        };
        let (lookup, handles) = (mac(lookup_key.as_ref()), mac(handle_key.as_ref()));
        let sealing = match ChaCha20Poly1305::new_from_slice(sealing_key.as_ref()) {
            Ok(cipher) => cipher,
            Err(_) => unreachable!("chacha20poly1305 takes 32-byte keys"),
        };
        Ok(NodeSecret {
            lookup,
            handles,
            sealing,
        })
    }

    /// The lookup key of a case id: equal ids give equal keys, and the key
    /// says nothing about the id without `node.key`.
    pub(crate) fn record_key(&self, record_id: &str) -> u64 {
        let mut mac = self.lookup.clone();
        mac.update(record_id.as_bytes());
        let output = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&output[..8]);
        u64::from_be_bytes(first)
    }

    /// The handle of a case id: the same every time the case is added
    /// (deleted and added again, it keeps the handle a partner was given),
    /// and unlinkable to the id without `node.key`.
    pub(crate) fn handle_for(&self, record_id: &str) -> [u8; 16] {
        let mut mac = self.handles.clone();
        mac.update(record_id.as_bytes());
        let output = mac.finalize().into_bytes();
        let mut handle = [0u8; 16];
        handle.copy_from_slice(&output[..16]);
        handle
    }

    /// A case id sealed for storage: nonce ‖ ciphertext.
    pub(crate) fn seal(&self, record_id: &str) -> Result<Vec<u8>, NodeError> {
        let mut nonce_bytes = [0u8; 12];
        getrandom::fill(&mut nonce_bytes)
            .map_err(|_| NodeError::Insecure("no OS randomness".into()))?;
        let nonce = Nonce::from(nonce_bytes);
        let ciphertext = self
            .sealing
            .encrypt(&nonce, record_id.as_bytes())
            .map_err(|_| NodeError::Insecure("sealing failed".into()))?;
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a sealed case id.
    pub(crate) fn open(&self, sealed: &[u8]) -> Option<String> {
        if sealed.len() < 12 {
            return None;
        }
        let mut nonce_bytes = [0u8; 12];
        nonce_bytes.copy_from_slice(&sealed[..12]);
        let plaintext = self
            .sealing
            .decrypt(&Nonce::from(nonce_bytes), &sealed[12..])
            .ok()?;
        String::from_utf8(plaintext).ok()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn keys_are_stable_and_ids_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = NodeSecret::open_or_create(dir.path()).expect("creates");
        let again = NodeSecret::open_or_create(dir.path()).expect("opens");
        assert_eq!(first.record_key("case-1"), again.record_key("case-1"));
        assert_ne!(first.record_key("case-1"), first.record_key("case-2"));
        let sealed = first.seal("case-1").expect("seals");
        assert!(!sealed.windows(6).any(|w| w == b"case-1"));
        assert_eq!(again.open(&sealed).as_deref(), Some("case-1"));
        let mode = std::fs::metadata(dir.path().join("node.key"))
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

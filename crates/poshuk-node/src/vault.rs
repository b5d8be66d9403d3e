//! Encryption at rest: a node whose disk may be seized keeps everything it
//! writes encrypted under a data key that is itself stored only wrapped
//! (`vault.key` in the data directory) by a storage key that never is there:
//! typed at start, read from removable media, or given in an environment
//! secret (`[storage]` in the node's config).
//!
//! What the data key protects, each under its own subkey: the index files
//! (see `index::encrypted`), the node's database (`node.db.sealed`), the
//! keyring and the partner's identity (sealed in place), and the node's
//! own secret, which is derived from the data key instead of stored.
//!
//! Wiping ([`wipe`]) overwrites and deletes `vault.key` first: without it
//! the rest cannot be decrypted by anyone, with or without the storage key,
//! whatever the disk keeps of the files deleted after it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The wrapped data key, in the data directory.
pub const VAULT_FILE: &str = "vault.key";

/// The node's database, sealed, in the data directory.
pub const SEALED_STORE_FILE: &str = "node.db.sealed";

/// What a sealed file starts with.
const SEALED_MAGIC: &[u8; 6] = b"PSKV1\n";

/// The storage key's stretching: memory (KiB), passes, lanes. About a
/// quarter of a second: paid once per start, and per guess by anyone who
/// took the disk and tries passphrases.
const KDF_MEMORY_KIB: u32 = 64 * 1024;
const KDF_PASSES: u32 = 3;

/// Where the storage key comes from (`[storage] key`).
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Asked on the terminal when the node starts (`prompt`).
    Prompt,
    /// The bytes of a file, say on a removable drive (`file:/media/key`).
    File(PathBuf),
    /// An environment variable, say set by a secret manager (`env:NAME`).
    Env(String),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Prompt => write!(formatter, "prompt"),
            KeySource::File(path) => write!(formatter, "file:{}", path.display()),
            KeySource::Env(name) => write!(formatter, "env:{name}"),
        }
    }
}

impl KeySource {
    /// Parses `prompt`, `file:PATH` or `env:NAME`.
    pub fn parse(text: &str) -> Result<KeySource, String> {
        let text = text.trim();
        if text == "prompt" {
            return Ok(KeySource::Prompt);
        }
        if let Some(path) = text.strip_prefix("file:").filter(|p| !p.is_empty()) {
            return Ok(KeySource::File(PathBuf::from(path)));
        }
        if let Some(name) = text.strip_prefix("env:").filter(|n| !n.is_empty()) {
            return Ok(KeySource::Env(name.to_string()));
        }
        Err(format!(
            "storage.key `{text}` is not `prompt`, `file:PATH` or `env:NAME`"
        ))
    }
}

/// Why the vault could not be used. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The storage key could not be had.
    #[error("the storage key: {0}")]
    NoKey(String),
    /// The storage key does not open this node's vault.
    #[error("the storage key does not open {0} (a wrong passphrase or key file?)")]
    WrongKey(String),
    /// A sealed file is damaged or not this node's.
    #[error("{0} cannot be decrypted: damaged, or sealed by another node")]
    Damaged(String),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// Which file, and what was done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The data directory holds an unencrypted node.
    #[error("{0}")]
    Refused(String),
}

/// The storage key as given: a passphrase or a key file's bytes. Wiped when
/// dropped; never printed.
pub struct StorageKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("StorageKey(<redacted>)")
    }
}

/// Fewest bytes a storage key may have: a passphrase of a few words, a key
/// file of random bytes.
const MIN_KEY_BYTES: usize = 12;

impl StorageKey {
    /// A key from bytes (a passphrase, a key file's contents); trailing line
    /// ends are not part of it.
    pub fn new(bytes: &[u8]) -> Result<StorageKey, VaultError> {
        let mut end = bytes.len();
        while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        if end < MIN_KEY_BYTES {
            return Err(VaultError::NoKey(format!(
                "it is shorter than {MIN_KEY_BYTES} bytes"
            )));
        }
        Ok(StorageKey(Zeroizing::new(bytes[..end].to_vec())))
    }

    /// Reads the key from a file or the environment (a prompt is the
    /// caller's: the command line asks on the terminal).
    pub fn from_source(source: &KeySource) -> Result<StorageKey, VaultError> {
        match source {
            KeySource::Prompt => Err(VaultError::NoKey(
                "storage.key is `prompt`: start the node from a terminal (`poshuk node`) to type it"
                    .into(),
            )),
            KeySource::File(path) => {
                // Refused when others may read it, as every secret file.
                let bytes = poshuk_keys::files::load_secret_bytes(
                    path,
                    "storage key",
                    "a random key on removable media, mode 0600",
                )
                .map_err(|error| VaultError::NoKey(error.to_string()))?;
                StorageKey::new(&bytes)
            }
            KeySource::Env(name) => {
                let value = Zeroizing::new(std::env::var(name).map_err(|_| {
                    VaultError::NoKey(format!("the environment variable {name} is not set"))
                })?);
                StorageKey::new(value.as_bytes())
            }
        }
    }
}

/// `vault.key`: the data key wrapped by the stretched storage key.
#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    kdf: String,
    memory_kib: u32,
    passes: u32,
    salt: String,
    nonce: String,
    wrapped: String,
}

/// The unlocked vault: the data key, in memory only.
pub struct Vault {
    data_key: Zeroizing<[u8; 32]>,
    /// Whether a file found in the clear may be sealed in place: only
    /// before the node has served (a keyring or identity put there to
    /// start with). Later, a file in the clear was not written by this node:
    /// planted on a seized disk, it is refused.
    accepts_clear: bool,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Vault(<redacted>)")
    }
}

fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| VaultError::NoKey("no OS randomness".into()))?;
    Ok(bytes)
}

fn stretch(
    key: &StorageKey,
    salt: &[u8],
    memory_kib: u32,
    passes: u32,
) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    let params = argon2::Params::new(memory_kib, passes, 1, Some(32))
        .map_err(|error| VaultError::NoKey(error.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut stretched = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(&key.0, salt, stretched.as_mut())
        .map_err(|error| VaultError::NoKey(error.to_string()))?;
    Ok(stretched)
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    match XChaCha20Poly1305::new_from_slice(key) {
        Ok(cipher) => cipher,
        Err(_) => unreachable!("XChaCha20-Poly1305 takes 32-byte keys"),
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> VaultError {
    move |source| VaultError::Io { what, source }
}

impl Vault {
    /// Whether `data_dir` holds a vault.
    pub fn exists(data_dir: &Path) -> bool {
        data_dir.join(VAULT_FILE).exists()
    }

    /// Unlocks the vault in `data_dir` with `key`, creating it (a new random
    /// data key) when the directory has none and holds no index yet.
    pub fn open_or_create(data_dir: &Path, key: &StorageKey) -> Result<Vault, VaultError> {
        if Vault::exists(data_dir) {
            return Vault::unlock(data_dir, key);
        }
        let unencrypted = std::fs::read_dir(data_dir)
            .map(|entries| {
                entries.flatten().any(|entry| {
                    let name = entry.file_name().to_string_lossy().to_string();
                    name.starts_with("index") || name == "node.key" || name == "node.db"
                })
            })
            .unwrap_or(false);
        let sealed_index = std::fs::read_dir(data_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|entry| crate::index::is_sealed_index(&entry.path()))
            })
            .unwrap_or(false);
        if sealed_index {
            return Err(VaultError::Refused(format!(
                "{} holds an encrypted index and no {VAULT_FILE}: the node was wiped or its vault lost, and its data cannot be read by anyone",
                data_dir.display()
            )));
        }
        if unencrypted {
            return Err(VaultError::Refused(format!(
                "{} holds an unencrypted node (its index, node.key or node.db): encryption is chosen when a node's data directory is made; start the encrypted node in a new data directory and load the export again",
                data_dir.display()
            )));
        }
        Vault::create(data_dir, key)
    }

    fn create(data_dir: &Path, key: &StorageKey) -> Result<Vault, VaultError> {
        let data_key = Zeroizing::new(random::<32>()?);
        let salt = random::<16>()?;
        let nonce = random::<24>()?;
        let stretched = stretch(key, &salt, KDF_MEMORY_KIB, KDF_PASSES)?;
        let wrapped = cipher(&stretched)
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: data_key.as_ref(),
                    aad: b"poshuk vault data key",
                },
            )
            .map_err(|_| VaultError::NoKey("wrapping failed".into()))?;
        let header = Header {
            version: 1,
            kdf: "argon2id".into(),
            memory_kib: KDF_MEMORY_KIB,
            passes: KDF_PASSES,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            wrapped: hex::encode(wrapped),
        };
        let path = data_dir.join(VAULT_FILE);
        let text = serde_json::to_vec_pretty(&header).unwrap_or_default();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(format!("cannot create {}", path.display())))?;
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(io(format!("cannot write {}", path.display())))?;
        poshuk_keys::files::sync_directory(data_dir);
        tracing::info!("a new vault: everything this node writes is encrypted under it");
        Ok(Vault {
            data_key,
            accepts_clear: true,
        })
    }

    fn unlock(data_dir: &Path, key: &StorageKey) -> Result<Vault, VaultError> {
        let path = data_dir.join(VAULT_FILE);
        let what = path.display().to_string();
        let text = std::fs::read(&path).map_err(io(format!("cannot read {what}")))?;
        let header: Header =
            serde_json::from_slice(&text).map_err(|_| VaultError::Damaged(what.clone()))?;
        let bytes =
            |hex_text: &str| hex::decode(hex_text).map_err(|_| VaultError::Damaged(what.clone()));
        let (salt, nonce, wrapped) = (
            bytes(&header.salt)?,
            bytes(&header.nonce)?,
            bytes(&header.wrapped)?,
        );
        if header.version != 1 || header.kdf != "argon2id" || nonce.len() != 24 {
            return Err(VaultError::Damaged(what));
        }
        // Bounded: a planted header must not make the node stretch for hours.
        let memory = header.memory_kib.clamp(8 * 1024, 256 * 1024);
        let passes = header.passes.clamp(1, 6);
        let stretched = stretch(key, &salt, memory, passes)?;
        let nonce: [u8; 24] = nonce
            .try_into()
            .map_err(|_| VaultError::Damaged(what.clone()))?;
        let opened = Zeroizing::new(
            cipher(&stretched)
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: &wrapped,
                        aad: b"poshuk vault data key",
                    },
                )
                .map_err(|_| VaultError::WrongKey(what.clone()))?,
        );
        let mut data_key = Zeroizing::new([0u8; 32]);
        if opened.len() != 32 {
            return Err(VaultError::Damaged(what));
        }
        data_key.copy_from_slice(&opened);
        let served = std::fs::read_dir(data_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|entry| entry.file_name().to_string_lossy().starts_with("index"))
            })
            .unwrap_or(true);
        Ok(Vault {
            data_key,
            accepts_clear: !served,
        })
    }

    /// A key for one purpose (`index`, `store`, `files`, `node-secret`),
    /// derived from the data key.
    pub fn subkey(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let hkdf = Hkdf::<Sha256>::new(Some(b"poshuk-vault"), self.data_key.as_ref());
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hkdf.expand(purpose.as_bytes(), key.as_mut());
        key
    }

    fn files_cipher(&self) -> XChaCha20Poly1305 {
        cipher(&self.subkey("files"))
    }

    /// Seals `plain` as the contents of the file called `name` (bound to
    /// it: a sealed file moved to another name does not open).
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let nonce = random::<24>()?;
        let sealed = self
            .files_cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| VaultError::NoKey("sealing failed".into()))?;
        let mut out = Vec::with_capacity(SEALED_MAGIC.len() + 24 + sealed.len());
        out.extend_from_slice(SEALED_MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`Vault::seal`] sealed under `name`.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let damaged = || VaultError::Damaged(name.to_string());
        let rest = sealed
            .strip_prefix(SEALED_MAGIC.as_slice())
            .ok_or_else(damaged)?;
        if rest.len() < 24 {
            return Err(damaged());
        }
        let (nonce, body) = rest.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| damaged())?;
        self.files_cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: name.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| damaged())
    }

    /// Reads a sealed file; a file still in the clear (a keyring or identity
    /// copied in before the node first started) is sealed in place first.
    pub fn read_file(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let name = file_name(path);
        let bytes = Zeroizing::new(
            std::fs::read(path).map_err(io(format!("cannot read {}", path.display())))?,
        );
        if bytes.starts_with(SEALED_MAGIC) {
            return self.open(&name, &bytes);
        }
        if !self.accepts_clear {
            return Err(VaultError::Refused(format!(
                "{} is in the clear, and this node keeps its files sealed: this node did not write it (put there by someone else?). Remove it; install keys with `poshuk keys install`",
                path.display()
            )));
        }
        self.write_file(path, &bytes)?;
        tracing::warn!(
            file = %path.display(),
            "a file in the clear was sealed in place: delete any other copy of it"
        );
        Ok(bytes)
    }

    /// Replaces a file with `plain` sealed (atomically, mode 0600).
    pub fn write_file(&self, path: &Path, plain: &[u8]) -> Result<(), VaultError> {
        let sealed = self.seal(&file_name(path), plain)?;
        poshuk_keys::files::replace_secret(path, "sealed file", &sealed).map_err(|error| {
            VaultError::Io {
                what: format!("cannot write {}", path.display()),
                source: std::io::Error::other(error.to_string()),
            }
        })
    }
}

/// Whether the file at `path` is sealed (by some vault).
pub fn is_sealed(path: &Path) -> bool {
    std::fs::File::open(path)
        .and_then(|mut file| {
            let mut start = [0u8; 6];
            std::io::Read::read_exact(&mut file, &mut start).map(|()| &start == SEALED_MAGIC)
        })
        .unwrap_or(false)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Overwrites a file with random bytes, syncs, and deletes it. A symbolic
/// link is removed, never followed (a link planted in the data directory
/// must not make a wipe destroy a file elsewhere).
fn shred(path: &Path) -> std::io::Result<u64> {
    let metadata = std::fs::symlink_metadata(path)?;
    if metadata.file_type().is_symlink() {
        std::fs::remove_file(path)?;
        return Ok(0);
    }
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file: left alone"));
    }
    let length = metadata.len();
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)?;
        let mut left = length;
        let mut noise = vec![0u8; 64 * 1024];
        while left > 0 {
            let chunk = left.min(noise.len() as u64) as usize;
            getrandom::fill(&mut noise[..chunk]).map_err(std::io::Error::other)?;
            file.write_all(&noise[..chunk])?;
            left -= chunk as u64;
        }
        file.sync_all()?;
    }
    std::fs::remove_file(path)?;
    Ok(length)
}

/// What [`wipe`] destroyed, in the order it did.
#[derive(Debug, Default)]
pub struct WipeReport {
    /// One line per thing destroyed.
    pub destroyed: Vec<String>,
    /// What could not be destroyed, and why.
    pub failed: Vec<String>,
}

impl WipeReport {
    fn destroy(&mut self, path: &Path, what: &str) {
        if std::fs::symlink_metadata(path).is_err() {
            return;
        }
        match shred(path) {
            Ok(bytes) => self.destroyed.push(format!(
                "{what} ({}, {bytes} bytes overwritten and deleted)",
                path.display()
            )),
            Err(error) => self
                .failed
                .push(format!("{what} ({}): {error}", path.display())),
        }
    }
}

/// Destroys one file (overwritten, synced, deleted), saying so.
pub fn wipe_file(path: &Path, what: &str) -> WipeReport {
    let mut report = WipeReport::default();
    report.destroy(path, what);
    report
}

/// Destroys a node's key material and data: first the wrapped data key
/// (after which nothing the vault sealed can be opened), then the keyring
/// and identity (overwritten), then the index generations, the database,
/// the audit log and every other file of the node (its credentials, its
/// fingerprint key, its lock), so that the disk does not even show that a
/// node ran. Works on an encrypted node and, less well, on an unencrypted
/// one (whose deleted files a disk may still hold: overwriting in place is
/// not erasure on flash storage or copy-on-write file systems).
pub fn wipe(data_dir: &Path, keyring: &Path, identity: &Path, audit_log: &Path) -> WipeReport {
    let mut report = WipeReport::default();
    report.destroy(&data_dir.join(VAULT_FILE), "the vault's wrapped data key");
    report.destroy(keyring, "the federation keyring");
    report.destroy(identity, "the partner's identity");
    report.destroy(&data_dir.join("node.key"), "the node's secret");
    for name in [SEALED_STORE_FILE, "node.db", "node.db-wal", "node.db-shm"] {
        report.destroy(&data_dir.join(name), "the node's database");
    }
    if let Ok(entries) = std::fs::read_dir(data_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            if !name.starts_with("index") || !is_dir {
                continue;
            }
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => report
                    .destroyed
                    .push(format!("the index generation {name} (deleted)")),
                Err(error) => report.failed.push(format!("{name}: {error}")),
            }
        }
    }
    report.destroy(audit_log, "the audit log");
    for rotated in poshuk_audit::rotated_files(audit_log) {
        report.destroy(&rotated, "the audit log (rotated)");
    }
    // Whatever else the node kept: its local credentials, the audit's
    // fingerprint key, its lock, an upload's link.
    if let Ok(entries) = std::fs::read_dir(data_dir) {
        for entry in entries.flatten() {
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            if !is_dir {
                report.destroy(&entry.path(), "a file of the node");
            }
        }
    }
    poshuk_keys::files::sync_directory(data_dir);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> StorageKey {
        StorageKey::new(text.as_bytes()).expect("a key")
    }

    #[test]
    fn the_right_key_opens_the_vault_and_a_wrong_one_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::open_or_create(dir.path(), &key("correct horse battery")).expect("made");
        let sealed = vault.seal("keyring.toml", b"secret text").expect("sealed");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        let again =
            Vault::open_or_create(dir.path(), &key("correct horse battery\n")).expect("opens");
        assert_eq!(
            again
                .open("keyring.toml", &sealed)
                .expect("opened")
                .as_slice(),
            b"secret text"
        );
        assert!(matches!(
            Vault::open_or_create(dir.path(), &key("wrong horse battery")),
            Err(VaultError::WrongKey(_))
        ));
        // Bound to its name, and to its bytes.
        assert!(again.open("identity.age", &sealed).is_err());
        let mut damaged = sealed.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(again.open("keyring.toml", &damaged).is_err());
        assert!(format!("{again:?} {:?}", key("correct horse battery")).contains("redacted"));
    }

    #[test]
    fn a_short_key_and_an_unencrypted_directory_are_refused() {
        assert!(StorageKey::new(b"short\n").is_err());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("index-epoch-1")).expect("dir");
        assert!(matches!(
            Vault::open_or_create(dir.path(), &key("correct horse battery")),
            Err(VaultError::Refused(_))
        ));
    }

    #[test]
    fn a_file_in_the_clear_is_sealed_in_place_when_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::open_or_create(dir.path(), &key("correct horse battery")).expect("made");
        let path = dir.path().join("keyring.toml");
        std::fs::write(&path, b"[keys]\nsecret = 1\n").expect("written");
        assert_eq!(
            vault.read_file(&path).expect("read").as_slice(),
            b"[keys]\nsecret = 1\n"
        );
        assert!(is_sealed(&path));
        assert!(
            !std::fs::read(&path)
                .expect("bytes")
                .windows(6)
                .any(|w| w == b"secret")
        );
        assert_eq!(
            vault.read_file(&path).expect("read").as_slice(),
            b"[keys]\nsecret = 1\n"
        );
    }

    #[test]
    fn a_file_in_the_clear_is_refused_once_the_node_has_served() {
        let dir = tempfile::tempdir().expect("tempdir");
        Vault::open_or_create(dir.path(), &key("correct horse battery")).expect("made");
        std::fs::create_dir(dir.path().join("index-epoch-1")).expect("served");
        let vault =
            Vault::open_or_create(dir.path(), &key("correct horse battery")).expect("opens");
        let planted = dir.path().join("keyring.toml");
        std::fs::write(&planted, b"[[epoch]]\nkey = \"planted\"\n").expect("planted");
        assert!(matches!(
            vault.read_file(&planted),
            Err(VaultError::Refused(_))
        ));
        assert!(
            !is_sealed(&planted),
            "left as it was, for the operator to see"
        );
    }

    #[test]
    fn wiping_destroys_the_wrapped_key_first_and_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::open_or_create(dir.path(), &key("correct horse battery")).expect("made");
        let keyring = dir.path().join("keyring.toml");
        vault.write_file(&keyring, b"keys").expect("written");
        std::fs::create_dir(dir.path().join("index-epoch-1")).expect("dir");
        std::fs::write(dir.path().join("index-epoch-1/seg.idx"), b"x").expect("file");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let victim = elsewhere.path().join("outside.txt");
        std::fs::write(&victim, b"not the node's").expect("a file");
        std::os::unix::fs::symlink(&victim, dir.path().join("node.db-wal")).expect("a link");
        let report = wipe(
            dir.path(),
            &keyring,
            &dir.path().join("identity.age"),
            &dir.path().join("audit.jsonl"),
        );
        assert_eq!(
            std::fs::read(&victim).expect("still there"),
            b"not the node's",
            "a link is removed, never followed"
        );
        assert!(report.failed.is_empty(), "{report:?}");
        assert!(
            report.destroyed[0].contains("wrapped data key"),
            "{report:?}"
        );
        assert!(report.destroyed.iter().any(|line| line.contains("keyring")));
        assert!(
            report
                .destroyed
                .iter()
                .any(|line| line.contains("index-epoch-1"))
        );
        assert!(!Vault::exists(dir.path()));
        assert!(!keyring.exists() && !dir.path().join("index-epoch-1").exists());
    }
}

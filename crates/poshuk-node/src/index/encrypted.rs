//! A tantivy [`Directory`] that encrypts every file it writes and decrypts
//! every file it reads, for a node whose disk may be seized (see
//! `crate::vault`). It wraps the ordinary memory-mapped directory.
//!
//! A file is a header (magic, version, a random 16-byte salt) and chunks of
//! at most 64 KiB, each sealed with XChaCha20-Poly1305 under the vault's
//! index key, nonce = salt ‖ chunk number, and the file's name and whether
//! the chunk is the last as associated data: a chunk cannot be moved,
//! reordered, or dropped from the end, and a file cannot be renamed, without
//! the read failing. Writing streams chunk by chunk; reading decrypts a
//! whole file into memory once and keeps it (tantivy then reads it as from
//! RAM), so the node's memory holds its index: the cost measured in
//! BENCHMARKS.md.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes,
    TerminatingWrite, WatchCallback, WatchHandle, WritePtr,
};

const MAGIC: &[u8; 4] = b"PSKX";
const VERSION: u8 = 1;
const HEADER: usize = MAGIC.len() + 1 + SALT;
const SALT: usize = 16;
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

/// The index directory, encrypted.
#[derive(Clone)]
pub(crate) struct EncryptedDirectory {
    inner: MmapDirectory,
    cipher: Arc<XChaCha20Poly1305>,
    /// Files decrypted so far, by path; dropped when a file is deleted.
    opened: Arc<Mutex<HashMap<PathBuf, OwnedBytes>>>,
}

impl std::fmt::Debug for EncryptedDirectory {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "EncryptedDirectory({:?})", self.inner)
    }
}

fn nonce(salt: &[u8; SALT], chunk: u64) -> XNonce {
    let mut nonce = [0u8; 24];
    nonce[..SALT].copy_from_slice(salt);
    nonce[SALT..].copy_from_slice(&chunk.to_be_bytes());
    XNonce::from(nonce)
}

fn aad(path: &Path, last: bool) -> Vec<u8> {
    let mut aad = path.to_string_lossy().as_bytes().to_vec();
    aad.push(u8::from(last));
    aad
}

fn seal_chunk(
    cipher: &XChaCha20Poly1305,
    path: &Path,
    salt: &[u8; SALT],
    chunk: u64,
    plain: &[u8],
    last: bool,
) -> io::Result<Vec<u8>> {
    cipher
        .encrypt(
            &nonce(salt, chunk),
            Payload {
                msg: plain,
                aad: &aad(path, last),
            },
        )
        .map_err(|_| io::Error::other("encrypting an index file failed"))
}

fn new_salt() -> io::Result<[u8; SALT]> {
    let mut salt = [0u8; SALT];
    getrandom::fill(&mut salt).map_err(|_| io::Error::other("no OS randomness"))?;
    Ok(salt)
}

fn header(salt: &[u8; SALT]) -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    header.push(VERSION);
    header.extend_from_slice(salt);
    header
}

/// Encrypts a whole file's contents.
fn encrypt_all(cipher: &XChaCha20Poly1305, path: &Path, plain: &[u8]) -> io::Result<Vec<u8>> {
    let salt = new_salt()?;
    let mut out = header(&salt);
    let chunks: Vec<&[u8]> = if plain.is_empty() {
        vec![&[]]
    } else {
        plain.chunks(CHUNK).collect()
    };
    let count = chunks.len();
    for (number, chunk) in chunks.into_iter().enumerate() {
        out.extend(seal_chunk(
            cipher,
            path,
            &salt,
            number as u64,
            chunk,
            number + 1 == count,
        )?);
    }
    Ok(out)
}

/// Decrypts a whole file, checking that no chunk is missing, moved or cut.
fn decrypt_all(cipher: &XChaCha20Poly1305, path: &Path, sealed: &[u8]) -> io::Result<Vec<u8>> {
    let damaged = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "index file {} cannot be decrypted: damaged, or not this node's",
                path.display()
            ),
        )
    };
    if sealed.len() < HEADER + TAG || &sealed[..MAGIC.len()] != MAGIC || sealed[4] != VERSION {
        return Err(damaged());
    }
    let mut salt = [0u8; SALT];
    salt.copy_from_slice(&sealed[MAGIC.len() + 1..HEADER]);
    let body = &sealed[HEADER..];
    let mut plain = Vec::with_capacity(body.len());
    let mut offset = 0;
    let mut number = 0u64;
    while offset < body.len() {
        let end = (offset + CHUNK + TAG).min(body.len());
        let last = end == body.len();
        let opened = cipher
            .decrypt(
                &nonce(&salt, number),
                Payload {
                    msg: &body[offset..end],
                    aad: &aad(path, last),
                },
            )
            .map_err(|_| damaged())?;
        plain.extend_from_slice(&opened);
        offset = end;
        number += 1;
    }
    Ok(plain)
}

/// Whether the file at `path` was written by an encrypted directory.
pub(crate) fn is_sealed_file(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(MAGIC))
}

impl EncryptedDirectory {
    /// The directory at `path`, its files sealed with `key` (the vault's
    /// index subkey).
    pub(crate) fn open(path: &Path, key: &[u8; 32]) -> Result<EncryptedDirectory, String> {
        let inner = MmapDirectory::open(path).map_err(|error| error.to_string())?;
        Ok(EncryptedDirectory {
            inner,
            cipher: Arc::new(
                XChaCha20Poly1305::new_from_slice(key).map_err(|_| "a 32-byte key".to_string())?,
            ),
            opened: Arc::default(),
        })
    }
}

impl Directory for EncryptedDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if let Some(bytes) = self
            .opened
            .lock()
            .ok()
            .and_then(|opened| opened.get(path).cloned())
        {
            return Ok(Arc::new(bytes));
        }
        let sealed = self.inner.open_read(path)?;
        let sealed = sealed
            .read_bytes()
            .map_err(|error| OpenReadError::wrap_io_error(error, path.to_path_buf()))?;
        let plain = decrypt_all(&self.cipher, path, sealed.as_slice())
            .map_err(|error| OpenReadError::wrap_io_error(error, path.to_path_buf()))?;
        let bytes = OwnedBytes::new(plain);
        if let Ok(mut opened) = self.opened.lock() {
            opened.insert(path.to_path_buf(), bytes.clone());
        }
        Ok(Arc::new(bytes))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        if let Ok(mut opened) = self.opened.lock() {
            opened.remove(path);
        }
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let inner = self.inner.open_write(path)?;
        let salt =
            new_salt().map_err(|error| OpenWriteError::wrap_io_error(error, path.to_path_buf()))?;
        let mut writer = EncryptingWriter {
            inner: Some(inner),
            cipher: self.cipher.clone(),
            path: path.to_path_buf(),
            salt,
            chunk: 0,
            buffer: Vec::with_capacity(CHUNK),
        };
        writer
            .write_header()
            .map_err(|error| OpenWriteError::wrap_io_error(error, path.to_path_buf()))?;
        Ok(BufWriter::new(Box::new(writer)))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        let sealed = self.inner.atomic_read(path)?;
        decrypt_all(&self.cipher, path, &sealed)
            .map_err(|error| OpenReadError::wrap_io_error(error, path.to_path_buf()))
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let sealed = encrypt_all(&self.cipher, path, data)?;
        self.inner.atomic_write(path, &sealed)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

/// Writes a file chunk by chunk, sealing each; the last chunk (possibly
/// empty) is sealed as the last when the file is terminated.
struct EncryptingWriter {
    inner: Option<WritePtr>,
    cipher: Arc<XChaCha20Poly1305>,
    path: PathBuf,
    salt: [u8; SALT],
    chunk: u64,
    buffer: Vec<u8>,
}

impl EncryptingWriter {
    fn inner(&mut self) -> io::Result<&mut WritePtr> {
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::other("the index file is already terminated"))
    }

    fn write_header(&mut self) -> io::Result<()> {
        let header = header(&self.salt);
        self.inner()?.write_all(&header)
    }

    fn seal_next(&mut self, plain: &[u8], last: bool) -> io::Result<()> {
        let sealed = seal_chunk(
            &self.cipher,
            &self.path,
            &self.salt,
            self.chunk,
            plain,
            last,
        )?;
        self.chunk += 1;
        self.inner()?.write_all(&sealed)
    }
}

impl Write for EncryptingWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        // Strictly more than a chunk: the bytes of the last chunk stay in
        // the buffer until terminate seals them as the last.
        while self.buffer.len() > CHUNK {
            let rest = self.buffer.split_off(CHUNK);
            let full = std::mem::replace(&mut self.buffer, rest);
            self.seal_next(&full, false)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner()?.flush()
    }
}

impl TerminatingWrite for EncryptingWriter {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        let last = std::mem::take(&mut self.buffer);
        self.seal_next(&last, true)?;
        let inner = self
            .inner
            .take()
            .ok_or_else(|| io::Error::other("the index file is already terminated"))?;
        inner
            .into_inner()
            .map_err(|error| error.into_error())?
            .terminate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory(dir: &Path) -> EncryptedDirectory {
        EncryptedDirectory::open(dir, &[7u8; 32]).expect("opens")
    }

    #[test]
    fn files_of_every_length_read_back_and_are_not_in_the_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let encrypted = directory(dir.path());
        for length in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let name = PathBuf::from(format!("file-{length}.idx"));
            let plain: Vec<u8> = (0..length).map(|i| b"plaintext"[i % 9]).collect();
            let mut writer = encrypted.open_write(&name).expect("opens for writing");
            // In pieces, as tantivy writes.
            for piece in plain.chunks(1000) {
                writer.write_all(piece).expect("written");
            }
            writer.flush().expect("flushed");
            writer
                .into_inner()
                .map_err(|_| ())
                .expect("unbuffered")
                .terminate()
                .expect("terminated");
            let read = encrypted
                .open_read(&name)
                .expect("opens")
                .read_bytes()
                .expect("reads");
            assert_eq!(read.as_slice(), plain.as_slice(), "length {length}");
            let raw = std::fs::read(dir.path().join(&name)).expect("raw");
            assert!(
                !raw.windows(9).any(|window| window == b"plaintext"),
                "length {length}"
            );
        }
        encrypted
            .atomic_write(Path::new("meta.json"), b"{\"segments\":[]}")
            .expect("written");
        assert_eq!(
            encrypted.atomic_read(Path::new("meta.json")).expect("read"),
            b"{\"segments\":[]}"
        );
    }

    #[test]
    fn a_cut_renamed_or_foreign_file_does_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let encrypted = directory(dir.path());
        let plain = vec![42u8; 2 * CHUNK + 5];
        encrypted
            .atomic_write(Path::new("a.idx"), &plain)
            .expect("written");
        let raw = std::fs::read(dir.path().join("a.idx")).expect("raw");
        // Cut after the first two chunks: the end is missing.
        let cut = &raw[..HEADER + 2 * (CHUNK + TAG)];
        assert!(decrypt_all(&encrypted.cipher, Path::new("a.idx"), cut).is_err());
        // Under another name.
        assert!(decrypt_all(&encrypted.cipher, Path::new("b.idx"), &raw).is_err());
        // Under another key.
        let other = EncryptedDirectory::open(dir.path(), &[8u8; 32]).expect("opens");
        assert!(other.atomic_read(Path::new("a.idx")).is_err());
    }
}

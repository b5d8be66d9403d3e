//! Secret files on disk (keyrings, partner identities, the admin's signing
//! key, a node's own secret): written mode 0600 from their creation, synced,
//! replaced atomically, and refused when group or others may read them.
//!
//! One reader and one writer for every secret file of the project, so the
//! permission check and the atomic replace cannot drift apart between copies.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::keyring::KeyRing;
use crate::sealed::AdminKey;

/// Why a secret file cannot be read or written. Messages name the file and
/// what to do; they never carry its contents.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file system refused.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Group or others may read the file.
    #[error("{what} {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")]
    ReadableByOthers {
        /// Which secret.
        what: &'static str,
        /// Its path.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold what it should.
    #[error("{path}: {message}")]
    Invalid {
        /// Its path.
        path: String,
        /// What is wrong with it (never its contents).
        message: String,
    },
}

/// Reads a keyring, refusing a file that group or others may read.
pub fn load(path: &Path) -> Result<KeyRing, FileError> {
    let text = load_secret(path, "keyring", "poshuk keys init")?;
    KeyRing::from_text(&text).map_err(|error| invalid(path, error))
}

/// Writes a new keyring file with mode 0600; never overwrites an existing file.
pub fn create(path: &Path, ring: &KeyRing) -> Result<(), FileError> {
    create_secret(path, "keyring", ring.to_text().as_bytes())
}

/// Replaces a keyring file atomically: the new text goes to a 0600 temporary
/// file beside it, is synced, and is renamed over the old one (then the
/// directory is synced), so a crash leaves either the old keyring or the new
/// one, never a mix.
pub fn replace(path: &Path, ring: &KeyRing) -> Result<(), FileError> {
    replace_secret(path, "keyring", ring.to_text().as_bytes())
}

/// Reads a partner's age identity (its secret key), refusing a file that
/// group or others may read.
pub fn load_identity(path: &Path) -> Result<Zeroizing<String>, FileError> {
    load_secret(path, "identity", "poshuk keys identity")
}

/// Writes a new identity file with mode 0600; never overwrites.
pub fn create_identity(path: &Path, secret: &str, public: &str) -> Result<(), FileError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| FileError::Io {
            what: format!("cannot create {}", parent.display()),
            source,
        })?;
    }
    create_secret(path, "identity", identity_text(secret, public).as_bytes())
}

/// An identity file's text: what [`create_identity`] writes, and what an
/// encrypted node seals instead.
pub fn identity_text(secret: &str, public: &str) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "# poshuk partner identity: SECRET, keep mode 0600.\n# public key: {public}\n{secret}\n"
    ))
}

/// Reads the admin's signing key, refusing a file that group or others may
/// read.
pub fn load_admin_key(path: &Path) -> Result<AdminKey, FileError> {
    let text = load_secret(path, "admin signing key", "poshuk keys admin-key")?;
    AdminKey::from_text(&text).map_err(|error| invalid(path, error))
}

/// Writes a new admin signing key file with mode 0600; never overwrites.
pub fn create_admin_key(path: &Path, key: &AdminKey) -> Result<(), FileError> {
    create_secret(path, "admin signing key", key.to_text().as_bytes())
}

fn invalid(path: &Path, error: impl std::fmt::Display) -> FileError {
    FileError::Invalid {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

/// Reads a secret file's bytes (`what` names it in messages, `create` says
/// how to make one), refusing it when group or others may read it. The
/// permissions are checked on the opened file, so the file read is the file
/// checked.
pub fn load_secret_bytes(
    path: &Path,
    what: &'static str,
    create: &str,
) -> Result<Zeroizing<Vec<u8>>, FileError> {
    let mut file = std::fs::File::open(path).map_err(|source| FileError::Io {
        what: format!(
            "cannot open {what} {} (create it with `{create}`)",
            path.display()
        ),
        source,
    })?;
    let read_error = |source| FileError::Io {
        what: format!("cannot read {what} {}", path.display()),
        source,
    };
    let metadata = file.metadata().map_err(read_error)?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(FileError::ReadableByOthers {
            what,
            path: path.display().to_string(),
            mode,
        });
    }
    // Sized up front: a buffer that grew would leave copies of the secret in
    // freed memory, which `Zeroizing` never sees.
    let capacity = usize::try_from(metadata.len())
        .unwrap_or(0)
        .saturating_add(1);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.read_to_end(&mut bytes).map_err(read_error)?;
    Ok(bytes)
}

/// Reads a secret text file, as [`load_secret_bytes`].
pub fn load_secret(
    path: &Path,
    what: &'static str,
    create: &str,
) -> Result<Zeroizing<String>, FileError> {
    let bytes = load_secret_bytes(path, what, create)?;
    std::str::from_utf8(&bytes)
        .map(|text| Zeroizing::new(text.to_string()))
        .map_err(|_| invalid(path, format!("the {what} is not UTF-8 text")))
}

/// Writes a new secret file: mode 0600 from its creation, synced, never over
/// an existing file.
pub fn create_secret(path: &Path, what: &str, contents: &[u8]) -> Result<(), FileError> {
    let io = |source| FileError::Io {
        what: format!("cannot write {what} {}", path.display()),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| FileError::Io {
            what: if source.kind() == std::io::ErrorKind::AlreadyExists {
                format!(
                    "cannot create {what} {} (it must not exist yet)",
                    path.display()
                )
            } else {
                format!("cannot create {what} {}", path.display())
            },
            source,
        })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    // The new name itself must survive a power cut (a node's secret is
    // created once, beside the index it protects).
    sync_directory(parent_directory(path));
    Ok(())
}

/// The directory a file is in (`.` for a bare file name).
fn parent_directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Replaces a secret file atomically (see [`replace`]).
pub fn replace_secret(path: &Path, what: &str, contents: &[u8]) -> Result<(), FileError> {
    let io = |source| FileError::Io {
        what: format!("cannot replace {what} {}", path.display()),
        source,
    };
    let directory = parent_directory(path);
    // tempfile creates the file 0600 in the same directory, so the rename
    // below stays on one file system and never exposes the contents.
    let mut temporary = tempfile::Builder::new()
        .prefix(".poshuk-secret")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(directory)
        .map_err(io)?;
    temporary
        .write_all(contents)
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(io)?;
    temporary.persist(path).map_err(|error| io(error.error))?;
    sync_directory(directory);
    Ok(())
}

/// Syncs a directory, so a rename in it survives a power cut. Best effort:
/// some file systems refuse to open a directory for syncing.
pub fn sync_directory(directory: &Path) {
    if let Ok(handle) = std::fs::File::open(directory) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_private_and_replaced_whole() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("keyring.toml");
        let ring = KeyRing::generate().expect("randomness");
        create(&path, &ring).expect("created");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert!(create(&path, &ring).is_err(), "never overwrites");

        let mut rotated = load(&path).expect("loads");
        rotated.rotate().expect("rotates");
        replace(&path, &rotated).expect("replaced");
        assert_eq!(load(&path).expect("loads").entries().len(), 2);
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "the replacement is private too");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("lists")
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name() != "keyring.toml")
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            load(&path),
            Err(FileError::ReadableByOthers { .. })
        ));
    }
}

//! The keyring on disk: written mode 0600, refused when others can read it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use poshuk_core::KeyRing;
use zeroize::Zeroizing;

use crate::NodeError;

/// Reads a keyring, refusing a file that group or others may read.
pub fn load(path: &Path) -> Result<KeyRing, NodeError> {
    let text = load_secret(path, "keyring", "poshuk keys init")?;
    KeyRing::from_text(&text)
        .map_err(|error| NodeError::Keyring(format!("{}: {error}", path.display())))
}

/// Writes a new keyring file with mode 0600; never overwrites an existing file.
pub fn create(path: &Path, ring: &KeyRing) -> Result<(), NodeError> {
    create_secret(path, "keyring", &ring.to_text())
}

/// Replaces a keyring file atomically: the new text goes to a 0600 sibling
/// file, is synced, and is renamed over the old one, so a crash leaves either
/// the old keyring or the new one, never a mix.
pub fn replace(path: &Path, ring: &KeyRing) -> Result<(), NodeError> {
    let temporary = path.with_extension("toml.new");
    let _ = std::fs::remove_file(&temporary);
    create_secret(&temporary, "keyring", &ring.to_text())?;
    std::fs::rename(&temporary, path).map_err(|source| NodeError::Io {
        what: format!("cannot replace keyring {}", path.display()),
        source,
    })?;
    if let Some(parent) = path.parent()
        && let Ok(directory) = std::fs::File::open(parent)
    {
        let _ = directory.sync_all();
    }
    Ok(())
}

/// Reads a partner's age identity (its secret key), refusing a file that
/// group or others may read.
pub fn load_identity(path: &Path) -> Result<Zeroizing<String>, NodeError> {
    load_secret(path, "identity", "poshuk keys identity")
}

/// Writes a new identity file with mode 0600; never overwrites.
pub fn create_identity(path: &Path, secret: &str, public: &str) -> Result<(), NodeError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| NodeError::Io {
            what: format!("cannot create {}", parent.display()),
            source,
        })?;
    }
    let text = Zeroizing::new(format!(
        "# poshuk partner identity: SECRET, keep mode 0600.\n# public key: {public}\n{secret}\n"
    ));
    create_secret(path, "identity", &text)
}

/// Reads the admin's signing key, refusing a file that group or others may
/// read.
pub fn load_admin_key(path: &Path) -> Result<poshuk_core::sealed::AdminKey, NodeError> {
    let text = load_secret(path, "admin signing key", "poshuk keys admin-key")?;
    poshuk_core::sealed::AdminKey::from_text(&text)
        .map_err(|error| NodeError::Keyring(format!("{}: {error}", path.display())))
}

/// Writes a new admin signing key file with mode 0600; never overwrites.
pub fn create_admin_key(path: &Path, key: &poshuk_core::sealed::AdminKey) -> Result<(), NodeError> {
    create_secret(path, "admin signing key", &key.to_text())
}

/// Reads a secret file (`what` names it in messages, `create` says how to
/// make one), refusing it when group or others may read it.
fn load_secret(path: &Path, what: &str, create: &str) -> Result<Zeroizing<String>, NodeError> {
    let metadata = std::fs::metadata(path).map_err(|source| NodeError::Io {
        what: format!(
            "cannot open {what} {} (create it with `{create}`)",
            path.display()
        ),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(NodeError::Insecure(format!(
            "{what} {} is readable by others (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(Zeroizing::new(std::fs::read_to_string(path).map_err(
        |source| NodeError::Io {
            what: format!("cannot read {what} {}", path.display()),
            source,
        },
    )?))
}

/// Writes a new secret file: mode 0600 from its creation, synced, never over
/// an existing file.
fn create_secret(path: &Path, what: &str, text: &str) -> Result<(), NodeError> {
    let io = |source| NodeError::Io {
        what: format!(
            "cannot create {what} {} (it must not exist yet)",
            path.display()
        ),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)
}

//! The keyring on disk: written mode 0600, refused when others can read it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use poshuk_core::KeyRing;
use zeroize::Zeroizing;

use crate::NodeError;

/// Reads a keyring, refusing a file that group or others may read.
pub fn load(path: &Path) -> Result<KeyRing, NodeError> {
    let metadata = std::fs::metadata(path).map_err(|source| NodeError::Io {
        what: format!("cannot open keyring {}", path.display()),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(NodeError::Insecure(format!(
            "keyring {} is readable by others (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| NodeError::Io {
            what: format!("cannot read keyring {}", path.display()),
            source,
        })?,
    );
    KeyRing::from_text(&text)
        .map_err(|error| NodeError::Keyring(format!("{}: {error}", path.display())))
}

/// Writes a new keyring file with mode 0600; never overwrites an existing file.
pub fn create(path: &Path, ring: &KeyRing) -> Result<(), NodeError> {
    let io = |source| NodeError::Io {
        what: format!(
            "cannot create keyring {} (it must not exist yet)",
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
    let text = ring.to_text();
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    Ok(())
}

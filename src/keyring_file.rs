//! The keyring on disk: written mode 0600, refused when others can read it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use poshuk_core::KeyRing;
use zeroize::Zeroizing;

/// Reads a keyring, refusing a file that group or others may read.
pub(crate) fn load(path: &Path) -> anyhow::Result<KeyRing> {
    let metadata = std::fs::metadata(path)
        .with_context(|| format!("cannot open keyring {}", path.display()))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "keyring {} is readable by others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode,
            path.display()
        );
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read keyring {}", path.display()))?,
    );
    KeyRing::from_text(&text).with_context(|| format!("keyring {}", path.display()))
}

/// Writes a new keyring file with mode 0600; never overwrites an existing file.
pub(crate) fn create(path: &Path, ring: &KeyRing) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "cannot create keyring {} (it must not exist yet)",
                path.display()
            )
        })?;
    let text = ring.to_text();
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write keyring {}", path.display()))?;
    Ok(())
}

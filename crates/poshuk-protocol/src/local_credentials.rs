//! Where a node keeps the credentials of its local API, and how the command
//! line of the same OS user finds them.
//!
//! The local API takes raw records, deletes them and installs keys: any
//! process that can reach loopback can call it, so every call carries a
//! bearer token. A node makes two on its first start, in its data directory,
//! readable by its own OS user only (mode 0600): one that may do everything,
//! and one that may only search, resolve and read the status (for staff
//! tools that must not change the list). When it starts listening it also
//! notes its data directory under its local address in a per-user directory
//! ([`registry_dir`]), so that `poshuk ingest --node URL`, run by the same
//! user, finds the credential without being told; another user cannot read
//! the data directory, and is refused.

use std::path::PathBuf;

/// The credential that may do everything (ingest, delete, keys, search).
pub const ADMIN_TOKEN_FILE: &str = "local-admin.token";
/// The credential that may search, resolve handles and read the status.
pub const SEARCH_TOKEN_FILE: &str = "local-search.token";

/// The per-user directory of local-address → data-directory notes:
/// `$POSHUK_STATE_DIR`, else `$XDG_STATE_HOME/poshuk`, else
/// `$HOME/.local/state/poshuk`.
pub fn registry_dir() -> Option<PathBuf> {
    let from = |name: &str| {
        std::env::var_os(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    from("POSHUK_STATE_DIR")
        .or_else(|| from("XDG_STATE_HOME").map(|dir| dir.join("poshuk")))
        .or_else(|| from("HOME").map(|home| home.join(".local/state/poshuk")))
        .map(|dir| dir.join("nodes"))
}

/// The note for a node's local address (`127.0.0.1:7402`): a file whose
/// text is the node's data directory.
pub fn registry_entry(address: &str) -> Option<PathBuf> {
    let name: String = address
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    registry_dir().map(|dir| dir.join(format!("node-{name}")))
}

/// The `host:port` of a local API URL (`http://127.0.0.1:7402/` →
/// `127.0.0.1:7402`).
pub fn address_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_one_note_each() {
        assert_eq!(address_of("http://127.0.0.1:7402/"), "127.0.0.1:7402");
        assert_eq!(address_of("127.0.0.1:7402"), "127.0.0.1:7402");
        let (a, b) = (
            registry_entry("127.0.0.1:7402"),
            registry_entry("127.0.0.1:7403"),
        );
        assert!(a.is_some());
        assert_ne!(a, b);
        // No separator can climb out of the directory.
        let odd = registry_entry("../../etc:1").expect("a path");
        assert_eq!(odd.parent(), registry_dir().as_deref());
    }
}

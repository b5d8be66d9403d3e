//! The local API's credentials and the checks every local request passes
//! before its body is read: a bearer token with the right for the route,
//! a loopback `Host` (against DNS rebinding), no foreign `Origin` (against
//! a web page in a staff member's browser), and JSON where JSON is due.

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use poshuk_protocol::local_credentials::{ADMIN_TOKEN_FILE, SEARCH_TOKEN_FILE, registry_entry};
use poshuk_protocol::routes::{self, local};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::NodeError;
use crate::service::ApiError;

/// What a local credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LocalRight {
    /// Search, resolve handles, read the status and metrics.
    Search,
    /// Everything: also ingest, delete, compact and install keys.
    Admin,
}

impl LocalRight {
    /// Its name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            LocalRight::Search => "search",
            LocalRight::Admin => "admin",
        }
    }
}

/// The two local tokens, read from (or created in) the data directory.
pub struct LocalCredentials {
    /// SHA-256 of each token, made once: requests are compared with these.
    admin: Zeroizing<[u8; 32]>,
    search: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for LocalCredentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("LocalCredentials(<redacted>)")
    }
}

impl LocalCredentials {
    /// Opens `local-admin.token` and `local-search.token` in `dir`,
    /// creating each (mode 0600, 32 random bytes in hex) if missing; a file
    /// that group or others may read is refused.
    pub fn open_or_create(dir: &Path) -> Result<LocalCredentials, NodeError> {
        let token = |name: &str, what: &'static str| -> Result<Zeroizing<String>, NodeError> {
            let path = dir.join(name);
            if !path.exists() {
                let mut bytes = Zeroizing::new([0u8; 32]);
                getrandom::fill(bytes.as_mut())
                    .map_err(|_| NodeError::Insecure("no OS randomness".into()))?;
                let text = Zeroizing::new(hex::encode(&bytes[..]));
                poshuk_keys::files::create_secret(&path, what, text.as_bytes())?;
            }
            let text = poshuk_keys::files::load_secret(
                &path,
                what,
                "poshuk node (it creates one on first start)",
            )?;
            let trimmed = Zeroizing::new(text.trim().to_string());
            if trimmed.len() < 32 {
                return Err(NodeError::Insecure(format!(
                    "{} holds fewer than 32 characters: delete it and the node makes a new one",
                    path.display()
                )));
            }
            Ok(trimmed)
        };
        let digest = |token: Zeroizing<String>| -> Zeroizing<[u8; 32]> {
            use sha2::{Digest, Sha256};
            Zeroizing::new(Sha256::digest(token.as_bytes()).into())
        };
        Ok(LocalCredentials {
            admin: digest(token(ADMIN_TOKEN_FILE, "local admin credential")?),
            search: digest(token(SEARCH_TOKEN_FILE, "local search credential")?),
        })
    }

    /// The right a presented token carries, compared in constant time.
    pub fn right_of(&self, presented: &str) -> Option<LocalRight> {
        use sha2::{Digest, Sha256};
        // Digests, not the strings: equal lengths, so the comparison's time
        // says nothing of the token's length either.
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let equal = |expected: &[u8; 32]| bool::from(presented.ct_eq(expected));
        if equal(&self.admin) {
            Some(LocalRight::Admin)
        } else if equal(&self.search) {
            Some(LocalRight::Search)
        } else {
            None
        }
    }
}

/// Notes the data directory under the local address for the command line
/// of this OS user (see `poshuk_protocol::local_credentials`). A note that
/// cannot be written costs only convenience: the command line can be given
/// `--token-file`.
pub fn note_local_address(address: &str, data_dir: &Path) {
    let Some(entry) = registry_entry(address) else {
        return;
    };
    let Ok(data_dir) = std::fs::canonicalize(data_dir) else {
        return;
    };
    let written = (|| -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
        if let Some(parent) = entry.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
            // Only a directory of this user's, closed to others: in a shared
            // one, another user could plant a link where the note goes.
            let metadata = std::fs::symlink_metadata(parent)?;
            let me = rustix::process::geteuid().as_raw();
            if !metadata.is_dir() || metadata.uid() != me || metadata.mode() & 0o077 != 0 {
                return Err(std::io::Error::other(
                    "the directory is not this user's alone (mode 0700)",
                ));
            }
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&entry)?;
        file.write_all(data_dir.to_string_lossy().as_bytes())
    })();
    if let Err(error) = written {
        tracing::warn!(
            note = %entry.display(),
            error = %error,
            "cannot note where this node's local credentials are: give the command line --token-file"
        );
    }
}

/// The right a local route needs; `None` for the probes, which need none.
fn right_needed(method: &Method, path: &str) -> Option<LocalRight> {
    if path == routes::LIVEZ || path == routes::READYZ {
        return None;
    }
    let reads = path == local::SEARCH
        || path == local::FEDERATED_SEARCH
        || path == local::STATUS
        || path == routes::METRICS
        || (method == Method::GET && path.starts_with("/local/v1/resolve/"));
    Some(if reads {
        LocalRight::Search
    } else {
        LocalRight::Admin
    })
}

/// Whether a `Host` or `Origin` authority names this machine's loopback.
pub(crate) fn is_loopback_authority(authority: &str) -> bool {
    // A port, when there is one, is digits only (`localhost:1@evil.example`
    // is no loopback authority).
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':').unwrap_or(after)),
            None => return false,
        }
    } else {
        authority.rsplit_once(':').unwrap_or((authority, ""))
    };
    if !port.bytes().all(|byte| byte.is_ascii_digit()) {
        return false;
    }
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn refuse(status: StatusCode, code: &'static str, message: &str) -> Response {
    ApiError::new(status, code, message.to_string()).into_response()
}

/// The local API's gate: runs before any handler, so before any body is read.
pub(crate) async fn check_local_request(
    State((credentials, audit)): State<(
        std::sync::Arc<LocalCredentials>,
        std::sync::Arc<crate::service::audit::NodeAudit>,
    )>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let Some(needed) = right_needed(request.method(), &path) else {
        return next.run(request).await;
    };
    let headers: &HeaderMap = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !is_loopback_authority(host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "the local API answers only requests addressed to this machine's loopback (Host: 127.0.0.1 or localhost)",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
        if authority != host {
            return refuse(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "the local API answers no request sent by a web page of another origin",
            );
        }
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    let Some(right) = credentials.right_of(presented.trim()) else {
        audit.log.failed_authentication(&path);
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the local API needs the node's local credential as `Authorization: Bearer <token>` (local-admin.token or local-search.token in the node's data directory)",
        );
    };
    if right < needed {
        audit.log.failed_authentication(&path);
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this credential may search only: ingest, delete and keys need local-admin.token",
        );
    }
    // Sealed files go as they are; every other body is JSON (a browser
    // form cannot send it across origins without a preflight).
    if request.method() == Method::POST
        && path != local::KEYS_INSTALL
        && path != local::OFFLINE_ANSWER
    {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .split(';')
                    .next()
                    .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            );
        }
    }
    request.extensions_mut().insert(right);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_authorities() {
        for yes in ["127.0.0.1:7402", "localhost:1", "[::1]:8080", "127.0.0.1"] {
            assert!(is_loopback_authority(yes), "{yes}");
        }
        for no in [
            "evil.example:7402",
            "10.0.0.1:7402",
            "",
            "127.0.0.1.evil.example",
            "localhost:7402@evil.example",
            "[::1]x",
        ] {
            assert!(!is_loopback_authority(no), "{no}");
        }
    }

    #[test]
    fn tokens_are_made_once_private_and_told_apart() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let first = LocalCredentials::open_or_create(dir.path()).expect("creates");
        let again = LocalCredentials::open_or_create(dir.path()).expect("opens");
        let admin = std::fs::read_to_string(dir.path().join(ADMIN_TOKEN_FILE)).expect("admin");
        let search = std::fs::read_to_string(dir.path().join(SEARCH_TOKEN_FILE)).expect("search");
        assert_ne!(admin, search);
        assert_eq!(first.right_of(&admin), Some(LocalRight::Admin));
        assert_eq!(again.right_of(&search), Some(LocalRight::Search));
        assert_eq!(first.right_of(""), None);
        assert_eq!(first.right_of(&admin[..20]), None);
        assert!(!format!("{first:?}").contains(&admin));
        // A credential others may read is refused.
        let path = dir.path().join(SEARCH_TOKEN_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = LocalCredentials::open_or_create(dir.path()).expect_err("refused");
        assert!(error.to_string().contains("local-search.token"), "{error}");
    }

    #[test]
    fn routes_need_their_rights() {
        assert_eq!(right_needed(&Method::GET, routes::LIVEZ), None);
        assert_eq!(
            right_needed(&Method::POST, local::SEARCH),
            Some(LocalRight::Search)
        );
        assert_eq!(
            right_needed(&Method::GET, "/local/v1/resolve/abc"),
            Some(LocalRight::Search)
        );
        for write in [
            local::DELETE,
            local::INGEST_SESSIONS,
            local::KEYS_INSTALL,
            local::COMPACT,
        ] {
            assert_eq!(right_needed(&Method::POST, write), Some(LocalRight::Admin));
        }
        assert_eq!(
            right_needed(&Method::POST, "/local/v1/unknown"),
            Some(LocalRight::Admin)
        );
    }
}

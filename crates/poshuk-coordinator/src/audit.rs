//! The coordinator's append-only audit log: one JSON line per search (who,
//! when, what came back per partner, never the tokens) and per key
//! operation.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use poshuk_protocol::FederatedResponse;

use crate::CoordinatorError;

/// The audit log file, opened for appending.
#[derive(Debug)]
pub(crate) struct AuditLog(Mutex<std::fs::File>);

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl AuditLog {
    /// Opens (creating) the log and its directory.
    pub(crate) fn open(path: &Path) -> Result<AuditLog, CoordinatorError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| CoordinatorError::Io {
                what: format!("audit log directory {}", parent.display()),
                source,
            })?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| CoordinatorError::Io {
                what: format!("audit log {}", path.display()),
                source,
            })?;
        Ok(AuditLog(Mutex::new(file)))
    }

    /// A search: who asked, whether it was partial, and per partner the
    /// outcome and the number of hits.
    pub(crate) fn search(&self, requester: &str, response: &FederatedResponse) {
        let per_partner: BTreeMap<&String, serde_json::Value> = response
            .partners
            .iter()
            .map(|(id, status)| {
                (
                    id,
                    serde_json::json!({"status": status.status, "hits": status.hits}),
                )
            })
            .collect();
        self.append(serde_json::json!({
            "event": "search",
            "requester": requester,
            "partial": response.partial,
            "partners": per_partner,
        }));
    }

    /// Any other event (key administration); the time is added here.
    pub(crate) fn append(&self, mut event: serde_json::Value) {
        if let Some(object) = event.as_object_mut() {
            object.insert("time".into(), now_seconds().into());
        }
        if let Ok(mut file) = self.0.lock()
            && let Err(error) = writeln!(file, "{event}")
        {
            tracing::error!(error = %error, "cannot append to the audit log");
        }
    }
}

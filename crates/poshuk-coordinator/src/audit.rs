//! The coordinator's audit log: one JSON line per search (who, when, a keyed
//! fingerprint of the query, what came back per partner; never the tokens),
//! per key operation and per burst of failed authentications.
//!
//! Tamper-evident: every line carries its sequence number and the SHA-256 of
//! the line before it (`prev`), so an edited, deleted, inserted or reordered
//! line breaks the chain at that point ([`verify`], `poshuk audit verify`).
//! Cutting lines off the end leaves a shorter valid chain: the operator keeps
//! the head (the last line's hash, logged at start) elsewhere to detect it.
//! A line that cannot be written makes the search fail (503): nothing is
//! served unaudited.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use poshuk_protocol::FederatedResponse;
use sha2::{Digest, Sha256};

use crate::CoordinatorError;

/// The `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The audit log file, opened for appending, with the chain's head.
pub(crate) struct AuditLog {
    inner: Mutex<Chain>,
    /// Keys the query fingerprints (made once, kept in the state directory):
    /// equal queries have equal fingerprints, and a fingerprint tells
    /// nothing of the tokens without it.
    fingerprint_key: Hmac<Sha256>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("AuditLog(<redacted>)")
    }
}

struct Chain {
    file: std::fs::File,
    seq: u64,
    head: String,
    /// Failed authentications not yet written, and when the last were.
    failures: u64,
    failures_written: Option<Instant>,
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl AuditLog {
    /// Opens (creating) the log and its directory, and finds the chain's
    /// head in its last line; the fingerprint key is read from (or made in)
    /// `state_dir`.
    pub(crate) fn open(path: &Path, state_dir: &Path) -> Result<AuditLog, CoordinatorError> {
        let io = |what: String| move |source| CoordinatorError::Io { what, source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io(format!("audit log directory {}", parent.display())))?;
        }
        let (mut seq, mut head) = (0u64, GENESIS.to_string());
        let torn = remove_torn_tail(path).map_err(io(format!("audit log {}", path.display())))?;
        if path.exists() {
            let file =
                std::fs::File::open(path).map_err(io(format!("audit log {}", path.display())))?;
            for line in std::io::BufReader::new(file).lines() {
                let line = line.map_err(io(format!("audit log {}", path.display())))?;
                if line.trim().is_empty() {
                    continue;
                }
                seq = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|entry| entry["seq"].as_u64())
                    .unwrap_or(seq + 1);
                head = sha256_hex(line.as_bytes());
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(format!("audit log {}", path.display())))?;
        tracing::info!(seq, head = %head, "audit log chain head (keep it elsewhere to detect truncation)");
        let log = AuditLog {
            inner: Mutex::new(Chain {
                file,
                seq,
                head,
                failures: 0,
                failures_written: None,
            }),
            fingerprint_key: fingerprint_key(state_dir)?,
        };
        if torn > 0 {
            tracing::warn!(
                bytes = torn,
                "the audit log ended in a torn line (a crash while writing): removed"
            );
            log.append(serde_json::json!({"event": "torn_tail_removed", "bytes": torn}))
                .map_err(io(format!("audit log {}", path.display())))?;
        }
        Ok(log)
    }

    /// A keyed fingerprint of a query body (16 hex digits).
    pub(crate) fn fingerprint(&self, body: &[u8]) -> String {
        let mut mac = self.fingerprint_key.clone();
        mac.update(body);
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// A search: who asked, the query's fingerprint, whether it was partial,
    /// and per partner the outcome and the number of hits.
    pub(crate) fn search(
        &self,
        requester: &str,
        fingerprint: &str,
        response: &FederatedResponse,
    ) -> std::io::Result<()> {
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
            "route": poshuk_protocol::routes::coordinator::FEDERATED_SEARCH,
            "requester": requester,
            "query": fingerprint,
            "partial": response.partial,
            "partners": per_partner,
        }))
    }

    /// A failed authentication. Written at most once a second, with how
    /// many failed since the last line: a flood of bad tokens must not grow
    /// the log without bound.
    pub(crate) fn failed_authentication(&self, route: &str) {
        let Ok(mut chain) = self.inner.lock() else {
            return;
        };
        chain.failures += 1;
        let due = chain
            .failures_written
            .is_none_or(|at| at.elapsed().as_secs() >= 1);
        if !due {
            return;
        }
        let failures = std::mem::take(&mut chain.failures);
        chain.failures_written = Some(Instant::now());
        // The path as sent, cut short: a caller must not write kilobytes
        // into the log with each refused request.
        let route: String = route.chars().take(64).collect();
        let event = serde_json::json!({
            "event": "failed_authentication",
            "route": route,
            "count": failures,
        });
        if let Err(error) = write_entry(&mut chain, event) {
            tracing::error!(error = %error, "cannot append to the audit log");
        }
    }

    /// Any other event (key administration); sequence, time and the chain
    /// are added here.
    pub(crate) fn append(&self, event: serde_json::Value) -> std::io::Result<()> {
        let mut chain = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("audit log lock poisoned"))?;
        write_entry(&mut chain, event)
    }
}

/// Cuts a last line that has no newline (written partly when the process
/// died) so that the next entry starts on a line of its own; returns how
/// many bytes were cut.
fn remove_torn_tail(path: &Path) -> std::io::Result<u64> {
    if !path.exists() {
        return Ok(0);
    }
    let bytes = std::fs::read(path)?;
    let keep = bytes
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |last| last + 1);
    let torn = (bytes.len() - keep) as u64;
    if torn > 0 {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(keep as u64)?;
    }
    Ok(torn)
}

fn write_entry(chain: &mut Chain, event: serde_json::Value) -> std::io::Result<()> {
    let mut entry = serde_json::Map::new();
    entry.insert("seq".into(), (chain.seq + 1).into());
    entry.insert("time_ms".into(), now_millis().into());
    entry.insert("prev".into(), chain.head.clone().into());
    if let serde_json::Value::Object(fields) = event {
        for (key, value) in fields {
            entry.insert(key, value);
        }
    }
    let line = serde_json::Value::Object(entry).to_string();
    writeln!(chain.file, "{line}")?;
    chain.file.flush()?;
    chain.seq += 1;
    chain.head = sha256_hex(line.as_bytes());
    Ok(())
}

fn fingerprint_key(state_dir: &Path) -> Result<Hmac<Sha256>, CoordinatorError> {
    let path = state_dir.join("audit-fingerprint.key");
    let io = |source| CoordinatorError::Io {
        what: format!("audit fingerprint key {}", path.display()),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let key = if path.exists() {
        std::fs::read(&path).map_err(io)?
    } else {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).map_err(|_| io(std::io::Error::other("no OS randomness")))?;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        file.write_all(&key).map_err(io)?;
        key
    };
    Hmac::<Sha256>::new_from_slice(&key).map_err(|_| io(std::io::Error::other("bad key")))
}

/// What [`verify`] found.
#[derive(Debug, PartialEq, Eq)]
pub struct ChainSummary {
    /// Entries checked.
    pub entries: u64,
    /// The hash of the last line: compare it with the head kept elsewhere.
    pub head: String,
}

/// Where a chain breaks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    /// A line is not a JSON object with `seq` and `prev`.
    #[error("line {line}: not an audit entry")]
    NotAnEntry {
        /// The line (from 1).
        line: usize,
    },
    /// A line's `prev` is not the hash of the line before it.
    #[error("line {line}: the chain breaks here (the line before it was edited, removed or moved)")]
    Broken {
        /// The line (from 1).
        line: usize,
    },
    /// A line's `seq` does not follow the one before.
    #[error("line {line}: sequence {found} follows {previous}")]
    OutOfSequence {
        /// The line (from 1).
        line: usize,
        /// Its sequence number.
        found: u64,
        /// The previous one.
        previous: u64,
    },
    /// The file cannot be read.
    #[error("cannot read the audit log: {0}")]
    Read(String),
}

/// Checks an audit log's chain from its first line.
pub fn verify(reader: impl std::io::Read) -> Result<ChainSummary, ChainError> {
    let (mut head, mut previous, mut entries) = (GENESIS.to_string(), 0u64, 0u64);
    for (index, line) in std::io::BufReader::new(reader).lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|error| ChainError::Read(error.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: serde_json::Value =
            serde_json::from_str(&line).map_err(|_| ChainError::NotAnEntry { line: number })?;
        let (Some(seq), Some(prev)) = (entry["seq"].as_u64(), entry["prev"].as_str()) else {
            return Err(ChainError::NotAnEntry { line: number });
        };
        if prev != head {
            return Err(ChainError::Broken { line: number });
        }
        if seq != previous + 1 {
            return Err(ChainError::OutOfSequence {
                line: number,
                found: seq,
                previous,
            });
        }
        previous = seq;
        head = sha256_hex(line.as_bytes());
        entries += 1;
    }
    Ok(ChainSummary { entries, head })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_edit_deletion_or_reordering_breaks_the_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        {
            let log = AuditLog::open(&path, dir.path()).expect("opens");
            for n in 0..4 {
                log.append(serde_json::json!({"event": "test", "n": n}))
                    .expect("appends");
            }
        }
        // Reopened, the chain continues.
        AuditLog::open(&path, dir.path())
            .expect("reopens")
            .append(serde_json::json!({"event": "test", "n": 4}))
            .expect("appends");
        let text = std::fs::read_to_string(&path).expect("read");
        let summary = verify(text.as_bytes()).expect("intact");
        assert_eq!(summary.entries, 5);
        let lines: Vec<&str> = text.lines().collect();

        let edited = text.replacen("\"n\":1", "\"n\":7", 1);
        assert_eq!(
            verify(edited.as_bytes()),
            Err(ChainError::Broken { line: 3 })
        );
        let deleted: String = lines
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != 2)
            .map(|(_, line)| format!("{line}\n"))
            .collect();
        assert_eq!(
            verify(deleted.as_bytes()),
            Err(ChainError::Broken { line: 3 })
        );
        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        let swapped: String = swapped.iter().map(|line| format!("{line}\n")).collect();
        assert_eq!(
            verify(swapped.as_bytes()),
            Err(ChainError::Broken { line: 2 })
        );
        assert_eq!(
            verify("not json\n".as_bytes()),
            Err(ChainError::NotAnEntry { line: 1 })
        );

        // A line torn by a crash is cut when the log is opened again, and
        // the chain goes on from the last whole line.
        std::fs::write(&path, format!("{text}{{\"seq\":6,\"ti")).expect("tear");
        AuditLog::open(&path, dir.path()).expect("reopens");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(verify(text.as_bytes()).map(|s| s.entries), Ok(6));
        assert!(text.contains("torn_tail_removed"));
    }
}

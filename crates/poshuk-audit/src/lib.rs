//! The audit log of the coordinator and of each node: one JSON line per
//! event (who, when, what route, a keyed fingerprint of a query, what came
//! back; never tokens or raw values), appended, hash-chained, and rotated
//! by size without breaking the chain.
//!
//! Tamper-evident: every line carries its sequence number and the SHA-256
//! of the line before it (`prev`), so an edited, deleted, inserted or
//! reordered line breaks the chain at that point ([`verify_files`],
//! `poshuk audit verify`). When the live file passes its size limit it is
//! renamed `FILE.N` (N = 1, 2, ... oldest first) and a new file goes on
//! from the same head, so the chain runs across the files. Cutting lines
//! off the end leaves a shorter valid chain: the head is logged at start
//! and after each rotation, for the operator to keep elsewhere.
//!
//! Callers refuse to serve what they cannot audit: [`AuditLog::append`]
//! fails when a line cannot be written (and synced), and the servers answer
//! 503 then.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The live file's size beyond which it is rotated, by default.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The longest value of a free-text field (a route, a staff name): a caller
/// must not write kilobytes into the log with each request.
pub const MAX_FIELD_CHARS: usize = 64;

/// Errors opening an audit log.
#[derive(Debug, thiserror::Error)]
#[error("audit log {path}: {source}")]
pub struct AuditError {
    /// The file.
    pub path: String,
    /// The cause.
    pub source: std::io::Error,
}

/// An audit log opened for appending, with its chain's head.
pub struct AuditLog {
    inner: Mutex<Chain>,
    /// Keys the query fingerprints (made once, kept beside the state):
    /// equal queries have equal fingerprints, and a fingerprint tells
    /// nothing of the query without it.
    fingerprint_key: Hmac<Sha256>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("AuditLog(<redacted>)")
    }
}

/// Seals one line's event (its fields and time) for an encrypted node:
/// the line keeps its sequence number and the previous line's hash in the
/// clear, so the chain is verified without the key.
pub type Sealer = Box<dyn Fn(&[u8]) -> std::io::Result<Vec<u8>> + Send + Sync>;

struct Chain {
    sealer: Option<Sealer>,
    path: PathBuf,
    file: std::fs::File,
    written: u64,
    max_bytes: u64,
    seq: u64,
    head: String,
    /// Failed authentications not yet written, and when the last were.
    failures: u64,
    failures_written: Option<Instant>,
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Cuts a free-text field to [`MAX_FIELD_CHARS`] characters.
pub fn short(text: &str) -> String {
    text.chars().take(MAX_FIELD_CHARS).collect()
}

/// The rotated files of `path` (`path.1`, `path.2`, ...), oldest first.
pub fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for number in 1.. {
        let rotated = segment(path, number);
        if !rotated.exists() {
            break;
        }
        found.push(rotated);
    }
    found
}

fn segment(path: &Path, number: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{number}"));
    PathBuf::from(name)
}

/// The last line's sequence number and hash in `path`, if it has lines.
fn last_entry(path: &Path) -> std::io::Result<Option<(u64, String)>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut last = None;
    for line in std::io::BufReader::new(std::fs::File::open(path)?).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let seq = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|entry| entry["seq"].as_u64())
            .unwrap_or_else(|| last.as_ref().map_or(0, |(seq, _)| seq + 1));
        last = Some((seq, sha256_hex(line.as_bytes())));
    }
    Ok(last)
}

impl AuditLog {
    /// Opens (creating) the log and its directory, rotated beyond
    /// [`DEFAULT_MAX_BYTES`], and finds the chain's head in its last line
    /// (or the last rotated file's); the fingerprint key is read from (or
    /// made in) `key_dir`.
    pub fn open(path: &Path, key_dir: &Path) -> Result<AuditLog, AuditError> {
        AuditLog::open_with_limit(path, key_dir, DEFAULT_MAX_BYTES)
    }

    /// [`AuditLog::open`], rotating beyond `max_bytes`.
    pub fn open_with_limit(
        path: &Path,
        key_dir: &Path,
        max_bytes: u64,
    ) -> Result<AuditLog, AuditError> {
        let failed = |source| AuditError {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let torn = remove_torn_tail(path).map_err(failed)?;
        // The live file's last line; if it is empty or absent (a crash just
        // after a rotation), the newest rotated file's.
        let mut last = last_entry(path).map_err(failed)?;
        if last.is_none()
            && let Some(newest) = rotated_files(path).last()
        {
            last = last_entry(newest).map_err(failed)?;
        }
        let (seq, head) = last.unwrap_or((0, GENESIS.to_string()));
        let file = open_append(path).map_err(failed)?;
        let written = file.metadata().map_err(failed)?.len();
        tracing::info!(seq, head = %head, "audit log chain head (keep it elsewhere to detect truncation)");
        let log = AuditLog {
            inner: Mutex::new(Chain {
                sealer: None,
                path: path.to_path_buf(),
                file,
                written,
                max_bytes: max_bytes.max(1024),
                seq,
                head,
                failures: 0,
                failures_written: None,
            }),
            fingerprint_key: fingerprint_key(key_dir).map_err(|source| AuditError {
                path: key_dir.join(FINGERPRINT_KEY_FILE).display().to_string(),
                source,
            })?,
        };
        if torn > 0 {
            tracing::warn!(
                bytes = torn,
                "the audit log ended in a torn line (a crash while writing): removed"
            );
            log.append(serde_json::json!({"event": "torn_tail_removed", "bytes": torn}))
                .map_err(failed)?;
        }
        Ok(log)
    }

    /// A keyed fingerprint of a query (16 hex digits).
    pub fn fingerprint(&self, body: &[u8]) -> String {
        let mut mac = self.fingerprint_key.clone();
        mac.update(body);
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// A failed authentication. Written at most once a second, with how
    /// many failed since the last line: a flood of bad credentials must not
    /// grow the log without bound.
    pub fn failed_authentication(&self, route: &str) {
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
        let event = serde_json::json!({
            "event": "failed_authentication",
            "route": short(route),
            "count": failures,
        });
        if let Err(error) = chain.write(event, false) {
            tracing::error!(error = %error, "cannot append to the audit log");
        }
    }

    /// An event (a JSON object); sequence, time and the chain are added
    /// here. Fails when the line cannot be written. Written in one call, so
    /// it survives the process; [`AuditLog::append_durable`] for what must
    /// also survive the machine.
    pub fn append(&self, event: serde_json::Value) -> std::io::Result<()> {
        self.lock()?.write(event, false)
    }

    /// [`AuditLog::append`], and on the disk before it returns: key
    /// operations, ingests and deletions (rare, and not to be lost).
    /// Searches are not synced one by one: at a thousand a second, a sync
    /// each would be most of their cost.
    pub fn append_durable(&self, event: serde_json::Value) -> std::io::Result<()> {
        self.lock()?.write(event, true)
    }

    fn lock(&self) -> std::io::Result<std::sync::MutexGuard<'_, Chain>> {
        self.inner
            .lock()
            .map_err(|_| std::io::Error::other("audit log lock poisoned"))
    }

    /// The same log, each later line's event sealed by `sealer` (an
    /// encrypted node's: staff names and times are then not on the disk in
    /// the clear).
    pub fn sealed_with(self, sealer: Sealer) -> AuditLog {
        if let Ok(mut chain) = self.inner.lock() {
            chain.sealer = Some(sealer);
        }
        self
    }

    /// The chain's head: the hash of the last line written.
    pub fn head(&self) -> Option<(u64, String)> {
        let chain = self.inner.lock().ok()?;
        Some((chain.seq, chain.head.clone()))
    }
}

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

impl Chain {
    fn write(&mut self, event: serde_json::Value, durable: bool) -> std::io::Result<()> {
        if self.written >= self.max_bytes {
            self.rotate()?;
        }
        let mut entry = serde_json::Map::new();
        entry.insert("seq".into(), (self.seq + 1).into());
        let mut fields = serde_json::Map::new();
        fields.insert("time_ms".into(), now_millis().into());
        if let serde_json::Value::Object(event) = event {
            fields.extend(event);
        }
        entry.insert("prev".into(), self.head.clone().into());
        match &self.sealer {
            Some(seal) => {
                let plain = serde_json::Value::Object(fields).to_string();
                entry.insert("sealed".into(), hex::encode(seal(plain.as_bytes())?).into());
            }
            None => entry.extend(fields),
        }
        let line = serde_json::Value::Object(entry).to_string();
        // One write of the whole line: a process killed mid-way leaves a
        // whole line or a torn tail, which the next open cuts.
        self.file.write_all(format!("{line}\n").as_bytes())?;
        if durable {
            self.file.sync_data()?;
        }
        self.written += line.len() as u64 + 1;
        self.seq += 1;
        self.head = sha256_hex(line.as_bytes());
        Ok(())
    }

    /// Renames the live file `FILE.N` and starts a new one; the chain goes
    /// on from the same head.
    fn rotate(&mut self) -> std::io::Result<()> {
        let number = rotated_files(&self.path).len() + 1;
        let rotated = segment(&self.path, number);
        match std::fs::rename(&self.path, &rotated) {
            Ok(()) => {}
            // The live file is gone (removed by hand): nothing to keep; the
            // chain goes on in a new file, and `verify` shows the gap.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %self.path.display(), "the live audit log was removed: starting a new file");
            }
            Err(error) => return Err(error),
        }
        self.file = open_append(&self.path)?;
        self.written = 0;
        tracing::info!(seq = self.seq, head = %self.head, rotated = %rotated.display(), "audit log rotated (keep the head elsewhere)");
        Ok(())
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

/// The fingerprint key's file name.
pub const FINGERPRINT_KEY_FILE: &str = "audit-fingerprint.key";

fn fingerprint_key(key_dir: &Path) -> std::io::Result<Hmac<Sha256>> {
    let path = key_dir.join(FINGERPRINT_KEY_FILE);
    std::fs::create_dir_all(key_dir)?;
    let key = if path.exists() {
        std::fs::read(&path)?
    } else {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).map_err(|_| std::io::Error::other("no OS randomness"))?;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(&key)?;
        key
    };
    Hmac::<Sha256>::new_from_slice(&key).map_err(|_| std::io::Error::other("bad key"))
}

/// What a verification found.
#[derive(Debug, PartialEq, Eq)]
pub struct ChainSummary {
    /// Entries checked.
    pub entries: u64,
    /// Files checked (the rotated ones and the live one).
    pub files: usize,
    /// The hash of the last line: compare it with the head kept elsewhere.
    pub head: String,
}

/// Where a chain breaks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    /// A line is not a JSON object with `seq` and `prev`.
    #[error("{file} line {line}: not an audit entry")]
    NotAnEntry {
        /// The file.
        file: String,
        /// The line (from 1).
        line: usize,
    },
    /// A line's `prev` is not the hash of the line before it.
    #[error(
        "{file} line {line}: the chain breaks here (the line before it was edited, removed or moved, or a file before this one is missing)"
    )]
    Broken {
        /// The file.
        file: String,
        /// The line (from 1).
        line: usize,
    },
    /// A line's `seq` does not follow the one before.
    #[error("{file} line {line}: sequence {found} follows {previous}")]
    OutOfSequence {
        /// The file.
        file: String,
        /// The line (from 1).
        line: usize,
        /// Its sequence number.
        found: u64,
        /// The previous one.
        previous: u64,
    },
    /// A file cannot be read.
    #[error("cannot read {file}: {reason}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
}

/// Checks a chain from its first line, in one reader (`name` for messages).
pub fn verify(name: &str, reader: impl std::io::Read) -> Result<ChainSummary, ChainError> {
    let mut walk = Walk::new();
    walk.file(name, reader)?;
    Ok(walk.summary())
}

/// Checks an audit log and its rotated files (`FILE.1`, `FILE.2`, ...,
/// then `FILE`) as one chain from its first line.
pub fn verify_files(path: &Path) -> Result<ChainSummary, ChainError> {
    let mut walk = Walk::new();
    for file in rotated_files(path)
        .into_iter()
        .chain(std::iter::once(path.to_path_buf()))
    {
        let name = file.display().to_string();
        let reader = std::fs::File::open(&file).map_err(|error| ChainError::Read {
            file: name.clone(),
            reason: error.to_string(),
        })?;
        walk.file(&name, reader)?;
    }
    Ok(walk.summary())
}

struct Walk {
    head: String,
    previous: u64,
    entries: u64,
    files: usize,
}

impl Walk {
    fn new() -> Walk {
        Walk {
            head: GENESIS.to_string(),
            previous: 0,
            entries: 0,
            files: 0,
        }
    }

    fn file(&mut self, name: &str, reader: impl std::io::Read) -> Result<(), ChainError> {
        self.files += 1;
        for (index, line) in std::io::BufReader::new(reader).lines().enumerate() {
            let number = index + 1;
            let line = line.map_err(|error| ChainError::Read {
                file: name.to_string(),
                reason: error.to_string(),
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let not_an_entry = || ChainError::NotAnEntry {
                file: name.to_string(),
                line: number,
            };
            let entry: serde_json::Value =
                serde_json::from_str(&line).map_err(|_| not_an_entry())?;
            let (Some(seq), Some(prev)) = (entry["seq"].as_u64(), entry["prev"].as_str()) else {
                return Err(not_an_entry());
            };
            if prev != self.head {
                return Err(ChainError::Broken {
                    file: name.to_string(),
                    line: number,
                });
            }
            if seq != self.previous + 1 {
                return Err(ChainError::OutOfSequence {
                    file: name.to_string(),
                    line: number,
                    found: seq,
                    previous: self.previous,
                });
            }
            self.previous = seq;
            self.head = sha256_hex(line.as_bytes());
            self.entries += 1;
        }
        Ok(())
    }

    fn summary(self) -> ChainSummary {
        ChainSummary {
            entries: self.entries,
            files: self.files,
            head: self.head,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(file: &str, line: usize) -> ChainError {
        ChainError::Broken {
            file: file.into(),
            line,
        }
    }

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
        let summary = verify("log", text.as_bytes()).expect("intact");
        assert_eq!(summary.entries, 5);
        let lines: Vec<&str> = text.lines().collect();

        let edited = text.replacen("\"n\":1", "\"n\":7", 1);
        assert_eq!(verify("log", edited.as_bytes()), Err(broken("log", 3)));
        let deleted: String = lines
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != 2)
            .map(|(_, line)| format!("{line}\n"))
            .collect();
        assert_eq!(verify("log", deleted.as_bytes()), Err(broken("log", 3)));
        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        let swapped: String = swapped.iter().map(|line| format!("{line}\n")).collect();
        assert_eq!(verify("log", swapped.as_bytes()), Err(broken("log", 2)));
        assert_eq!(
            verify("log", "not json\n".as_bytes()),
            Err(ChainError::NotAnEntry {
                file: "log".into(),
                line: 1
            })
        );

        // A line torn by a crash is cut when the log is opened again, and
        // the chain goes on from the last whole line.
        std::fs::write(&path, format!("{text}{{\"seq\":6,\"ti")).expect("tear");
        AuditLog::open(&path, dir.path()).expect("reopens");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(verify("log", text.as_bytes()).map(|s| s.entries), Ok(6));
        assert!(text.contains("torn_tail_removed"));
    }

    #[test]
    fn rotation_by_size_keeps_one_chain_across_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        {
            let log = AuditLog::open_with_limit(&path, dir.path(), 2048).expect("opens");
            for n in 0..100 {
                log.append(serde_json::json!({"event": "test", "n": n, "pad": "x".repeat(40)}))
                    .expect("appends");
            }
        }
        let rotated = rotated_files(&path);
        assert!(rotated.len() >= 3, "{rotated:?}");
        for file in rotated.iter().chain(std::iter::once(&path)) {
            assert!(std::fs::metadata(file).expect("file").len() < 2048 + 200);
        }
        let summary = verify_files(&path).expect("one chain");
        assert_eq!((summary.entries, summary.files), (100, rotated.len() + 1));
        // A crash between renaming the live file and writing the new one's
        // first line: reopened, the chain goes on from the newest rotated
        // file.
        let next = segment(&path, rotated.len() + 1);
        std::fs::rename(&path, &next).expect("rename");
        AuditLog::open_with_limit(&path, dir.path(), 2048)
            .expect("reopens")
            .append(serde_json::json!({"event": "after"}))
            .expect("appends");
        assert_eq!(verify_files(&path).map(|s| s.entries), Ok(101));
        // A rotated file emptied breaks the chain at the next file's first
        // line.
        std::fs::write(&rotated[1], "").expect("empty");
        assert_eq!(
            verify_files(&path),
            Err(broken(&rotated[2].display().to_string(), 1))
        );
    }
}

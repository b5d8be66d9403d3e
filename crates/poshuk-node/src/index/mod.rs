//! The node's tantivy index of tokens.
//!
//! Per record the index holds: its opaque handle; a keyed lookup key of the
//! case id (for upserts and deletes) and the case id sealed under the node's own
//! key (for the staff's "which case is this"); the blocking keys (indexed, for
//! retrieval); the tokens whose frequencies adjust scores (indexed, for their
//! document frequencies); and the handle with the whole token record as a
//! multi-valued u64 fast field, read back in under a microsecond to re-rank
//! candidates. No raw name, date or document number.
//!
//! One writer, guarded by a mutex and used only from blocking threads;
//! commits per batch, never per record, each carrying the key epoch in its
//! payload; the reader reloads after every commit.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, RwLock};

use poshuk_core::{
    Epoch, FREQUENCY_SLOTS, MatchModel, MatchScore, Slot, TermFrequencies, Token, TokenRecord,
    blocking_keys,
};
use poshuk_protocol::IngestCounts;
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, TermQuery};
use tantivy::schema::{Field, INDEXED, IndexRecordOption, NumericOptions, STORED, Schema, Value};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::NodeError;
use crate::secret::NodeSecret;

mod encrypted;
mod read;
mod write;

/// An opaque record handle.
pub type Handle = [u8; 16];

#[derive(Clone, Copy)]
struct Fields {
    record_key: Field,
    content: Field,
    record: Field,
    block: Field,
    frequency: Field,
    sealed_id: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fast_u64 = NumericOptions::default().set_fast();
    let fields = Fields {
        record_key: builder.add_u64_field(
            "record_key",
            NumericOptions::default().set_indexed().set_fast(),
        ),
        content: builder.add_u64_field("content", fast_u64.clone()),
        // Handle and token record as a multi-valued u64 column: random access
        // in well under a microsecond, where a bytes column's dictionary
        // lookup costs tens.
        record: builder.add_u64_field("record", fast_u64),
        block: builder.add_u64_field("block", INDEXED),
        frequency: builder.add_bytes_field("frequency", INDEXED),
        sealed_id: builder.add_bytes_field("sealed_id", STORED),
    };
    (builder.build(), fields)
}

/// What the index remembers per case id, to tell added, updated and
/// unchanged records apart without a search per record.
#[derive(Clone, Copy)]
struct Known {
    content: u64,
    handle: Handle,
}

/// The records the index holds, by lookup key and by handle, kept in memory:
/// upserts need the first, resolving a hit to a case id the second.
#[derive(Default)]
struct RecordTable {
    by_key: HashMap<u64, Known>,
    by_handle: HashMap<Handle, u64>,
}

impl RecordTable {
    fn get(&self, key: &u64) -> Option<&Known> {
        self.by_key.get(key)
    }

    fn contains_key(&self, key: &u64) -> bool {
        self.by_key.contains_key(key)
    }

    fn insert(&mut self, key: u64, known: Known) {
        if let Some(previous) = self.by_key.insert(key, known) {
            self.by_handle.remove(&previous.handle);
        }
        self.by_handle.insert(known.handle, key);
    }

    fn remove(&mut self, key: &u64) {
        if let Some(previous) = self.by_key.remove(key) {
            self.by_handle.remove(&previous.handle);
        }
    }

    fn keys(&self) -> impl Iterator<Item = &u64> {
        self.by_key.keys()
    }
}

/// Changes written but not yet committed.
struct Pending {
    records: usize,
    since: std::time::Instant,
}

impl Pending {
    fn new() -> Pending {
        Pending {
            records: 0,
            since: std::time::Instant::now(),
        }
    }
}

/// A record ready for the index: its case id (sealed before storage) and
/// tokens.
pub struct IndexRecord {
    /// The partner's case id.
    pub record_id: String,
    /// The tokens.
    pub tokens: TokenRecord,
    /// The handle to give the record if it is new here: while a node serves
    /// two key epochs, a record has the same handle in both generations.
    pub handle: Option<Handle>,
}

/// A scored hit.
pub struct IndexHit {
    /// The record's handle.
    pub handle: Handle,
    /// Its score against the query.
    pub score: MatchScore,
    /// Records of this node that share the hit's name and birth year (the
    /// hit included; the name alone when the record has no year); counted
    /// for the hits that are shown (not weak ones).
    pub namesakes: Option<u64>,
}

/// The result of a search.
pub struct SearchOutcome {
    /// Hits, best first.
    pub hits: Vec<IndexHit>,
    /// Candidates re-ranked.
    pub candidates: usize,
}

/// Stable 64-bit FNV-1a: a content fingerprint of a token blob, to spot
/// unchanged records. Not a security measure (the input is already keyed).
fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The node's index.
pub struct TokenIndex {
    directory: std::path::PathBuf,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    known: RwLock<RecordTable>,
    /// The whole-name tokens of the stored records (and other value tokens
    /// of the term dictionaries): a query's one-edit variants are looked up
    /// here first, in memory.
    names: RwLock<HashSet<u128>>,
    epoch: Epoch,
    /// The oldest tokenizer version whose tokens the index may hold (see
    /// [`poshuk_core::TOKENIZER_VERSION`]).
    tokenizer: std::sync::atomic::AtomicU16,
    secret: NodeSecret,
    max_candidates: usize,
    max_block_size: u64,
    model: MatchModel,
    pending: Mutex<Pending>,
    commit_every_records: usize,
    commit_interval: std::time::Duration,
}

impl std::fmt::Debug for TokenIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "TokenIndex(epoch {})", self.epoch)
    }
}

/// Whether `dir` is an index directory whose files are encrypted.
pub fn is_sealed_index(dir: &Path) -> bool {
    encrypted::is_sealed_file(&dir.join("meta.json"))
}

/// Settings for opening an index.
#[derive(Clone)]
pub struct IndexSettings {
    /// The epoch of a new index (an existing one keeps its own).
    pub new_index_epoch: Epoch,
    /// Writer memory budget.
    pub writer_memory_bytes: usize,
    /// Candidates re-ranked per search at most.
    pub max_candidates: usize,
    /// Blocks larger than this are not used for retrieval.
    pub max_block_size: u32,
    /// Commit once this many records are pending.
    pub commit_every_records: usize,
    /// Threads tantivy indexes with.
    pub indexing_threads: usize,
    /// Commit pending records at least this often.
    pub commit_interval: std::time::Duration,
    /// The node's vault, when it keeps its data encrypted at rest: the
    /// index files are then sealed, and the node's secret derived from it.
    pub vault: Option<std::sync::Arc<crate::vault::Vault>>,
}

impl TokenIndex {
    /// Opens the index in `index_dir`, creating it if absent; `data_dir`
    /// holds the node's own secret. A writer lock left by a killed process
    /// does not stop this: the lock is an OS file lock, released when its
    /// holder died.
    pub fn open(
        data_dir: &Path,
        index_dir: &Path,
        settings: IndexSettings,
    ) -> Result<TokenIndex, NodeError> {
        let index_dir = index_dir.to_path_buf();
        std::fs::create_dir_all(&index_dir).map_err(|source| NodeError::Io {
            what: format!("index directory {}", index_dir.display()),
            source,
        })?;
        let secret = match settings.vault.as_deref() {
            Some(vault) => NodeSecret::from_master(vault.subkey("node-secret"))?,
            None => NodeSecret::open_or_create(data_dir)?,
        };
        let (schema, fields) = schema();
        let vault = settings.vault.clone();
        let open = |dir: &Path| -> Result<Index, NodeError> {
            let failed = |error: String| NodeError::Index(error);
            match vault.as_deref() {
                Some(vault) => {
                    let directory =
                        encrypted::EncryptedDirectory::open(dir, &vault.subkey("index"))
                            .map_err(failed)?;
                    Ok(Index::open_or_create(directory, schema.clone())?)
                }
                None => {
                    let directory =
                        MmapDirectory::open(dir).map_err(|error| failed(error.to_string()))?;
                    Ok(Index::open_or_create(directory, schema.clone())?)
                }
            }
        };
        let mut index = open(&index_dir)?;
        let mut payload = match index.load_metas()?.payload.as_deref() {
            Some(payload) => Some(CommitPayload::read(payload, &index_dir)?),
            None => None,
        };
        if let Some(unreadable) = payload.as_ref().filter(|payload| !payload.readable())
            && unreadable.tokenizer >= poshuk_core::TOKENIZER_VERSION
        {
            return Err(NodeError::Index(format!(
                "{} stores token records in a slot layout this build does not know (made by a newer poshuk version?) and cannot be read: run that version, or move the index away and load your export again (`poshuk ingest --replace`)",
                index_dir.display()
            )));
        }
        if let Some(stale) = payload.as_ref().filter(|payload| !payload.readable()) {
            // Tokens of an older tokenizer in an older layout: this build can
            // neither read nor convert them (re-keying maps tokens, it cannot
            // recompute them). Keep them aside, untouched, and start an empty
            // index that remembers their version: it refuses searches until
            // the partner's export is loaded again with `--replace`.
            let aside = set_aside(&index_dir, stale.tokenizer)?;
            tracing::warn!(
                index = %index_dir.display(),
                moved_to = %aside.display(),
                tokenizer = stale.tokenizer,
                current = poshuk_core::TOKENIZER_VERSION,
                "the index holds tokens of an older tokenizer in a layout this version cannot read; it was set aside, and searches are refused until `poshuk ingest --replace` loads the export again"
            );
            drop(index);
            std::fs::create_dir_all(&index_dir).map_err(|source| NodeError::Io {
                what: format!("index directory {}", index_dir.display()),
                source,
            })?;
            index = open(&index_dir)?;
            payload = Some(CommitPayload {
                epoch: stale.epoch,
                tokenizer: stale.tokenizer,
                slots: Some(slot_layout()),
            });
        }
        let (epoch, tokenizer) = match payload {
            Some(payload) => (Epoch(payload.epoch), payload.tokenizer),
            None => (settings.new_index_epoch, poshuk_core::TOKENIZER_VERSION),
        };
        let writer: IndexWriter = index.writer_with_num_threads(
            settings.indexing_threads.max(1),
            settings
                .writer_memory_bytes
                .max(20_000_000 * settings.indexing_threads.max(1)),
        )?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let token_index = TokenIndex {
            directory: index_dir,
            reader,
            writer: Mutex::new(writer),
            fields,
            known: RwLock::new(RecordTable::default()),
            names: RwLock::new(HashSet::new()),
            epoch,
            tokenizer: std::sync::atomic::AtomicU16::new(tokenizer),
            secret,
            max_candidates: settings.max_candidates,
            max_block_size: u64::from(settings.max_block_size),
            model: MatchModel::default(),
            pending: Mutex::new(Pending::new()),
            commit_every_records: settings.commit_every_records.max(1),
            commit_interval: settings.commit_interval,
        };
        token_index.load_known()?;
        Ok(token_index)
    }

    /// The key epoch of the index's tokens.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Records in the index.
    pub fn record_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Bytes of the index on disk.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.directory)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| entry.metadata().ok())
                    .filter(|metadata| metadata.is_file())
                    .map(|metadata| metadata.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// The oldest tokenizer version whose tokens the index may hold.
    pub fn tokenizer_version(&self) -> u16 {
        self.tokenizer.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What every commit of an index records beside its segments: the key
/// epoch of its tokens, the oldest tokenizer version whose tokens it may
/// hold, and the slot layout of the `record` column (the token record is
/// stored by slot position, so an index written with another layout cannot
/// be read back and is refused instead of misread).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct CommitPayload {
    /// The key epoch of the tokens.
    pub(crate) epoch: u32,
    /// Absent in indexes of tokenizer version 1.
    #[serde(default = "first_tokenizer")]
    pub(crate) tokenizer: u16,
    /// The slots' wire names in storage order; absent in indexes from before
    /// it was recorded (they have the layout they were built with, which is
    /// then assumed to be this one).
    #[serde(default)]
    pub(crate) slots: Option<Vec<String>>,
}

fn first_tokenizer() -> u16 {
    1
}

/// The stored slot layout of this build (query-only slots added after it
/// was fixed are not stored, [`poshuk_core::STORED_SLOT_COUNT`]).
fn slot_layout() -> Vec<String> {
    poshuk_core::Slot::ALL[..poshuk_core::STORED_SLOT_COUNT]
        .iter()
        .map(|slot| slot.name().to_string())
        .collect()
}

impl CommitPayload {
    /// The payload of a commit by this build.
    pub(crate) fn current(epoch: Epoch, tokenizer: u16) -> CommitPayload {
        CommitPayload {
            epoch: epoch.0,
            tokenizer,
            slots: Some(slot_layout()),
        }
    }

    /// Reads a payload.
    fn read(payload: &str, index_dir: &Path) -> Result<CommitPayload, NodeError> {
        serde_json::from_str(payload).map_err(|error| {
            NodeError::Index(format!(
                "{}: the commit payload is unreadable ({error})",
                index_dir.display()
            ))
        })
    }

    /// Whether this build can read the token records of the index: its slot
    /// layout is this build's. Indexes from before the layout was recorded
    /// are of tokenizer versions whose layout differs from today's.
    fn readable(&self) -> bool {
        match &self.slots {
            Some(slots) => *slots == slot_layout(),
            None => self.tokenizer >= poshuk_core::TOKENIZER_VERSION,
        }
    }
}

/// Renames an unreadable index directory to a free name beside it
/// (`index-epoch-1.tokenizer-2`, then `.1`, `.2`, ...); returns the new path.
fn set_aside(index_dir: &Path, tokenizer: u16) -> Result<std::path::PathBuf, NodeError> {
    let base = format!("{}.tokenizer-{tokenizer}", index_dir.display());
    let mut aside = std::path::PathBuf::from(&base);
    let mut attempt = 0;
    while aside.exists() {
        attempt += 1;
        aside = std::path::PathBuf::from(format!("{base}.{attempt}"));
    }
    std::fs::rename(index_dir, &aside).map_err(|source| NodeError::Io {
        what: format!("setting {} aside", index_dir.display()),
        source,
    })?;
    Ok(aside)
}

fn split_handle(handle: Handle) -> (u64, u64) {
    let value = u128::from_be_bytes(handle);
    ((value >> 64) as u64, value as u64)
}

fn join_handle(high: u64, low: u64) -> Handle {
    ((u128::from(high) << 64) | u128::from(low)).to_be_bytes()
}

#[cfg(test)]
mod tests;

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

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use poshuk_core::{
    Epoch, FREQUENCY_SLOTS, MatchModel, MatchScore, TermFrequencies, Token, TokenRecord,
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
        let secret = NodeSecret::open_or_create(data_dir)?;
        let (schema, fields) = schema();
        let directory =
            MmapDirectory::open(&index_dir).map_err(|error| NodeError::Index(error.to_string()))?;
        let index = Index::open_or_create(directory, schema)?;
        let metas = index.load_metas()?;
        let (epoch, tokenizer) = match metas.payload.as_deref() {
            Some(payload) => (parse_epoch(payload)?, parse_tokenizer(payload)),
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

    fn load_known(&self) -> Result<(), NodeError> {
        let searcher = self.reader.searcher();
        let mut known = RecordTable::default();
        for segment in searcher.segment_readers() {
            let fast = segment.fast_fields();
            let keys = fast.u64("record_key")?;
            let contents = fast.u64("content")?;
            let records = fast.u64("record")?;
            for doc in segment.doc_ids_alive() {
                let mut values = records.values_for_doc(doc);
                let (Some(key), Some(content), Some(high), Some(low)) = (
                    keys.first(doc),
                    contents.first(doc),
                    values.next(),
                    values.next(),
                ) else {
                    continue;
                };
                known.insert(
                    key,
                    Known {
                        content,
                        handle: join_handle(high, low),
                    },
                );
            }
        }
        *self.known.write().map_err(|_| NodeError::Poisoned)? = known;
        Ok(())
    }

    fn commit(&self, writer: &mut IndexWriter, pending: &mut Pending) -> Result<(), NodeError> {
        let started = std::time::Instant::now();
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&format!(
            "{{\"epoch\":{},\"tokenizer\":{}}}",
            self.epoch.0,
            self.tokenizer_version()
        ));
        prepared.commit()?;
        self.reader.reload()?;
        tracing::debug!(
            records = pending.records,
            commit_ms = started.elapsed().as_millis() as u64,
            "committed"
        );
        *pending = Pending::new();
        Ok(())
    }

    /// Adds or updates records; one commit for the whole batch. Returns the
    /// counts and the lookup keys of the records (for re-sync bookkeeping).
    pub fn upsert(&self, records: &[IndexRecord]) -> Result<(IngestCounts, Vec<u64>), NodeError> {
        let mut writer = self.writer.lock().map_err(|_| NodeError::Poisoned)?;
        let result = self.upsert_locked(&mut writer, records);
        if result.is_err() {
            self.recover(&mut writer);
        }
        result
    }

    /// After a failed write: drop everything uncommitted and rebuild the
    /// table of known records from what is committed, so that the table and
    /// the index agree again (a re-run ingest then counts exactly).
    fn recover(&self, writer: &mut IndexWriter) {
        if let Err(error) = writer.rollback() {
            tracing::error!(error = %error, "rollback after a failed write failed");
        }
        if let Ok(mut pending) = self.pending.lock() {
            *pending = Pending::new();
        }
        if let Err(error) = self
            .reader
            .reload()
            .map_err(NodeError::from)
            .and_then(|()| self.load_known())
        {
            tracing::error!(error = %error, "cannot rebuild the record table after a failed write");
        }
    }

    fn upsert_locked(
        &self,
        writer: &mut IndexWriter,
        records: &[IndexRecord],
    ) -> Result<(IngestCounts, Vec<u64>), NodeError> {
        let mut counts = IngestCounts::default();
        let mut keys = Vec::with_capacity(records.len());
        let mut changes: HashMap<u64, Known> = HashMap::new();
        {
            let known = self.known.read().map_err(|_| NodeError::Poisoned)?;
            let mut blob = Vec::with_capacity(2048);
            for record in records {
                let key = self.secret.record_key(&record.record_id);
                keys.push(key);
                blob.clear();
                record.tokens.write_bytes(&mut blob);
                let content = fingerprint(&blob);
                let previous = changes.get(&key).or_else(|| known.get(&key)).copied();
                let handle = match previous {
                    Some(previous) if previous.content == content => {
                        counts.unchanged += 1;
                        continue;
                    }
                    Some(previous) => {
                        writer.delete_term(Term::from_field_u64(self.fields.record_key, key));
                        counts.updated += 1;
                        previous.handle
                    }
                    None => {
                        counts.added += 1;
                        match record.handle {
                            Some(handle) => handle,
                            None => new_handle()?,
                        }
                    }
                };
                let sealed = self.secret.seal(&record.record_id)?;
                let document = self.document(key, content, handle, &record.tokens, &blob, &sealed);
                writer.add_document(document)?;
                changes.insert(key, Known { content, handle });
            }
        }
        if !changes.is_empty() {
            let mut pending = self.pending.lock().map_err(|_| NodeError::Poisoned)?;
            pending.records += changes.len();
            // The table runs ahead of the last commit; after a crash it is
            // rebuilt from what was committed, and a re-run ingest fills the gap.
            let mut known = self.known.write().map_err(|_| NodeError::Poisoned)?;
            for (key, record) in changes {
                known.insert(key, record);
            }
            drop(known);
            if pending.records >= self.commit_every_records
                || pending.since.elapsed() >= self.commit_interval
            {
                self.commit(writer, &mut pending)?;
            }
        }
        Ok((counts, keys))
    }

    /// Commits what is pending, if anything is (called on a timer and at the
    /// end of an ingest).
    pub fn commit_pending(&self) -> Result<(), NodeError> {
        let mut writer = self.writer.lock().map_err(|_| NodeError::Poisoned)?;
        let mut pending = self.pending.lock().map_err(|_| NodeError::Poisoned)?;
        if pending.records > 0 {
            self.commit(&mut writer, &mut pending)?;
        }
        Ok(())
    }

    fn document(
        &self,
        key: u64,
        content: u64,
        handle: Handle,
        tokens: &TokenRecord,
        token_bytes: &[u8],
        sealed_id: &[u8],
    ) -> TantivyDocument {
        let fields = self.fields;
        let mut document = TantivyDocument::new();
        document.add_u64(fields.record_key, key);
        document.add_u64(fields.content, content);
        let (high, low) = split_handle(handle);
        document.add_u64(fields.record, high);
        document.add_u64(fields.record, low);
        for chunk in token_bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            document.add_u64(fields.record, u64::from_be_bytes(word));
        }
        for block_key in blocking_keys(tokens) {
            document.add_u64(fields.block, block_key.0);
        }
        for slot in FREQUENCY_SLOTS {
            for token in tokens.slot(slot) {
                document.add_bytes(fields.frequency, &token.0.to_be_bytes()[..]);
            }
        }
        document.add_bytes(fields.sealed_id, sealed_id);
        document
    }

    /// Commits (even with nothing pending) so that tantivy's merge policy
    /// looks at the segments: a re-keyed generation is written in one commit
    /// and would otherwise keep its many small segments until the next
    /// ingest. The merges run in the background.
    pub fn request_merges(&self) -> Result<(), NodeError> {
        let mut writer = self.writer.lock().map_err(|_| NodeError::Poisoned)?;
        let mut pending = self.pending.lock().map_err(|_| NodeError::Poisoned)?;
        self.commit(&mut writer, &mut pending)
    }

    /// The oldest tokenizer version whose tokens the index may hold.
    pub fn tokenizer_version(&self) -> u16 {
        self.tokenizer.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records that every record now holds this build's tokens: after an
    /// ingest that sent every record (`--replace`), each one was either
    /// rewritten or found unchanged under the current tokenizer.
    pub fn mark_tokens_current(&self) {
        self.tokenizer.store(
            poshuk_core::TOKENIZER_VERSION,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The handle of a case id, if the record is in the index (committed or
    /// pending).
    pub fn handle_of(&self, record_id: &str) -> Result<Option<Handle>, NodeError> {
        let key = self.secret.record_key(record_id);
        Ok(self
            .known
            .read()
            .map_err(|_| NodeError::Poisoned)?
            .get(&key)
            .map(|known| known.handle))
    }

    /// Writes every record of this index into `target` (an empty index of
    /// the next epoch) with its tokens re-keyed: same handles, same lookup
    /// keys, same sealed case ids, no raw data needed. Commits `target` once,
    /// at the end, so a half-done re-key is never a usable generation.
    /// `progress` is called with the records done so far.
    pub fn rekey_into(
        &self,
        target: &TokenIndex,
        rekeyer: &poshuk_core::TokenRekeyer,
        progress: &dyn Fn(u64),
    ) -> Result<u64, NodeError> {
        let searcher = self.reader.searcher();
        let mut writer = target.writer.lock().map_err(|_| NodeError::Poisoned)?;
        // Tokens repeat across records (names, dates, places): re-keying
        // each distinct token once saves most of the HMACs.
        let mut cache: HashMap<(u8, u128), Token> = HashMap::with_capacity(1 << 20);
        let mut blob = Vec::with_capacity(2048);
        let mut buffer = Vec::with_capacity(2048);
        let mut done = 0u64;
        let mut known = RecordTable::default();
        for segment in searcher.segment_readers() {
            let columns = SegmentColumns::open(segment)?;
            let keys = segment.fast_fields().u64("record_key")?;
            let store = segment.get_store_reader(64)?;
            let documents = store.iter::<TantivyDocument>(segment.alive_bitset());
            for (doc, stored) in segment.doc_ids_alive().zip(documents) {
                let stored = stored?;
                let (Some(key), Some((handle, tokens))) =
                    (keys.first(doc), columns.record(doc, &mut buffer)?)
                else {
                    continue;
                };
                let sealed = stored
                    .get_first(self.fields.sealed_id)
                    .and_then(|value| value.as_bytes())
                    .ok_or_else(|| NodeError::Index("sealed id missing".into()))?;
                let rekeyed = tokens.map_tokens(|slot, token| {
                    let domain = slot.domain();
                    if cache.len() >= 2_000_000 {
                        cache.clear();
                    }
                    *cache
                        .entry((domain as u8, token.0))
                        .or_insert_with(|| rekeyer.rekey(domain, token))
                });
                blob.clear();
                rekeyed.write_bytes(&mut blob);
                let content = fingerprint(&blob);
                let document = target.document(key, content, handle, &rekeyed, &blob, sealed);
                writer.add_document(document)?;
                known.insert(key, Known { content, handle });
                done += 1;
                if done.is_multiple_of(1_000) {
                    progress(done);
                }
            }
        }
        // Re-keyed tokens are as current as the tokens they came from.
        target.tokenizer.store(
            self.tokenizer_version(),
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut pending = target.pending.lock().map_err(|_| NodeError::Poisoned)?;
        target.commit(&mut writer, &mut pending)?;
        *target.known.write().map_err(|_| NodeError::Poisoned)? = known;
        progress(done);
        Ok(done)
    }

    /// Deletes records by case id; returns (deleted, not found).
    pub fn delete(&self, record_ids: &[String]) -> Result<(u64, u64), NodeError> {
        let keys: Vec<u64> = record_ids
            .iter()
            .map(|id| self.secret.record_key(id))
            .collect();
        self.delete_keys(&keys)
    }

    /// Deletes every record whose lookup key is not in `keep`; returns the
    /// number deleted.
    pub fn delete_all_except(
        &self,
        keep: &std::collections::HashSet<u64>,
    ) -> Result<u64, NodeError> {
        let doomed: Vec<u64> = self
            .known
            .read()
            .map_err(|_| NodeError::Poisoned)?
            .keys()
            .filter(|key| !keep.contains(key))
            .copied()
            .collect();
        Ok(self.delete_keys(&doomed)?.0)
    }

    fn delete_keys(&self, keys: &[u64]) -> Result<(u64, u64), NodeError> {
        let mut writer = self.writer.lock().map_err(|_| NodeError::Poisoned)?;
        let (mut deleted, mut not_found) = (0, 0);
        {
            let known = self.known.read().map_err(|_| NodeError::Poisoned)?;
            for key in keys {
                if known.contains_key(key) {
                    writer.delete_term(Term::from_field_u64(self.fields.record_key, *key));
                    deleted += 1;
                } else {
                    not_found += 1;
                }
            }
        }
        if deleted > 0 {
            let mut pending = self.pending.lock().map_err(|_| NodeError::Poisoned)?;
            if let Err(error) = self.commit(&mut writer, &mut pending) {
                drop(pending);
                self.recover(&mut writer);
                return Err(error);
            }
            let mut known = self.known.write().map_err(|_| NodeError::Poisoned)?;
            for key in keys {
                known.remove(key);
            }
        }
        Ok((deleted, not_found))
    }

    /// Rewrites every segment that holds deleted or replaced records, so their
    /// tokens are gone from disk (not only marked deleted), and removes the
    /// files no longer used. Returns the number of segments rewritten.
    pub fn compact(&self) -> Result<usize, NodeError> {
        let mut writer = self.writer.lock().map_err(|_| NodeError::Poisoned)?;
        {
            let mut pending = self.pending.lock().map_err(|_| NodeError::Poisoned)?;
            if pending.records > 0 {
                self.commit(&mut writer, &mut pending)?;
            }
        }
        // A background merge may hold some of these segments (and may still
        // carry the deleted documents into its output): retry until no
        // segment with deleted documents is left.
        let mut rewritten = 0;
        for attempt in 0.. {
            self.reader.reload()?;
            let with_deletes: Vec<_> = self
                .reader
                .searcher()
                .segment_readers()
                .iter()
                .filter(|segment| segment.num_deleted_docs() > 0)
                .map(|segment| segment.segment_id())
                .collect();
            if with_deletes.is_empty() {
                break;
            }
            match writer.merge(&with_deletes).wait() {
                Ok(_) => rewritten += with_deletes.len(),
                Err(error) if attempt >= 100 => return Err(error.into()),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
        writer.garbage_collect_files().wait()?;
        self.reader.reload()?;
        Ok(rewritten)
    }

    /// Finds candidates sharing a blocking key with the query, re-ranks them
    /// with the scoring model and the index's own term frequencies, and keeps
    /// the best `limit`.
    pub fn search(&self, query: &TokenRecord, limit: usize) -> Result<SearchOutcome, NodeError> {
        let searcher = self.reader.searcher();
        let mut terms = Vec::new();
        for key in blocking_keys(query) {
            let term = Term::from_field_u64(self.fields.block, key.0);
            let frequency = searcher.doc_freq(&term)?;
            if frequency > 0 && frequency <= self.max_block_size {
                terms.push(term);
            }
        }
        if terms.is_empty() {
            return Ok(SearchOutcome {
                hits: Vec::new(),
                candidates: 0,
            });
        }
        let started = std::time::Instant::now();
        let retrieval = BooleanQuery::new_multiterms_query(terms);
        let candidates: Vec<(f32, DocAddress)> = searcher.search(
            &retrieval,
            &TopDocs::with_limit(self.max_candidates).order_by_score(),
        )?;
        let retrieved = started.elapsed();
        let frequencies = IndexFrequencies::new(&searcher, self.fields.frequency);
        let mut columns: HashMap<u32, SegmentColumns> = HashMap::new();
        let mut buffer = Vec::with_capacity(2048);
        let mut hits = Vec::with_capacity(candidates.len());
        for (_, address) in &candidates {
            let segment_columns = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => entry.insert(
                    SegmentColumns::open(searcher.segment_reader(address.segment_ord))?,
                ),
            };
            let Some((handle, tokens)) = segment_columns.record(address.doc_id, &mut buffer)?
            else {
                continue;
            };
            let score = self.model.score(query, &tokens, &frequencies);
            hits.push(IndexHit { handle, score });
        }
        hits.sort_by(|a, b| {
            b.score
                .probability
                .total_cmp(&a.score.probability)
                .then(a.handle.cmp(&b.handle))
        });
        hits.truncate(limit);
        tracing::debug!(
            candidates = candidates.len(),
            retrieval_us = retrieved.as_micros() as u64,
            rerank_us = (started.elapsed() - retrieved).as_micros() as u64,
            "searched"
        );
        Ok(SearchOutcome {
            hits,
            candidates: candidates.len(),
        })
    }

    /// The case id behind a handle, if the handle is in the index (and
    /// committed): the handle's lookup key from memory, the document by that
    /// key, the sealed case id opened with the node's key.
    pub fn resolve(&self, handle: &Handle) -> Result<Option<String>, NodeError> {
        let Some(key) = self
            .known
            .read()
            .map_err(|_| NodeError::Poisoned)?
            .by_handle
            .get(handle)
            .copied()
        else {
            return Ok(None);
        };
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_u64(self.fields.record_key, key),
            IndexRecordOption::Basic,
        );
        let found = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        let Some((_, address)) = found.first() else {
            return Ok(None);
        };
        let document: TantivyDocument = searcher.doc(*address)?;
        let sealed = document
            .get_first(self.fields.sealed_id)
            .and_then(|value| value.as_bytes())
            .ok_or_else(|| NodeError::Index("sealed id missing".into()))?;
        Ok(self.secret.open(sealed))
    }

    /// Every record's handle and tokens (for re-keying and tests).
    pub fn for_each_record(
        &self,
        mut visit: impl FnMut(Handle, TokenRecord),
    ) -> Result<(), NodeError> {
        let searcher = self.reader.searcher();
        let mut buffer = Vec::new();
        for segment in searcher.segment_readers() {
            let columns = SegmentColumns::open(segment)?;
            for doc in segment.doc_ids_alive() {
                if let Some((handle, tokens)) = columns.record(doc, &mut buffer)? {
                    visit(handle, tokens);
                }
            }
        }
        Ok(())
    }
}

/// The fast-field columns of one segment that hold a record's handle and
/// tokens, opened once per search.
struct SegmentColumns {
    records: tantivy::columnar::Column<u64>,
}

impl SegmentColumns {
    fn open(segment: &tantivy::SegmentReader) -> Result<SegmentColumns, NodeError> {
        Ok(SegmentColumns {
            records: segment.fast_fields().u64("record")?,
        })
    }

    fn record(
        &self,
        doc: tantivy::DocId,
        buffer: &mut Vec<u8>,
    ) -> Result<Option<(Handle, TokenRecord)>, NodeError> {
        let mut values = self.records.values_for_doc(doc);
        let (Some(high), Some(low)) = (values.next(), values.next()) else {
            return Ok(None);
        };
        buffer.clear();
        for value in values {
            buffer.extend_from_slice(&value.to_be_bytes());
        }
        Ok(TokenRecord::read_bytes(buffer).map(|(tokens, _)| (join_handle(high, low), tokens)))
    }
}

/// The tokenizer version in a commit payload; an index from before the
/// field was made by version 1.
fn parse_tokenizer(payload: &str) -> u16 {
    serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|value| value.get("tokenizer").and_then(|v| v.as_u64()))
        .map(|version| version as u16)
        .unwrap_or(1)
}

fn parse_epoch(payload: &str) -> Result<Epoch, NodeError> {
    let value: serde_json::Value = serde_json::from_str(payload)
        .map_err(|_| NodeError::Index("commit payload is not JSON".into()))?;
    value
        .get("epoch")
        .and_then(|epoch| epoch.as_u64())
        .map(|epoch| Epoch(epoch as u32))
        .ok_or_else(|| NodeError::Index("commit payload lacks the epoch".into()))
}

fn new_handle() -> Result<Handle, NodeError> {
    let mut handle = [0u8; 16];
    getrandom::fill(&mut handle).map_err(|_| NodeError::Insecure("no OS randomness".into()))?;
    Ok(handle)
}

fn split_handle(handle: Handle) -> (u64, u64) {
    let value = u128::from_be_bytes(handle);
    ((value >> 64) as u64, value as u64)
}

fn join_handle(high: u64, low: u64) -> Handle {
    ((u128::from(high) << 64) | u128::from(low)).to_be_bytes()
}

/// Document frequencies from the index, as term frequencies for scoring.
/// Never leaves the node.
struct IndexFrequencies<'a> {
    searcher: &'a tantivy::Searcher,
    field: Field,
    population: f64,
    cache: std::cell::RefCell<HashMap<Token, Option<f64>>>,
}

impl<'a> IndexFrequencies<'a> {
    fn new(searcher: &'a tantivy::Searcher, field: Field) -> IndexFrequencies<'a> {
        IndexFrequencies {
            searcher,
            field,
            population: searcher.num_docs() as f64,
            cache: std::cell::RefCell::new(HashMap::new()),
        }
    }
}

impl TermFrequencies for IndexFrequencies<'_> {
    fn frequency(&self, token: Token) -> Option<f64> {
        // Fewer than 50 records say nothing reliable about frequencies.
        if self.population < 50.0 {
            return None;
        }
        if let Some(cached) = self.cache.borrow().get(&token) {
            return *cached;
        }
        let term = Term::from_field_bytes(self.field, &token.0.to_be_bytes());
        let frequency = self
            .searcher
            .doc_freq(&term)
            .ok()
            .filter(|&count| count > 0)
            .map(|count| count as f64 / self.population);
        self.cache.borrow_mut().insert(token, frequency);
        frequency
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poshuk_core::{KeyRing, Record, Tokenizer};

    fn tokenizer() -> Tokenizer {
        let ring = KeyRing::with_key([1; 32]);
        Tokenizer::new(ring.hasher(Epoch(1)).expect("hasher"))
    }

    /// Small settings for tests: commit every record, one thread.
    pub(super) fn settings() -> IndexSettings {
        IndexSettings {
            new_index_epoch: Epoch(1),
            writer_memory_bytes: 20_000_000,
            max_candidates: 100,
            max_block_size: 100,
            commit_every_records: 1,
            indexing_threads: 1,
            commit_interval: std::time::Duration::from_secs(60),
        }
    }

    fn record(id: &str, given: &str, family: &str) -> Record {
        Record {
            record_id: id.into(),
            given_name: given.into(),
            family_name: family.into(),
            ..Record::default()
        }
    }

    /// Token records survive indexing, merging and reopening bit for bit.
    #[test]
    fn records_round_trip_through_segments_and_merges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokenizer = tokenizer();
        let people = [
            ("1", "Олександр", "Коваленко"),
            ("2", "Марія", "Шевчук"),
            ("3", "Іван", "Бондар"),
        ];
        let mut expected = HashMap::new();
        {
            let index =
                TokenIndex::open(dir.path(), &dir.path().join("index"), settings()).expect("opens");
            for (id, given, family) in people {
                let tokens = tokenizer.tokenize(&record(id, given, family));
                expected.insert(tokens.len(), tokens.clone());
                index
                    .upsert(&[IndexRecord {
                        record_id: id.into(),
                        tokens,
                        handle: None,
                    }])
                    .expect("upserts");
            }
            assert_eq!(index.delete(&["2".to_string()]).expect("deletes"), (1, 0));
            index.compact().expect("compacts");
        }
        let index =
            TokenIndex::open(dir.path(), &dir.path().join("index"), settings()).expect("reopens");
        assert_eq!(index.record_count(), 2);
        let mut seen = Vec::new();
        index
            .for_each_record(|handle, tokens| {
                assert_eq!(expected.get(&tokens.len()), Some(&tokens));
                seen.push(handle);
            })
            .expect("reads");
        assert_eq!(seen.len(), 2);
        let resolved = index.resolve(&seen[0]).expect("resolves");
        assert!(matches!(resolved.as_deref(), Some("1") | Some("3")));
        let query = tokenizer.tokenize(&record("q", "Alexander", "Kovalenko"));
        let found = index.search(&query, 5).expect("searches");
        assert_eq!(found.hits.len(), 1);
        assert_eq!(
            index
                .resolve(&found.hits[0].handle)
                .expect("resolves")
                .as_deref(),
            Some("1")
        );
    }
}

#[cfg(test)]
mod tokenizer_version_tests {
    use super::*;

    /// An index made by an older tokenizer says so after a restart, until
    /// a full ingest marks its tokens current.
    #[test]
    fn the_index_remembers_which_tokenizer_made_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = || {
            TokenIndex::open(
                dir.path(),
                &dir.path().join("index"),
                super::tests::settings(),
            )
            .expect("opens")
        };
        {
            let index = open();
            assert_eq!(index.tokenizer_version(), poshuk_core::TOKENIZER_VERSION);
            // What an index of version 1 wrote: no tokenizer field.
            let mut writer = index.writer.lock().expect("writer");
            let mut prepared = writer.prepare_commit().expect("prepare");
            prepared.set_payload("{\"epoch\":1}");
            prepared.commit().expect("commit");
        }
        {
            let index = open();
            assert_eq!(index.tokenizer_version(), 1);
            index.mark_tokens_current();
            index.request_merges().expect("commit");
        }
        assert_eq!(open().tokenizer_version(), poshuk_core::TOKENIZER_VERSION);
    }
}

#[cfg(test)]
mod erasure_tests {
    use super::*;
    use poshuk_core::{KeyRing, Record, Tokenizer};

    /// After a delete and a compaction, neither the inverted index nor the
    /// columns hold anything of the deleted record: its unique terms are gone
    /// from every term dictionary, and no segment keeps deleted documents.
    #[test]
    fn deleted_records_leave_no_terms_or_values() {
        let ring = KeyRing::with_key([2; 32]);
        let tokenizer = Tokenizer::new(ring.hasher(Epoch(1)).expect("hasher"));
        let dir = tempfile::tempdir().expect("tempdir");
        let index = TokenIndex::open(
            dir.path(),
            &dir.path().join("index"),
            super::tests::settings(),
        )
        .expect("opens");
        let people = [
            ("gone", "Зиновія", "Пшеничаківська", "Фортунатівна"),
            ("kept-1", "Олександр", "Коваленко", "Миколайович"),
            ("kept-2", "Марія", "Шевчук", "Петрівна"),
        ];
        let records: Vec<IndexRecord> = people
            .iter()
            .map(|(id, given, family, patronymic)| IndexRecord {
                record_id: id.to_string(),
                tokens: tokenizer.tokenize(&Record {
                    record_id: id.to_string(),
                    given_name: given.to_string(),
                    family_name: family.to_string(),
                    patronymic: patronymic.to_string(),
                    ..Record::default()
                }),
                handle: None,
            })
            .collect();
        index.upsert(&records).expect("upserts");
        let kept_tokens: std::collections::HashSet<Token> = records[1..]
            .iter()
            .flat_map(|r| r.tokens.iter().map(|(_, t)| t))
            .collect();
        let kept_keys: std::collections::HashSet<u64> = records[1..]
            .iter()
            .flat_map(|r| blocking_keys(&r.tokens))
            .map(|k| k.0)
            .collect();
        let gone_keys: Vec<u64> = blocking_keys(&records[0].tokens)
            .into_iter()
            .map(|k| k.0)
            .filter(|k| !kept_keys.contains(k))
            .collect();
        let gone_tokens: Vec<Token> = records[0]
            .tokens
            .iter()
            .map(|(_, t)| t)
            .filter(|t| !kept_tokens.contains(t))
            .collect();
        assert!(!gone_keys.is_empty() && !gone_tokens.is_empty());

        index.delete(&["gone".to_string()]).expect("deletes");
        index.compact().expect("compacts");

        let searcher = index.reader.searcher();
        for segment in searcher.segment_readers() {
            assert_eq!(
                segment.num_deleted_docs(),
                0,
                "a segment still holds deleted documents"
            );
            let blocks = segment
                .inverted_index(index.fields.block)
                .expect("block index");
            for key in &gone_keys {
                let term = Term::from_field_u64(index.fields.block, *key);
                assert!(
                    blocks
                        .terms()
                        .get(term.serialized_value_bytes())
                        .expect("lookup")
                        .is_none()
                );
            }
            let frequencies = segment
                .inverted_index(index.fields.frequency)
                .expect("frequency index");
            for token in &gone_tokens {
                assert!(
                    frequencies
                        .terms()
                        .get(token.0.to_be_bytes())
                        .expect("lookup")
                        .is_none()
                );
            }
        }
        let mut remaining = 0;
        index
            .for_each_record(|_, tokens| {
                remaining += 1;
                assert!(tokens.iter().all(|(_, t)| !gone_tokens.contains(&t)));
            })
            .expect("reads");
        assert_eq!(remaining, 2);
    }
}

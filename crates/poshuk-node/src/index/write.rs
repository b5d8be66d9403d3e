//! Writing the index: upserts in batches, commits carrying the epoch,
//! recovery after a failed write, deletes that erase, compaction.

use super::*;

/// Whether a stored record (first) may be replaced by an update (second).
pub(crate) type MayReplace = dyn Fn(&TokenRecord, &TokenRecord) -> bool + Sync;

impl TokenIndex {
    pub(super) fn load_known(&self) -> Result<(), NodeError> {
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
        // Every value token of the term dictionaries (a superset of the
        // stored names, also of deleted records until a merge: harmless).
        let mut names = HashSet::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.frequency)?;
            let mut terms = inverted.terms().stream()?;
            while terms.advance() {
                if let Ok(bytes) = <[u8; 16]>::try_from(terms.key()) {
                    names.insert(u128::from_be_bytes(bytes));
                }
            }
        }
        *self.names.write().map_err(|_| NodeError::Poisoned)? = names;
        Ok(())
    }

    pub(super) fn commit(
        &self,
        writer: &mut IndexWriter,
        pending: &mut Pending,
    ) -> Result<(), NodeError> {
        let started = std::time::Instant::now();
        let mut prepared = writer.prepare_commit()?;
        let payload = CommitPayload::current(self.epoch, self.tokenizer_version());
        // The payload's own fields always serialize.
        prepared.set_payload(&serde_json::to_string(&payload).unwrap_or_default());
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
        self.upsert_guarded(records, None)
            .map(|(counts, keys, _)| (counts, keys))
    }

    /// [`Index::upsert`], with `may_replace(stored, update)` asked before
    /// a committed record is changed: the positions of the records it
    /// refuses are returned, and those records are left as they were.
    pub fn upsert_guarded(
        &self,
        records: &[IndexRecord],
        may_replace: Option<&MayReplace>,
    ) -> Result<(IngestCounts, Vec<u64>, Vec<usize>), NodeError> {
        let mut writer = self.writer.lock().map_err(|_| NodeError::Poisoned)?;
        let result = self.upsert_locked(&mut writer, records, may_replace);
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
        may_replace: Option<&MayReplace>,
    ) -> Result<(IngestCounts, Vec<u64>, Vec<usize>), NodeError> {
        let mut refused = Vec::new();
        let mut counts = IngestCounts::default();
        let mut keys = Vec::with_capacity(records.len());
        let mut changes: HashMap<u64, Known> = HashMap::new();
        {
            let known = self.known.read().map_err(|_| NodeError::Poisoned)?;
            let mut blob = Vec::with_capacity(2048);
            for (position, record) in records.iter().enumerate() {
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
                        // Only a change is compared, against what is
                        // committed: unchanged records cost nothing more.
                        if let Some(may_replace) = may_replace
                            && !changes.contains_key(&key)
                            && let Some(stored) = self.committed_tokens(key)?
                            && !may_replace(&stored, &record.tokens)
                        {
                            refused.push(position);
                            continue;
                        }
                        writer.delete_term(Term::from_field_u64(self.fields.record_key, key));
                        counts.updated += 1;
                        previous.handle
                    }
                    None => {
                        counts.added += 1;
                        match record.handle {
                            Some(handle) => handle,
                            None => self.secret.handle_for(&record.record_id),
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
        Ok((counts, keys, refused))
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

    pub(super) fn document(
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
        if let Ok(mut names) = self.names.write() {
            // As a reopened index reads them from the term dictionary: the
            // given name's classes too (a query's variants of a given name
            // the tables do not know carry the classes of known names).
            for slot in FREQUENCY_SLOTS {
                names.extend(tokens.slot(slot).iter().map(|token| token.0));
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

    /// Records that every record now holds this build's tokens: after an
    /// ingest that sent every record (`--replace`), each one was either
    /// rewritten or found unchanged under the current tokenizer.
    /// Committed at once, so that a restart finds the index current.
    pub fn mark_tokens_current(&self) -> Result<(), NodeError> {
        self.tokenizer.store(
            poshuk_core::TOKENIZER_VERSION,
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut writer = self.writer.lock().map_err(|_| NodeError::Poisoned)?;
        let mut pending = self.pending.lock().map_err(|_| NodeError::Poisoned)?;
        self.commit(&mut writer, &mut pending)?;
        self.remove_set_aside()
    }

    /// Deletes the indexes of older tokenizers set aside beside this one
    /// (`index-epoch-1.tokenizer-2`, ...): their tokens are of no use to this
    /// version, and older encodings gave names back to a thief.
    fn remove_set_aside(&self) -> Result<(), NodeError> {
        let (Some(parent), Some(name)) = (
            self.directory.parent(),
            self.directory.file_name().and_then(|name| name.to_str()),
        ) else {
            return Ok(());
        };
        let prefix = format!("{name}.tokenizer-");
        let entries = std::fs::read_dir(parent).map_err(|source| NodeError::Io {
            what: format!("listing {}", parent.display()),
            source,
        })?;
        for entry in entries.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let path = entry.path();
                std::fs::remove_dir_all(&path).map_err(|source| NodeError::Io {
                    what: format!("removing the set-aside index {}", path.display()),
                    source,
                })?;
                tracing::info!(index = %path.display(), "removed the index of an older tokenizer");
            }
        }
        Ok(())
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
}

//! Reading the index: candidate retrieval and re-ranking, resolving
//! handles, and the sequential read that a re-key copies from.

use super::*;

/// The most one-edit variants of a query's names, per slot, that are kept
/// after the filter against stored names.
pub(super) const MAX_MEETING_VARIANTS: usize = 64;

/// The most family-name forms (`FamilyForm`) of a query kept after the same
/// filter: one name's forms meet a few stored names; a query packed with
/// surnames as "forms" would turn every record of theirs it finds, kept
/// without a date, into a lead.
pub(super) const MAX_MEETING_FORMS: usize = 8;

impl TokenIndex {
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

    /// Finds candidates sharing a blocking key with the query, re-ranks them
    /// with the scoring model and the index's own term frequencies, and keeps
    /// the best `limit`.
    pub fn search(&self, query: &TokenRecord, limit: usize) -> Result<SearchOutcome, NodeError> {
        let found = self.tokenizer_version();
        if found != poshuk_core::TOKENIZER_VERSION {
            return Err(NodeError::StaleTokens {
                found,
                current: poshuk_core::TOKENIZER_VERSION,
            });
        }
        let query = &self.with_known_variants(query)?;
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
            let score = self.model.score_query(query, &tokens, &frequencies);
            hits.push((
                IndexHit {
                    handle,
                    score,
                    namesakes: None,
                },
                tokens,
            ));
        }
        hits.sort_by(|(a, _), (b, _)| ranked(a, b));
        // A few more than are returned: a hit held back by its namesakes
        // (below) makes room for one further down. A few, not twice as many:
        // each costs a count of its namesakes.
        hits.truncate(limit.saturating_add(limit.min(HELD_BACK_ROOM)));
        // For the few hits returned that anyone is shown (weak hits never
        // leave the node): how many records share the name and year ("one
        // of 14" reads differently from "one of 1"); a hit resting on a name
        // and a year that others of the list share is not strong.
        let mut hits: Vec<IndexHit> = hits
            .into_iter()
            .map(|(mut hit, tokens)| {
                if hit.score.band != poshuk_core::Band::Weak {
                    let count = namesakes(&searcher, self.fields.block, &tokens).unwrap_or(1);
                    self.model.hold_counted_namesakes(&mut hit.score, count);
                    hit.namesakes = Some(count);
                }
                hit
            })
            .collect();
        // A hit held back by its counted namesakes goes below the others.
        hits.sort_by(ranked);
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

    /// The query with only those one-edit variants of its names that are a
    /// stored name: the others can meet nothing, and would each cost a
    /// dictionary lookup per blocking rule.
    ///
    /// At most [`MAX_MEETING_VARIANTS`] per slot are kept: the typos of one
    /// name meet a few stored names (at most 20 among 5,500 in a synthetic
    /// 154,000-record list), while a query packed with thousands of other
    /// surnames as "variants" would try them all at once. The family name's
    /// forms (`FamilyForm`) likewise, at most [`MAX_MEETING_FORMS`] and no
    /// more than the query's name pairs leave room for: they tell the scores
    /// another form from a typo, and read no blocking key.
    ///
    /// The variants' years (`FamilyVariantYear`, one per family variant) are
    /// kept whole, for the hits' scores only (no blocking key reads them),
    /// and only where a family variant met a stored name (otherwise one, as
    /// a sign of one date): which of them belongs to a kept variant is not
    /// told. What a query packed with them
    /// can learn is bounded as the variants are (THREAT_MODEL.md).
    fn with_known_variants(&self, query: &TokenRecord) -> Result<TokenRecord, NodeError> {
        let names = self.names.read().map_err(|_| NodeError::Poisoned)?;
        // The forms kept count as family names in the query's name pairs
        // (given names × family names, `MAX_NAME_PAIRS`), as the protocol
        // counts the names themselves: a query with more than a dozen
        // given-name tokens keeps none.
        let count =
            |slots: &[Slot]| -> usize { slots.iter().map(|&slot| query.slot(slot).len()).sum() };
        let given_names = count(&[Slot::GivenWhole, Slot::GivenClass, Slot::AliasClass]).max(1);
        let family_names = count(&[Slot::FamilyWhole, Slot::AliasWhole]);
        let most_forms = (poshuk_core::bounds::MAX_NAME_PAIRS / given_names)
            .saturating_sub(family_names)
            .min(MAX_MEETING_FORMS);
        let (mut given, mut family, mut forms) = (0usize, 0usize, 0usize);
        let filtered = query.filtered(|slot, token| {
            let (kept, most) = match slot {
                Slot::GivenVariant => (&mut given, MAX_MEETING_VARIANTS),
                Slot::FamilyVariant => (&mut family, MAX_MEETING_VARIANTS),
                Slot::FamilyForm => (&mut forms, most_forms),
                _ => return true,
            };
            if *kept >= most || !names.contains(&token.0) {
                return false;
            }
            *kept += 1;
            true
        });
        if family == 0 && !filtered.slot(Slot::FamilyVariantYear).is_empty() {
            // One of them is kept, as a sign that the query has one date (a
            // surname in its given column compares the year by it:
            // `compare_birth_date`). Without a kept variant it raises no
            // record's date.
            let mut kept = false;
            return Ok(filtered.filtered(|slot, _| {
                slot != Slot::FamilyVariantYear || !std::mem::replace(&mut kept, true)
            }));
        }
        Ok(filtered)
    }

    /// The handles that begin with `prefix` (at most `most` of them): a
    /// handle read out over the telephone is often cut short.
    pub fn handles_starting_with(
        &self,
        prefix: &[u8],
        most: usize,
    ) -> Result<Vec<Handle>, NodeError> {
        let known = self.known.read().map_err(|_| NodeError::Poisoned)?;
        Ok(known
            .by_handle
            .keys()
            .filter(|handle| handle.starts_with(prefix))
            .take(most)
            .copied()
            .collect())
    }

    /// The committed tokens of a lookup key, if the key is committed.
    pub(super) fn committed_tokens(&self, key: u64) -> Result<Option<TokenRecord>, NodeError> {
        let searcher = self.reader.searcher();
        let Some(address) = self.address_of(&searcher, key)? else {
            return Ok(None);
        };
        let segment = searcher.segment_reader(address.segment_ord);
        let columns = SegmentColumns::open(segment)?;
        let mut buffer = Vec::new();
        Ok(columns
            .record(address.doc_id, &mut buffer)?
            .map(|(_, tokens)| tokens))
    }

    /// Where the committed document of a lookup key is.
    fn address_of(
        &self,
        searcher: &tantivy::Searcher,
        key: u64,
    ) -> Result<Option<tantivy::DocAddress>, NodeError> {
        let query = TermQuery::new(
            Term::from_field_u64(self.fields.record_key, key),
            IndexRecordOption::Basic,
        );
        let found = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        Ok(found.first().map(|(_, address)| *address))
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
        let Some(address) = self.address_of(&searcher, key)? else {
            return Ok(None);
        };
        let document: TantivyDocument = searcher.doc(address)?;
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
    fn population(&self) -> Option<f64> {
        (self.population >= 50.0).then_some(self.population)
    }

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

/// How many records share a record's name and birth year (the name alone
/// when it has no year): two posting lists of block keys intersected.
/// Hits beyond the limit whose namesakes are counted, so that a hit held
/// back by them makes room for the next.
const HELD_BACK_ROOM: usize = 10;

fn namesakes(
    searcher: &tantivy::Searcher,
    block: tantivy::schema::Field,
    record: &TokenRecord,
) -> Result<u64, NodeError> {
    use tantivy::query::{Occur, Query};
    let (names, years) = poshuk_core::blocking::namesake_keys(record);
    if names.is_empty() {
        return Ok(1);
    }
    let any_of = |keys: &[poshuk_core::blocking::BlockKey]| -> Box<dyn Query> {
        Box::new(BooleanQuery::new_multiterms_query(
            keys.iter()
                .map(|key| Term::from_field_u64(block, key.0))
                .collect(),
        ))
    };
    let mut clauses = vec![(Occur::Must, any_of(&names))];
    if !years.is_empty() {
        clauses.push((Occur::Must, any_of(&years)));
    }
    let count = searcher.search(&BooleanQuery::new(clauses), &tantivy::collector::Count)?;
    Ok((count as u64).max(1))
}

/// The order hits are returned in: the person's bands (strong, possible)
/// first, then relatives, then weak hits (which never leave the node), so
/// that a namesake held as a lead at 0.2 is not cut for weak hits of
/// another year at 0.33; within them by probability, then by the evidence
/// before the caps (of two namesakes held at one probability, the one whose
/// birth place or father's name also agrees comes first), then by handle.
/// The coordinator keeps this order among a partner's hits of one band and
/// score.
pub(super) fn ranked(a: &IndexHit, b: &IndexHit) -> std::cmp::Ordering {
    b.score
        .band
        .cmp(&a.score.band)
        .then(b.score.probability.total_cmp(&a.score.probability))
        .then(b.score.evidence().total_cmp(&a.score.evidence()))
        .then(a.handle.cmp(&b.handle))
}

//! Writes and queries across the served generations: an ingest batch, the
//! end of an ingest session, deletes, compaction, and the token queries of a
//! federated search.
//!
//! While two epochs are served, a record is tokenized once, in the oldest
//! epoch, and its tokens are re-keyed along the chain for the newer ones,
//! exactly as the re-key made the newer generation's other records, under
//! the handle the oldest generation gave it.

use std::collections::HashSet;
use std::time::Instant;

use poshuk_core::{Epoch, Record, TokenRecord};
use poshuk_protocol::{EpochQueries, IngestBatchResult, Rejected, TokenQuery};
use rayon::prelude::*;

use super::{Generations, WritesPaused};
use crate::NodeError;
use crate::index::{Handle, IndexRecord, SearchOutcome};

/// Why a write was not done.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A re-key or retirement is changing the generations: retry later.
    #[error("{}", .0.reason)]
    Paused(WritesPaused),
    /// `replace` after a session that sent no valid record would delete
    /// every record.
    #[error(
        "refusing --replace: this ingest sent no valid record, and replacing would delete every record; check the file and its column mapping"
    )]
    EmptyReplace,
    /// `replace` would delete more than a tenth of the records, unasked.
    #[error(
        "refusing --replace: it would delete {would_delete} of the node's {records} records (more than a tenth). If the list really shrank, run again with --yes; otherwise check the file (a partial export, another sheet?)"
    )]
    LargeReplace {
        /// Records the replace would delete.
        would_delete: u64,
        /// Records in the node.
        records: u64,
    },
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl From<WritesPaused> for WriteError {
    fn from(paused: WritesPaused) -> WriteError {
        WriteError::Paused(paused)
    }
}

/// What an ingest batch did: the answer for the client, and the lookup keys
/// of the records it held (the session remembers them for `replace`).
#[derive(Debug)]
pub struct BatchOutcome {
    /// Counts and refusals of the batch.
    pub result: IngestBatchResult,
    /// Lookup keys of the records written.
    pub keys: Vec<u64>,
}

/// What finishing an ingest session did.
#[derive(Debug, Clone, Copy)]
pub struct FinishOutcome {
    /// Records deleted by `replace` (0 without it).
    pub deleted: u64,
}

/// Whether two token records can be one person: any given name, family
/// name, other name (either way round) or document in common.
fn same_person(stored: &TokenRecord, update: &TokenRecord) -> bool {
    use poshuk_core::Slot;
    let names = [
        Slot::GivenWhole,
        Slot::GivenClass,
        Slot::FamilyWhole,
        Slot::FamilyClass,
        Slot::AliasWhole,
        Slot::AliasClass,
    ];
    let any = |record: &TokenRecord, slots: &[Slot]| -> Vec<poshuk_core::Token> {
        let mut tokens: Vec<_> = slots
            .iter()
            .flat_map(|slot| record.slot(*slot).iter().copied())
            .collect();
        tokens.sort_unstable();
        tokens.dedup();
        tokens
    };
    let meet = |left: &[poshuk_core::Token], right: &[poshuk_core::Token]| {
        left.iter().any(|token| right.binary_search(token).is_ok())
    };
    let documents = |record: &TokenRecord| any(record, &[Slot::DocumentWhole]);
    meet(&any(stored, &names), &any(update, &names)) || meet(&documents(stored), &documents(update))
}

/// Why a record of a batch is refused, if it is.
fn refusal(record: &Record) -> Option<&'static str> {
    if record.record_id.trim().is_empty() {
        Some("record_id is empty")
    } else if !record.is_identifiable() {
        Some("record has neither a name nor a document")
    } else {
        None
    }
}

impl Generations {
    /// Checks, tokenizes and upserts a batch into every served generation.
    /// Blocking: run it on a blocking thread.
    pub fn upsert(&self, records: Vec<Record>) -> Result<BatchOutcome, WriteError> {
        let mut rejected = Vec::new();
        let mut accepted = Vec::with_capacity(records.len());
        for (index, record) in records.into_iter().enumerate() {
            match refusal(&record) {
                Some(reason) => rejected.push(Rejected {
                    index,
                    reason: reason.into(),
                }),
                None => accepted.push((index, record)),
            }
        }
        let _writes = self.admit_write()?;
        let generations = self.all()?;
        let Some((oldest, newer)) = generations.split_first() else {
            return Err(NodeError::Index("no generation is served".into()).into());
        };
        let tokenize_started = Instant::now();
        let tokenized: Vec<(usize, IndexRecord)> = accepted
            .par_iter()
            .filter_map(|(index, record)| {
                Some((
                    *index,
                    IndexRecord {
                        record_id: record.record_id.clone(),
                        tokens: self.tokenize(oldest.epoch, record)?,
                        handle: None,
                    },
                ))
            })
            .collect();
        let (indexes, records): (Vec<usize>, Vec<IndexRecord>) = tokenized.into_iter().unzip();
        let tokenize_ms = tokenize_started.elapsed().as_millis() as u64;
        let index_started = Instant::now();
        // An update that names another person (no given name, family name,
        // other name or document in common with what the case held) is
        // refused: a case number reused for someone else, or a list whose
        // row numbers were taken for case numbers, would otherwise point
        // the handles already given to partners at another child.
        let (mut counts, keys, refused) =
            oldest.index.upsert_guarded(&records, Some(&same_person))?;
        for &position in &refused {
            rejected.push(Rejected {
                index: indexes[position],
                reason: "the case id already names another person (no name or document in common): not updated; if it really is the same case, delete it first (`poshuk delete`), then load it again".into(),
            });
        }
        rejected.sort_by_key(|rejection| rejection.index);
        // The newer generations take what the oldest took.
        let records: Vec<IndexRecord> = records
            .into_iter()
            .enumerate()
            .filter(|(position, _)| refused.binary_search(position).is_err())
            .map(|(_, record)| record)
            .collect();
        for generation in newer {
            let rekey = self.rekey_chain(oldest.epoch, generation.epoch)?;
            let rekeyed: Vec<IndexRecord> = records
                .par_iter()
                .map(|record| IndexRecord {
                    record_id: record.record_id.clone(),
                    tokens: rekey(&record.tokens),
                    handle: oldest.index.handle_of(&record.record_id).ok().flatten(),
                })
                .collect();
            generation.index.upsert(&rekeyed)?;
        }
        counts.rejected = rejected.len() as u64;
        tracing::debug!(
            records = accepted.len(),
            tokenize_ms,
            index_ms = index_started.elapsed().as_millis() as u64,
            "batch ingested"
        );
        Ok(BatchOutcome {
            result: IngestBatchResult { counts, rejected },
            keys,
        })
    }

    /// Ends an ingest session: commits, and with `replace` deletes every
    /// record the session did not send (`seen` holds their lookup keys).
    /// Blocking.
    pub fn finish_ingest(
        &self,
        seen: &HashSet<u64>,
        replace: bool,
        allow_large_delete: bool,
    ) -> Result<FinishOutcome, WriteError> {
        let _writes = self.admit_write()?;
        let generations = self.all()?;
        for generation in &generations {
            generation.index.commit_pending()?;
        }
        let mut deleted = 0;
        if replace {
            if seen.is_empty() {
                return Err(WriteError::EmptyReplace);
            }
            // Every record of this session is in the index now: the rest
            // is what a replace deletes.
            let records = generations
                .first()
                .map_or(0, |generation| generation.index.record_count());
            let would_delete = records.saturating_sub(seen.len() as u64);
            if would_delete * 10 > records && !allow_large_delete {
                return Err(WriteError::LargeReplace {
                    would_delete,
                    records,
                });
            }
            for (position, generation) in generations.iter().enumerate() {
                let count = generation.index.delete_all_except(seen)?;
                if position == 0 {
                    deleted = count;
                }
                generation.index.mark_tokens_current()?;
            }
        }
        // Always: an earlier, interrupted session may have left replaced
        // versions behind; compacting an index without deletions is cheap.
        for generation in &generations {
            generation.index.compact()?;
        }
        // The tokenizing threads' caches of field values are done with.
        rayon::broadcast(|_| poshuk_core::features::clear_token_cache());
        Ok(FinishOutcome { deleted })
    }

    /// Deletes records by case id from every generation and erases them
    /// from disk; returns (deleted, not found). Blocking.
    pub fn delete(&self, record_ids: &[String]) -> Result<(u64, u64), WriteError> {
        let _writes = self.admit_write()?;
        let mut counted = None;
        for generation in self.all()? {
            let outcome = generation.index.delete(record_ids)?;
            generation.index.compact()?;
            counted.get_or_insert(outcome);
        }
        Ok(counted.unwrap_or((0, 0)))
    }

    /// Merges away deleted documents in every generation; returns the
    /// segments rewritten. Blocking.
    pub fn compact(&self) -> Result<usize, WriteError> {
        let _writes = self.admit_write()?;
        let mut rewritten = 0;
        for generation in self.all()? {
            rewritten += generation.index.compact()?;
        }
        Ok(rewritten)
    }

    /// The token queries of a federated search, one per epoch: tokenized once
    /// in the oldest, re-keyed along the chain for the newer ones. No epoch,
    /// no query. Blocking.
    pub fn queries_for(
        &self,
        record: &Record,
        years: &[u16],
        epochs: &[Epoch],
        limit: usize,
    ) -> Result<EpochQueries, NodeError> {
        let Some((&oldest, newer)) = epochs.split_first() else {
            return Ok(EpochQueries {
                queries: Vec::new(),
            });
        };
        let tokens = self
            .tokenize_query_in_years(oldest, record, years)
            .ok_or_else(|| NodeError::Keyring(format!("no key for epoch {oldest}")))?;
        let mut queries = vec![TokenQuery::from_record(oldest.0, &tokens, limit)];
        for &epoch in newer {
            let rekeyed = self.rekey_chain(oldest, epoch)?(&tokens);
            queries.push(TokenQuery::from_record(epoch.0, &rekeyed, limit));
        }
        Ok(EpochQueries { queries })
    }

    /// Searches the newest generation by a raw record. Blocking.
    pub fn search_newest(
        &self,
        record: &Record,
        years: &[u16],
        limit: usize,
    ) -> Result<SearchOutcome, NodeError> {
        let generation = self.newest()?;
        let tokens = self
            .tokenize_query_in_years(generation.epoch, record, years)
            .ok_or_else(|| NodeError::Keyring("no key for the served epoch".into()))?;
        generation.index.search(&tokens, limit)
    }

    /// The handles of the newest generation that begin with `prefix` (a
    /// record has the same handle in every generation), at most `most`.
    /// Blocking.
    pub fn handles_starting_with(
        &self,
        prefix: &[u8],
        most: usize,
    ) -> Result<Vec<Handle>, NodeError> {
        self.newest()?.index.handles_starting_with(prefix, most)
    }

    /// The case id behind a handle, from whichever served generation has it
    /// (a record has the same handle in every generation). Blocking.
    pub fn resolve(&self, handle: &Handle) -> Result<Option<String>, NodeError> {
        for generation in self.all()?.iter().rev() {
            if let Some(record_id) = generation.index.resolve(handle)? {
                return Ok(Some(record_id));
            }
        }
        Ok(None)
    }

    /// A function re-keying token records of epoch `from` into epoch `to`,
    /// step by step along the chain.
    fn rekey_chain(
        &self,
        from: Epoch,
        to: Epoch,
    ) -> Result<impl Fn(&TokenRecord) -> TokenRecord + Sync, NodeError> {
        let rekeyers = self.rekeyers(from, to)?;
        Ok(move |tokens: &TokenRecord| {
            tokens.map_tokens(|slot, token| {
                rekeyers
                    .iter()
                    .fold(token, |token, rekeyer| rekeyer.rekey(slot.domain(), token))
            })
        })
    }
}

//! Taking part without a node: a partner that runs no node (for a clandestine
//! partner, one server fewer to hide) tokenizes its list on its own machine
//! and either asks the coordinator case by case (`poshuk overlap --offline
//! CONFIG`), or sends the token queries in a file sealed to one partner, who
//! answers them with its node in a file sealed back (`--sealed-to`,
//! `--answer`, `--read`). The files travel by any channel; only the two
//! partners can open them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{SearchHit, TokenQuery};

/// Most queries one sealed request may carry: answered within the node's
/// request deadline, and about 50 MB sealed for one-word names (each case
/// carries the spelling variants of its names and their years). A longer
/// list goes in several requests.
pub const MAX_OFFLINE_QUERIES: usize = 1_000;

/// The largest sealed request a node reads: [`MAX_OFFLINE_QUERIES`] queries
/// of two-word names with their spelling variants and the variants' years
/// (about 82 MB), with room. The asking side checks it before sealing, so
/// a request is not carried to a partner only to be refused there.
pub const MAX_REQUEST_BYTES: usize = 128 * 1024 * 1024;

/// A sealed request's contents. On the wire (inside the sealed file) it is
/// binary: a JSON head, then each query's tokens as raw bytes, about half
/// the size of the federation's hex JSON ([`OfflineRequest::to_bytes`]).
#[derive(Debug, Clone)]
pub struct OfflineRequest {
    /// The asking partner's id.
    pub from: String,
    /// The asking partner's public key (`age1...`): the reply is sealed to it.
    pub reply_to: String,
    /// A digest of the asking partner's list file, so that the reply is read
    /// against the same list (the queries are in its order).
    pub input: String,
    /// A secret of this request, which the reply must carry: only the
    /// partner who could open the request can make a reply the asking
    /// partner accepts (its public key, which seals the reply, is no
    /// secret).
    pub nonce: String,
    /// One token query per case of the list, in its order.
    pub queries: Vec<TokenQuery>,
}

#[derive(Serialize, Deserialize)]
struct RequestHead {
    from: String,
    reply_to: String,
    input: String,
    nonce: String,
    count: usize,
}

/// What is wrong with a request's bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OfflineError {
    /// Not a request of this format.
    #[error("not an offline request of this version")]
    NotARequest,
    /// Cut short, or with a length beyond its bounds.
    #[error("the request is damaged or exceeds its bounds")]
    Damaged,
    /// More queries than [`MAX_OFFLINE_QUERIES`].
    #[error("the request holds more than {MAX_OFFLINE_QUERIES} queries")]
    TooMany,
}

const MAGIC: &[u8] = b"POSHUK-OFFLINE-1\n";

/// Reads bytes from the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], OfflineError> {
        if self.0.len() < count {
            return Err(OfflineError::Damaged);
        }
        let (taken, rest) = self.0.split_at(count);
        self.0 = rest;
        Ok(taken)
    }

    fn u32(&mut self) -> Result<u32, OfflineError> {
        let bytes: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| OfflineError::Damaged)?;
        Ok(u32::from_be_bytes(bytes))
    }
}

impl OfflineRequest {
    /// The binary form (what is sealed).
    pub fn to_bytes(&self) -> Vec<u8> {
        let head = serde_json::to_vec(&RequestHead {
            from: self.from.clone(),
            reply_to: self.reply_to.clone(),
            input: self.input.clone(),
            nonce: self.nonce.clone(),
            count: self.queries.len(),
        })
        .unwrap_or_default();
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(head.len() as u32).to_be_bytes());
        out.extend_from_slice(&head);
        for query in &self.queries {
            out.extend_from_slice(&query.epoch.to_be_bytes());
            out.extend_from_slice(&u32::from(query.tokenizer).to_be_bytes());
            out.extend_from_slice(&(query.limit as u32).to_be_bytes());
            out.extend_from_slice(&(query.tokens.len() as u32).to_be_bytes());
            for (slot, tokens) in &query.tokens {
                out.extend_from_slice(&(slot.len() as u32).to_be_bytes());
                out.extend_from_slice(slot.as_bytes());
                out.extend_from_slice(&(tokens.len() as u32).to_be_bytes());
                for token in tokens {
                    let mut raw = [0u8; 16];
                    // Tokens this build made are 32 hex digits.
                    if hex::decode_to_slice(token, &mut raw).is_err() {
                        raw = [0u8; 16];
                    }
                    out.extend_from_slice(&raw);
                }
            }
        }
        out
    }

    /// Reads the binary form, within its bounds (a hostile file cannot make
    /// the reader allocate beyond what it holds).
    pub fn from_bytes(bytes: &[u8]) -> Result<OfflineRequest, OfflineError> {
        let mut reader = Reader(bytes.strip_prefix(MAGIC).ok_or(OfflineError::NotARequest)?);
        let head_len = reader.u32()? as usize;
        let head: RequestHead =
            serde_json::from_slice(reader.take(head_len)?).map_err(|_| OfflineError::Damaged)?;
        if head.count > MAX_OFFLINE_QUERIES {
            return Err(OfflineError::TooMany);
        }
        let mut queries = Vec::with_capacity(head.count);
        for _ in 0..head.count {
            let epoch = reader.u32()?;
            let tokenizer = u16::try_from(reader.u32()?).map_err(|_| OfflineError::Damaged)?;
            let limit = reader.u32()? as usize;
            let slots = reader.u32()? as usize;
            if slots > 64 {
                return Err(OfflineError::Damaged);
            }
            let mut tokens = BTreeMap::new();
            for _ in 0..slots {
                let name_len = reader.u32()? as usize;
                if name_len > 64 {
                    return Err(OfflineError::Damaged);
                }
                let name = String::from_utf8(reader.take(name_len)?.to_vec())
                    .map_err(|_| OfflineError::Damaged)?;
                let slot = poshuk_tokens::Slot::from_name(&name).ok_or(OfflineError::Damaged)?;
                let count = reader.u32()? as usize;
                // The federation's own bound per slot, checked before a
                // token is read: a hostile file cannot make the reader hold
                // more than one query of the federation may.
                if count > crate::max_tokens(slot) {
                    return Err(OfflineError::Damaged);
                }
                let raw = reader.take(count.checked_mul(16).ok_or(OfflineError::Damaged)?)?;
                tokens.insert(name, raw.chunks_exact(16).map(hex::encode).collect());
            }
            queries.push(TokenQuery {
                epoch,
                tokenizer,
                tokens,
                limit,
            });
        }
        if !reader.0.is_empty() {
            return Err(OfflineError::Damaged);
        }
        Ok(OfflineRequest {
            from: head.from,
            reply_to: head.reply_to,
            input: head.input,
            nonce: head.nonce,
            queries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(epoch: u32) -> TokenQuery {
        let mut tokens = BTreeMap::new();
        tokens.insert(
            "GivenWhole".to_string(),
            vec!["00112233445566778899aabbccddeeff".to_string(); 3],
        );
        tokens.insert("FamilyWhole".to_string(), vec!["ff".repeat(16)]);
        TokenQuery {
            epoch,
            tokenizer: 4,
            tokens,
            limit: 20,
        }
    }

    #[test]
    fn a_request_reads_back_as_written_and_damage_is_refused() {
        let request = OfflineRequest {
            from: "ru".into(),
            reply_to: "age1...".into(),
            input: "digest".into(),
            nonce: "n".into(),
            queries: vec![query(1), query(2)],
        };
        let bytes = request.to_bytes();
        let read = OfflineRequest::from_bytes(&bytes).expect("reads");
        assert_eq!(read.from, "ru");
        assert_eq!(read.queries, request.queries);
        assert_eq!(
            OfflineRequest::from_bytes(&bytes[..bytes.len() - 1]).err(),
            Some(OfflineError::Damaged)
        );
        assert_eq!(
            OfflineRequest::from_bytes(b"not a request").err(),
            Some(OfflineError::NotARequest)
        );
        // A count far beyond what the bytes hold allocates nothing.
        let mut huge = MAGIC.to_vec();
        let head = br#"{"from":"a","reply_to":"b","input":"c","nonce":"n","count":900}"#;
        huge.extend_from_slice(&(head.len() as u32).to_be_bytes());
        huge.extend_from_slice(head);
        // epoch 1, tokenizer 4, limit 20, one slot, its name, then a count
        // of tokens far beyond the federation's bound for it.
        huge.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 12]);
        huge.extend_from_slice(b"GivenVariant");
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            OfflineRequest::from_bytes(&huge).err(),
            Some(OfflineError::Damaged)
        );
    }
}

/// A sealed reply's contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfflineReply {
    /// The answering partner's id.
    pub from: String,
    /// The request's `input`.
    pub input: String,
    /// The request's `nonce`.
    pub nonce: String,
    /// SHA-256 (hex) of the sealed request answered.
    pub request: String,
    /// How many queries were not answered (a case that identifies no one,
    /// or a query this node refuses): their answers are empty.
    #[serde(default)]
    pub refused: usize,
    /// The hits for each query, in the request's order (possible and strong
    /// only, as the federation gets them).
    pub answers: Vec<Vec<SearchHit>>,
}

/// A sealed file in a JSON body (hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sealed {
    /// The sealed bytes, in hex.
    pub sealed: String,
}

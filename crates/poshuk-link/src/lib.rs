//! Offline linkage for partners who exchange files instead of running nodes:
//! the token file format, and linking two token files by blocking and scoring.
//!
//! A token file holds, per record, a random opaque handle and the record's
//! tokens, sorted by handle so that the file's order says nothing about the
//! partner's list. The handle → record_id map is written separately and stays
//! with the partner.

mod link;
mod token_file;

pub use link::{LinkOptions, LinkStats, LinkedPair, TokenFrequencies, link};
pub use token_file::{Handle, TokenFile, TokenFileError};

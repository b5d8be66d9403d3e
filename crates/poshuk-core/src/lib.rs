//! The matching core of poshuk: normalization, name knowledge, features,
//! keyed tokens, blocking and scoring.
//!
//! Invariants: this crate does no IO and no async. Raw personal data enters as
//! [`Record`] and leaves only as [`TokenRecord`]; every type that holds raw data
//! redacts itself in `Debug` and `Display`; key material is zeroized on drop.

pub mod blocking;
pub mod document;
pub mod features;
pub mod names;
pub mod normalize;
pub mod record;
pub mod score;

pub use blocking::{BlockKey, blocking_keys, link_keys};

pub use features::Tokenizer;
/// The version of the tokenizer (see [`poshuk_tokens::TOKENIZER_VERSION`]).
pub use poshuk_tokens::TOKENIZER_VERSION;
// The token record and the keyring live in their own crates (so that the
// coordinator can depend on neither); the core re-exports what its callers
// use alongside the tokenizer.
pub use poshuk_keys::{
    Epoch, EpochEntry, EpochKey, EpochState, KeyError, KeyRing, TokenHasher, TokenRekeyer,
};
pub use poshuk_tokens::{
    Domain, SLOT_COUNT, STORED_SLOT_COUNT, Slot, Token, TokenRecord, TokenRecordBuilder, bounds,
};
pub use record::{BirthDate, DateError, MAX_YEAR_RANGE, Record, SearchAdvice, Sex};
pub use score::{
    Band, FREQUENCY_SLOTS, Field, FieldScore, Level, MatchModel, MatchScore, NoTermFrequencies,
    TermFrequencies,
};

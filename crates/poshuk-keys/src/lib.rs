//! Key material of a poshuk federation: the keyring of numbered epochs and
//! the keyed hashing it drives, sealed epoch keys for partners, and the
//! secret files they live in.
//!
//! Its own crate so that the crate graph shows who can make tokens: the
//! matching core and the node depend on it; the coordinator and the wire
//! protocol do not, and so cannot compute a token or open a sealed key.
//!
//! Invariants: key material is zeroized on drop and never appears in `Debug`,
//! `Display` or an error message; secret files are 0600 from their creation
//! and refused when others can read them.

pub mod files;
pub mod keyring;
pub mod letters;
pub mod sealed;

pub use files::FileError;
pub use keyring::{
    Epoch, EpochEntry, EpochKey, EpochState, KeyError, KeyRing, TokenHasher, TokenRekeyer,
};

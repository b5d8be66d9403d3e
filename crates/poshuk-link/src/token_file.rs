//! The token file: a small binary format.
//!
//! Layout (all integers little-endian):
//! `b"POSHUKTK"`, version `u16` (the tokenizer's version,
//! [`poshuk_core::TOKENIZER_VERSION`]: the layout has not changed since 1, the
//! tokens have), epoch `u32`, record count `u64`, slot count
//! `u16`; then per record: handle (16 bytes), one `u8` token count per slot, and
//! the tokens (16 bytes each, big-endian), slot by slot.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use poshuk_core::{Epoch, STORED_SLOT_COUNT, TokenRecord};

const MAGIC: &[u8; 8] = b"POSHUKTK";
const VERSION: u16 = poshuk_core::TOKENIZER_VERSION;

/// An opaque record handle: 128 random bits, meaningless outside the partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(pub [u8; 16]);

impl Handle {
    /// A fresh random handle.
    pub fn random() -> Result<Handle, TokenFileError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| TokenFileError::NoRandomness)?;
        Ok(Handle(bytes))
    }

    /// Lower-case hexadecimal.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Parses hexadecimal.
    pub fn from_hex(text: &str) -> Option<Handle> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        Some(Handle(bytes))
    }
}

/// Errors reading or writing token files.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// IO failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a token file, or a version this build cannot read.
    #[error("{path}: not a poshuk token file (or an unsupported version)")]
    NotATokenFile {
        /// The file.
        path: String,
    },
    /// The file was encoded by another version of the tokenizer.
    #[error(
        "{path}: encoded by another poshuk version (tokenizer {found}, this build {current}): its tokens would only partly meet this build's; encode both sides with the same version"
    )]
    OtherTokenizer {
        /// The file.
        path: String,
        /// The file's tokenizer version.
        found: u16,
        /// This build's.
        current: u16,
    },
    /// The file ends before the records its header announces.
    #[error("{path}: truncated after {read} of {expected} records")]
    Truncated {
        /// The file.
        path: String,
        /// Records read.
        read: u64,
        /// Records announced.
        expected: u64,
    },
    /// The operating system's random generator failed.
    #[error("the operating system's random generator is unavailable")]
    NoRandomness,
}

/// The contents of a token file.
#[derive(Debug, Clone)]
pub struct TokenFile {
    /// The key epoch of the tokens.
    pub epoch: Epoch,
    /// Records, sorted by handle.
    pub records: Vec<(Handle, TokenRecord)>,
}

impl TokenFile {
    /// Writes the file (records sorted by handle first).
    pub fn write(&mut self, path: &Path) -> Result<(), TokenFileError> {
        let io = |source| TokenFileError::Io {
            path: path.display().to_string(),
            source,
        };
        self.records.sort_unstable_by_key(|(handle, _)| *handle);
        let file = std::fs::File::create(path).map_err(io)?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        writer.write_all(MAGIC).map_err(io)?;
        writer.write_all(&VERSION.to_le_bytes()).map_err(io)?;
        writer.write_all(&self.epoch.0.to_le_bytes()).map_err(io)?;
        writer
            .write_all(&(self.records.len() as u64).to_le_bytes())
            .map_err(io)?;
        writer
            .write_all(&(STORED_SLOT_COUNT as u16).to_le_bytes())
            .map_err(io)?;
        let mut buffer = Vec::with_capacity(4096);
        for (handle, record) in &self.records {
            buffer.clear();
            buffer.extend_from_slice(&handle.0);
            record.write_bytes(&mut buffer);
            writer.write_all(&buffer).map_err(io)?;
        }
        writer.flush().map_err(io)?;
        writer
            .into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)?;
        Ok(())
    }

    /// Reads a file.
    pub fn read(path: &Path) -> Result<TokenFile, TokenFileError> {
        let shown = path.display().to_string();
        let io = |source| TokenFileError::Io {
            path: shown.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // Each record takes at least its handle and slot counts: the file's
        // length bounds what the header may make us reserve.
        let length = file.metadata().map_err(io)?.len();
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut header = [0u8; 8 + 2 + 4 + 8 + 2];
        if reader.read_exact(&mut header).is_err() || &header[..8] != MAGIC {
            return Err(TokenFileError::NotATokenFile { path: shown });
        }
        let field = |range: std::ops::Range<usize>| &header[range];
        let version = u16::from_le_bytes([header[8], header[9]]);
        let mut epoch_bytes = [0u8; 4];
        epoch_bytes.copy_from_slice(field(10..14));
        let mut count_bytes = [0u8; 8];
        count_bytes.copy_from_slice(field(14..22));
        let slot_count = u16::from_le_bytes([header[22], header[23]]) as usize;
        if slot_count != STORED_SLOT_COUNT || version == 0 {
            return Err(TokenFileError::NotATokenFile { path: shown });
        }
        if version != VERSION {
            return Err(TokenFileError::OtherTokenizer {
                path: shown,
                found: version,
                current: VERSION,
            });
        }
        let expected = u64::from_le_bytes(count_bytes);
        let most = length / (16 + STORED_SLOT_COUNT as u64);
        let mut records = Vec::with_capacity(expected.min(most) as usize);
        let truncated = |read: u64| TokenFileError::Truncated {
            path: shown.clone(),
            read,
            expected,
        };
        let mut counts = [0u8; STORED_SLOT_COUNT];
        let mut buffer = Vec::with_capacity(4096);
        for read in 0..expected {
            let mut handle = [0u8; 16];
            reader
                .read_exact(&mut handle)
                .map_err(|_| truncated(read))?;
            reader
                .read_exact(&mut counts)
                .map_err(|_| truncated(read))?;
            let total: usize = counts.iter().map(|&count| count as usize).sum();
            buffer.clear();
            buffer.extend_from_slice(&counts);
            buffer.resize(STORED_SLOT_COUNT + total * 16, 0);
            reader
                .read_exact(&mut buffer[STORED_SLOT_COUNT..])
                .map_err(|_| truncated(read))?;
            let (record, _) =
                TokenRecord::read_bytes(&buffer).ok_or_else(|| TokenFileError::NotATokenFile {
                    path: shown.clone(),
                })?;
            records.push((Handle(handle), record));
        }
        Ok(TokenFile {
            epoch: Epoch(u32::from_le_bytes(epoch_bytes)),
            records,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poshuk_core::{Slot, Token};

    #[test]
    fn round_trip_and_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.tokens");
        let record = TokenRecord::from_slots(vec![
            (Slot::GivenWhole, vec![Token(1), Token(2)]),
            (Slot::FamilyYear, vec![Token(3)]),
        ]);
        let mut file = TokenFile {
            epoch: Epoch(2),
            records: vec![
                (Handle([9; 16]), record.clone()),
                (Handle([1; 16]), TokenRecord::default()),
            ],
        };
        file.write(&path).expect("writes");
        let read = TokenFile::read(&path).expect("reads");
        assert_eq!(read.epoch, Epoch(2));
        assert_eq!(read.records[0].0, Handle([1; 16]));
        assert_eq!(read.records[1].1, record);

        let bytes = std::fs::read(&path).expect("bytes");
        // A file from the previous tokenizer is refused by name.
        let mut older = bytes.clone();
        older[8..10].copy_from_slice(&1u16.to_le_bytes());
        std::fs::write(&path, &older).expect("older");
        assert!(matches!(
            TokenFile::read(&path),
            Err(TokenFileError::OtherTokenizer { found: 1, .. })
        ));
        std::fs::write(&path, &bytes[..bytes.len() - 5]).expect("truncate");
        assert!(matches!(
            TokenFile::read(&path),
            Err(TokenFileError::Truncated {
                read: 1,
                expected: 2,
                ..
            })
        ));
        std::fs::write(&path, b"hello world, not tokens").expect("garbage");
        assert!(matches!(
            TokenFile::read(&path),
            Err(TokenFileError::NotATokenFile { .. })
        ));
    }
}

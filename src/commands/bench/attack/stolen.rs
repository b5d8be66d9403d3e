//! What the attacker holds: a token file, read without the key, the handle
//! map or anything else of the victim. Token files of tokenizer version 2
//! (the last with bigram tokens) and of this version are read, each in its
//! published slot layout.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};

/// The slot layout of tokenizer version 2 (the last with bigram, initial,
/// neighbouring-year and swapped-date tokens), from its published source.
const LAYOUT_2: [&str; 26] = [
    "GivenWhole",
    "GivenClass",
    "GivenGram",
    "GivenPhonetic",
    "GivenInitial",
    "FamilyWhole",
    "FamilyClass",
    "FamilyGram",
    "FamilyPhonetic",
    "FamilyInitial",
    "AliasWhole",
    "AliasClass",
    "AliasPhonetic",
    "PatronymicClass",
    "PatronymicWhole",
    "PatronymicGram",
    "DateFull",
    "DateYearMonth",
    "DateYear",
    "DateNearYear",
    "DateSwapped",
    "PlaceClass",
    "PlaceWhole",
    "DocumentWhole",
    "DocumentDigits",
    "SexValue",
];

/// One stolen record: its handle (meaningless to the attacker, used only to
/// score the guesses afterwards) and its tokens per slot position.
pub(super) struct StolenRecord {
    pub(super) handle: [u8; 16],
    slots: Vec<Vec<u128>>,
}

/// A stolen token file.
pub(super) struct Stolen {
    pub(super) tokenizer: u16,
    layout: Vec<String>,
    pub(super) records: Vec<StolenRecord>,
}

impl Stolen {
    /// Reads a token file of a known tokenizer version.
    pub(super) fn read(path: &Path) -> anyhow::Result<Stolen> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {}", path.display()))?;
        if bytes.len() < 24 || &bytes[..8] != b"POSHUKTK" {
            bail!("{} is not a poshuk token file", path.display());
        }
        let tokenizer = u16::from_le_bytes([bytes[8], bytes[9]]);
        let count = u64::from_le_bytes(bytes[14..22].try_into()?) as usize;
        let slot_count = u16::from_le_bytes([bytes[22], bytes[23]]) as usize;
        let layout: Vec<String> = match tokenizer {
            2 => LAYOUT_2.iter().map(|name| name.to_string()).collect(),
            // Version 5 keys more dates in the slots of 4.
            4..=poshuk_core::TOKENIZER_VERSION => poshuk_core::Slot::ALL
                [..poshuk_core::STORED_SLOT_COUNT]
                .iter()
                .map(|slot| slot.name().to_string())
                .collect(),
            other => bail!("token files of tokenizer version {other} are not modelled"),
        };
        if layout.len() != slot_count {
            bail!(
                "{}: {slot_count} slots, expected {}",
                path.display(),
                layout.len()
            );
        }
        // The header's count is not trusted for the allocation: each record
        // takes at least its handle and counts.
        let mut records = Vec::with_capacity(count.min(bytes.len() / (16 + slot_count)));
        let mut at = 24;
        for _ in 0..count {
            let truncated = || anyhow::anyhow!("{} is truncated", path.display());
            let handle: [u8; 16] = bytes.get(at..at + 16).ok_or_else(truncated)?.try_into()?;
            at += 16;
            let counts = bytes
                .get(at..at + slot_count)
                .ok_or_else(truncated)?
                .to_vec();
            at += slot_count;
            let mut slots = Vec::with_capacity(slot_count);
            for count in counts {
                let mut tokens = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let chunk = bytes.get(at..at + 16).ok_or_else(truncated)?;
                    tokens.push(u128::from_be_bytes(chunk.try_into()?));
                    at += 16;
                }
                slots.push(tokens);
            }
            records.push(StolenRecord { handle, slots });
        }
        Ok(Stolen {
            tokenizer,
            layout,
            records,
        })
    }

    /// The position of a slot in this file's layout, if it has the slot.
    pub(super) fn slot(&self, name: &str) -> Option<usize> {
        self.layout.iter().position(|slot| slot == name)
    }

    /// Whether the file has a slot.
    pub(super) fn has(&self, name: &str) -> bool {
        self.slot(name).is_some()
    }

    /// The tokens of a slot of every record (empty lists where the layout
    /// has no such slot).
    pub(super) fn column(&self, name: &str) -> Vec<&[u128]> {
        match self.slot(name) {
            Some(position) => self
                .records
                .iter()
                .map(|record| record.slots[position].as_slice())
                .collect(),
            None => vec![&[][..]; self.records.len()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header announcing more records than the file holds is an error,
    /// not an allocation of that many records.
    #[test]
    fn a_file_announcing_too_many_records_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stolen.tokens");
        let mut bytes = b"POSHUKTK".to_vec();
        bytes.extend_from_slice(&poshuk_core::TOKENIZER_VERSION.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        bytes.extend_from_slice(&(poshuk_core::STORED_SLOT_COUNT as u16).to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        let Err(error) = Stolen::read(&path) else {
            panic!("a truncated file was read");
        };
        assert!(error.to_string().contains("truncated"), "{error}");
    }
}

//! The token record: everything of a person that leaves the partner's
//! plaintext, grouped in slots. Types only: making tokens (normalization,
//! features, keyed hashing) is the matching core's job, so a crate that
//! depends on this one (the wire protocol, the coordinator) can carry and
//! check tokens but cannot compute one.
//!
//! A [`TokenRecord`] holds, per [`Slot`], a sorted set of 128-bit tokens. The
//! slot says which field and which kind of feature a token came from (a
//! family name's stem, a given name's class, a full date, ...), which scoring
//! needs. Every token is of a whole value, never of a letter or a piece of a
//! name, and no token relates different people's values (no year token
//! shared across family names): THREAT_MODEL.md has the attacks that decided
//! this. The layout shows which fields a record has.

use std::fmt;

/// The version of the tokenizer (the matching core's, which makes the
/// tokens): bumped whenever the same record would get
/// different tokens, so that files and indexes made by different versions
/// are not compared silently (their tokens would only partly meet). 2: Latin
/// surnames also read the way other spelling systems write them, and -ев/-ов.
/// 3: no token of a letter or a bigram (they formed a substitution cipher a
/// thief could solve without the key); typos meet through padded one-deletion
/// neighbourhoods; no stored neighbouring-year or swapped-date tokens (they
/// chained the years). A node refuses to search an index of another version.
/// 4: no year token shared across family names (siblings in a list ordered
/// the years), no sex token, no phonetic codes, no deletion neighbourhoods
/// stored anywhere (typos meet through a query's one-edit variants), other
/// names that are diminutives of the given name left out. 5: a stored
/// record keys its birth date also with its other surnames, and with its
/// given-name column's surname where the columns are swapped (the same slots
/// as 4, more year and date keys).
pub const TOKENIZER_VERSION: u16 = 5;

/// The first 128 bits of an HMAC-SHA256 of a feature.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub u128);

impl fmt::Debug for Token {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:032x}", self.0)
    }
}

/// Key domains. Each has its own key derived from the epoch key.
///
/// Given, family and other names share the `Name` domain on purpose: a name
/// written in the wrong column, or a former surname kept in `other_names`, must
/// be comparable with the other record's family name. Everything else is
/// separated, so equal values in different fields never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Domain {
    /// Given, family and other names.
    Name = 0,
    /// Patronymics (by the class of the father's given name).
    Patronymic = 1,
    /// Birth dates.
    BirthDate = 2,
    /// Birth places.
    Place = 3,
    /// Identity document numbers.
    Document = 4,
    /// Sex.
    Sex = 5,
}

impl Domain {
    /// Every domain, in key-derivation order.
    pub const ALL: [Domain; 6] = [
        Domain::Name,
        Domain::Patronymic,
        Domain::BirthDate,
        Domain::Place,
        Domain::Document,
        Domain::Sex,
    ];

    /// The name that goes into the key derivation.
    pub fn name(self) -> &'static str {
        match self {
            Domain::Name => "name",
            Domain::Patronymic => "patronymic",
            Domain::BirthDate => "birth_date",
            Domain::Place => "birth_place",
            Domain::Document => "document",
            Domain::Sex => "sex",
        }
    }
}

macro_rules! slots {
    ($($slot:ident => $domain:ident, $wire:literal, $doc:literal;)*) => {
        /// Where a token came from: field and feature kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Slot {
            $(#[doc = $doc] $slot,)*
        }

        impl Slot {
            /// Every slot, in storage order.
            pub const ALL: &'static [Slot] = &[$(Slot::$slot,)*];

            /// The key domain of this slot's tokens.
            #[inline]
            pub fn domain(self) -> Domain {
                match self {
                    $(Slot::$slot => Domain::$domain,)*
                }
            }

            /// The slot's stable name on the wire (token queries). Written out
            /// rather than derived from the Rust identifier, so renaming a
            /// variant cannot change the protocol.
            pub fn name(self) -> &'static str {
                match self {
                    $(Slot::$slot => $wire,)*
                }
            }

            /// The slot with this wire name.
            pub fn from_name(name: &str) -> Option<Slot> {
                match name {
                    $($wire => Some(Slot::$slot),)*
                    _ => None,
                }
            }
        }
    };
}

slots! {
    GivenWhole => Name, "GivenWhole", "Skeleton of each word of the given name.";
    GivenClass => Name, "GivenClass", "Equivalence classes of the given name (Олександр = Alexander = Sasha).";
    GivenVariant => Name, "GivenVariant", "Queries only: whole-name tokens of every string one edit from the given name's skeleton, and, for a given name the tables do not know, the classes of the known names among them; for a known one, the strings one edit from its class's Ukrainian and Russian full forms.";
    FamilyWhole => Name, "FamilyWhole", "Gender-folded stem of each word of the family name.";
    FamilyClass => Name, "FamilyClass", "Given-name classes of the family column (for swapped columns).";
    FamilyVariant => Name, "FamilyVariant", "Queries only: whole-name tokens of every string one edit from the family name's stem, of its forms in the other language and readings in other spelling systems, and of the strings one edit from those forms.";
    AliasWhole => Name, "AliasWhole", "Stems of other names (former, adoptive, maiden surnames), diminutives of the given name left out.";
    AliasClass => Name, "AliasClass", "Given-name classes of other names, diminutives of the given name left out.";
    PatronymicClass => Patronymic, "PatronymicClass", "Class of the father's given name.";
    PatronymicWhole => Patronymic, "PatronymicWhole", "Skeleton of the patronymic.";
    FamilyDate => BirthDate, "FamilyDate", "The full birth date with each family-name key.";
    FamilyUnorderedDate => BirthDate, "FamilyUnorderedDate", "The year with day and month in either order, with each family-name key (equal for a swapped day and month).";
    GivenDate => BirthDate, "GivenDate", "The full birth date with the given name's classes (its skeleton when the tables do not know it).";
    FamilyYear => BirthDate, "FamilyYear", "The birth year with each family-name key: years meet within one family name only.";
    DateDayMonth => BirthDate, "DateDayMonth", "Birth day and month, without the year (shared: it tells no year).";
    PlaceClass => Place, "PlaceClass", "Settlement of birth, from the settlement table.";
    PlaceWhole => Place, "PlaceWhole", "Skeleton of the birth place.";
    DocumentWhole => Document, "DocumentWhole", "Document number with look-alike letters folded.";
    DocumentDigits => Document, "DocumentDigits", "The digits of a document number.";
    FamilyVariantYear => BirthDate, "FamilyVariantYear", "Queries only: the birth year keyed with each of the family name's variants, as a stored record keys its year with its family name: a typo met by a variant compares the year. Never stored (after the stored layout's slots).";
    FamilyForm => Name, "FamilyForm", "Queries only: whole-name tokens of the forms the family name's letters attest (the other language's forms of its vowels as typed, Олекс-/Алекс-, the roots Russian documents translate), padded to a fixed count per word and also the first of the word's variants: a form meeting a stored name is another form of one name, not a typo, also where no date compares them. Never stored.";
}

/// The bounds on one query that every node enforces (the wire protocol
/// checks them), kept beside the slots so that the tokenizer, which adds a
/// query's optional tokens, stays within them.
pub mod bounds {
    use super::Slot;

    /// The most tokens a slot of a query may hold: about twice what the
    /// tokenizer makes for one person (measured over the synthetic partners'
    /// records: at most 3 family keys, 10 given-name classes, 3 family dates),
    /// with room for year ranges; a query's one-edit variants are 1,024 per name
    /// word (four words allowed). Bounds the work a query can ask of a node (its
    /// blocking keys combine slots) and how many people one query can ask about.
    pub fn max_tokens(slot: Slot) -> usize {
        match slot {
            Slot::GivenVariant | Slot::FamilyVariant => 4 * 1024,
            Slot::GivenWhole => 4,
            Slot::GivenClass => 12,
            Slot::FamilyWhole | Slot::FamilyClass => 6,
            Slot::AliasWhole | Slot::AliasClass => 8,
            Slot::PatronymicClass | Slot::PatronymicWhole => 2,
            Slot::FamilyDate | Slot::FamilyUnorderedDate => 12,
            Slot::FamilyYear | Slot::GivenDate => 24,
            Slot::DateDayMonth => 2,
            Slot::PlaceClass | Slot::PlaceWhole => 4,
            Slot::DocumentWhole | Slot::DocumentDigits => 8,
            // One year for each variant: a query with one date.
            Slot::FamilyVariantYear => 4 * 1024,
            // A fixed count of forms for each of four family-name words.
            Slot::FamilyForm => 4 * FORMS_PER_WORD,
        }
    }

    /// The family-name forms (`FamilyForm`) a query carries for each word of
    /// its family name, padded to this count: how many forms a name has tells
    /// its shape (a root vowel, a Latin `h` or `ch`), and a coordinator
    /// recording queries must not learn it.
    pub const FORMS_PER_WORD: usize = 24;

    /// The most (given-name tokens) × (family-name date tokens) one query may
    /// carry. One person's query makes at most 22 (measured over 300,000
    /// synthetic records in three scripts; 12 for 99.9% of them); a partner
    /// enumerating another's list packs many surnames, classes and years into
    /// each query, and this bounds the name × year combinations it can try per
    /// query (BENCHMARKS.md, "Enumeration").
    pub const MAX_NAME_DATE_COMBINATIONS: usize = 24;

    /// The most (given-name tokens) × (family-name tokens) one query may carry,
    /// other names included: one person's query makes at most 22 (6 for 99.9%);
    /// without this bound a query with no year could pair a dozen given names
    /// with a dozen surnames.
    pub const MAX_NAME_PAIRS: usize = 24;
}

/// The number of slots.
pub const SLOT_COUNT: usize = Slot::ALL.len();

/// The number of slots a stored record's bytes carry ([`TokenRecord::write_bytes`],
/// the index's records, token files): the first ones of [`Slot::ALL`]. Slots
/// added after the stored layout was fixed are queries' only and come last,
/// so that adding one changes neither an index on disk nor a token file.
pub const STORED_SLOT_COUNT: usize = Slot::FamilyVariantYear as usize;

/// A person's tokens, by slot. Each slot's tokens are sorted and distinct.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TokenRecord {
    tokens: Vec<Token>,
    /// `ends[s]` is one past the last token of slot `s` in `tokens`.
    ends: [u32; SLOT_COUNT],
}

impl TokenRecord {
    /// The tokens of one slot, sorted.
    #[inline]
    pub fn slot(&self, slot: Slot) -> &[Token] {
        let index = slot as usize;
        let start = if index == 0 {
            0
        } else {
            self.ends[index - 1] as usize
        };
        &self.tokens[start..self.ends[index] as usize]
    }

    /// Every token with its slot, in slot order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = (Slot, Token)> + '_ {
        Slot::ALL
            .iter()
            .flat_map(move |&slot| self.slot(slot).iter().map(move |&token| (slot, token)))
    }

    /// The total number of tokens.
    #[inline]
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the record holds no token at all.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Builds a record from per-slot token lists (sorted and deduplicated here).
    pub fn from_slots(mut slots: Vec<(Slot, Vec<Token>)>) -> TokenRecord {
        slots.sort_by_key(|(slot, _)| *slot as u8);
        let mut builder = TokenRecordBuilder::default();
        for (slot, tokens) in slots {
            for token in tokens {
                builder.push(slot, token);
            }
        }
        builder.finish()
    }

    /// Appends the compact binary form: one token count per stored slot
    /// (`u8`, [`STORED_SLOT_COUNT`] of them), then the tokens (16 bytes each,
    /// big-endian), slot by slot. Slots with more than 255 tokens keep their
    /// first 255 (a name of hundreds of letters); the query-only slots after
    /// the stored ones are not written.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        let stored = &Slot::ALL[..STORED_SLOT_COUNT];
        let mut counts = [0u8; STORED_SLOT_COUNT];
        for (index, &slot) in stored.iter().enumerate() {
            counts[index] = self.slot(slot).len().min(255) as u8;
        }
        out.extend_from_slice(&counts);
        for (index, &slot) in stored.iter().enumerate() {
            for token in &self.slot(slot)[..counts[index] as usize] {
                out.extend_from_slice(&token.0.to_be_bytes());
            }
        }
    }

    /// Reads the form written by [`TokenRecord::write_bytes`]; returns the
    /// record and the bytes consumed, or `None` when the bytes are too short.
    pub fn read_bytes(bytes: &[u8]) -> Option<(TokenRecord, usize)> {
        let counts = bytes.get(..STORED_SLOT_COUNT)?;
        let total: usize = counts.iter().map(|&count| count as usize).sum();
        let body = bytes.get(STORED_SLOT_COUNT..STORED_SLOT_COUNT + total * 16)?;
        let mut record = TokenRecord {
            tokens: Vec::with_capacity(total),
            ends: [0; SLOT_COUNT],
        };
        for chunk in body.chunks_exact(16) {
            let mut token = [0u8; 16];
            token.copy_from_slice(chunk);
            record.tokens.push(Token(u128::from_be_bytes(token)));
        }
        let mut end = 0u32;
        for (index, &count) in counts.iter().enumerate() {
            end += u32::from(count);
            record.ends[index] = end;
        }
        // The query-only slots are empty.
        for index in STORED_SLOT_COUNT..SLOT_COUNT {
            record.ends[index] = end;
        }
        // Written records are sorted per slot; a foreign byte string may not be.
        for &slot in Slot::ALL {
            if !record.slot(slot).windows(2).all(|pair| pair[0] < pair[1]) {
                return None;
            }
        }
        Some((record, STORED_SLOT_COUNT + total * 16))
    }

    /// The record without the tokens of some slots.
    pub fn without(&self, slots: &[Slot]) -> TokenRecord {
        self.filtered(|slot, _| !slots.contains(&slot))
    }

    /// The record with only the tokens `keep` accepts.
    pub fn filtered(&self, mut keep: impl FnMut(Slot, Token) -> bool) -> TokenRecord {
        let mut builder = TokenRecordBuilder::default();
        for (slot, token) in self.iter() {
            if keep(slot, token) {
                builder.push(slot, token);
            }
        }
        builder.finish()
    }

    /// Applies `map` to every token (used for re-keying to the next epoch).
    pub fn map_tokens(&self, mut map: impl FnMut(Slot, Token) -> Token) -> TokenRecord {
        let mut builder = TokenRecordBuilder::default();
        for (slot, token) in self.iter() {
            builder.push(slot, map(slot, token));
        }
        builder.finish()
    }
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "TokenRecord({} tokens)", self.tokens.len())
    }
}

/// Collects tokens slot by slot, in any order.
#[derive(Default)]
pub struct TokenRecordBuilder {
    pending: Vec<(u8, Token)>,
}

impl TokenRecordBuilder {
    /// Adds a token to a slot.
    pub fn push(&mut self, slot: Slot, token: Token) {
        self.pending.push((slot as u8, token));
    }

    /// Sorts, deduplicates and packs the tokens.
    pub fn finish(mut self) -> TokenRecord {
        self.pending.sort_unstable();
        self.pending.dedup();
        let mut record = TokenRecord {
            tokens: Vec::with_capacity(self.pending.len()),
            ends: [0; SLOT_COUNT],
        };
        for (slot, token) in &self.pending {
            record.tokens.push(*token);
            record.ends[*slot as usize] = record.tokens.len() as u32;
        }
        // Empty slots end where the previous one ended.
        for index in 1..SLOT_COUNT {
            if record.ends[index] < record.ends[index - 1] {
                record.ends[index] = record.ends[index - 1];
            }
        }
        record
    }
}

/// The number of tokens two sorted sets share.
#[inline]
pub fn shared_count(left: &[Token], right: &[Token]) -> usize {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < left.len() && j < right.len() {
        match left[i].cmp(&right[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

/// Whether two sorted sets share a token.
#[inline]
pub fn intersects(left: &[Token], right: &[Token]) -> bool {
    if left.is_empty() || right.is_empty() {
        return false;
    }
    if left.len() == 1 {
        return right.binary_search(&left[0]).is_ok();
    }
    if right.len() == 1 {
        return left.binary_search(&right[0]).is_ok();
    }
    shared_count(left, right) > 0
}

/// Dice coefficient of two sorted sets: 2|A∩B| / (|A|+|B|).
#[inline]
pub fn dice(left: &[Token], right: &[Token]) -> f64 {
    let total = left.len() + right.len();
    if total == 0 {
        return 0.0;
    }
    2.0 * shared_count(left, right) as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_groups_and_sorts_by_slot() {
        let mut builder = TokenRecordBuilder::default();
        builder.push(Slot::FamilyYear, Token(5));
        builder.push(Slot::GivenWhole, Token(9));
        builder.push(Slot::GivenWhole, Token(3));
        builder.push(Slot::GivenWhole, Token(3));
        let record = builder.finish();
        assert_eq!(record.slot(Slot::GivenWhole), &[Token(3), Token(9)]);
        assert_eq!(record.slot(Slot::FamilyYear), &[Token(5)]);
        assert!(record.slot(Slot::FamilyWhole).is_empty());
        assert!(record.slot(Slot::DocumentDigits).is_empty());
        assert_eq!(record.len(), 3);
    }

    #[test]
    fn bytes_round_trip() {
        let record = TokenRecord::from_slots(vec![
            (Slot::GivenWhole, vec![Token(9), Token(3)]),
            (Slot::DocumentDigits, vec![Token(u128::MAX)]),
        ]);
        let mut bytes = vec![];
        record.write_bytes(&mut bytes);
        let (read, used) = TokenRecord::read_bytes(&bytes).expect("reads");
        assert_eq!(read, record);
        assert_eq!(used, bytes.len());
        assert!(TokenRecord::read_bytes(&bytes[..bytes.len() - 1]).is_none());
    }

    /// An index on disk and a token file keep the layout they were written
    /// in: a query-only slot added to the protocol is not written, and the
    /// bytes of a stored record are what they were before it existed (19
    /// slot counts, then the tokens).
    #[test]
    fn query_only_slots_leave_the_stored_layout_as_it_was() {
        assert_eq!(STORED_SLOT_COUNT, 19);
        let stored = TokenRecord::from_slots(vec![
            (Slot::FamilyWhole, vec![Token(7)]),
            (Slot::FamilyYear, vec![Token(8)]),
        ]);
        let query = TokenRecord::from_slots(vec![
            (Slot::FamilyWhole, vec![Token(7)]),
            (Slot::FamilyYear, vec![Token(8)]),
            (Slot::FamilyVariantYear, vec![Token(1), Token(2)]),
        ]);
        let (mut stored_bytes, mut query_bytes) = (vec![], vec![]);
        stored.write_bytes(&mut stored_bytes);
        query.write_bytes(&mut query_bytes);
        assert_eq!(stored_bytes, query_bytes);
        assert_eq!(stored_bytes.len(), 19 + 2 * 16);
        let (read, _) = TokenRecord::read_bytes(&stored_bytes).expect("reads");
        assert_eq!(read, stored);
        assert!(read.slot(Slot::FamilyVariantYear).is_empty());
    }

    #[test]
    fn set_measures() {
        let a = [Token(1), Token(2), Token(3), Token(4)];
        let b = [Token(2), Token(4), Token(8)];
        assert_eq!(shared_count(&a, &b), 2);
        assert!((dice(&a, &b) - 4.0 / 7.0).abs() < 1e-9);
        assert!(intersects(&a, &[Token(4)]));
        assert!(!intersects(&a, &[Token(7)]));
    }
}

//! Text normalization: from any spelling of a name to one phonetic skeleton.
//!
//! A Ukrainian NGO writes `Олександр Ковальчук`, a Russian source `Александр
//! Ковальчук`, an international organization `Oleksandr Kovalchuk`, `Aleksandr
//! Kowalczuk` or `Alexander Kovaltschuk`. The skeleton maps all of these onto one
//! string over a private alphabet, so that equality and q-gram similarity of
//! skeletons survive the change of script and transliteration system.
//!
//! The skeleton alphabet: vowels `a e i o u` (with `и і ї ы й y j` all `i`, and an
//! `i` dropped before another vowel so that `я ya ia ja` all become `a`), and one
//! letter per consonant sound. Sounds that Latin spells with several letters get
//! a single symbol: `q` = ч (ch, tsch, tch, cz, č), `w` = ш (sh, sch, sz, š),
//! `wq` = щ (shch, schtsch, szcz, šč), `j` = ж (zh, ž, ż), `x` = х (kh, x),
//! `c` = ц (ts, tz, c, cz before nothing else). г, ґ, h and g fold into `g`,
//! since Ukrainian writes г = h where Russian writes г = g. Doubled letters collapse.
//!
//! The skeleton is a matching key, not a reading aid: it is never shown and never
//! leaves the node except inside keyed hashes.

use unicode_normalization::UnicodeNormalization;

/// The writing system a value was entered in, as far as its letters tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Letters specific to Ukrainian (і ї є ґ) were seen.
    Ukrainian,
    /// Letters specific to Russian (ы э ъ ё) were seen.
    Russian,
    /// Cyrillic without letters specific to either language.
    Cyrillic,
    /// Latin letters.
    Latin,
    /// Neither Cyrillic nor Latin letters, or an empty value.
    Unknown,
}

/// Detects the script of a value from its letters.
pub fn detect_script(value: &str) -> Script {
    let mut cyrillic = false;
    let mut latin = false;
    for character in value.chars() {
        match character {
            'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ' => return Script::Ukrainian,
            'ы' | 'э' | 'ъ' | 'ё' | 'Ы' | 'Э' | 'Ъ' | 'Ё' => return Script::Russian,
            'а'..='я' | 'А'..='Я' => cyrillic = true,
            'a'..='z' | 'A'..='Z' => latin = true,
            _ => {}
        }
    }
    if cyrillic {
        Script::Cyrillic
    } else if latin {
        Script::Latin
    } else {
        Script::Unknown
    }
}

/// Unicode NFKC, lower case, apostrophes and soft signs dropped, every other
/// non-letter turned into a single space, trimmed.
///
/// This is the form every further step starts from; it keeps the script.
pub fn fold_text(value: &str) -> String {
    let mut folded = String::with_capacity(value.len());
    let mut pending_space = false;
    for character in value.nfkc().flat_map(char::to_lowercase) {
        if is_dropped_mark(character) || is_combining_mark(character) {
            continue;
        }
        if character.is_alphanumeric() {
            if pending_space && !folded.is_empty() {
                folded.push(' ');
            }
            pending_space = false;
            folded.push(character);
        } else {
            pending_space = true;
        }
    }
    folded
}

/// A combining mark left after NFKC composed what it could: the ties of
/// library romanizations (ALA-LC `i͡a`, `t͡s`, also as the half marks
/// U+FE20/U+FE21), a macron or breve on a letter with no precomposed form.
/// Dropped, so that `I͡Uriĭ` stays one word. (Cyrillic `й`, `ї`, `ё` are
/// precomposed by NFKC and never reach here as marks.)
fn is_combining_mark(character: char) -> bool {
    matches!(
        character,
        '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// Apostrophes (Ukrainian `м'ята`, `Мар'ян`, written with any of several
/// characters), soft and hard signs, and the ASCII stand-ins for them in
/// transliterations (`Mar'ian`, `Kar``).
fn is_dropped_mark(character: char) -> bool {
    matches!(
        character,
        '\'' | '’' | 'ʼ' | '‘' | '`' | 'ʹ' | 'ʺ' | '"' | 'ь' | 'ъ' | '´'
    )
}

/// The phonetic skeleton of one word (see the module documentation).
///
/// The input may be in any script and case; characters that are neither Cyrillic
/// nor Latin letters are ignored.
pub fn skeleton(word: &str) -> String {
    skeleton_reading(word, ChReading::Che)
}

/// How a Latin `ch` (and with it the letters whose sound depends on the
/// spelling system) is read: as ч (English, Ukrainian and Russian
/// transliterations: Chornyi, Ivanovych), as х (German and Polish spellings:
/// Michajlo, Juchim, Charkiw, Chomenko), as ш (French: Chevtchenko, Chvets),
/// or the German way throughout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChReading {
    /// `ch` = ч.
    Che,
    /// `ch` = х.
    Kha,
    /// French: `ch` = ш (`tch` stays ч).
    Sha,
    /// German: `ch` = х, `sch` = ж as well as ш, `s` before a vowel = з
    /// (Schanna = Жанна, Sintschenko = Зінченко, Sinaida = Зінаїда).
    German,
    /// Czech, Croatian and Serbian Latin: `h` and `ch` = х (Mihajlo,
    /// Harčenko).
    HKha,
    /// ISO 9 or Croatian Latin with its marks lost (a database or a form
    /// without diacritics): `c` = ч, `h` and `ch` = х (Tkacuk = Ткачук,
    /// Zaharcenko = Захарченко, Bogdanovic = Богданович).
    Stripped,
    /// `ou` as two letters, о and у (the national systems' Bilous =
    /// Білоус), not the French у (Kouzmenko). Queries only.
    OuApart,
    /// `ts` as two letters, т and с (Hnatskyi = Гнатський), not ц.
    /// Queries only.
    TsApart,
    /// French throughout: `j` = ж as well as `ch` = ш (Tchijovitch =
    /// Чижович, Jouravel = Журавель), where every other system's `j` is й.
    /// Queries only: stored names keep the readings of their tokenizer
    /// version.
    FrenchJ,
}

impl ChReading {
    /// The readings other than the default, in the order lookups try them.
    pub const ALTERNATIVES: [ChReading; 5] = [
        ChReading::Kha,
        ChReading::Sha,
        ChReading::German,
        ChReading::HKha,
        ChReading::Stripped,
    ];

    /// The readings a query also keys its date with: the alternatives, two
    /// the national systems make ambiguous (`ou`, `ts`), and French `j` = ж,
    /// which no stored name takes (a stored Bilous stays one form, and the
    /// query's other reading meets the Cyrillic Білоус).
    pub const QUERY_ALTERNATIVES: [ChReading; 8] = [
        ChReading::Kha,
        ChReading::Sha,
        ChReading::German,
        ChReading::HKha,
        ChReading::Stripped,
        ChReading::OuApart,
        ChReading::TsApart,
        ChReading::FrenchJ,
    ];

    /// Whether the (case-folded) word shows the marks of this reading's
    /// spelling system, so that reading it that way is more than a guess:
    /// German `sch`, Polish `cz sz rz ł ż ś ć ń`, French `tch ou`, Czech and
    /// Croatian `č š ž ć đ`. Only such words get extra surname tokens; a
    /// plain Homenko (Гоменко in the national system) or Kosenko must not
    /// turn into Хоменко or Козенко.
    pub fn is_spelled_so(self, folded_word: &str) -> bool {
        let any = |marks: &[&str]| marks.iter().any(|mark| folded_word.contains(mark));
        let german = any(&["sch"]);
        let polish = any(&["cz", "sz", "rz", "ł", "ż", "ś", "ć", "ń"]);
        match self {
            ChReading::Che => false,
            ChReading::Kha => folded_word.contains("ch") && (german || polish),
            ChReading::Sha => folded_word.contains("ch") && any(&["tch", "ou"]),
            ChReading::German => german,
            ChReading::HKha => folded_word.contains('h') && any(&["č", "š", "ž", "ć", "đ"]),
            ChReading::Stripped => has_lone_c(folded_word),
            ChReading::OuApart | ChReading::TsApart | ChReading::FrenchJ => false,
        }
    }

    /// Whether this reading can read the (case-folded) word differently
    /// from the default one: a cheap test before computing the skeleton.
    pub fn may_differ(self, folded_word: &str) -> bool {
        match self {
            ChReading::Che => false,
            ChReading::Kha | ChReading::Sha => folded_word.contains("ch"),
            ChReading::German => folded_word.contains('s') || folded_word.contains("ch"),
            ChReading::HKha => folded_word.contains('h'),
            ChReading::Stripped => has_lone_c(folded_word),
            ChReading::OuApart => folded_word.contains("ou"),
            ChReading::TsApart => folded_word.contains("ts"),
            // Where the word shows French marks: a Polish or German `j` is й
            // (Jakowenko).
            ChReading::FrenchJ => {
                folded_word.contains('j')
                    && (folded_word.contains("ou") || folded_word.contains("tch"))
            }
        }
    }
}

/// Whether a word has a `c` that no English, German or Polish digraph
/// explains (`ch cz ck`, `tc` of `tch`, `sc` of `sch`): in a Latin name of
/// Ukrainian or Russian origin such a `c` is ц in Polish and Czech spelling,
/// or ч whose háček was lost.
fn has_lone_c(folded_word: &str) -> bool {
    let letters: Vec<char> = folded_word.chars().collect();
    letters.iter().enumerate().any(|(index, &letter)| {
        letter == 'c'
            && !matches!(letters.get(index + 1), Some('h' | 'z' | 'k'))
            && !matches!(
                index.checked_sub(1).map(|before| letters[before]),
                Some('t' | 's')
            )
    })
}

/// The skeleton with `ch` read as х, when the word has a plain `ch` at all:
/// the second reading name lookups try when the first finds nothing.
pub fn skeleton_kha(word: &str) -> Option<String> {
    let folded = fold_text(word);
    folded
        .contains("ch")
        .then(|| skeleton_reading(word, ChReading::Kha))
}

/// The skeleton under a given reading of Latin `ch`.
pub fn skeleton_reading(word: &str, reading: ChReading) -> String {
    finish_skeleton(&unfinished_skeleton(word, reading))
}

/// The word's sound symbols before [`finish_skeleton`] collapses doubles and
/// drops an `i` before a vowel.
fn unfinished_skeleton(word: &str, reading: ChReading) -> String {
    let mut raw = String::with_capacity(word.len() + 4);
    let folded = fold_text(word);
    let letters: Vec<char> = folded
        .chars()
        .map(strip_diacritic)
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut index = 0;
    while index < letters.len() {
        let previous = index.checked_sub(1).map(|before| letters[before]);
        let (symbols, consumed) = map_letters(&letters[index..], previous, reading);
        raw.push_str(symbols);
        index += consumed.max(1);
    }
    raw
}

/// Collapses doubled symbols, drops `i` before another vowel (iotated vowels:
/// `я ya ia ja` → `a`) and folds `o` to `e` after hushing consonants (Ukrainian
/// `чо`, Russian `че`/`чё`).
pub(crate) fn finish_skeleton(raw: &str) -> String {
    let collapsed = collapse_doubles(raw.chars());
    let mut out: Vec<char> = Vec::with_capacity(collapsed.len());
    for (position, &symbol) in collapsed.iter().enumerate() {
        let next = collapsed.get(position + 1).copied();
        if symbol == 'i' && next.is_some_and(|n| n != 'i' && is_skeleton_vowel(n)) {
            continue;
        }
        if symbol == 'o' && out.last().is_some_and(|&last| is_hushing(last)) {
            out.push('e');
        } else {
            out.push(symbol);
        }
    }
    collapse_doubles(out.into_iter()).into_iter().collect()
}

fn collapse_doubles(symbols: impl Iterator<Item = char>) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for symbol in symbols {
        if out.last() != Some(&symbol) {
            out.push(symbol);
        }
    }
    out
}

fn is_skeleton_vowel(symbol: char) -> bool {
    matches!(symbol, 'a' | 'e' | 'i' | 'o' | 'u')
}

fn is_hushing(symbol: char) -> bool {
    matches!(symbol, 'q' | 'w' | 'j')
}

/// Removes diacritics from Latin letters that transliteration systems use
/// (ISO 9, Czech-style, Polish, German, and the library systems: ALA-LC's
/// `ȳ`, `ĭ`, `ė`, BGN's and others' macrons), keeping the ones that change
/// the sound class (`č š ž ż ł`) for [`map_letters`] to read.
fn strip_diacritic(character: char) -> char {
    match character {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ą' | 'ă' | 'ā' => 'a',
        'é' | 'è' | 'ê' | 'ë' | 'ě' | 'ę' | 'ė' | 'ē' | 'ĕ' => 'e',
        'í' | 'ì' | 'î' | 'ï' | 'ı' | 'ĭ' | 'ī' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ō' | 'ŏ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' | 'ů' | 'ū' | 'ŭ' => 'u',
        'ý' | 'ÿ' | 'ȳ' | 'ŷ' => 'y',
        'ć' | 'ç' => 'c',
        'ń' | 'ñ' => 'n',
        'ś' => 's',
        'ź' => 'z',
        'ř' => 'r',
        'ď' => 'd',
        'ť' => 't',
        'ǵ' | 'ğ' => 'g',
        other => other,
    }
}

/// Maps the letters at the start of `letters` to skeleton symbols, returning the
/// symbols and how many letters they consumed. Longest Latin digraphs first.
fn map_letters(
    letters: &[char],
    previous: Option<char>,
    reading: ChReading,
) -> (&'static str, usize) {
    let word_start = previous.is_none();
    let first = letters[0];
    if let Some(mapped) = map_cyrillic(first, word_start) {
        return (mapped, 1);
    }
    let starts_with = |pattern: &str| -> bool {
        let mut count = 0;
        for (position, expected) in pattern.chars().enumerate() {
            if letters.get(position) != Some(&expected) {
                return false;
            }
            count += 1;
        }
        count > 0
    };
    const DIGRAPHS: &[(&str, &str)] = &[
        ("schtsch", "wq"),
        ("shtsh", "wq"),
        ("chtch", "wq"),
        ("shch", "wq"),
        ("szcz", "wq"),
        ("sch", "w"),
        ("tsch", "q"),
        ("tch", "q"),
        ("ch", "q"),
        ("cz", "q"),
        ("sh", "w"),
        ("sz", "w"),
        ("zh", "j"),
        ("kh", "x"),
        ("ts", "c"),
        ("tz", "c"),
        ("ph", "f"),
        ("th", "t"),
        ("ou", "u"),
    ];
    if reading == ChReading::German {
        if starts_with("sch") && !starts_with("schtsch") {
            return ("j", 3);
        }
        if starts_with("ss") {
            return ("s", 2);
        }
        // Voiced only where German voices it: at the start of a word or
        // between vowels (Sinaida, Masurenko), not after a consonant.
        let vowel = |letter: char| "aeiouy".contains(letter);
        if first == 's'
            && letters.get(1).is_some_and(|&next| vowel(next))
            && previous.is_none_or(vowel)
        {
            return ("z", 1);
        }
    }
    for (pattern, symbols) in DIGRAPHS {
        if starts_with(pattern) {
            let apart = match reading {
                ChReading::OuApart => *pattern == "ou",
                ChReading::TsApart => *pattern == "ts",
                _ => false,
            };
            if apart {
                continue;
            }
            if *pattern == "ch" {
                match reading {
                    ChReading::Kha | ChReading::German | ChReading::HKha | ChReading::Stripped => {
                        return ("x", 2);
                    }
                    ChReading::Sha | ChReading::FrenchJ => return ("w", 2),
                    ChReading::Che | ChReading::OuApart | ChReading::TsApart => {}
                }
            }
            return (symbols, pattern.chars().count());
        }
    }
    if matches!(reading, ChReading::HKha | ChReading::Stripped) && first == 'h' {
        return ("x", 1);
    }
    if reading == ChReading::Stripped && first == 'c' {
        return ("q", 1);
    }
    if reading == ChReading::FrenchJ && first == 'j' {
        return ("j", 1);
    }
    let single = match first {
        'a' => "a",
        'b' => "b",
        'c' => "c",
        // ISO 9 ч.
        'č' | 'ĉ' => "q",
        'd' => "d",
        'e' => "e",
        'f' => "f",
        'g' | 'h' | 'ґ' => "g",
        'i' | 'y' | 'j' => "i",
        'k' | 'q' => "k",
        'l' | 'ł' => "l",
        'm' => "m",
        'n' => "n",
        'o' => "o",
        'p' => "p",
        'r' => "r",
        's' | 'ß' => "s",
        'š' => "w",
        // ISO 9 щ.
        'ŝ' => "wq",
        't' => "t",
        'u' => "u",
        'v' | 'w' => "v",
        'x' => "ks",
        'z' => "z",
        'ž' | 'ż' => "j",
        _ => "",
    };
    (single, 1)
}

/// One Cyrillic letter (Ukrainian and Russian alphabets) to skeleton symbols.
fn map_cyrillic(letter: char, word_start: bool) -> Option<&'static str> {
    let symbols = match letter {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' | 'ґ' => "g",
        'д' => "d",
        'е' => "e",
        // Ukrainian є and Russian word-initial е are both written "ye"/"je",
        // which the vowel rule folds to "e" again: one symbol for all of them.
        'є' => "ie",
        'ё' => {
            if word_start {
                "io"
            } else {
                "e"
            }
        }
        'ж' => "j",
        'з' => "z",
        'и' | 'і' | 'ы' | 'й' => "i",
        'ї' => "ii",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "x",
        'ц' => "c",
        'ч' => "q",
        'ш' => "w",
        'щ' => "wq",
        'э' => "e",
        'ю' => "iu",
        'я' => "ia",
        'ь' | 'ъ' => "",
        _ => return None,
    };
    Some(symbols)
}

/// Splits a folded value into words (on spaces and hyphens already turned into
/// spaces by [`fold_text`]).
pub fn words(value: &str) -> impl Iterator<Item = &str> {
    value.split(' ').filter(|word| !word.is_empty())
}

/// Keys shorter than this get no one-edit variants: a three-letter name's
/// variants are two- and four-letter strings that many names share.
pub const MIN_VARIANT_KEY: usize = 4;

/// Keys longer than this get no one-edit variants either: no name word is
/// so long, and a word's variants grow with the square of its length (a
/// query of one 10,000-letter word would ask for gigabytes).
pub const MAX_VARIANT_KEY: usize = 32;

/// The letters a skeleton is written in.
pub const SKELETON_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// Every string one edit from an ASCII key (a letter deleted, inserted or
/// changed, two neighbours exchanged), each finished as a skeleton is,
/// without the key itself; empty for keys shorter than [`MIN_VARIANT_KEY`].
/// The searching side, which holds
/// its query in clear, sends their whole-name tokens, so a query meets a
/// stored name one typo away without the index storing anything but whole
/// names.
pub fn one_edit_variants(key: &str) -> Vec<String> {
    if !(MIN_VARIANT_KEY..=MAX_VARIANT_KEY).contains(&key.len()) || !key.is_ascii() {
        return Vec::new();
    }
    let bytes = key.as_bytes();
    let mut variants: Vec<Vec<u8>> = Vec::with_capacity(bytes.len() * 2 * SKELETON_ALPHABET.len());
    for position in 0..bytes.len() {
        let mut deleted = bytes.to_vec();
        deleted.remove(position);
        variants.push(deleted);
        if position + 1 < bytes.len() {
            let mut exchanged = bytes.to_vec();
            exchanged.swap(position, position + 1);
            variants.push(exchanged);
        }
        for &letter in SKELETON_ALPHABET {
            let mut changed = bytes.to_vec();
            changed[position] = letter;
            variants.push(changed);
        }
    }
    for position in 0..=bytes.len() {
        for &letter in SKELETON_ALPHABET {
            let mut inserted = bytes.to_vec();
            inserted.insert(position, letter);
            variants.push(inserted);
        }
    }
    // Each variant as a skeleton would write it (doubles collapsed, an `i`
    // before a vowel dropped, `o` after a hushing consonant `e`): Чижович
    // (qijeviq) less its ж is qieviq, which no stored name is, but its
    // finished form qeviq is (Tchijovitch).
    let mut variants: Vec<String> = variants
        .into_iter()
        .filter_map(|variant| String::from_utf8(variant).ok())
        .map(|variant| finish_skeleton(&variant))
        .filter(|variant| variant.as_bytes() != bytes && !variant.is_empty())
        .collect();
    variants.sort_unstable();
    variants.dedup();
    variants
}

/// The word as typed with one typing slip undone, on its letters: each letter
/// dropped, each two different neighbours exchanged. None for a word whose
/// skeleton is shorter than [`MIN_VARIANT_KEY`] or that is longer than
/// [`MAX_VARIANT_KEY`] (their number grows with its length).
pub fn typed_slips(word: &str) -> Option<Vec<String>> {
    let letters: Vec<char> = word.chars().collect();
    if !(MIN_VARIANT_KEY..=MAX_VARIANT_KEY).contains(&skeleton(word).len())
        || letters.len() > MAX_VARIANT_KEY
    {
        return None;
    }
    let mut slips = Vec::with_capacity(letters.len() * 2);
    for position in 0..letters.len() {
        slips.push(
            letters
                .iter()
                .enumerate()
                .filter(|&(at, _)| at != position)
                .map(|(_, &letter)| letter)
                .collect(),
        );
        if position + 1 < letters.len() && letters[position] != letters[position + 1] {
            let mut exchanged = letters.clone();
            exchanged.swap(position, position + 1);
            slips.push(exchanged.into_iter().collect());
        }
    }
    Some(slips)
}

/// The skeletons of a word as typed with one typing slip undone: a letter
/// dropped, or two neighbours exchanged, in the letters typed rather than in
/// the skeleton. A slip inside a letter group the skeleton reads as one sound
/// is more than one edit of the skeleton: Orlihc (`orligc`) is two from Orlich
/// (`orliq`), Levkovcih three from Levkovich; undone on the letters, each is
/// one. Also every string one edit from the word's sounds before the
/// skeleton is finished (a slip that doubled a letter). Without the skeleton
/// of the word itself; empty for words whose skeleton is shorter than
/// [`MIN_VARIANT_KEY`], as [`one_edit_variants`].
pub fn typed_slip_variants(word: &str) -> Vec<String> {
    let key = skeleton(word);
    let Some(slips) = typed_slips(word) else {
        return Vec::new();
    };
    let mut variants: Vec<String> = slips.iter().map(|typed| skeleton(typed)).collect();
    // A slip that made a double letter or an `i` before a vowel, which the
    // finished skeleton reads away: Гообец (Горобець less its р) is `gobec`,
    // two edits from `gorobec`, and one edit from its letters `goobec`.
    // The word has at most MAX_VARIANT_KEY letters (above): a long run of
    // one letter, which finishes into a short key, gets none.
    let unfinished = unfinished_skeleton(word, ChReading::Che);
    if unfinished != key {
        variants.extend(one_edit_variants(&unfinished));
    }
    variants.retain(|variant| *variant != key && !variant.is_empty());
    variants.sort_unstable();
    variants.dedup();
    variants
}

/// The word with one typing slip undone (as [`typed_slip_variants`]) read
/// the ways the other spelling systems read it: a French name mistyped
/// (Jokuov, Joukov with two letters exchanged, is Жуков only when its `j` is
/// read ж; MIKHAÏILCHIN is Михайлишин only when its `ch` is read ш) is two
/// edits or more from every skeleton of the word as typed. Only the readings
/// the slip-undone word may take ([`ChReading::may_differ`]) and that differ
/// from its own skeleton; empty where [`typed_slip_variants`] is.
pub fn typed_slip_readings(word: &str) -> Vec<String> {
    let key = skeleton(word);
    let Some(slips) = typed_slips(word) else {
        return Vec::new();
    };
    let mut readings = Vec::new();
    for typed in slips {
        let folded = fold_text(&typed);
        let plain = skeleton(&folded);
        for reading in ChReading::QUERY_ALTERNATIVES {
            if reading.may_differ(&folded) {
                let other = skeleton_reading(&folded, reading);
                if other != plain && other != key && !other.is_empty() {
                    readings.push(other);
                }
            }
        }
    }
    readings.sort_unstable();
    readings.dedup();
    readings
}

/// The skeletons a word may have had before the marks of its spelling were
/// lost: ISO 9 and the Czech-style systems write ш, щ, ж, ч, х as `š ŝ ž č h`,
/// and a database or a keyboard without them leaves `s z c h`, which the
/// skeleton reads as с, з, ц, г. Стельмащук becomes Stelmasuk (two edits of
/// the skeleton: `wq` for `s`), Шевченко Sevcenko.
///
/// For a Cyrillic word, the one skeleton of its ISO 9 spelling without marks
/// (a query in Cyrillic meets a record kept so). For a Latin word with no
/// digraph of the systems that write these sounds with two letters (`sh ch zh
/// kh ts sz cz`, which tell the marks were never there), the skeletons of
/// each lone `s` read also as ш or щ, `z` as ж, `c` as ч and `h` as х: every
/// combination while there are at most [`MAX_MARKS_LOST_READINGS`], else one
/// letter at a time. Without the word's own skeleton.
pub fn marks_lost_readings(word: &str) -> Vec<String> {
    let folded = fold_text(word);
    let own = skeleton(&folded);
    let mut readings = Vec::new();
    match detect_script(&folded) {
        Script::Ukrainian | Script::Russian | Script::Cyrillic => {
            let spelled: String = folded.chars().map(iso9_without_marks).collect();
            readings.push(skeleton(&spelled));
        }
        Script::Latin => {
            if ["sh", "ch", "zh", "kh", "ts", "sz", "cz"]
                .iter()
                .any(|digraph| folded.contains(digraph))
            {
                return Vec::new();
            }
            let letters: Vec<char> = folded.chars().map(strip_diacritic).collect();
            if letters.len() > MAX_MARKS_LOST_WORD {
                return Vec::new();
            }
            let options: Vec<&[&str]> = letters
                .iter()
                .map(|letter| match letter {
                    's' => &["s", "sh", "shch"][..],
                    'z' => &["z", "zh"][..],
                    'c' => &["c", "ch"][..],
                    'h' => &["h", "kh"][..],
                    _ => &[][..],
                })
                .collect();
            // Checked: a word of many sibilants would overflow the product.
            let combinations = options
                .iter()
                .try_fold(1usize, |product, options| {
                    product.checked_mul(options.len().max(1))
                })
                .unwrap_or(usize::MAX);
            let spell = |choice: &[usize]| -> String {
                letters
                    .iter()
                    .zip(&options)
                    .zip(choice)
                    .map(|((letter, options), &chosen)| {
                        options
                            .get(chosen)
                            .map_or_else(|| letter.to_string(), |option| option.to_string())
                    })
                    .collect()
            };
            if combinations <= MAX_MARKS_LOST_READINGS {
                let mut choice = vec![0usize; letters.len()];
                loop {
                    readings.push(skeleton(&spell(&choice)));
                    // The next combination, as an odometer turns.
                    let Some(position) = (0..letters.len())
                        .rev()
                        .find(|&at| choice[at] + 1 < options[at].len())
                    else {
                        break;
                    };
                    choice[position] += 1;
                    for later in &mut choice[position + 1..] {
                        *later = 0;
                    }
                }
            } else {
                for (position, options) in options.iter().enumerate() {
                    for chosen in 1..options.len() {
                        let mut choice = vec![0usize; letters.len()];
                        choice[position] = chosen;
                        readings.push(skeleton(&spell(&choice)));
                    }
                }
            }
        }
        Script::Unknown => {}
    }
    readings.retain(|reading| *reading != own && !reading.is_empty());
    readings.sort_unstable();
    readings.dedup();
    readings
}

/// Readings of one Latin word with its marks lost, at most: a surname has
/// a few sibilants (Stelmasuk: 3 × 3 × 3 = 27).
pub const MAX_MARKS_LOST_READINGS: usize = 64;

/// Letters of the longest word read with its marks lost: longer is no name,
/// and its readings would crowd out the word's one-edit variants.
pub const MAX_MARKS_LOST_WORD: usize = 32;

/// One Cyrillic letter in ISO 9 with its marks lost (`ш щ` → `s`, `ж` → `z`,
/// `ч` → `c`, `х` → `h`, `є` → `e`, `ю` → `u`, `я` → `a`); other characters
/// as they are.
fn iso9_without_marks(letter: char) -> char {
    match letter {
        'ш' | 'щ' | 'с' => 's',
        'ж' | 'з' => 'z',
        'ч' | 'ц' => 'c',
        'х' => 'h',
        'є' | 'е' | 'ё' | 'э' => 'e',
        'ю' | 'у' => 'u',
        'я' | 'а' => 'a',
        'и' | 'і' | 'ї' => 'i',
        'ы' => 'y',
        'й' => 'j',
        'г' | 'ґ' => 'g',
        'б' => 'b',
        'в' => 'v',
        'д' => 'd',
        'к' => 'k',
        'л' => 'l',
        'м' => 'm',
        'н' => 'n',
        'о' => 'o',
        'п' => 'p',
        'р' => 'r',
        'т' => 't',
        'ф' => 'f',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spellings of one name in different scripts and transliteration systems,
    /// which must share a skeleton.
    const SAME_SKELETON: &[&[&str]] = &[
        &["Коваленко", "Kovalenko", "Kowalenko"],
        &[
            "Шевченко",
            "Shevchenko",
            "Schewtschenko",
            "Szewczenko",
            "Ševčenko",
        ],
        &["Олександр", "Oleksandr"],
        &["Александр", "Aleksandr"],
        &["Юрій", "Yurii", "Yuriy", "Iurii", "Jurij"],
        &["Юрий", "Yuriy", "Yury", "Juri"],
        &["Марія", "Mariia", "Mariya", "Maria", "Марія"],
        &["Ілля", "Illia", "Ilya", "Илья", "Ilja"],
        &["Євген", "Yevhen", "Ievgen", "Евген"],
        &["Щербак", "Shcherbak", "Szczerbak", "Schtscherbak"],
        &["Жук", "Zhuk", "Žuk", "Żuk"],
        &["Хоменко", "Khomenko"],
        &["Мар'ян", "Marian", "Mar'yan", "Марьян"],
        &["Ткачова", "Tkachova", "Ткачева", "Tkacheva", "Ткачёва"],
        &["Чорний", "Chornyi", "Cherny", "Черный"],
        &["Цибуля", "Tsybulia", "Cybula"],
        &["Гнатюк", "Hnatiuk", "Gnatyuk", "Hnatjuk"],
        &["Олійник", "Oliinyk", "Oliynyk"],
    ];

    #[test]
    fn spellings_of_one_name_share_a_skeleton() {
        for group in SAME_SKELETON {
            let expected = skeleton(group[0]);
            for spelling in group.iter().skip(1) {
                assert_eq!(skeleton(spelling), expected, "{spelling} vs {}", group[0]);
            }
        }
    }

    #[test]
    fn german_and_polish_ch_reads_as_kha_on_request() {
        assert_eq!(
            skeleton_kha("Juchim").as_deref(),
            Some(skeleton("Юхим").as_str())
        );
        assert_eq!(
            skeleton_kha("Michajlo").as_deref(),
            Some(skeleton("Михайло").as_str())
        );
        assert_eq!(
            skeleton_kha("Charkiw").as_deref(),
            Some(skeleton("Харків").as_str())
        );
        assert_eq!(
            skeleton_kha("Schewtschenko").as_deref(),
            Some(skeleton("Шевченко").as_str())
        );
        assert_eq!(skeleton_kha("Ivan"), None);
    }

    #[test]
    fn iso_9_without_its_marks_reads_c_as_che() {
        for (latin, cyrillic) in [
            ("Tkacuk", "Ткачук"),
            ("Zaharcenko", "Захарченко"),
            ("Bogdanovic", "Богданович"),
            ("Goncarenko", "Гончаренко"),
        ] {
            let folded = fold_text(latin);
            assert!(ChReading::Stripped.is_spelled_so(&folded), "{latin}");
            assert_eq!(
                skeleton_reading(latin, ChReading::Stripped),
                skeleton(cyrillic),
                "{latin}"
            );
        }
        // English, German and Polish digraphs explain their c.
        for word in ["Tkachuk", "Tkatschuk", "Tkaczuk", "Shevchenko"] {
            assert!(
                !ChReading::Stripped.is_spelled_so(&fold_text(word)),
                "{word}"
            );
        }
    }

    #[test]
    fn different_names_differ() {
        assert_ne!(skeleton("Коваленко"), skeleton("Ковальчук"));
        assert_ne!(skeleton("Іван"), skeleton("Ігор"));
        assert_ne!(skeleton("Олена"), skeleton("Ольга"));
    }

    #[test]
    fn fold_text_drops_punctuation_and_apostrophes() {
        assert_eq!(fold_text("  Мар’ян-Ковальчук, "), "марян ковалчук");
        assert_eq!(fold_text("O'NEIL"), "oneil");
    }

    /// A slip that doubled a letter is undone before the skeleton is
    /// finished (Гообец meets Горобець), but a long run of one letter, which
    /// finishes into a short key, gets no such variants, and no word longer
    /// than a name gets any: they would make a query's work grow with the
    /// square of its length.
    #[test]
    fn a_doubled_letter_is_undone_and_a_long_run_is_not() {
        assert!(typed_slip_variants("Гообец").contains(&skeleton("Горобець")));
        // A slip in a French spelling: undone, and read the French way.
        assert!(typed_slip_readings("jokuov").contains(&skeleton("Жуков")));
        assert!(!typed_slip_variants("jokuov").contains(&skeleton("Жуков")));
        assert!(typed_slip_readings("mikhaïilchin").contains(&skeleton("Михайлишин")));
        let run = format!("{}бвгд", "а".repeat(2_000));
        let variants = typed_slip_variants(&run);
        assert!(
            variants.len() < 100 && variants.iter().all(|variant| variant.len() < 16),
            "{} variants",
            variants.len()
        );
        // Nor does a word longer than any name, whatever its letters.
        let long: String = "бвгдежзклмнпрстфхцчшщ"
            .chars()
            .cycle()
            .take(10_000)
            .collect();
        assert!(typed_slip_variants(&long).is_empty());
        assert!(one_edit_variants(&skeleton(&long)).is_empty());
    }

    /// ISO 9 with its marks lost: a Latin name so written has among its
    /// readings the Cyrillic name's skeleton, and a Cyrillic name's reading
    /// is the Latin name's skeleton. A name written with digraphs never had
    /// the marks, and gets no readings.
    #[test]
    fn names_whose_marks_were_lost_are_read_with_them() {
        for (latin, cyrillic) in [
            ("Stelmasuk", "Стельмащук"),
            ("Sevcenko", "Шевченко"),
            ("Onisenko", "Онищенко"),
            ("Ûsenko", "Ющенко"),
            ("Zdanic", "Жданич"),
            ("Harcenko", "Харченко"),
        ] {
            assert!(
                marks_lost_readings(latin).contains(&skeleton(cyrillic)),
                "{latin}: {:?} lacks {}",
                marks_lost_readings(latin),
                skeleton(cyrillic)
            );
            assert_eq!(
                marks_lost_readings(cyrillic),
                vec![skeleton(latin)],
                "{cyrillic}"
            );
        }
        for written in ["Shevchenko", "Stelmashchuk", "Tsybulia", "Szewczenko"] {
            assert!(marks_lost_readings(written).is_empty(), "{written}");
        }
        // A long name with many sibilants is read one letter at a time:
        // 3^7 combinations would be too many.
        let many = marks_lost_readings("Sasasasasasas");
        assert_eq!(many.len(), 14, "{many:?}");
        assert!(many.contains(&skeleton("Шасасасасасас")), "{many:?}");
        // Words no name is as long as get none, however many their
        // sibilants (2^70 combinations, which would overflow a count).
        assert!(marks_lost_readings(&"z".repeat(70)).is_empty());
        assert!(marks_lost_readings(&"zc".repeat(16)).len() <= 2 * 32);
    }

    #[test]
    fn detects_scripts() {
        assert_eq!(detect_script("Олексій"), Script::Ukrainian);
        assert_eq!(detect_script("Артём"), Script::Russian);
        assert_eq!(detect_script("Иван"), Script::Cyrillic);
        assert_eq!(detect_script("Ivan"), Script::Latin);
        assert_eq!(detect_script("123"), Script::Unknown);
    }
}

//! Name knowledge: given-name equivalence classes, patronymics, surname gender
//! forms and settlements, from data tables compiled into the binary.
//!
//! The tables (`data/*.tsv`) list each name once per row, in Ukrainian, Russian
//! and Latin forms with diminutives. Every form is reduced to its skeleton
//! ([`crate::normalize::skeleton`]), so the tables need not list every
//! transliteration: `Oleksandr`, `Olexandr` and `Олександр` meet at one skeleton.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::normalize::{ChReading, fold_text, skeleton_reading, words};
use crate::record::Sex;

/// The name tables as the core reads them (tab-separated, one equivalence
/// class or settlement a row; see the files' header lines). Public so that
/// the synthetic data generator draws from the same knowledge without reading
/// this crate's files by path.
pub mod tables {
    /// Male given-name classes: Ukrainian, Russian, Latin forms,
    /// diminutives, patronymics.
    pub const MALE_GIVEN_NAMES: &str = include_str!("../data/given_names_male.tsv");
    /// Female given-name classes.
    pub const FEMALE_GIVEN_NAMES: &str = include_str!("../data/given_names_female.tsv");
    /// Settlements with their former and occupation-era names.
    pub const SETTLEMENTS: &str = include_str!("../data/settlements.tsv");
}

use tables::{FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES, SETTLEMENTS};

/// The index of a given-name equivalence class (a row of the tables).
pub type ClassId = u16;

/// The index of a settlement (a row of the settlement table).
pub type SettlementId = u16;

/// Given-name classes, patronymics and settlements, ready for lookup.
pub struct NameTables {
    class_sex: Vec<Sex>,
    /// Each class's Ukrainian and Russian full forms, as skeletons.
    class_heads: Vec<Vec<String>>,
    given_forms: HashMap<String, Vec<ClassId>>,
    patronymic_forms: HashMap<String, ClassId>,
    settlement_forms: HashMap<String, SettlementId>,
    settlement_count: usize,
}

/// The tables, parsed once on first use.
pub fn tables() -> &'static NameTables {
    static TABLES: OnceLock<NameTables> = OnceLock::new();
    TABLES.get_or_init(NameTables::build)
}

fn rows(table: &str) -> impl Iterator<Item = Vec<&str>> {
    table
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').map(str::trim).collect())
}

fn alternatives(cell: &str) -> impl Iterator<Item = &str> {
    cell.split('|')
        .map(str::trim)
        .filter(|form| !form.is_empty() && *form != "-")
}

impl NameTables {
    fn build() -> NameTables {
        let mut tables = NameTables {
            class_sex: Vec::new(),
            class_heads: Vec::new(),
            given_forms: HashMap::new(),
            patronymic_forms: HashMap::new(),
            settlement_forms: HashMap::new(),
            settlement_count: 0,
        };
        for (table, sex) in [
            (MALE_GIVEN_NAMES, Sex::Male),
            (FEMALE_GIVEN_NAMES, Sex::Female),
        ] {
            for row in rows(table) {
                let class = tables.class_sex.len() as ClassId;
                tables.class_sex.push(sex);
                let mut heads: Vec<String> = Vec::new();
                for cell in row.iter().take(2) {
                    if let Some(form) = alternatives(cell).next() {
                        let key = name_key(form);
                        if !key.is_empty() && !heads.contains(&key) {
                            heads.push(key);
                        }
                    }
                }
                tables.class_heads.push(heads);
                for cell in row.iter().take(4) {
                    for form in alternatives(cell) {
                        tables.add_given_form(form, class);
                    }
                }
                for cell in row.iter().skip(4).take(4) {
                    for form in alternatives(cell) {
                        tables
                            .patronymic_forms
                            .entry(name_key(form))
                            .or_insert(class);
                    }
                }
            }
        }
        for (index, row) in rows(SETTLEMENTS).enumerate() {
            let id = index as SettlementId;
            for cell in row.iter().take(3) {
                for form in alternatives(cell) {
                    tables.settlement_forms.entry(place_key(form)).or_insert(id);
                }
            }
            tables.settlement_count = index + 1;
        }
        tables
    }

    fn add_given_form(&mut self, form: &str, class: ClassId) {
        let key = name_key(form);
        if key.is_empty() {
            return;
        }
        let classes = self.given_forms.entry(key).or_default();
        if !classes.contains(&class) {
            classes.push(class);
        }
    }

    /// The sex of a given-name class.
    pub fn class_sex(&self, class: ClassId) -> Sex {
        self.class_sex
            .get(class as usize)
            .copied()
            .unwrap_or(Sex::Unknown)
    }

    /// A class's full forms in Ukrainian and Russian (Сергій, Сергей), as
    /// skeletons: what a list keeps, and mistypes, most often.
    pub fn class_heads(&self, class: ClassId) -> &[String] {
        self.class_heads
            .get(class as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// The number of given-name classes.
    pub fn class_count(&self) -> usize {
        self.class_sex.len()
    }

    /// The number of settlements.
    pub fn settlement_count(&self) -> usize {
        self.settlement_count
    }

    /// The classes a given-name skeleton belongs to. A diminutive such as Саша
    /// belongs to several (Олександр, Олександра); when the sex is known, the
    /// classes of that sex are preferred.
    pub fn given_classes(&self, name_skeleton: &str, sex: Sex) -> Vec<ClassId> {
        let Some(classes) = self.given_forms.get(name_skeleton) else {
            return Vec::new();
        };
        if sex != Sex::Unknown {
            let same_sex: Vec<ClassId> = classes
                .iter()
                .copied()
                .filter(|&class| self.class_sex[class as usize] == sex)
                .collect();
            if !same_sex.is_empty() {
                return same_sex;
            }
        }
        classes.clone()
    }

    /// The class of the father's name behind a patronymic skeleton: from the
    /// table's patronymic forms, else by taking off a patronymic ending and
    /// looking the stem up as a given name.
    pub fn patronymic_class(&self, patronymic_skeleton: &str) -> Option<ClassId> {
        if let Some(&class) = self.patronymic_forms.get(patronymic_skeleton) {
            return Some(class);
        }
        const ENDINGS: &[&str] = &[
            "iniqna", "iqna", "oviq", "eviq", "ovna", "evna", "ivna", "iq",
        ];
        for ending in ENDINGS {
            let Some(stem) = patronymic_skeleton.strip_suffix(ending) else {
                continue;
            };
            if stem.len() < 2 {
                continue;
            }
            for suffix in ["", "a", "i", "o", "ei", "ai"] {
                let candidate = format!("{stem}{suffix}");
                if let Some(classes) = self.given_forms.get(&candidate)
                    && let Some(&male) = classes
                        .iter()
                        .find(|&&class| self.class_sex[class as usize] == Sex::Male)
                {
                    return Some(male);
                }
            }
        }
        None
    }

    /// The settlement a birth place names, if it is in the table (with Latin
    /// `ch` read as х when read as ч finds nothing: Charkiw).
    pub fn settlement(&self, place: &str) -> Option<SettlementId> {
        place_segments(place)
            .iter()
            .find_map(|segment| self.settlement_forms.get(segment).copied())
            .or_else(|| {
                place
                    .split([',', ';', '(', ')'])
                    .map(|segment| place_key_reading(segment, ChReading::Kha))
                    .find_map(|key| self.settlement_forms.get(&key).copied())
            })
    }
}

/// The skeleton of a name of one or more words, words joined without a gap
/// (`Анна-Марія` and `Annamariia` meet).
pub fn name_key(name: &str) -> String {
    name_key_reading(name, ChReading::Che)
}

/// [`name_key`] under a given reading of Latin `ch`.
pub fn name_key_reading(name: &str, reading: ChReading) -> String {
    let folded = fold_text(name);
    words(&folded)
        .map(|word| skeleton_reading(word, reading))
        .collect()
}

/// Whether a word is a patronymic (Миколайович, Петрівна, Nikolaevich,
/// Ivanivna): by the table, or by a patronymic ending on its skeleton.
pub fn looks_like_patronymic(word: &str) -> bool {
    let key = name_key(word);
    if key.len() < 5 {
        return false;
    }
    tables().patronymic_class(&key).is_some()
        || ["oviq", "eviq", "ivna", "ovna", "evna", "iqna"]
            .iter()
            .any(|ending| key.ends_with(ending))
}

/// Whether a word is a known given name (in any of its forms).
pub fn is_given_name(word: &str) -> bool {
    !tables()
        .given_classes(&name_key(word), Sex::Unknown)
        .is_empty()
}

/// A full name from one column (ПІБ, ФИО, "full name") split into
/// (family, given, patronymic). The official Ukrainian and Russian order is
/// family, given, patronymic; a Western order (given first) is recognized when
/// the first word is a known given name and the others are not.
pub fn split_full_name(text: &str) -> (String, String, String) {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [] => (String::new(), String::new(), String::new()),
        [only] => ((*only).to_string(), String::new(), String::new()),
        [first, second] => {
            if is_given_name(first) && !is_given_name(second) {
                ((*second).to_string(), (*first).to_string(), String::new())
            } else {
                ((*first).to_string(), (*second).to_string(), String::new())
            }
        }
        [first, middle @ .., last] => {
            if looks_like_patronymic(last) {
                // Family Given(s) Patronymic.
                ((*first).to_string(), middle.join(" "), (*last).to_string())
            } else if middle.len() == 1 && looks_like_patronymic(middle[0]) {
                // Given Patronymic Family.
                (
                    (*last).to_string(),
                    (*first).to_string(),
                    middle[0].to_string(),
                )
            } else if is_given_name(first) && !is_given_name(last) {
                (
                    (*last).to_string(),
                    [*first]
                        .iter()
                        .chain(middle)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                    String::new(),
                )
            } else {
                (
                    (*first).to_string(),
                    middle
                        .iter()
                        .chain([last])
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                    String::new(),
                )
            }
        }
    }
}

/// Words that say what kind of place a place is, not which one.
const PLACE_STOPWORDS: &[&str] = &[
    "м",
    "міст",
    "місто",
    "г",
    "гор",
    "город",
    "с",
    "село",
    "сел",
    "смт",
    "пгт",
    "пос",
    "селище",
    "поселок",
    "посёлок",
    "city",
    "town",
    "village",
    "of",
    "obl",
    "oblast",
    "область",
    "обл",
    "р",
    "н",
    "район",
    "district",
    "raion",
    "rayon",
    "region",
    "ukraine",
    "україна",
    "украина",
    "ua",
    "misto",
    "selo",
    "smt",
    "m",
    "s",
    "g",
    "oblasti",
    "області",
    "области",
];

/// Place text to lookup keys: one per comma-separated segment, kind words removed.
pub fn place_segments(place: &str) -> Vec<String> {
    place
        .split([',', ';', '(', ')'])
        .map(place_key)
        .filter(|key| !key.is_empty())
        .collect()
}

fn place_key(segment: &str) -> String {
    place_key_reading(segment, ChReading::Che)
}

fn place_key_reading(segment: &str, reading: ChReading) -> String {
    let folded = fold_text(segment);
    words(&folded)
        .filter(|word| !PLACE_STOPWORDS.contains(word))
        .map(|word| skeleton_reading(word, reading))
        .collect()
}

/// The gender-folded stem of a family-name skeleton: one final `a` or `i`
/// taken off, so that Ковальська/Ковальський/Kovalskyi/Ковальская,
/// Іванова/Іванов and Чорна/Чорний/Черная share a stem.
pub fn family_stem(name_skeleton: &str) -> &str {
    let bytes = name_skeleton.as_bytes();
    if bytes.len() >= 4 && matches!(bytes[bytes.len() - 1], b'a' | b'i') {
        let before = bytes[bytes.len() - 2];
        if !matches!(before, b'a' | b'e' | b'i' | b'o' | b'u') {
            return &name_skeleton[..name_skeleton.len() - 1];
        }
    }
    name_skeleton
}

/// Whether a name skeleton ends as East Slavic surnames do (Коваленко,
/// Ковальчук, Шевелев, Пушкин, Ковальська, Кравець, Петрович, Бойко,
/// Гончар; in any script, as skeletons read them alike), with at least
/// three letters before the ending (four before -ар and -ин, which end
/// given names too: Зарина, Мадина): a word in the
/// given-name column that the tables do not know as a given name is taken
/// for a surname (columns swapped) only so. Амір, Ельмар or Аміна are not.
pub fn shaped_as_surname(name_skeleton: &str) -> bool {
    const ENDINGS: &[(&str, usize)] = &[
        ("enko", 3),
        ("ko", 3),
        ("uk", 3),
        ("ak", 3),
        ("ik", 3),
        ("ok", 3),
        ("ov", 3),
        ("ova", 3),
        ("ev", 3),
        ("eva", 3),
        ("in", 4),
        ("ina", 4),
        ("ski", 3),
        ("ska", 3),
        ("cki", 3),
        ("cka", 3),
        ("iq", 3),
        ("ec", 3),
        ("ar", 4),
    ];
    ENDINGS.iter().any(|(ending, before)| {
        name_skeleton
            .strip_suffix(ending)
            .is_some_and(|rest| rest.len() >= *before)
    })
}

/// Given names that many families carry as their surname too (Роман,
/// Назар, Мартин, Тарас): in the family-name column they say nothing about
/// which column the searcher meant.
const GIVEN_NAMES_ALSO_SURNAMES: &[&str] = &[
    "Роман",
    "Назар",
    "Мартин",
    "Мартын",
    "Давид",
    "Давыд",
    "Тарас",
    "Остап",
    "Лука",
    "Кузьма",
    "Фома",
    "Хома",
    "Захар",
    "Марко",
    "Мирон",
    "Богдан",
    "Семен",
    "Семён",
    "Максим",
    "Демид",
    "Адам",
    "Гнат",
    "Игнат",
    "Клим",
    "Филип",
    "Пилип",
    "Федор",
    "Федір",
    "Павло",
    "Петро",
    "Яким",
    "Аким",
    "Савва",
    "Сава",
    "Ілля",
    "Илья",
];

/// Whether a given-name skeleton is one many families carry as their
/// surname ([`GIVEN_NAMES_ALSO_SURNAMES`]).
pub fn also_a_surname(name_skeleton: &str) -> bool {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        GIVEN_NAMES_ALSO_SURNAMES
            .iter()
            .map(|name| name_key(name))
            .collect()
    })
    .iter()
    .any(|key| key == name_skeleton)
}

/// Roots a surname keeps in Ukrainian and Russian documents write as
/// another word, not another letter (Soviet-era documents russified them):
/// the word translated, or the father's given name in its Russian form.
/// Chosen one by one: only roots of four letters or more (Хом-/Фом- would
/// turn Хомяк and Хомутов too), and only where the other form is a surname
/// people carry (Пилипенко/Филипенко, not Федоренко/Федіренко: the root's
/// vowel is [`other_language_forms`]' own rule). Both forms are also
/// surnames of their own, of other families: a pair met only through a root
/// is weighed as a name one letter apart, never as the same name.
const TRANSLATED_ROOTS: &[(&str, &str)] = &[
    // Words: bear, bullfinch.
    ("Ведмед", "Медвед"),
    ("Ведмід", "Медвед"),
    ("Снігур", "Снегир"),
    // Fathers' given names: Трохим/Трофим, Омелян/Емельян, Охрім/Ефрем,
    // Юхим/Ефим, Пилип/Филипп, Микола/Николай, Микита/Никита,
    // Панас/Афанасий, Гнат/Игнат, Володимир/Владимир.
    ("Трохим", "Трофим"),
    ("Омелян", "Емельян"),
    ("Охрим", "Ефрем"),
    ("Юхим", "Ефим"),
    ("Пилип", "Филип"),
    ("Микол", "Никол"),
    ("Микит", "Никит"),
    ("Панас", "Афанас"),
    ("Гнат", "Игнат"),
    ("Володимир", "Владимир"),
];

/// [`TRANSLATED_ROOTS`] as skeletons, each pair both ways.
fn translated_roots() -> &'static [(String, String)] {
    static ROOTS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        TRANSLATED_ROOTS
            .iter()
            .flat_map(|(ukrainian, russian)| {
                let (ukrainian, russian) = (name_key(ukrainian), name_key(russian));
                [(ukrainian.clone(), russian.clone()), (russian, ukrainian)]
            })
            .filter(|(one, other)| one != other)
            .collect()
    })
}

/// The forms a surname's stem takes in the other language, as Ukrainian and
/// Russian write one family's name: the root's vowel (Ukrainian і where
/// Russian keeps о or е: Кріпенко/Кропенко, Вітрова/Ветрова, Грімич/Громич,
/// Білак/Белак), Олекс-/Алекс-, Довг-/Долг-, Вовк/Волк, and a root
/// translated ([`translated_roots`]: Ведмедик/Медведик, Трохимишин/
/// Трофимишин). Skeletons in and out. The birth year is stored keyed with
/// the stem as written, and only a key of the other form meets it; a form
/// more than one letter from the stem is met by a query's variants only
/// when the query carries it too.
pub fn other_language_forms(stem: &str) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    if !stem.is_ascii() || stem.len() < 3 {
        return forms;
    }
    for (from, to) in [("olek", "alek"), ("alek", "olek")] {
        if let Some(rest) = stem.strip_prefix(from) {
            forms.push(format!("{to}{rest}"));
        }
    }
    for (from, to) in translated_roots() {
        if let Some(rest) = stem.strip_prefix(from.as_str()) {
            forms.push(format!("{to}{rest}"));
        }
    }
    // A Cyrillic оу or тс read also as у and ц, as every Latin skeleton
    // reads the national systems' ou and ts (Bilous, Hnatskyi); a query in
    // Latin reads them also as two letters (`ChReading::OuApart`,
    // `TsApart`). Such a form may join two names (Гнатський / Гнацький),
    // weighed as one letter apart.
    for (from, to) in [("ou", "u"), ("ts", "c")] {
        if stem.contains(from) {
            forms.push(stem.replace(from, to));
        }
    }
    let bytes = stem.as_bytes();
    let vowel = |letter: u8| matches!(letter, b'a' | b'e' | b'i' | b'o' | b'u');
    let with = |position: usize, letter: u8| {
        let mut form = bytes.to_vec();
        form[position] = letter;
        String::from_utf8(form).unwrap_or_default()
    };
    // The root's vowel: the first, after the first consonants.
    if let Some(root) = bytes.iter().position(|&letter| vowel(letter))
        && root >= 1
    {
        match bytes[root] {
            b'o' | b'e' => forms.push(with(root, b'i')),
            b'i' => {
                forms.push(with(root, b'o'));
                forms.push(with(root, b'e'));
            }
            _ => {}
        }
        let before_consonant = bytes.get(root + 2).is_some_and(|&next| !vowel(next));
        if bytes[root] == b'o' && before_consonant {
            match bytes.get(root + 1) {
                Some(b'l') => forms.push(with(root + 1, b'v')),
                Some(b'v') => forms.push(with(root + 1, b'l')),
                _ => {}
            }
        }
    }
    // As a skeleton writes them (Бойко's Бійко is biko, not biiko): stored
    // names are finished skeletons.
    for form in forms.iter_mut() {
        *form = crate::normalize::finish_skeleton(form);
    }
    forms.retain(|form| !form.is_empty() && form != stem);
    let mut seen = std::collections::HashSet::new();
    forms.retain(|form| seen.insert(form.clone()));
    forms
}

/// The forms in the other language that a surname's letters, as typed,
/// attest, without a date to confirm them: a Cyrillic і where Russian writes
/// о or е, and о or е where Ukrainian writes і (Олейник / Олійник, Серук /
/// Сірук, Ветрова / Вітрова), in the root's vowel, the second vowel or both
/// (not a second vowel before the stem's last consonant alone: Петров's
/// -ов is no root, and Петрів is another family); a Latin `o` or `e` read as
/// і (Kropenko / Кріпенко), never a Latin `i`, which may be и as well as і
/// and would add two guesses (Lisenko: Лесенко and Лосенко); Олекс-/Алекс-
/// and the roots Russian documents translate. A limit of the skeleton,
/// which reads и and і alike: an е or о read as і is also the и of another
/// name (Лесенко read as Лісенко is Лисенко's skeleton); such a pair is
/// weighed as one letter apart, as every form is. [`other_language_forms`]
/// guesses more (a Latin `i` too): its forms are keys of a date, which
/// confirms them, while these alone make a stored name another form of the
/// name searched. Family stems (skeletons) out, without the word's own.
pub fn attested_language_forms(word: &str) -> Vec<String> {
    let folded = crate::normalize::fold_text(word);
    let letters: Vec<char> = folded.chars().collect();
    let own = family_stem(&crate::normalize::skeleton(&folded)).to_string();
    let mut forms: Vec<String> = Vec::new();
    let latin = crate::normalize::detect_script(&folded) == crate::normalize::Script::Latin;
    let plain_vowel = |letter: char| "аеєиіїоуюяыэёaeiou".contains(letter);
    // A Latin `y` is a vowel between consonants (Kovalenko's Ukrainian и:
    // Hrytsenko), a consonant before a vowel or first (Yevtushenko).
    let vowel = |at: usize| {
        plain_vowel(letters[at])
            || (letters[at] == 'y'
                && at > 0
                && !letters.get(at + 1).is_some_and(|&next| plain_vowel(next)))
    };
    let others = |letter: char| -> &'static [char] {
        match letter {
            'і' => &['о', 'е'],
            'о' | 'е' => &['і'],
            'o' | 'e' if latin => &['i'],
            _ => &[],
        }
    };
    // The stem: the word without its ending (the vowels and й after its
    // last consonant: Петрова, Ковальський, Kovalskyi).
    let stem_end = letters
        .iter()
        .rposition(|&letter| !plain_vowel(letter) && !matches!(letter, 'й' | 'y' | 'j'))
        .map_or(0, |last| last + 1);
    let vowels: Vec<usize> = (0..stem_end).filter(|&at| vowel(at)).collect();
    let changed = |changes: &[(usize, char)]| -> String {
        let mut typed = letters.clone();
        for &(at, letter) in changes {
            typed[at] = letter;
        }
        let typed: String = typed.into_iter().collect();
        family_stem(&crate::normalize::skeleton(&typed)).to_string()
    };
    // The root's vowel (after the first consonants) and the next one, with
    // more than one letter of the stem after it (a root's closed syllable,
    // Олейник, Подлесная; not the suffix of Петров, Ковалев).
    let root = vowels.first().copied().filter(|&at| at >= 1);
    let second = vowels.get(1).copied().filter(|&at| at + 2 < stem_end);
    for at in [root, second].into_iter().flatten() {
        for &other in others(letters[at]) {
            forms.push(changed(&[(at, other)]));
        }
    }
    if let (Some(root), Some(second)) = (root, second) {
        for &first_other in others(letters[root]) {
            for &second_other in others(letters[second]) {
                forms.push(changed(&[(root, first_other), (second, second_other)]));
            }
        }
    }
    for (from, to) in [("olek", "alek"), ("alek", "olek")].into_iter().chain(
        translated_roots()
            .iter()
            .map(|(from, to)| (from.as_str(), to.as_str())),
    ) {
        if let Some(rest) = own.strip_prefix(from) {
            forms.push(format!("{to}{rest}"));
        }
    }
    forms.retain(|form| !form.is_empty() && *form != own);
    let mut seen = std::collections::HashSet::new();
    forms.retain(|form| seen.insert(form.clone()));
    forms
}

/// Forms of a surname's stem in the other language beyond the root's vowel
/// ([`other_language_forms`]): Ukrainian writes і in more than one closed
/// syllable where Russian keeps о or е (Підлісна / Подлесная, Пасічник /
/// Пасечник, Олійник / Олейник), so the stem's second vowel is changed too,
/// alone and with the first (a form the root's vowel alone makes may come
/// again: the caller keeps one of each). A query carries them among its
/// variants only, not as keys of its date, whose few places the root's
/// forms fill first.
pub fn further_language_forms(stem: &str) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    if !stem.is_ascii() || stem.len() < 4 {
        return forms;
    }
    let bytes = stem.as_bytes();
    let vowel = |letter: u8| matches!(letter, b'a' | b'e' | b'i' | b'o' | b'u');
    let others = |letter: u8| -> &'static [u8] {
        match letter {
            b'o' | b'e' => b"i",
            b'i' => b"oe",
            _ => b"",
        }
    };
    let vowels: Vec<usize> = (0..bytes.len()).filter(|&at| vowel(bytes[at])).collect();
    // Not a stem's last letter: an ending, not a root.
    let (Some(&first), Some(&second)) = (vowels.first(), vowels.get(1)) else {
        return forms;
    };
    if second + 1 >= bytes.len() {
        return forms;
    }
    for &other in others(bytes[second]) {
        let mut alone = bytes.to_vec();
        alone[second] = other;
        forms.push(String::from_utf8(alone.clone()).unwrap_or_default());
        if first >= 1 {
            for &first_other in others(bytes[first]) {
                let mut both = alone.clone();
                both[first] = first_other;
                forms.push(String::from_utf8(both).unwrap_or_default());
            }
        }
    }
    for form in forms.iter_mut() {
        *form = crate::normalize::finish_skeleton(form);
    }
    forms.retain(|form| !form.is_empty() && form != stem);
    let mut seen = std::collections::HashSet::new();
    forms.retain(|form| seen.insert(form.clone()));
    forms
}

#[cfg(test)]
mod tests {

    /// A surname whose Ukrainian form writes і in two syllables meets its
    /// Russian form through the further forms; one with one such syllable
    /// gets nothing beyond the root's forms.
    #[test]
    fn further_forms_change_the_second_vowel_too() {
        use super::{family_stem, further_language_forms, name_key};
        // The Ukrainian ій is one skeleton letter, so Олійник's forms do
        // not reach Олейник; the Russian form's reach the Ukrainian.
        for (ukrainian, russian, both_ways) in [
            ("Підлісна", "Подлесная", true),
            ("Пасічник", "Пасечник", true),
            ("Олійник", "Олейник", false),
        ] {
            let (one, other) = (name_key(ukrainian), name_key(russian));
            let (one, other) = (family_stem(&one), family_stem(&other));
            assert!(
                !both_ways || further_language_forms(one).contains(&other.to_string()),
                "{ukrainian}: {:?} lacks {other}",
                further_language_forms(one)
            );
            assert!(
                further_language_forms(other).contains(&one.to_string()),
                "{russian}: {:?} lacks {one}",
                further_language_forms(other)
            );
        }
        assert!(further_language_forms("kit").is_empty());
    }

    #[test]
    fn library_romanizations_with_macrons_breves_and_ties_meet_the_others() {
        // ALA-LC (Library of Congress) Ukrainian and Russian, with the tie
        // written as one combining mark and as two half marks.
        for (library, common, cyrillic) in [
            ("Chaplȳnskȳĭ", "Chaplynskyi", "Чаплинський"),
            ("Dmȳtro", "Dmytro", "Дмитро"),
            ("I\u{361}uriĭ", "Yurii", "Юрій"),
            ("I\u{FE20}u\u{FE21}riĭ", "Iurii", "Юрій"),
            ("Natali\u{361}a", "Nataliia", "Наталія"),
            ("Andriĭ", "Andrii", "Андрій"),
            ("Dmitriĭ", "Dmitrii", "Дмитрий"),
            ("Kovalʹchuk", "Kovalchuk", "Ковальчук"),
            ("Serhiĭ", "Serhii", "Сергій"),
        ] {
            let key = name_key(library);
            assert!(!key.contains(' '), "{library} fell apart into words: {key}");
            assert_eq!(key, name_key(common), "{library} / {common}");
            assert_eq!(key, name_key(cyrillic), "{library} / {cyrillic}");
        }
    }
    use super::*;

    fn same_class(left: &str, right: &str) -> bool {
        let tables = tables();
        let a = tables.given_classes(&name_key(left), Sex::Unknown);
        let b = tables.given_classes(&name_key(right), Sex::Unknown);
        a.iter().any(|class| b.contains(class))
    }

    #[test]
    fn tables_are_large_enough() {
        assert!(tables().class_count() >= 300, "{}", tables().class_count());
        assert!(
            tables().settlement_count() >= 200,
            "{}",
            tables().settlement_count()
        );
    }

    #[test]
    fn given_name_forms_share_a_class() {
        let pairs = [
            ("Олександр", "Александр"),
            ("Олександр", "Alexander"),
            ("Олександр", "Sasha"),
            ("Oleksandr", "Aleksandr"),
            ("Микола", "Николай"),
            ("Mykola", "Nikolai"),
            ("Юрій", "Юрий"),
            ("Михайло", "Michael"),
            ("Олена", "Елена"),
            ("Наталія", "Наталья"),
            ("Катерина", "Екатерина"),
            ("Ганна", "Анна"),
            ("Дмитро", "Дмитрий"),
            ("Василь", "Василий"),
        ];
        for (left, right) in pairs {
            assert!(same_class(left, right), "{left} / {right}");
        }
        assert!(!same_class("Олександр", "Андрій"));
        assert!(!same_class("Олена", "Ольга"));
    }

    #[test]
    fn diminutives_prefer_the_records_sex() {
        let tables = tables();
        let sasha = name_key("Саша");
        let male = tables.given_classes(&sasha, Sex::Male);
        let female = tables.given_classes(&sasha, Sex::Female);
        assert!(!male.is_empty() && !female.is_empty());
        assert!(male.iter().all(|class| !female.contains(class)));
    }

    #[test]
    fn patronymics_map_to_the_fathers_class() {
        let tables = tables();
        let class = |text: &str| tables.patronymic_class(&name_key(text));
        let mykola = class("Миколайович");
        assert!(mykola.is_some());
        for form in [
            "Николаевич",
            "Mykolaiovych",
            "Nikolaevich",
            "Миколаївна",
            "Николаевна",
        ] {
            assert_eq!(class(form), mykola, "{form}");
        }
        assert_ne!(class("Петрович"), mykola);
    }

    #[test]
    fn settlements_match_across_scripts_and_renamings() {
        let tables = tables();
        let mariupol = tables.settlement("м. Маріуполь, Донецька обл.");
        assert!(mariupol.is_some());
        assert_eq!(tables.settlement("Мариуполь"), mariupol);
        assert_eq!(tables.settlement("Mariupol"), mariupol);
        let dnipro = tables.settlement("Дніпро");
        assert!(dnipro.is_some());
        assert_eq!(tables.settlement("г. Днепропетровск"), dnipro);
        assert_ne!(dnipro, mariupol);
    }

    #[test]
    fn full_names_split_in_either_order() {
        let split = |text: &str| split_full_name(text);
        let owned = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            split("Коваленко Олександр Миколайович"),
            owned("Коваленко", "Олександр", "Миколайович")
        );
        assert_eq!(
            split("Олександр Миколайович Коваленко"),
            owned("Коваленко", "Олександр", "Миколайович")
        );
        assert_eq!(
            split("Иванова Мария Петровна"),
            owned("Иванова", "Мария", "Петровна")
        );
        assert_eq!(
            split("Oleksandr Kovalenko"),
            owned("Kovalenko", "Oleksandr", "")
        );
        assert_eq!(
            split("KOVALENKO Oleksandr"),
            owned("KOVALENKO", "Oleksandr", "")
        );
        assert_eq!(split("Шевчук"), owned("Шевчук", "", ""));
        assert!(looks_like_patronymic("Nikolaevich") && looks_like_patronymic("Іванівна"));
        assert!(!looks_like_patronymic("Коваленко"));
    }

    #[test]
    fn translated_roots_give_the_other_languages_surname() {
        let forms = |name: &str| {
            other_language_forms(family_stem(&name_key(name)))
                .into_iter()
                .collect::<Vec<_>>()
        };
        let stem = |name: &str| family_stem(&name_key(name)).to_string();
        for (one, other) in [
            ("Ведмедак", "Медведак"),
            ("Снігуренко", "Снегиренко"),
            ("Трохимишин", "Трофимишин"),
            ("Омельяненко", "Емельяненко"),
            ("Охрименко", "Ефременко"),
            ("Пилипенко", "Филипенко"),
            ("Миколаєнко", "Николаенко"),
            ("Володимиренко", "Владимиренко"),
            ("Гнатюк", "Игнатюк"),
            ("Снігур", "Снегирь"),
            ("Ведмідь", "Медведь"),
        ] {
            assert!(forms(one).contains(&stem(other)), "{one}: {:?}", forms(one));
            assert!(
                forms(other).contains(&stem(one)),
                "{other}: {:?}",
                forms(other)
            );
        }
        // A root of three letters turns unrelated surnames: Хомяк is no
        // Фомяк.
        assert!(
            !forms("Хомяк").iter().any(|form| form.starts_with('f')),
            "{:?}",
            forms("Хомяк")
        );
    }

    #[test]
    fn family_stems_fold_gender_forms() {
        let stem = |text: &str| family_stem(&name_key(text)).to_string();
        assert_eq!(stem("Ковальська"), stem("Ковальський"));
        assert_eq!(stem("Kovalskyi"), stem("Ковальская"));
        assert_eq!(stem("Іванова"), stem("Іванов"));
        assert_eq!(stem("Чорна"), stem("Черный"));
        assert_eq!(stem("Ткачова"), stem("Ткачев"));
        assert_eq!(stem("Коваленко"), name_key("Коваленко"));
    }

    #[test]
    fn surnames_are_told_from_given_names_the_tables_lack_by_their_endings() {
        for surname in [
            "Коваленко",
            "Kovalenko",
            "Ковальчук",
            "Шевелев",
            "Ševelov",
            "Kovalskyi",
            "Ковальская",
            "Кравець",
            "Петрович",
            "Бойко",
            "Гончар",
            "Пушкин",
            "Iwanowa",
        ] {
            assert!(shaped_as_surname(&name_key(surname)), "{surname}");
        }
        for given in ["Амір", "Ельмар", "Аміна", "Ленур", "Emir", "Zarina"] {
            assert!(!shaped_as_surname(&name_key(given)), "{given}");
        }
    }
}

//! Transliteration systems that case workers actually use, to write the Latin
//! records of the synthetic international organization.
//!
//! Written independently of the matcher's normalization on purpose: the test
//! data must come from how people spell, not from how poshuk folds.

/// A way of writing Cyrillic in Latin letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// Ukrainian national transliteration (2010), used in Ukrainian passports.
    UkrainianNational,
    /// Older Ukrainian passports and common English practice (Andriy, Yuriy, Sergiy).
    UkrainianLegacy,
    /// BGN/PCGN romanization of Russian.
    RussianBgn,
    /// Russian passports since 2013 (ICAO 9303 based: Iuliia, Evgenii).
    RussianIcao,
    /// German (Duden) spelling.
    German,
    /// French spelling.
    French,
    /// Polish spelling.
    Polish,
    /// ISO 9 with diacritics.
    Iso9,
}

impl System {
    /// Systems for Ukrainian-form names.
    pub const FOR_UKRAINIAN: &'static [System] = &[
        System::UkrainianNational,
        System::UkrainianNational,
        System::UkrainianNational,
        System::UkrainianLegacy,
        System::UkrainianLegacy,
        System::German,
        System::Polish,
        System::French,
        System::Iso9,
    ];

    /// Systems for Russian-form names.
    pub const FOR_RUSSIAN: &'static [System] = &[
        System::RussianBgn,
        System::RussianBgn,
        System::RussianIcao,
        System::German,
        System::French,
        System::Iso9,
    ];
}

fn is_vowel(c: char) -> bool {
    matches!(
        c,
        'а' | 'е'
            | 'є'
            | 'и'
            | 'і'
            | 'ї'
            | 'о'
            | 'у'
            | 'ю'
            | 'я'
            | 'ы'
            | 'э'
            | 'ё'
            | 'ь'
            | 'ъ'
            | '\''
    )
}

/// One lower-case Cyrillic letter in a system; `initial` is true at the start
/// of a word or after a vowel, where iotated vowels are written with y/j.
fn letter(system: System, c: char, initial: bool, previous: Option<char>) -> &'static str {
    use System::*;
    match (system, c) {
        (_, 'а') => "a",
        (_, 'б') => "b",
        (German | Polish, 'в') => "w",
        (_, 'в') => "v",
        (UkrainianNational, 'г') if previous == Some('з') => "gh",
        (UkrainianNational | Polish, 'г') => "h",
        (UkrainianLegacy | RussianBgn | RussianIcao | German | French | Iso9, 'г') => "g",
        (Iso9, 'ґ') => "g̀",
        (_, 'ґ') => "g",
        (_, 'д') => "d",
        (RussianBgn, 'е') if initial => "ye",
        (German | Polish, 'е') if initial && previous.is_some() => "je",
        (_, 'е') => "e",
        (UkrainianNational | UkrainianLegacy, 'є') if initial => "ye",
        (UkrainianNational | UkrainianLegacy | RussianIcao | French, 'є') => "ie",
        (German | Polish, 'є') => "je",
        (Iso9, 'є') => "ê",
        (RussianBgn, 'ё') => "yo",
        (German | Polish, 'ё') => "jo",
        (French, 'ё') => "io",
        (Iso9, 'ё') => "ë",
        (_, 'ё') => "e",
        (German, 'ж') => "sch",
        (French, 'ж') => "j",
        (Polish, 'ж') => "ż",
        (Iso9, 'ж') => "ž",
        (_, 'ж') => "zh",
        (German, 'з') => "s",
        (_, 'з') => "z",
        (UkrainianNational | UkrainianLegacy | Polish, 'и') => "y",
        (_, 'и') => "i",
        (Iso9, 'і') => "ì",
        (_, 'і') => "i",
        (UkrainianNational | UkrainianLegacy, 'ї') if initial => "yi",
        (UkrainianNational, 'ї') => "i",
        (UkrainianLegacy, 'ї') => "yi",
        (German | Polish, 'ї') => "ji",
        (Iso9, 'ї') => "ï",
        (_, 'ї') => "yi",
        (UkrainianNational, 'й') if initial && previous.is_none() => "y",
        (UkrainianNational, 'й') => "i",
        (UkrainianLegacy | RussianBgn, 'й') => "y",
        (RussianIcao, 'й') => "i",
        (German | Polish | Iso9, 'й') => "j",
        (French, 'й') => "ï",
        (_, 'к') => "k",
        (Polish, 'л') => "ł",
        (_, 'л') => "l",
        (_, 'м') => "m",
        (_, 'н') => "n",
        (_, 'о') => "o",
        (_, 'п') => "p",
        (_, 'р') => "r",
        (German, 'с') if previous.is_some_and(is_vowel) => "ss",
        (_, 'с') => "s",
        (_, 'т') => "t",
        (French, 'у') => "ou",
        (_, 'у') => "u",
        (_, 'ф') => "f",
        (German | Polish, 'х') => "ch",
        (Iso9, 'х') => "h",
        (_, 'х') => "kh",
        (German, 'ц') => "z",
        (Polish | Iso9, 'ц') => "c",
        (_, 'ц') => "ts",
        (German, 'ч') => "tsch",
        (French, 'ч') => "tch",
        (Polish, 'ч') => "cz",
        (Iso9, 'ч') => "č",
        (_, 'ч') => "ch",
        (German, 'ш') => "sch",
        (French, 'ш') => "ch",
        (Polish, 'ш') => "sz",
        (Iso9, 'ш') => "š",
        (_, 'ш') => "sh",
        (German, 'щ') => "schtsch",
        (French, 'щ') => "chtch",
        (Polish, 'щ') => "szcz",
        (Iso9, 'щ') => "ŝ",
        (_, 'щ') => "shch",
        (RussianBgn | RussianIcao, 'ъ') => "ie",
        (_, 'ъ') => "",
        (French | German | Polish | RussianBgn | RussianIcao | Iso9, 'ы') => "y",
        (_, 'ы') => "y",
        (RussianIcao, 'ь') => "",
        (Iso9, 'ь') => "ʹ",
        (Polish, 'ь') => "",
        (_, 'ь') => "",
        (_, 'э') => "e",
        (UkrainianNational | UkrainianLegacy | RussianBgn, 'ю') if initial => "yu",
        (UkrainianNational | RussianIcao, 'ю') => "iu",
        (UkrainianLegacy | RussianBgn, 'ю') => "yu",
        (German | Polish, 'ю') => "ju",
        (French, 'ю') => "iou",
        (Iso9, 'ю') => "û",
        (UkrainianNational | UkrainianLegacy | RussianBgn, 'я') if initial => "ya",
        (UkrainianNational | RussianIcao, 'я') => "ia",
        (UkrainianLegacy | RussianBgn, 'я') => "ya",
        (German | Polish, 'я') => "ja",
        (French, 'я') => "ia",
        (Iso9, 'я') => "â",
        (_, '\'') | (_, '’') | (_, 'ʼ') => "",
        _ => "",
    }
}

/// Transliterates a Cyrillic text; non-Cyrillic characters are kept.
pub fn transliterate(text: &str, system: System) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut previous: Option<char> = None;
    for character in text.chars() {
        let lower = character.to_lowercase().next().unwrap_or(character);
        let is_cyrillic = ('а'..='я').contains(&lower) || "іїєґё'’ʼ".contains(lower);
        if !is_cyrillic {
            out.push(character);
            previous = None;
            continue;
        }
        // The 2010 Ukrainian rules write ye/yi/yu/ya only at the start of a
        // word; the other systems also after a vowel.
        let initial = if system == System::UkrainianNational {
            previous.is_none()
        } else {
            previous.is_none_or(is_vowel)
        };
        let mapped = letter(system, lower, initial, previous);
        if character.is_uppercase() {
            let mut chars = mapped.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(mapped);
        }
        previous = Some(lower);
    }
    out
}

/// A Ukrainian name written in Russian letters, as a Russian clerk would type
/// it from hearing or from a Ukrainian document (Микола → Мыкола, Андрій → Андрий).
pub fn ukrainian_in_russian_letters(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'і' => "и".to_string(),
            'І' => "И".to_string(),
            'ї' => "йи".to_string(),
            'Ї' => "Йи".to_string(),
            'є' => "е".to_string(),
            'Є' => "Е".to_string(),
            'ґ' => "г".to_string(),
            'Ґ' => "Г".to_string(),
            'и' => "ы".to_string(),
            '\'' | '’' | 'ʼ' => "ь".to_string(),
            other => other.to_string(),
        })
        .collect()
}

/// Strips diacritics, as a case worker without the keyboard layout would.
pub fn strip_diacritics(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            'č' => Some('c'),
            'š' => Some('s'),
            'ž' | 'ż' => Some('z'),
            'ŝ' => Some('s'),
            'ë' | 'ê' => Some('e'),
            'ì' | 'ï' => Some('i'),
            'â' => Some('a'),
            'û' => Some('u'),
            'ł' => Some('l'),
            'ʹ' | '\u{300}' => None,
            other => Some(other),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_spellings() {
        assert_eq!(
            transliterate("Олександр", System::UkrainianNational),
            "Oleksandr"
        );
        assert_eq!(transliterate("Шевченко", System::German), "Schewtschenko");
        assert_eq!(transliterate("Шевченко", System::French), "Chevtchenko");
        assert_eq!(transliterate("Шевченко", System::Polish), "Szewczenko");
        assert_eq!(transliterate("Юлія", System::UkrainianNational), "Yuliia");
        assert_eq!(transliterate("Юлия", System::RussianIcao), "Iuliia");
        assert_eq!(transliterate("Андрій", System::UkrainianLegacy), "Andriy");
        assert_eq!(
            transliterate("Згурський", System::UkrainianNational),
            "Zghurskyi"
        );
        assert_eq!(transliterate("Евгений", System::RussianBgn), "Yevgeniy");
        assert_eq!(ukrainian_in_russian_letters("Микола"), "Мыкола");
    }
}

//! How each kind of partner writes a person down: scripts, name forms,
//! transliterations, typos, swapped columns.

use rand::seq::IndexedRandom;
use rand::{Rng, RngExt};
use rand_chacha::ChaCha8Rng;

use crate::translit::{System, strip_diacritics, transliterate, ukrainian_in_russian_letters};

use super::*;

/// One random typing error (swap, drop or double a letter) in a word.
pub(super) fn typo(rng: &mut impl Rng, word: &str) -> String {
    let mut letters: Vec<char> = word.chars().collect();
    if letters.len() < 5 {
        return word.to_string();
    }
    let at = rng.random_range(1..letters.len() - 1);
    match rng.random_range(0..3) {
        0 => letters.swap(at, at + 1),
        1 => {
            letters.remove(at);
        }
        _ => letters.insert(at, letters[at]),
    }
    letters.into_iter().collect()
}

pub(super) fn maybe_typo(rng: &mut impl Rng, word: &str, probability: f64) -> String {
    if rng.random_bool(probability) {
        typo(rng, word)
    } else {
        word.to_string()
    }
}

pub(super) fn sex_code(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "M",
        Sex::Female => "F",
    }
}

pub(super) fn roman(numeral: u8) -> &'static str {
    ["I", "II", "III", "IV", "V"][(numeral.clamp(1, 5) - 1) as usize]
}

pub(super) fn roman_cyrillic(numeral: u8) -> &'static str {
    ["І", "ІІ", "ІІІ", "ІV", "V"][(numeral.clamp(1, 5) - 1) as usize]
}

pub(super) fn render_ukrainian(generator: &mut Generator<'_>, person: &Person) -> SynthRow {
    let tables = generator.tables;
    let rng = &mut generator.rng;
    let name = given_name(tables, person);
    let surname = &tables.surnames[person.surname];
    let father = &tables.male[person.father];
    let family = match person.sex {
        Sex::Male => &surname.uk_male,
        Sex::Female => &surname.uk_female,
    };
    let patronymic = match person.sex {
        Sex::Male => pick(rng, &father.patronymics[0]).to_string(),
        Sex::Female => pick(rng, &father.patronymics[1]).to_string(),
    };
    let mut other_names = Vec::new();
    if rng.random_bool(0.08) {
        other_names.push(pick(rng, &cyrillic_only(&name.diminutives)).to_string());
    }
    let birth_date = match rng.random_range(0..100) {
        0..5 => String::new(),
        5..8 => person.year.to_string(),
        8..40 => format!("{:02}.{:02}.{}", person.day, person.month, person.year),
        _ => format!("{}-{:02}-{:02}", person.year, person.month, person.day),
    };
    let place = &tables.settlements[person.place];
    let birth_place = match rng.random_range(0..100) {
        0..20 => String::new(),
        20..40 => format!("м. {}", place.uk[0]),
        40..50 => format!("{}, {} обл.", place.uk[0], place.oblast),
        _ => place.uk[0].clone(),
    };
    let mut documents = Vec::new();
    if rng.random_bool(0.6) {
        let (numeral, letters, number) = person.certificate;
        documents.push(format!(
            "birth_certificate:{}-{}{} {}",
            roman_cyrillic(numeral),
            letters[0],
            letters[1],
            number
        ));
    }
    if let Some((letters, number)) = person.passport.filter(|_| rng.random_bool(0.5)) {
        documents.push(format!("passport:{}{}{}", letters[0], letters[1], number));
    }
    SynthRow {
        record_id: person.id.to_string(),
        given_name: maybe_typo(rng, &name.uk[0], 0.02),
        family_name: maybe_typo(rng, family, 0.03),
        patronymic: if rng.random_bool(0.9) {
            patronymic
        } else {
            String::new()
        },
        other_names: other_names.join(";"),
        sex: if rng.random_bool(0.95) {
            sex_code(person.sex).into()
        } else {
            String::new()
        },
        birth_date,
        birth_place,
        document_ids: documents.join(";"),
        under_other_surname: false,
    }
}

pub(super) fn cyrillic_only(forms: &[String]) -> Vec<String> {
    forms
        .iter()
        .filter(|form| {
            form.chars()
                .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
        })
        .cloned()
        .collect()
}

pub(super) fn latin_only(forms: &[String]) -> Vec<String> {
    forms
        .iter()
        .filter(|form| {
            form.chars()
                .all(|c| c.is_ascii() || !('\u{400}'..='\u{4ff}').contains(&c))
        })
        .cloned()
        .collect()
}

pub(super) fn render_russian(generator: &mut Generator<'_>, person: &Person) -> SynthRow {
    let tables = generator.tables;
    let rng = &mut generator.rng;
    let name = given_name(tables, person);
    let surname = &tables.surnames[person.surname];
    let father = &tables.male[person.father];
    let given = match rng.random_range(0..100) {
        0..85 => pick(rng, &name.ru[..1]).to_string(),
        85..93 => pick(rng, &name.ru).to_string(),
        _ => ukrainian_in_russian_letters(&name.uk[0]),
    };
    let family_forms = match person.sex {
        Sex::Male => &surname.ru_male,
        Sex::Female => &surname.ru_female,
    };
    let mut family = pick(rng, family_forms).to_string();
    let patronymic = match person.sex {
        Sex::Male => pick(rng, &father.patronymics[2]).to_string(),
        Sex::Female => pick(rng, &father.patronymics[3]).to_string(),
    };
    let (mut year, mut month, mut day) = (person.year, person.month, person.day);
    let mut other_names = Vec::new();
    let mut under_other_surname = false;
    // Children placed with Russian families: a new surname, sometimes a
    // changed birth date, the former surname recorded only sometimes.
    if person.kind == Kind::DeportedChild && rng.random_bool(0.15) {
        let adoptive = &tables.surnames[rng.random_range(0..tables.surnames.len())];
        let former = family;
        family = pick(
            rng,
            match person.sex {
                Sex::Male => &adoptive.ru_male,
                Sex::Female => &adoptive.ru_female,
            },
        )
        .to_string();
        under_other_surname = true;
        if rng.random_bool(0.6) {
            other_names.push(former);
        }
        if rng.random_bool(0.3) {
            match rng.random_range(0..3) {
                0 => day = rng.random_range(1..=28),
                1 => month = rng.random_range(1..=12),
                _ => year = year.saturating_add(1),
            }
        }
    }
    if rng.random_bool(0.05) && day <= 12 {
        std::mem::swap(&mut day, &mut month);
    }
    let birth_date = match rng.random_range(0..100) {
        0..3 => String::new(),
        3..60 => format!("{day:02}.{month:02}.{year}"),
        _ => format!("{year}-{month:02}-{day:02}"),
    };
    let place = &tables.settlements[person.place];
    // Occupation documents use the old names of renamed cities.
    let place_name = if place.ru.len() > 1 && rng.random_bool(0.5) {
        place.ru[place.ru.len() - 1].clone()
    } else {
        place.ru[0].clone()
    };
    let birth_place = match rng.random_range(0..100) {
        0..25 => String::new(),
        25..55 => format!("г. {place_name}"),
        _ => place_name,
    };
    let mut documents = Vec::new();
    if rng.random_bool(0.3) {
        let (numeral, letters, number) = person.certificate;
        documents.push(format!(
            "{}-{}{} {}",
            roman(numeral),
            letters[0],
            letters[1],
            number
        ));
    }
    if rng.random_bool(0.4) {
        documents.push(format!(
            "ru_certificate:{}-РУ {}",
            roman(rng.random_range(1..=5)),
            rng.random_range(100_000..999_999)
        ));
    }
    SynthRow {
        record_id: person.id.to_string(),
        given_name: maybe_typo(rng, &given, 0.02),
        family_name: maybe_typo(rng, &family, 0.03),
        patronymic: if rng.random_bool(0.95) {
            patronymic
        } else {
            String::new()
        },
        other_names: other_names.join(";"),
        sex: sex_code(person.sex).into(),
        birth_date,
        birth_place,
        document_ids: documents.join(";"),
        under_other_surname,
    }
}

pub(super) fn render_international(generator: &mut Generator<'_>, person: &Person) -> SynthRow {
    let tables = generator.tables;
    let rng = &mut generator.rng;
    let name = given_name(tables, person);
    let surname = &tables.surnames[person.surname];
    let father = &tables.male[person.father];
    let ukrainian_system = *System::FOR_UKRAINIAN
        .choose(rng)
        .unwrap_or(&System::UkrainianNational);
    let russian_system = *System::FOR_RUSSIAN
        .choose(rng)
        .unwrap_or(&System::RussianBgn);
    let from_russian = rng.random_bool(0.3);
    let spell = |text: &str, rng: &mut ChaCha8Rng| {
        let system = if from_russian {
            russian_system
        } else {
            ukrainian_system
        };
        let spelled = transliterate(text, system);
        if system == System::Iso9 && rng.random_bool(0.6) {
            strip_diacritics(&spelled)
        } else {
            spelled
        }
    };
    let english_forms = latin_only(&name.latin);
    let given = match rng.random_range(0..100) {
        0..20 if !english_forms.is_empty() => pick(rng, &english_forms).to_string(),
        20..24 if !latin_only(&name.diminutives).is_empty() => {
            pick(rng, &latin_only(&name.diminutives)).to_string()
        }
        _ => {
            let source = if from_russian {
                &name.ru[0]
            } else {
                &name.uk[0]
            };
            spell(source, rng)
        }
    };
    let family_source = match (person.sex, from_russian) {
        (Sex::Male, false) => surname.uk_male.clone(),
        (Sex::Female, false) => surname.uk_female.clone(),
        (Sex::Male, true) => surname.ru_male[0].clone(),
        (Sex::Female, true) => surname.ru_female[0].clone(),
    };
    let mut family = spell(&family_source, rng);
    let mut given = maybe_typo(rng, &given, 0.03);
    family = maybe_typo(rng, &family, 0.04);
    if rng.random_bool(0.15) {
        family = family.to_uppercase();
        given = given.to_uppercase();
    }
    if rng.random_bool(0.05) {
        std::mem::swap(&mut given, &mut family);
    }
    let patronymic = if rng.random_bool(0.45) {
        let forms = match (person.sex, from_russian) {
            (Sex::Male, false) => &father.patronymics[0],
            (Sex::Female, false) => &father.patronymics[1],
            (Sex::Male, true) => &father.patronymics[2],
            (Sex::Female, true) => &father.patronymics[3],
        };
        let chosen = pick(rng, forms).to_string();
        spell(&chosen, rng)
    } else {
        String::new()
    };
    let birth_date = match rng.random_range(0..100) {
        0..4 => String::new(),
        4..12 => person.year.to_string(),
        12..16 => format!("{}-{:02}", person.year, person.month),
        16..50 => format!("{:02}/{:02}/{}", person.day, person.month, person.year),
        _ => format!("{}-{:02}-{:02}", person.year, person.month, person.day),
    };
    let place = &tables.settlements[person.place];
    let birth_place = match rng.random_range(0..100) {
        0..35 => String::new(),
        35..50 => format!("{}, Ukraine", pick(rng, &place.latin)),
        _ => pick(rng, &place.latin).to_string(),
    };
    let mut documents = Vec::new();
    if rng.random_bool(0.35) {
        let (numeral, letters, number) = person.certificate;
        let series: String = letters
            .iter()
            .map(|l| transliterate(&l.to_string(), System::UkrainianNational))
            .collect();
        documents.push(format!(
            "birth_certificate:{}-{} {}",
            roman(numeral),
            series.to_uppercase(),
            number
        ));
    }
    if let Some((letters, number)) = person.passport.filter(|_| rng.random_bool(0.4)) {
        let series: String = letters
            .iter()
            .map(|l| transliterate(&l.to_string(), System::UkrainianNational))
            .collect();
        documents.push(format!("passport:{}{}", series.to_uppercase(), number));
    }
    SynthRow {
        record_id: person.id.to_string(),
        given_name: given,
        family_name: family,
        patronymic,
        other_names: String::new(),
        sex: if rng.random_bool(0.9) {
            sex_code(person.sex).into()
        } else {
            "U".into()
        },
        birth_date,
        birth_place,
        document_ids: documents.join(";"),
        under_other_surname: false,
    }
}

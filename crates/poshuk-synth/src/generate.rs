//! Persons and how each kind of partner writes them down.

use rand::seq::IndexedRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::tables::{GivenName, Tables, tables};
use crate::translit::{System, strip_diacritics, transliterate, ukrainian_in_russian_letters};

/// The three kinds of partner the generator writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Ukrainian NGO: Ukrainian Cyrillic.
    UkrainianNgo,
    /// Records from sources in Russia: Russian forms.
    RussianSources,
    /// An international organization: Latin, mixed transliterations.
    InternationalOrg,
}

impl Source {
    /// All sources.
    pub const ALL: [Source; 3] = [
        Source::UkrainianNgo,
        Source::RussianSources,
        Source::InternationalOrg,
    ];

    /// The file stem, also the source name in the truth file.
    pub fn stem(self) -> &'static str {
        match self {
            Source::UkrainianNgo => "ngo_ua",
            Source::RussianSources => "ru_sources",
            Source::InternationalOrg => "intl_org",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Source::UkrainianNgo => "UA",
            Source::RussianSources => "RU",
            Source::InternationalOrg => "INT",
        }
    }
}

/// A generated row, in the canonical columns.
#[derive(Debug, Clone, Default)]
pub struct SynthRow {
    /// record_id
    pub record_id: String,
    /// given_name
    pub given_name: String,
    /// family_name
    pub family_name: String,
    /// patronymic
    pub patronymic: String,
    /// other_names (`;`-separated)
    pub other_names: String,
    /// sex (M/F/U)
    pub sex: String,
    /// birth_date as written by the source
    pub birth_date: String,
    /// birth_place
    pub birth_place: String,
    /// document_ids (`;`-separated)
    pub document_ids: String,
}

/// The generated data set: rows per source and the truth.
#[derive(Debug, Default)]
pub struct SynthData {
    /// Rows per source, in `Source::ALL` order.
    pub rows: [Vec<SynthRow>; 3],
    /// (source, record_id, person_id) for every row.
    pub truth: Vec<(Source, String, u32)>,
    /// Pairs of distinct persons that are easy to confuse, with how they relate.
    pub relations: Vec<(u32, u32, Relation)>,
}

/// How two distinct persons of the data set relate: the hard negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Same family, father, birth date and place; different given names.
    Twin,
    /// Same family, father and place; different given names and birth dates.
    Sibling,
    /// Same given and family name; nothing else in common.
    Namesake,
}

impl Relation {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Relation::Twin => "twin",
            Relation::Sibling => "sibling",
            Relation::Namesake => "namesake",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sex {
    Male,
    Female,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    DeportedChild,
    PrisonerOfWar,
    Civilian,
}

#[derive(Debug, Clone)]
struct Person {
    id: u32,
    kind: Kind,
    sex: Sex,
    given: usize,
    father: usize,
    surname: usize,
    year: u16,
    month: u8,
    day: u8,
    place: usize,
    /// Birth certificate series letters (Cyrillic), numeral and number.
    certificate: (u8, [char; 2], u32),
    /// Passport series and number, for adults.
    passport: Option<([char; 2], u32)>,
}

/// Generation settings.
#[derive(Debug, Clone, Copy)]
pub struct SynthConfig {
    /// Distinct persons (including the siblings, twins and namesakes).
    pub persons: usize,
    /// Random seed: the same seed gives the same files.
    pub seed: u64,
}

struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    /// Zipf-like weights by rank: real name frequencies fall off this way.
    fn zipf(count: usize, exponent: f64) -> Weighted {
        Weighted::from_weights((0..count).map(|rank| 1.0 / ((rank + 3) as f64).powf(exponent)))
    }

    fn from_weights(weights: impl Iterator<Item = f64>) -> Weighted {
        let mut total = 0.0;
        let cumulative = weights
            .map(|weight| {
                total += weight;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
        self.cumulative
            .partition_point(|&value| value <= target)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

const CERTIFICATE_LETTERS: &[char] = &[
    'А', 'Б', 'В', 'Г', 'Д', 'Е', 'Ж', 'К', 'М', 'Н', 'О', 'П', 'Р', 'С', 'Т',
];
const OCCUPIED_OBLASTS: &[&str] = &[
    "Донецька",
    "Луганська",
    "Запорізька",
    "Херсонська",
    "Харківська",
    "АР Крим",
];

struct Generator<'a> {
    rng: ChaCha8Rng,
    tables: &'a Tables,
    male_names: Weighted,
    female_names: Weighted,
    surnames: Weighted,
    places: Weighted,
}

impl Generator<'_> {
    fn date(&mut self, kind: Kind) -> (u16, u8, u8) {
        let year = match kind {
            Kind::DeportedChild => self.rng.random_range(2005..=2021),
            Kind::PrisonerOfWar => self.rng.random_range(1965..=2004),
            Kind::Civilian => self.rng.random_range(1940..=2006),
        };
        let month = self.rng.random_range(1..=12u8);
        let day = self.rng.random_range(1..=28u8);
        (year, month, day)
    }

    fn new_person(&mut self, id: u32) -> Person {
        let kind = match self.rng.random_range(0..100) {
            0..50 => Kind::DeportedChild,
            50..75 => Kind::PrisonerOfWar,
            _ => Kind::Civilian,
        };
        let male_share = if kind == Kind::PrisonerOfWar {
            0.96
        } else {
            0.5
        };
        let sex = if self.rng.random_bool(male_share) {
            Sex::Male
        } else {
            Sex::Female
        };
        let (year, month, day) = self.date(kind);
        let given = self.given_for(sex);
        Person {
            id,
            kind,
            sex,
            given,
            father: self.male_names.sample(&mut self.rng),
            surname: self.surnames.sample(&mut self.rng),
            year,
            month,
            day,
            place: self.places.sample(&mut self.rng),
            certificate: self.certificate(),
            passport: self.passport(kind),
        }
    }

    fn given_for(&mut self, sex: Sex) -> usize {
        match sex {
            Sex::Male => self.male_names.sample(&mut self.rng),
            Sex::Female => self.female_names.sample(&mut self.rng),
        }
    }

    fn certificate(&mut self) -> (u8, [char; 2], u32) {
        (
            self.rng.random_range(1..=5),
            [
                *CERTIFICATE_LETTERS.choose(&mut self.rng).unwrap_or(&'А'),
                *CERTIFICATE_LETTERS.choose(&mut self.rng).unwrap_or(&'Б'),
            ],
            self.rng.random_range(100_000..999_999),
        )
    }

    fn passport(&mut self, kind: Kind) -> Option<([char; 2], u32)> {
        (kind != Kind::DeportedChild).then(|| {
            (
                [
                    *CERTIFICATE_LETTERS.choose(&mut self.rng).unwrap_or(&'К'),
                    *CERTIFICATE_LETTERS.choose(&mut self.rng).unwrap_or(&'В'),
                ],
                self.rng.random_range(100_000..999_999),
            )
        })
    }

    /// A sibling: same family, father and birth place, another given name and
    /// (unless a twin) another birth date.
    fn sibling(&mut self, of: &Person, id: u32, twin: bool) -> Person {
        let sex = if self.rng.random_bool(0.5) {
            of.sex
        } else {
            opposite(of.sex)
        };
        let mut given = self.given_for(sex);
        while sex == of.sex && given == of.given {
            given = self.given_for(sex);
        }
        let (mut year, mut month, mut day) = (of.year, of.month, of.day);
        if !twin {
            let gap = self.rng.random_range(1..=8u16);
            year = if self.rng.random_bool(0.5) {
                of.year.saturating_sub(gap)
            } else {
                (of.year + gap).min(2022)
            };
            month = self.rng.random_range(1..=12);
            day = self.rng.random_range(1..=28);
        }
        Person {
            id,
            sex,
            given,
            year,
            month,
            day,
            certificate: self.certificate(),
            passport: self.passport(of.kind),
            ..of.clone()
        }
    }

    /// A namesake: same given name and family name, nothing else in common.
    fn namesake(&mut self, of: &Person, id: u32) -> Person {
        let mut other = self.new_person(id);
        other.sex = of.sex;
        other.given = of.given;
        other.surname = of.surname;
        other
    }
}

fn opposite(sex: Sex) -> Sex {
    match sex {
        Sex::Male => Sex::Female,
        Sex::Female => Sex::Male,
    }
}

/// Generates persons and the three partners' files.
pub fn generate(config: SynthConfig) -> SynthData {
    let tables = tables();
    let place_weights = tables
        .settlements
        .iter()
        .enumerate()
        .map(|(rank, settlement)| {
            let base = 1.0 / ((rank + 5) as f64).powf(0.8);
            if OCCUPIED_OBLASTS.contains(&settlement.oblast.as_str()) {
                base * 6.0
            } else {
                base
            }
        });
    let mut generator = Generator {
        rng: ChaCha8Rng::seed_from_u64(config.seed),
        tables,
        male_names: Weighted::zipf(tables.male.len(), 1.1),
        female_names: Weighted::zipf(tables.female.len(), 1.1),
        surnames: Weighted::zipf(tables.surnames.len(), 0.9),
        places: Weighted::from_weights(place_weights),
    };
    let mut persons: Vec<Person> = Vec::with_capacity(config.persons);
    let mut relations = Vec::new();
    while persons.len() < config.persons {
        let id = persons.len() as u32 + 1;
        let person = generator.new_person(id);
        let roll = generator.rng.random_range(0..100);
        persons.push(person.clone());
        if persons.len() >= config.persons {
            break;
        }
        let next_id = persons.len() as u32 + 1;
        match roll {
            0..4 => {
                let twin = generator.sibling(&person, next_id, true);
                relations.push((person.id, next_id, Relation::Twin));
                persons.push(twin);
            }
            4..16 => {
                let sibling = generator.sibling(&person, next_id, false);
                relations.push((person.id, next_id, Relation::Sibling));
                persons.push(sibling);
            }
            16..19 => {
                let namesake = generator.namesake(&person, next_id);
                relations.push((person.id, next_id, Relation::Namesake));
                persons.push(namesake);
            }
            _ => {}
        }
    }

    let mut data = SynthData {
        relations,
        ..SynthData::default()
    };
    for person in &persons {
        let in_ngo = generator.rng.random_bool(0.7);
        let in_russia = generator.rng.random_bool(if person.kind == Kind::Civilian {
            0.4
        } else {
            0.55
        });
        let in_intl = generator.rng.random_bool(0.5);
        let (in_ngo, in_russia, in_intl) = if !in_ngo && !in_russia && !in_intl {
            (true, in_russia, in_intl)
        } else {
            (in_ngo, in_russia, in_intl)
        };
        for (source, present) in Source::ALL.into_iter().zip([in_ngo, in_russia, in_intl]) {
            if !present {
                continue;
            }
            let row = match source {
                Source::UkrainianNgo => render_ukrainian(&mut generator, person),
                Source::RussianSources => render_russian(&mut generator, person),
                Source::InternationalOrg => render_international(&mut generator, person),
            };
            data.rows[source as usize].push(row);
        }
    }
    // Shuffle each file's rows and number them, so order says nothing.
    for source in Source::ALL {
        let rows = &mut data.rows[source as usize];
        shuffle(rows, &mut generator.rng);
        for (index, row) in rows.iter_mut().enumerate() {
            let person_id: u32 = row.record_id.parse().unwrap_or(0);
            row.record_id = format!("{}-{:06}", source.id_prefix(), index + 1);
            data.truth.push((source, row.record_id.clone(), person_id));
        }
    }
    data
}

fn shuffle<T>(items: &mut [T], rng: &mut impl Rng) {
    for index in (1..items.len()).rev() {
        let other = rng.random_range(0..=index);
        items.swap(index, other);
    }
}

fn pick<'s>(rng: &mut impl Rng, items: &'s [String]) -> &'s str {
    items.choose(rng).map(String::as_str).unwrap_or("")
}

fn given_name<'t>(tables: &'t Tables, person: &Person) -> &'t GivenName {
    match person.sex {
        Sex::Male => &tables.male[person.given],
        Sex::Female => &tables.female[person.given],
    }
}

/// One random typing error (swap, drop or double a letter) in a word.
fn typo(rng: &mut impl Rng, word: &str) -> String {
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

fn maybe_typo(rng: &mut impl Rng, word: &str, probability: f64) -> String {
    if rng.random_bool(probability) {
        typo(rng, word)
    } else {
        word.to_string()
    }
}

fn sex_code(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "M",
        Sex::Female => "F",
    }
}

fn roman(numeral: u8) -> &'static str {
    ["I", "II", "III", "IV", "V"][(numeral.clamp(1, 5) - 1) as usize]
}

fn roman_cyrillic(numeral: u8) -> &'static str {
    ["І", "ІІ", "ІІІ", "ІV", "V"][(numeral.clamp(1, 5) - 1) as usize]
}

fn render_ukrainian(generator: &mut Generator<'_>, person: &Person) -> SynthRow {
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
    }
}

fn cyrillic_only(forms: &[String]) -> Vec<String> {
    forms
        .iter()
        .filter(|form| {
            form.chars()
                .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
        })
        .cloned()
        .collect()
}

fn latin_only(forms: &[String]) -> Vec<String> {
    forms
        .iter()
        .filter(|form| {
            form.chars()
                .all(|c| c.is_ascii() || !('\u{400}'..='\u{4ff}').contains(&c))
        })
        .cloned()
        .collect()
}

fn render_russian(generator: &mut Generator<'_>, person: &Person) -> SynthRow {
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
    }
}

fn render_international(generator: &mut Generator<'_>, person: &Person) -> SynthRow {
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
    }
}

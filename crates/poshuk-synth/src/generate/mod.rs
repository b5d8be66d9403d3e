//! Persons and how each kind of partner writes them down.

use rand::seq::IndexedRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::tables::{GivenName, Tables, tables};

mod render;

use render::{render_international, render_russian, render_ukrainian};

/// The three kinds of partner the generator writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The truth, not a column: the row holds the person under a surname
    /// not their own (an adoptive family's), so that a search by the name
    /// another partner keeps meets it only through a former name recorded.
    pub under_other_surname: bool,
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

/// The listed surnames take a quarter of people, falling off by rank (the
/// first about 0.5%); the productive ones share the rest almost evenly.
fn surname_weights(tables: &Tables) -> Weighted {
    let listed = tables.listed_surnames;
    let tail = tables.surnames.len() - listed;
    let listed_weight = |rank: usize| 1.0 / ((rank + 3) as f64).powf(0.5);
    let tail_weight = |rank: usize| 1.0 / ((rank + 20) as f64).powf(0.2);
    let listed_total: f64 = (0..listed).map(listed_weight).sum();
    let tail_total: f64 = (0..tail)
        .map(tail_weight)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    Weighted::from_weights(
        (0..listed)
            .map(move |rank| 0.25 * listed_weight(rank) / listed_total)
            .chain((0..tail).map(move |rank| 0.75 * tail_weight(rank) / tail_total)),
    )
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
        surnames: surname_weights(tables),
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

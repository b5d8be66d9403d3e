//! Properties of the score that hold for any records.

use proptest::prelude::*;

use super::*;
use crate::features::Tokenizer;
use crate::record::{BirthDate, Record, Sex};
use poshuk_keys::{Epoch, KeyRing};

fn tokenizer() -> Tokenizer {
    let ring = KeyRing::with_key([8; 32]);
    Tokenizer::new(ring.hasher(Epoch(1)).expect("hasher"))
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Олександр",
        "Александр",
        "Oleksandr",
        "Sasha",
        "Коваленко",
        "Kovalenko",
        "Ковальська",
        "Ivan",
        "Іванна",
        "",
        "Мар'ян",
        "ЩЕРБАК",
        "Ilya",
        "Ю",
        "x-y z",
    ])
    .prop_map(str::to_string)
}

fn record() -> impl Strategy<Value = Record> {
    (
        name(),
        name(),
        name(),
        prop::collection::vec(name(), 0..2),
        prop::sample::select(vec![Sex::Male, Sex::Female, Sex::Unknown]),
        prop::option::of((1990u32..1993, prop::option::of(1u32..13), 1u32..29)),
        prop::sample::select(vec!["", "Маріуполь", "Mariupol", "Kyiv"]),
        prop::collection::vec(
            prop::sample::select(vec!["КВ 123456", "KB123456", "1-БК 777777"]),
            0..2,
        ),
    )
        .prop_map(
            |(given, family, patronymic, other, sex, date, place, documents)| Record {
                record_id: "p".into(),
                given_name: given,
                family_name: family,
                patronymic,
                other_names: other,
                sex,
                birth_date: date
                    .and_then(|(y, m, d)| BirthDate::from_parts(y, m, m.map(|_| d)).ok()),
                birth_place: place.into(),
                document_ids: documents.into_iter().map(str::to_string).collect(),
            },
        )
}

proptest! {
    #[test]
    fn scores_are_probabilities_and_symmetric(left in record(), right in record()) {
        let tokenizer = tokenizer();
        let (a, b) = (tokenizer.tokenize(&left), tokenizer.tokenize(&right));
        let model = MatchModel::default();
        let forward = model.score(&a, &b, &NoTermFrequencies);
        let backward = model.score(&b, &a, &NoTermFrequencies);
        prop_assert!((0.0..=1.0).contains(&forward.probability));
        prop_assert!((forward.probability - backward.probability).abs() < 1e-9);
    }

    #[test]
    fn a_record_matches_itself_at_least_as_well_as_anything(left in record(), right in record()) {
        let tokenizer = tokenizer();
        let (a, b) = (tokenizer.tokenize(&left), tokenizer.tokenize(&right));
        let model = MatchModel::default();
        let with_itself = model.score(&a, &a, &NoTermFrequencies).probability;
        let with_other = model.score(&a, &b, &NoTermFrequencies).probability;
        prop_assert!(with_itself + 1e-9 >= with_other, "{} < {}", with_itself, with_other);
    }

    #[test]
    fn tokenizing_arbitrary_text_never_panics(given in ".{0,40}", family in ".{0,40}", date in ".{0,12}", place in ".{0,30}") {
        let record = Record {
            record_id: "z".into(),
            given_name: given,
            family_name: family,
            birth_date: BirthDate::parse(&date).ok(),
            birth_place: place,
            ..Record::default()
        };
        let _ = tokenizer().tokenize(&record);
    }
}

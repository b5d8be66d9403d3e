//! Scoring as a table of pairs and the band each must get.

use super::*;
use crate::features::Tokenizer;
use crate::record::{BirthDate, Record, Sex};
use poshuk_keys::{Epoch, KeyRing};
use poshuk_tokens::intersects;

fn tokenizer() -> Tokenizer {
    let ring = KeyRing::with_key([5; 32]);
    Tokenizer::new(ring.hasher(Epoch(1)).expect("hasher"))
}

/// (given, family, patronymic, date, place, other names, sex)
type Row<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a [&'a str],
    Sex,
);

fn record(row: Row<'_>) -> Record {
    let (given, family, patronymic, date, place, other, sex) = row;
    Record {
        record_id: "x".into(),
        given_name: given.into(),
        family_name: family.into(),
        patronymic: patronymic.into(),
        other_names: other.iter().map(|s| s.to_string()).collect(),
        sex,
        birth_date: BirthDate::parse(date).ok(),
        birth_place: place.into(),
        document_ids: Vec::new(),
    }
}

/// The left row searched as a query (with its names' one-edit variants)
/// among records tokenized as a node stores them: how a searcher meets a
/// record.
fn score(left: Row<'_>, right: Row<'_>) -> MatchScore {
    let tokenizer = tokenizer();
    MatchModel::default().score_query(
        &tokenizer.tokenize_query(&record(left)),
        &tokenizer.tokenize(&record(right)),
        &NoTermFrequencies,
    )
}

/// The left row searched as a query among records tokenized as a node
/// stores them, with a list's frequencies (how common each name is, how
/// many people the list holds).
fn score_among(left: Row<'_>, right: Row<'_>, frequencies: &dyn TermFrequencies) -> MatchScore {
    let tokenizer = tokenizer();
    MatchModel::default().score_query(
        &tokenizer.tokenize_query(&record(left)),
        &tokenizer.tokenize(&record(right)),
        frequencies,
    )
}

/// Asserts one field's level, showing the whole explanation when it is not.
#[track_caller]
fn assert_level(scored: &MatchScore, field: Field, level: Level) {
    let found = scored
        .fields
        .iter()
        .find(|shown| shown.field == field)
        .map(|shown| shown.level);
    assert_eq!(found, Some(level), "{}", scored.explain());
}

const M: Sex = Sex::Male;
const F: Sex = Sex::Female;

#[test]
fn one_person_across_scripts_is_strong() {
    let cases: &[(Row<'_>, Row<'_>)] = &[
        (
            (
                "Олександр",
                "Коваленко",
                "Миколайович",
                "2011-03-07",
                "Маріуполь",
                &[],
                M,
            ),
            (
                "Александр",
                "Коваленко",
                "Николаевич",
                "07.03.2011",
                "г. Мариуполь",
                &[],
                M,
            ),
        ),
        (
            (
                "Олександр",
                "Коваленко",
                "Миколайович",
                "2011-03-07",
                "Маріуполь",
                &[],
                M,
            ),
            (
                "Oleksandr",
                "Kovalenko",
                "",
                "07/03/2011",
                "Mariupol",
                &[],
                M,
            ),
        ),
        (
            ("Ірина", "Ковальська", "Петрівна", "2012-05-01", "", &[], F),
            ("Ирина", "Ковальская", "Петровна", "2012-01-05", "", &[], F),
        ),
        (
            (
                "Василий",
                "Михайленко",
                "Онуфриевич",
                "1987-12-01",
                "",
                &[],
                M,
            ),
            ("Mihajlenko", "Vasilij", "", "1987-12-01", "", &[], M),
        ),
        (
            (
                "Дарина",
                "Мельник",
                "Андріївна",
                "2014-02-11",
                "Херсон",
                &[],
                F,
            ),
            (
                "Дарья",
                "Смирнова",
                "Андреевна",
                "2014-02-11",
                "Херсон",
                &["Мельник"],
                F,
            ),
        ),
    ];
    for (left, right) in cases {
        let scored = score(*left, *right);
        assert_eq!(
            scored.band,
            Band::Strong,
            "{:?} / {:?}: {}",
            left.0,
            right.0,
            scored.explain()
        );
    }
}

#[test]
fn twins_and_siblings_are_never_strong() {
    let cases: &[(Row<'_>, Row<'_>)] = &[
        (
            (
                "Олександр",
                "Коваленко",
                "Миколайович",
                "2011-03-07",
                "Маріуполь",
                &[],
                M,
            ),
            (
                "Андрій",
                "Коваленко",
                "Миколайович",
                "2011-03-07",
                "Маріуполь",
                &[],
                M,
            ),
        ),
        (
            (
                "Олександр",
                "Коваленко",
                "Миколайович",
                "2011-03-07",
                "Маріуполь",
                &[],
                M,
            ),
            (
                "Олександра",
                "Коваленко",
                "Миколаївна",
                "2011-03-07",
                "Маріуполь",
                &[],
                F,
            ),
        ),
        (
            (
                "Ірина",
                "Захарченко",
                "Валентинівна",
                "2011-06-10",
                "",
                &[],
                F,
            ),
            ("Zakharchenko", "Olga", "", "2011-06-10", "", &[], F),
        ),
        // A swapped record of a twin with a similar name.
        (
            (
                "Олександр",
                "Мазуренко",
                "Андрійович",
                "1968-07-25",
                "Шепетівка",
                &[],
                M,
            ),
            (
                "Masurenko",
                "Oleksij",
                "",
                "1968-07-25",
                "Shepetivka",
                &[],
                M,
            ),
        ),
        (
            (
                "Юлія",
                "Сербин",
                "Юліївна",
                "2008-02-16",
                "Запоріжжя",
                &[],
                F,
            ),
            ("Serbin", "Olya", "Juljewna", "2008-02-16", "", &[], F),
        ),
        (
            ("Іван", "Бондар", "Петрович", "2009-01-01", "Херсон", &[], M),
            (
                "Іванна",
                "Бондар",
                "Петрівна",
                "2012-06-01",
                "Херсон",
                &[],
                F,
            ),
        ),
    ];
    for (left, right) in cases {
        let scored = score(*left, *right);
        assert!(
            scored.band < Band::Possible,
            "{:?} / {:?}: {} {}",
            left.0,
            right.0,
            scored.probability,
            scored.explain()
        );
    }
}

/// Spellings of other systems (German, French, Croatian, ISO 9) and a
/// swapped record under a former surname: found (they share a blocking
/// key) and scored at least possible.
#[test]
fn other_spelling_systems_and_former_names_in_swapped_columns_match() {
    let cases: &[(Row<'_>, Row<'_>)] = &[
        (
            ("Жанна", "Зінченко", "", "1953-01-10", "", &[], F),
            ("Schanna", "Sintschenko", "", "1953-01-10", "", &[], F),
        ),
        (
            ("Володимир", "Шевченко", "", "2000", "Мерефа", &[], M),
            ("Volodymyr", "Chevtchenko", "", "", "Merefa", &[], M),
        ),
        (
            ("Наталія", "Харченко", "Сергіївна", "1937-12-04", "", &[], F),
            ("Natalija", "Chartschenko", "", "1937", "", &[], F),
        ),
        (
            (
                "Агнія",
                "Тищенко",
                "Олександрівна",
                "2015-10-21",
                "",
                &[],
                F,
            ),
            ("Agnia", "Tiŝenko", "Oleksandrivna", "2015-10", "", &[], F),
        ),
        (
            ("Михайло", "Харченко", "", "2015-03-04", "", &[], M),
            ("Mihajlo", "Harčenko", "", "2015-03-04", "", &[], M),
        ),
        (
            (
                "Александр",
                "Ткачук",
                "Богданович",
                "1987-11-22",
                "",
                &[],
                M,
            ),
            (
                "Aleksandr",
                "Tkacuk",
                "Bogdanovic",
                "1987-11-22",
                "",
                &[],
                M,
            ),
        ),
        (
            ("Василий", "Захарченко", "", "1991-01-01", "", &[], M),
            ("Vasilij", "Zaharcenko", "", "1991-01-01", "", &[], M),
        ),
        (
            (
                "Александр",
                "Ковалёв",
                "Дмитриевич",
                "1995",
                "Гуляйполе",
                &[],
                M,
            ),
            (
                "Oleksandr",
                "Kovalov",
                "",
                "1995-08-06",
                "Guljajpole",
                &[],
                M,
            ),
        ),
        (
            (
                "Ольга",
                "Шумська",
                "Тарасівна",
                "2012-02-10",
                "Бахмут",
                &[],
                F,
            ),
            ("Choumskaia", "Olga", "", "2012", "Bachmut", &[], F),
        ),
        (
            (
                "Ірина",
                "Кравчук",
                "Романівна",
                "2017-02-20",
                "Харків",
                &["Семенова"],
                F,
            ),
            (
                "Semenova",
                "Iryna",
                "Romanivna",
                "2017-02-20",
                "Kharkiv",
                &[],
                F,
            ),
        ),
    ];
    let tokenizer = tokenizer();
    for (left, right) in cases {
        let (left_tokens, right_tokens) = (
            tokenizer.tokenize(&record(*left)),
            tokenizer.tokenize(&record(*right)),
        );
        let left_keys = crate::blocking::blocking_keys(&left_tokens);
        assert!(
            crate::blocking::blocking_keys(&right_tokens)
                .iter()
                .any(|key| left_keys.contains(key)),
            "{:?} / {:?} share no blocking key",
            left.1,
            right.1
        );
        let scored = score(*left, *right);
        assert!(
            scored.band >= Band::Possible,
            "{:?} / {:?}: {} {}",
            left.1,
            right.1,
            scored.probability,
            scored.explain()
        );
    }
}

/// Other readings apply only to words spelled that way: plain
/// national-system spellings keep their own surname.
#[test]
fn other_readings_do_not_merge_different_surnames() {
    let tokenizer = tokenizer();
    for (latin, other) in [
        ("Homenko", "Хоменко"),
        ("Holod", "Холод"),
        ("Kosenko", "Козенко"),
        ("Lysenko", "Лизенко"),
        ("Chumak", "Шумак"),
        ("Chumak", "Хумак"),
    ] {
        let family = |name: &str| {
            tokenizer
                .tokenize(&record(("Іван", name, "", "", "", &[], M)))
                .slot(Slot::FamilyWhole)
                .to_vec()
        };
        assert!(
            !intersects(&family(latin), &family(other)),
            "{latin} and {other} share a surname token"
        );
    }
}

#[test]
fn explanation_reads_as_words() {
    let scored = score(
        (
            "Олександр",
            "Коваленко",
            "Миколайович",
            "2011-03-07",
            "",
            &[],
            M,
        ),
        (
            "Александр",
            "Коваленко",
            "Николаевич",
            "2011-07-03",
            "",
            &[],
            M,
        ),
    );
    assert_eq!(
        scored.explain(),
        "given name: equivalent form; family name: same; patronymic: equivalent form; birth date: day and month swapped"
    );
    assert!((0.0..=1.0).contains(&scored.probability));
}

/// A given name with more than one typo, in a spelling the tables do not
/// know, does not sink an otherwise identical pair: it stays possible,
/// never strong (it may also be a brother's name in an unknown spelling).
#[test]
fn an_unknown_given_name_with_typos_is_possible_not_strong() {
    let scored = score(
        (
            "Mitchell",
            "Greenaway",
            "",
            "1956-04-09",
            "Cleveland",
            &[],
            M,
        ),
        (
            "Mtichelp",
            "Greenaway",
            "",
            "1956-04-09",
            "Cleveland",
            &[],
            M,
        ),
    );
    assert_eq!(scored.fields[0].level, Level::Different);
    assert_eq!(scored.band, Band::Possible, "{scored:?}");
    // Two names the tables know as different names stay below possible.
    let twins = score(
        (
            "Олександр",
            "Коваленко",
            "",
            "2011-03-07",
            "Маріуполь",
            &[],
            M,
        ),
        ("Андрій", "Коваленко", "", "2011-03-07", "Маріуполь", &[], M),
    );
    // ...and are shown as relatives: twins, same date, other given names.
    assert_eq!(twins.band, Band::Relative, "{twins:?}");
    assert!(twins.probability < 0.5, "{twins:?}");
}

/// The year is stored only together with the family name. A query with a
/// surname in its given-name column keys its year with that word too, so the
/// year is compared across swapped columns and the pair is strong. A query
/// whose given-name column holds a known given name keys nothing with it
/// (Вовка's stem is the surname Вовк): against a record with swapped columns
/// (PRIHODKO, h for х, in the given column) the year cannot be compared, and
/// the pair stays possible. Where the query's keys meet and the years do
/// not, the years differ: a namesake of another year, never shown.
#[test]
fn a_year_is_compared_across_swapped_columns_typed_in_the_query() {
    let swapped_query = score(
        ("Krynytsych", "Oleg", "Olegovich", "2008", "", &[], M),
        ("Олег", "Криницич", "Олегович", "2008-07-02", "", &[], M),
    );
    assert_eq!(
        swapped_query.fields[3].level,
        Level::Year,
        "{}",
        swapped_query.explain()
    );
    assert_eq!(
        swapped_query.band,
        Band::Strong,
        "{}",
        swapped_query.explain()
    );
    // Keyed so, another year is known to be another year: a namesake.
    let other_year = score(
        ("Krynytsych", "Oleg", "Olegovich", "1984", "", &[], M),
        ("Олег", "Криницич", "Олегович", "2008-07-02", "", &[], M),
    );
    assert_eq!(
        other_year.fields[3].level,
        Level::Different,
        "{}",
        other_year.explain()
    );
    assert_eq!(other_year.band, Band::Weak, "{}", other_year.explain());
    // Typed with a range of years, the query is put right too (a surname
    // in the given column, a given name in the family one): the range is
    // keyed with the surname, and a year outside it differs.
    let tokenizer = tokenizer();
    let held = tokenizer.tokenize(&record((
        "Олег",
        "Криницич",
        "Олегович",
        "2008-07-02",
        "",
        &[],
        M,
    )));
    for years in [
        &[1984u16, 1985][..],
        &[1980, 1981, 1982, 1983, 1984, 1985, 1986],
    ] {
        let range = MatchModel::default().score_query(
            &tokenizer.tokenize_query_years(
                &record(("Krynytsych", "Oleg", "Olegovich", "", "", &[], M)),
                years,
            ),
            &held,
            &NoTermFrequencies,
        );
        assert_eq!(
            range.fields[3].level,
            Level::Different,
            "{years:?}: {}",
            range.explain()
        );
    }
    // A stored record whose columns are swapped keys its year with its
    // given column's surname too: linked offline, the years are compared.
    let stored = MatchModel::default().score(
        &tokenizer.tokenize(&record((
            "Krynytsych",
            "Oleg",
            "Olegovich",
            "1984",
            "",
            &[],
            M,
        ))),
        &tokenizer.tokenize(&record((
            "Олег",
            "Криницич",
            "Олегович",
            "2008-07-02",
            "",
            &[],
            M,
        ))),
        &NoTermFrequencies,
    );
    assert_eq!(
        stored.fields[3].level,
        Level::Different,
        "{}",
        stored.explain()
    );
    let swapped_record = score(
        (
            "Євгенія",
            "Приходько",
            "Віталіївна",
            "2015-08-05",
            "",
            &[],
            F,
        ),
        ("PRIHODKO", "ÊVGENIA", "Vitaliivna", "2015-08", "", &[], F),
    );
    assert_eq!(
        swapped_record.fields[3].level,
        Level::Missing,
        "{}",
        swapped_record.explain()
    );
    assert_eq!(
        swapped_record.band,
        Band::Possible,
        "{}",
        swapped_record.explain()
    );
}

/// A known given name in the query never keys the year: "Вовка Петренко"
/// does not meet Володимир Вовк's family, nor "Богдана Коваль" Богдана
/// Богдан's, nor is "Хома Петренко" the twin of Іван Хома.
#[test]
fn a_given_name_whose_stem_is_a_surname_keys_no_year() {
    for (query, held) in [
        (
            ("Вовка", "Петренко", "2012-03-03"),
            ("Володимир", "Вовк", "2012-03-03"),
        ),
        (
            ("Богдана", "Коваль", "2010"),
            ("Богдана", "Богдан", "2010-05-05"),
        ),
        (
            ("Макарий", "Петренко", "1912"),
            ("Макарій", "Макар", "1912-01-01"),
        ),
        (
            ("Хома", "Петренко", "1950-03-04"),
            ("Іван", "Хома", "1950-03-04"),
        ),
    ] {
        let scored = score(
            (query.0, query.1, "", query.2, "", &[], M),
            (held.0, held.1, "", held.2, "", &[], M),
        );
        assert!(
            matches!(scored.band, Band::Weak),
            "{query:?} / {held:?}: {:?} {}",
            scored.band,
            scored.explain()
        );
    }
}

/// Ukrainian and Russian forms of one surname (the root's і for о or е, a
/// root translated: Медведак / Ведмедак), and a Latin surname read in a
/// spelling system whose marks it does not show, meet as another form with
/// the birth year compared (another year is weak): with a
/// patronymic or a full date they are strong, with a name and a year alone
/// possible (the same forms join different surnames too: Сотник read as
/// Сітник is Ситник). A surname one other letter apart is a typo: its year
/// is not compared.
#[test]
fn a_surname_in_another_language_or_spelling_system_is_another_form() {
    for (query, held) in [
        ("Кропенко", "Кріпенко"),
        ("Ветрова", "Вітрова"),
        ("Громович", "Грімович"),
        ("Kripenko", "Кропенко"),
        ("Долгишина", "Довгишина"),
        // Roots Russian documents write as another word, two letters or
        // more apart: these met nothing before.
        ("Медведак", "Ведмедак"),
        ("Снегирук", "Снігурук"),
        ("Трофимишин", "Трохимишин"),
        ("Pylypenko", "Филипенко"),
    ] {
        let with_father = score(
            ("Ольга", query, "Петрівна", "1991", "", &[], F),
            ("Ольга", held, "Петровна", "1991-04-14", "", &[], F),
        );
        assert_eq!(
            with_father.fields[1].level,
            Level::Equivalent,
            "{query} / {held}: {}",
            with_father.explain()
        );
        assert_eq!(
            with_father.fields[3].level,
            Level::Year,
            "{}",
            with_father.explain()
        );
        assert_eq!(
            with_father.band,
            Band::Strong,
            "{query} / {held}: {}",
            with_father.explain()
        );
        let year_only = score(
            ("Ольга", query, "", "1991", "", &[], F),
            ("Ольга", held, "Петровна", "1991-04-14", "", &[], F),
        );
        assert_eq!(
            year_only.band,
            Band::Possible,
            "{query} / {held}: {}",
            year_only.explain()
        );
        let other_year = score(
            ("Ольга", query, "", "1980", "", &[], F),
            ("Ольга", held, "Петровна", "1991-04-14", "", &[], F),
        );
        assert_eq!(
            other_year.band,
            Band::Weak,
            "{query} / {held}: {}",
            other_year.explain()
        );
    }
    // Polish and German ch = х, German s = з, Croatian h = х; the national
    // systems' ou = оу and ts = тс (ц and French у elsewhere), either way.
    for (given, query, held_given, held) in [
        ("Petro", "Chomak", "Петро", "Хомак"),
        ("Jana", "Sosulja", "Яна", "Зозуля"),
        ("Yuriy", "Haritonov", "Юрій", "Харитонов"),
        ("Petro", "Bilous", "Петро", "Білоус"),
        ("Petro", "Hnatskyi", "Петро", "Гнатський"),
        ("Петро", "Білоус", "Petro", "Bilous"),
        ("Петро", "Гнатський", "Petro", "Hnatskyi"),
    ] {
        let full_date = score(
            (given, query, "", "1973-06-21", "", &[], M),
            (held_given, held, "", "1973-06-21", "", &[], M),
        );
        assert_eq!(
            full_date.fields[1].level,
            Level::Equivalent,
            "{query} / {held}: {}",
            full_date.explain()
        );
        assert_eq!(
            full_date.band,
            Band::Strong,
            "{query} / {held}: {}",
            full_date.explain()
        );
        let year_only = score(
            (given, query, "", "1973", "", &[], M),
            (held_given, held, "", "1973-06-21", "", &[], M),
        );
        assert_eq!(
            year_only.fields[3].level,
            Level::Year,
            "{}",
            year_only.explain()
        );
        assert_eq!(
            year_only.band,
            Band::Possible,
            "{query} / {held}: {}",
            year_only.explain()
        );
    }
    let typo = score(
        ("Ольга", "Кропенко", "Петрівна", "1991", "", &[], F),
        ("Ольга", "Крапенко", "Петровна", "1991-04-14", "", &[], F),
    );
    assert_eq!(typo.fields[1].level, Level::Close, "{}", typo.explain());
    // The year is compared through the variant that met (Крапенко is one
    // of Кропенко's): with the father's name, the pair is strong.
    assert_eq!(typo.fields[3].level, Level::Year, "{}", typo.explain());
    assert_eq!(typo.band, Band::Strong, "{}", typo.explain());
}

/// A family name one letter from the list's, searched with a year only: the
/// query's variants key its year too, so the year is compared as it is for
/// a name typed right. The same year shows the person as possible; another
/// year is a namesake, weak and never shown; a full date that agrees is
/// the same date. Before, the year met nothing, and the pair was weak
/// whatever the year.
#[test]
fn a_name_one_letter_apart_compares_the_year() {
    for (query, held) in [
        ("Лаврук", "Ларук"),
        ("Бобрська", "Борбська"),
        ("Пирогов", "Пирогво"),
        ("Kozhumov", "Кожемов"),
    ] {
        let same_year = score(
            ("Олена", query, "", "1971", "", &[], F),
            ("Олена", held, "Марківна", "1971-02-01", "Харків", &[], F),
        );
        assert_eq!(
            same_year.fields[1].level,
            Level::Close,
            "{}",
            same_year.explain()
        );
        assert_eq!(
            same_year.fields[3].level,
            Level::Year,
            "{query} / {held}: {}",
            same_year.explain()
        );
        assert_eq!(
            same_year.band,
            Band::Possible,
            "{query} / {held}: {}",
            same_year.explain()
        );
        let other_year = score(
            ("Олена", query, "", "1972", "", &[], F),
            ("Олена", held, "Марківна", "1971-02-01", "Харків", &[], F),
        );
        assert_eq!(
            other_year.fields[3].level,
            Level::Different,
            "{query} / {held}: {}",
            other_year.explain()
        );
        assert_eq!(
            other_year.band,
            Band::Weak,
            "{query} / {held}: {}",
            other_year.explain()
        );
        let full_date = score(
            ("Олена", query, "", "1971-02-01", "", &[], F),
            ("Олена", held, "Марківна", "1971-02-01", "Харків", &[], F),
        );
        assert_eq!(
            full_date.fields[3].level,
            Level::Exact,
            "{query} / {held}: {}",
            full_date.explain()
        );
        assert_eq!(
            full_date.band,
            Band::Strong,
            "{query} / {held}: {}",
            full_date.explain()
        );
    }
}

/// A child kept under an adoptive surname, searched by the surname the
/// searcher knows with the adoptive one typed as another name: the year is
/// compared through that other name (before, the pair was weak and never
/// shown), a full date makes it strong, and another year keeps it weak.
#[test]
fn a_former_surname_typed_as_another_name_compares_the_year() {
    let kept = (
        "Андрій",
        "Хомський",
        "Тарасович",
        "2016-09-16",
        "",
        &[][..],
        M,
    );
    // As a node scores it: of the query's variants it keeps only those
    // that meet its stored names, here none.
    let at_node = |query: Row<'_>, held: Row<'_>| {
        let tokenizer = tokenizer();
        let query = tokenizer
            .tokenize_query(&record(query))
            .filtered(|slot, _| !matches!(slot, Slot::FamilyVariant | Slot::GivenVariant));
        MatchModel::default().score_query(
            &query,
            &tokenizer.tokenize(&record(held)),
            &NoTermFrequencies,
        )
    };
    let year_only = score(
        ("Андрей", "Снегирак", "", "2016", "", &["Хомский"], M),
        kept,
    );
    assert_level(&year_only, Field::FamilyName, Level::OtherName);
    assert_level(&year_only, Field::BirthDate, Level::Year);
    assert_eq!(year_only.band, Band::Possible, "{}", year_only.explain());
    let full_date = score(
        ("Андрей", "Снегирак", "", "16.09.2016", "", &["Хомский"], M),
        kept,
    );
    assert_eq!(full_date.band, Band::Strong, "{}", full_date.explain());
    let other_year = score(
        ("Андрей", "Снегирак", "", "2012", "", &["Хомский"], M),
        kept,
    );
    assert_eq!(other_year.band, Band::Weak, "{}", other_year.explain());
    // The years were compared through the other name, as a node keeps the
    // query too: they differ, and the hit says so (Галина Сербин of 2006,
    // once Коваль, is not the Галина Коваль of 1971).
    for other_year in [
        other_year,
        at_node(
            ("Андрей", "Снегирак", "", "2012", "", &["Хомский"], M),
            kept,
        ),
    ] {
        assert_eq!(
            other_year.fields[3].level,
            Level::Different,
            "{}",
            other_year.explain()
        );
    }
    // A range of years keys no variant's year: whether the other name keyed
    // them all is not told, and nothing is said of the years.
    let tokenizer = tokenizer();
    let range = MatchModel::default().score_query(
        &tokenizer.tokenize_query_years(
            &record(("Андрей", "Снегирак", "", "", "", &["Хомский"], M)),
            &[2010, 2011, 2012],
        ),
        &tokenizer.tokenize(&record(kept)),
        &NoTermFrequencies,
    );
    assert_eq!(range.fields[3].level, Level::Missing, "{}", range.explain());
    // The same day of another year: the years were compared through the
    // other name, and differ.
    let same_day_other_year = at_node(
        ("Андрей", "Снегирак", "", "16.09.2015", "", &["Хомский"], M),
        kept,
    );
    assert_level(&same_day_other_year, Field::BirthDate, Level::OtherYear);
    assert_ne!(
        same_day_other_year.band,
        Band::Strong,
        "{}",
        same_day_other_year.explain()
    );
    // A given name among the other names keys no year: Богдан's year does
    // not meet the family Богдан.
    // Nor does a given name typed with a former surname in one field: the
    // year is keyed with Хомский, not with Петро.
    for other in ["Богдан", "Петро Хомский"] {
        let held_family = if other == "Богдан" {
            "Богдан"
        } else {
            "Петро"
        };
        let given_as_other = score(
            ("Петро", "Снегирак", "", "2016", "", &[other], M),
            ("Петро", held_family, "", "2016-09-16", "", &[], M),
        );
        assert_eq!(
            given_as_other.fields[3].level,
            Level::Missing,
            "{other}: {}",
            given_as_other.explain()
        );
    }
    // An other name is keyed in all the forms a stored surname takes
    // (-ев/-ов, readings): Ковалев typed meets Ковальова's date.
    let other_form = at_node(
        ("Ірина", "Снегирак", "", "05.03.2011", "", &["Ковалев"], F),
        ("Ірина", "Ковальова", "Петрівна", "2011-03-05", "", &[], F),
    );
    assert_level(&other_form, Field::BirthDate, Level::Exact);
    assert_eq!(other_form.band, Band::Strong, "{}", other_form.explain());
    // And in the other language with the stem's second vowel changed too:
    // Пасечник typed, Пасічник kept, the year compared.
    let second_vowel = at_node(
        ("Наталья", "Турчин", "", "2009", "", &["Пасечник"], F),
        ("Наталія", "Пасічник", "Іванівна", "19.01.2009", "", &[], F),
    );
    assert_level(&second_vowel, Field::BirthDate, Level::Year);
    assert_eq!(
        second_vowel.band,
        Band::Possible,
        "{}",
        second_vowel.explain()
    );
    // A full date with a given name among the other names: that name keys
    // no date, so day and month alone do not say the years differ.
    let unkeyed = score(
        ("Петро", "Снегирак", "", "16.09.2012", "", &["Богдан"], M),
        ("Петро", "Богдан", "", "2016-09-16", "", &[], M),
    );
    assert_level(&unkeyed, Field::BirthDate, Level::DayMonth);
}

/// Every token as common as `share` among `people` records.
struct Uniform {
    share: f64,
    people: f64,
}

impl TermFrequencies for Uniform {
    fn frequency(&self, _token: Token) -> Option<f64> {
        Some(self.share)
    }

    fn population(&self) -> Option<f64> {
        Some(self.people)
    }
}

/// A record kept without a birth date: strong when almost no one else of
/// the list shares the name, possible when many could, and never when the
/// places disagree.
#[test]
fn a_record_without_a_date_is_strong_only_for_a_rare_name() {
    let scored = |query: Row<'_>, held: Row<'_>, people: f64| {
        let tokenizer = tokenizer();
        MatchModel::default().score_query(
            &tokenizer.tokenize_query(&record(query)),
            &tokenizer.tokenize(&record(held)),
            &Uniform {
                share: 1e-4,
                people,
            },
        )
    };
    let query = ("Павло", "Гаврилишин", "", "1997-08-22", "", &[][..], M);
    let held = ("Павел", "Гаврилишин", "", "", "Генічеськ", &[][..], M);
    let rare = scored(query, held, 20_000.0);
    assert_eq!(rare.fields[3].level, Level::Missing, "{}", rare.explain());
    assert_eq!(rare.band, Band::Strong, "{}", rare.explain());
    // Among ten million records, a tenth of a namesake is expected: likely
    // the person, not strong.
    let uncommon = scored(query, held, 1e7);
    assert_eq!(uncommon.band, Band::Possible, "{}", uncommon.explain());
    assert!(uncommon.probability > 0.75, "{}", uncommon.probability);
    // Among a hundred million records, one namesake is expected: as likely
    // as not, and still shown.
    let common = scored(query, held, 1e8);
    assert_eq!(common.band, Band::Possible, "{}", common.explain());
    assert!(
        common.probability < uncommon.probability && common.probability <= 0.5,
        "{} then {}",
        uncommon.probability,
        common.probability
    );
    let elsewhere = scored(
        ("Павло", "Гаврилишин", "", "1997", "Одеса", &[][..], M),
        held,
        20_000.0,
    );
    assert_eq!(elsewhere.band, Band::Possible, "{}", elsewhere.explain());
}

/// Chosen tokens at one share, every other token at another.
struct Shares {
    chosen: Vec<Token>,
    share: f64,
    others: f64,
    people: f64,
}

impl TermFrequencies for Shares {
    fn frequency(&self, token: Token) -> Option<f64> {
        Some(if self.chosen.contains(&token) {
            self.share
        } else {
            self.others
        })
    }

    fn population(&self) -> Option<f64> {
        Some(self.people)
    }
}

/// A family name one letter apart says less where the names are common: a
/// typo of a common name (Ковалнко) less than one of a name few carry
/// (Кабаннеко), and a misspelling one record alone carries (Павлиишн) no
/// more than the common name it misspells. A rare name says no more than
/// the level does: the name typed may be another surname.
#[test]
fn a_family_name_one_letter_apart_weighs_by_how_common_the_names_are() {
    let tokenizer = tokenizer();
    let family_weight = |query: Row<'_>, held: Row<'_>, common: &str| {
        let common = tokenizer.tokenize(&record(("", common, "", "", "", &[], M)));
        let scored = MatchModel::default().score_query(
            &tokenizer.tokenize_query(&record(query)),
            &tokenizer.tokenize(&record(held)),
            &Shares {
                chosen: common.slot(Slot::FamilyWhole).to_vec(),
                share: 0.01,
                others: 1e-4,
                people: 20_000.0,
            },
        );
        assert_eq!(scored.fields[1].level, Level::Close, "{}", scored.explain());
        (scored.fields[1].weight, scored.band)
    };
    let (rare, _) = family_weight(
        ("Иван", "Кабаннеко", "", "24.08.2018", "", &[], M),
        ("Іван", "Кабаненко", "Назарович", "24.08.2018", "", &[], M),
        "Коваленко",
    );
    let (common, _) = family_weight(
        ("Иван", "Ковалнко", "", "24.08.2018", "", &[], M),
        ("Іван", "Коваленко", "Назарович", "24.08.2018", "", &[], M),
        "Коваленко",
    );
    let (misspelt, band) = family_weight(
        ("Тетяна", "Павлишина", "", "2017", "", &[], F),
        ("Тетяна", "Павлиишн", "Єгорівна", "2017-06-26", "", &[], F),
        "Павлишин",
    );
    assert!(rare > common + 3.0, "{rare} {common}");
    assert!(rare <= (0.08f64 / 0.001).log2() + 1e-9, "{rare}");
    assert!((misspelt - common).abs() < 1e-9, "{misspelt} {common}");
    assert_ne!(band, Band::Strong);
}

/// A given name the tables do not know, one letter from a known one, is
/// that name mistyped only against another given name: a known given name
/// one letter from a surname in swapped columns (Петро / Петров) is the
/// surname, weighed as any name one letter apart.
#[test]
fn a_known_name_one_letter_from_a_surname_is_not_a_typo_of_it() {
    let mistyped = score(
        ("Kladiya", "Овсенко", "", "2011", "", &[], F),
        ("Клавдія", "Овсенко", "Іванівна", "2011-04-04", "", &[], F),
    );
    assert_eq!(
        mistyped.fields[0].level,
        Level::Close,
        "{}",
        mistyped.explain()
    );
    let crossed = score(
        ("Петро", "Ковальчук", "", "1990-01-01", "", &[], M),
        ("Ковальчук", "Петров", "", "1990-01-01", "", &[], M),
    );
    assert_eq!(
        crossed.fields[0].level,
        Level::SwappedColumns,
        "{}",
        crossed.explain()
    );
    assert!(
        crossed.fields[0].weight + 1.0 < mistyped.fields[0].weight,
        "{} against {}",
        crossed.fields[0].weight,
        mistyped.fields[0].weight
    );
}

/// A name and a year in swapped columns (kept so by the list; a query
/// typed so is put right before it is tokenized): the namesakes expected
/// are counted with the surname's share and the given name's, whichever
/// column each was written in. A common given name with a rare surname is
/// strong in a list of 40,000; in a list of four million, where a few
/// namesakes are expected, possible.
#[test]
fn namesakes_in_swapped_columns_count_the_surname_as_surname() {
    let tokenizer = tokenizer();
    let oleg = tokenizer.tokenize(&record(("Олег", "Олег", "", "", "", &[], M)));
    let query = tokenizer.tokenize_query(&record(("Oleg", "Krynytsych", "", "2008", "", &[], M)));
    let held = tokenizer.tokenize(&record(("Криницич", "Олег", "", "2008-07-02", "", &[], M)));
    let scored = |people: f64| {
        MatchModel::default().score_query(
            &query,
            &held,
            &Shares {
                chosen: oleg.iter().map(|(_, token)| token).collect(),
                share: 0.01,
                others: 1e-4,
                people,
            },
        )
    };
    let rare = scored(40_000.0);
    assert_eq!(
        rare.fields[1].level,
        Level::SwappedColumns,
        "{}",
        rare.explain()
    );
    assert_eq!(rare.band, Band::Strong, "{}", rare.explain());
    let common = scored(4_000_000.0);
    assert_eq!(common.band, Band::Possible, "{}", common.explain());
}

/// A name and a year in a list whose family name has others born that
/// year (children of a few birth years): the namesakes expected count them,
/// not only an even spread over seventy years.
#[test]
fn namesakes_count_the_family_names_others_of_the_year() {
    struct BySlot {
        family_year: Vec<Token>,
        family_year_share: f64,
    }
    impl TermFrequencies for BySlot {
        fn frequency(&self, token: Token) -> Option<f64> {
            Some(if self.family_year.contains(&token) {
                self.family_year_share
            } else {
                // Hlib and Oliinyk: a thousandth of the list each.
                0.001
            })
        }
        fn population(&self) -> Option<f64> {
            Some(40_000.0)
        }
    }
    let tokenizer = tokenizer();
    let query = tokenizer.tokenize_query(&record(("Гліб", "Олійник", "", "2016", "", &[], M)));
    let held = tokenizer.tokenize(&record(("Гліб", "Олійник", "", "2016-03-15", "", &[], M)));
    let scored = |born_that_year: f64| {
        MatchModel::default().score_query(
            &query,
            &held,
            &BySlot {
                family_year: held.slot(Slot::FamilyYear).to_vec(),
                family_year_share: born_that_year / 40_000.0,
            },
        )
    };
    let alone = scored(1.0);
    assert_eq!(alone.band, Band::Strong, "{}", alone.explain());
    // Sixty Oliinyks born in 2016, each a Hlib one time in a thousand:
    // 0.06 namesakes expected, where an even spread would expect 0.0006.
    let crowded = scored(60.0);
    assert_eq!(crowded.band, Band::Possible, "{}", crowded.explain());
}

/// A namesake born on another day of another year is not the person,
/// however rare the name: on the synthetic partners none of a hundred such
/// "possible" hits was (`poshuk bench search`), so the pair is weak and
/// never shown. A year typed wrong with the right day and month stays
/// possible, and a date that differs in the day only is still shown, but
/// not strong.
#[test]
fn a_namesake_of_another_date_is_not_shown() {
    let rare = Uniform {
        share: 1e-5,
        people: 40_000.0,
    };
    let scored = |query: Row<'_>, held: Row<'_>| {
        let tokenizer = tokenizer();
        MatchModel::default().score_query(
            &tokenizer.tokenize_query(&record(query)),
            &tokenizer.tokenize(&record(held)),
            &rare,
        )
    };
    let held = ("Тарас", "Ярошевський", "", "2009-04-17", "", &[][..], M);
    let other_date = scored(("Тарас", "Ярошевський", "", "1996-11-03", "", &[], M), held);
    assert_eq!(
        other_date.fields[3].level,
        Level::Different,
        "{}",
        other_date.explain()
    );
    assert_eq!(other_date.band, Band::Weak, "{}", other_date.explain());
    let other_year = scored(("Тарас", "Ярошевський", "", "1996", "", &[], M), held);
    assert_eq!(other_year.band, Band::Weak, "{}", other_year.explain());
    let year_typed_wrong = scored(("Тарас", "Ярошевський", "", "2008-04-17", "", &[], M), held);
    assert_eq!(
        year_typed_wrong.band,
        Band::Possible,
        "{}",
        year_typed_wrong.explain()
    );
    // The same year on another day: shown, never strong (what a namesake of
    // that year has, however rare the name). With only the year typed, the
    // same year confirms the pair.
    let day_typed_wrong = scored(("Тарас", "Ярошевський", "", "2009-04-18", "", &[], M), held);
    assert_eq!(day_typed_wrong.fields[3].level, Level::Year);
    assert_eq!(
        day_typed_wrong.band,
        Band::Possible,
        "{}",
        day_typed_wrong.explain()
    );
    let year_only = scored(("Тарас", "Ярошевський", "", "2009", "", &[], M), held);
    assert_eq!(year_only.band, Band::Strong, "{}", year_only.explain());
}

/// A surname in the given-name column is read in every spelling system, as
/// the family column's is (Hmarenko: Croatian h = х; Voronichin: French ch
/// = ш), and a former surname typed as another name in the other language
/// (Емельяненко for Omeljanenko): the year keyed with these readings and
/// forms is compared. Before, these pairs had no year and were weak.
#[test]
fn a_surname_in_the_given_column_or_typed_as_another_name_is_read_every_way() {
    for (query, held) in [
        (
            ("Hmarenko", "Svetlana", "", "2005", "", &[][..], F),
            (
                "Світлана",
                "Хмаренко",
                "Дмитрівна",
                "2005-04-03",
                "",
                &[][..],
                F,
            ),
        ),
        (
            ("Voronichin", "Ivan", "", "1981", "", &[][..], M),
            (
                "Іван",
                "Воронишин",
                "Лук'янович",
                "1981-06-12",
                "",
                &[][..],
                M,
            ),
        ),
        (
            ("Лариса", "Лаврак", "", "2009", "", &["Емельяненко"][..], F),
            ("Larysa", "Omeljanenko", "", "2009-11-10", "", &[][..], F),
        ),
    ] {
        year_compared_possible_and_namesake_weak(query, held);
    }
}

/// A name and a year alone that meet through another form or reading: the
/// year is compared (the same year is possible, a name and a year naming no
/// one for sure), and a namesake of another year is weak.
fn year_compared_possible_and_namesake_weak(query: Row<'_>, held: Row<'_>) {
    let found = score(query, held);
    assert_eq!(
        found.fields[3].level,
        Level::Year,
        "{}: {}",
        query.1,
        found.explain()
    );
    assert_eq!(
        found.band,
        Band::Possible,
        "{}: {}",
        query.1,
        found.explain()
    );
    let mut other_year = query;
    other_year.3 = "1999";
    let namesake = score(other_year, held);
    assert_eq!(
        namesake.band,
        Band::Weak,
        "{}: {}",
        query.1,
        namesake.explain()
    );
}

/// French spelling writes ж as `j` (Tchijovitch = Чижович, Jouravel =
/// Журавель), where every other system's `j` is й. Stored names keep their
/// tokenizer version's readings, so the query reads it: a French query keys
/// its date with the reading, and a Cyrillic query's variants, finished as
/// skeletons are (Чижович, qijeviq, less its ж is qieviq, written qeviq),
/// meet the French name as stored. Either way the year is compared: the
/// same year is possible, another year weak.
#[test]
fn a_french_j_is_read_as_zhe_by_a_query() {
    for (query, held) in [
        (
            ("ANDRUS", "TCHIJOVITCH", "", "1955", "", &[][..], M),
            (
                "Андрій",
                "Чижович",
                "Ярославович",
                "1955-05-07",
                "",
                &[][..],
                M,
            ),
        ),
        (
            ("Андрій", "Чижович", "", "1955", "", &[][..], M),
            ("ANDRUS", "TCHIJOVITCH", "", "1955-05-07", "", &[][..], M),
        ),
        (
            ("Irina", "Jouravel", "", "1988", "", &[][..], F),
            ("Ірина", "Журавель", "", "1988-02-03", "", &[][..], F),
        ),
        (
            ("Ірина", "Журавель", "", "1988", "", &[][..], F),
            ("Irina", "Jouravel", "", "1988-02-03", "", &[][..], F),
        ),
    ] {
        year_compared_possible_and_namesake_weak(query, held);
    }
}

/// A pair the dates cannot confirm is held below strong; a field that
/// disagrees still counts against it. Two fathers the tables know by
/// different names make a namesake, never shown; a father's name the tables
/// do not know (a typo) is not another father.
#[test]
fn what_disagrees_counts_below_the_cap() {
    let query = ("Віра", "Гайдамакук", "Олегівна", "2005", "", &[][..], F);
    let same = score(
        query,
        ("Віра", "Гайдамакук", "Олегівна", "2005-02-12", "", &[], F),
    );
    assert_eq!(same.band, Band::Strong, "{}", same.explain());
    let other_father = score(
        query,
        ("Віра", "Гайдамакук", "Петрівна", "2005-02-12", "", &[], F),
    );
    assert_eq!(other_father.fields[2].level, Level::Different);
    assert_eq!(other_father.band, Band::Weak, "{}", other_father.explain());
    let typo = score(
        query,
        ("Віра", "Гайдамакук", "Олгеівна", "2005-02-12", "", &[], F),
    );
    assert_eq!(typo.fields[2].level, Level::Different);
    assert_eq!(typo.band, Band::Possible, "{}", typo.explain());
}

/// A pair resting on a name and a year that other records of the list
/// share is one of them: strong becomes possible, its probability the
/// share of one of them (one of three: odds of ½ to 3), and it stays
/// shown. A pair that a patronymic confirms is not held.
#[test]
fn counted_namesakes_hold_a_pair_resting_on_a_name_at_their_share() {
    let model = MatchModel::default();
    let mut strong = score(
        ("Гліб", "Олійник", "", "2016", "", &[], M),
        ("Гліб", "Олійник", "", "2016-05-02", "", &[], M),
    );
    assert_eq!(strong.band, Band::Strong, "{}", strong.explain());
    let mut alone = strong.clone();
    model.hold_counted_namesakes(&mut alone, 1);
    assert_eq!(alone.band, Band::Strong);
    model.hold_counted_namesakes(&mut strong, 3);
    assert_eq!(strong.band, Band::Possible);
    assert!(
        (strong.probability - 1.0 / 7.0).abs() < 1e-9,
        "{}",
        strong.probability
    );
    let mut dateless = score(
        ("Гліб", "Олійник", "", "2016", "", &[], M),
        ("Гліб", "Олійник", "", "", "", &[], M),
    );
    assert_eq!(
        dateless.band,
        Band::Possible,
        "{} {}",
        dateless.probability,
        dateless.explain()
    );
    assert!(dateless.probability > 0.5, "{}", dateless.probability);
    model.hold_counted_namesakes(&mut dateless, 2);
    assert_eq!(dateless.band, Band::Possible);
    assert!((dateless.probability - 0.2).abs() < 1e-9);
    // A birth place that differs puts it below: not shown.
    let mut elsewhere = score(
        ("Гліб", "Олійник", "", "2016", "Одеса", &[], M),
        ("Гліб", "Олійник", "", "2016-05-02", "Харків", &[], M),
    );
    model.hold_counted_namesakes(&mut elsewhere, 3);
    assert_eq!(elsewhere.band, Band::Weak, "{}", elsewhere.explain());
    let mut fathered = score(
        ("Гліб", "Олійник", "Петрович", "2016", "", &[], M),
        ("Гліб", "Олійник", "Петрович", "2016-05-02", "", &[], M),
    );
    let before = fathered.probability;
    model.hold_counted_namesakes(&mut fathered, 3);
    assert_eq!(fathered.band, Band::Strong);
    assert_eq!(fathered.probability, before);
}

/// Another father's name with the same birthday: a child whose father's
/// name changed on adoption stays possible. A place elsewhere never ranks a
/// record above one whose place is not known.
#[test]
fn another_father_with_the_same_birthday_and_places_rank_honestly() {
    let adopted = score(
        ("Віра", "Гайдамакук", "Олегівна", "2005-02-12", "", &[], F),
        ("Віра", "Гайдамакук", "Петрівна", "2005-02-12", "", &[], F),
    );
    assert_eq!(adopted.fields[2].level, Level::Different);
    assert_eq!(adopted.band, Band::Possible, "{}", adopted.explain());
    for people in [1e5, 1e7, 1e8, 1e9] {
        let scored = |held: Row<'_>| {
            let tokenizer = tokenizer();
            MatchModel::default().score_query(
                &tokenizer.tokenize_query(&record((
                    "Віра",
                    "Гайдамакук",
                    "",
                    "2005",
                    "Харків",
                    &[],
                    F,
                ))),
                &tokenizer.tokenize(&record(held)),
                &Uniform {
                    share: 1e-4,
                    people,
                },
            )
        };
        let unknown = scored(("Віра", "Гайдамакук", "", "", "", &[], F));
        let elsewhere = scored(("Віра", "Гайдамакук", "", "", "Одеса", &[], F));
        assert_eq!(elsewhere.fields[4].level, Level::Different);
        if people == 1e7 {
            // A rare name among ten million, born elsewhere: still shown.
            assert_eq!(elsewhere.band, Band::Possible, "{}", elsewhere.explain());
        }
        assert!(
            elsewhere.probability < unknown.probability,
            "{people}: {} elsewhere, {} unknown",
            elsewhere.probability,
            unknown.probability
        );
    }
}

/// Whatever a query's bounds cut, a surname in its given-name column never
/// makes the same person's date look like another: against the person's
/// record with the same date, the date is never "different" or "another
/// year", in whichever spelling system the surname was typed, with a year
/// or a full date.
#[test]
fn a_surname_in_the_given_column_never_makes_the_same_date_differ() {
    let tokenizer = tokenizer();
    let cases = [
        ("Chartschenko", "Харченко", F),
        ("Hmarenko", "Хмаренко", F),
        ("Krynytsych", "Криницич", M),
        ("Voronichin", "Воронишин", M),
        ("Choumskaia", "Шумська", F),
        ("Sintschenko", "Зінченко", M),
        ("Tchijovitch", "Чижович", M),
        ("Kovalenko", "Коваленко", M),
    ];
    for (typed, held_name, sex) in cases {
        let given = if sex == F { "Ольга" } else { "Олег" };
        for (query_date, held_date) in [
            ("1990", "06.05.1990"),
            ("1990-05-06", "06.05.1990"),
            ("1990-05", "1990-05-06"),
        ] {
            for other_names in [&[][..], &["Коваль"][..]] {
                let query = tokenizer.tokenize_query(&record((
                    typed,
                    given,
                    "",
                    query_date,
                    "",
                    other_names,
                    sex,
                )));
                let held =
                    tokenizer.tokenize(&record((given, held_name, "", held_date, "", &[], sex)));
                let scored = MatchModel::default().score_query(&query, &held, &NoTermFrequencies);
                assert!(
                    !matches!(scored.fields[3].level, Level::Different | Level::OtherYear),
                    "{typed} / {held_name}, {query_date}: {}",
                    scored.explain()
                );
                // Without another name typed, the year keyed with the
                // surname meets: the same date reads as the same.
                if other_names.is_empty() {
                    assert!(
                        matches!(scored.fields[3].level, Level::Year | Level::Exact),
                        "{typed} / {held_name}, {query_date}: {}",
                        scored.explain()
                    );
                }
            }
        }
    }
}

/// A query's variants as a node keeps them: those that are one of its
/// stored names (here, the one record's).
fn as_a_node_keeps(query: &TokenRecord, stored: &TokenRecord) -> TokenRecord {
    let names: Vec<Token> = [Slot::FamilyWhole, Slot::GivenWhole, Slot::AliasWhole]
        .iter()
        .flat_map(|&slot| stored.slot(slot).to_vec())
        .collect();
    query.filtered(|slot, token| {
        !matches!(
            slot,
            Slot::GivenVariant | Slot::FamilyVariant | Slot::FamilyForm
        ) || names.contains(&token)
    })
}

/// Typing slips a searcher makes: one inside a letter group the skeleton
/// reads as one sound (Orlihc for Orlich is two edits of the skeleton, one
/// of the letters), one in each name, one in a surname typed in the
/// given-name column. Each meets the record by a blocking key, as a node
/// keeps the query's variants, and no name reads as different.
#[test]
fn typing_slips_meet_the_record_one_letter_apart() {
    let cases: &[(Row<'_>, Row<'_>, Band)] = &[
        (
            ("Svetlana", "Orlihc", "", "2008-06-24", "", &[], F),
            ("Світлана", "Орлич", "", "2008-06-24", "", &[], F),
            Band::Strong,
        ),
        (
            ("Aleksandr", "Levkovcih", "", "03.09.2010", "", &[], M),
            ("Олександр", "Левкович", "", "03.09.2010", "", &[], M),
            Band::Strong,
        ),
        (
            ("Polina", "Stelmashhcuk", "", "2012-05-09", "", &[], F),
            ("Полина", "Стелмащук", "", "09.05.2012", "", &[], F),
            Band::Strong,
        ),
        (
            ("Vevolod", "Gromihin", "", "2017-12-12", "", &[], M),
            (
                "Всеволод",
                "Громишин",
                "Кузьмич",
                "12.12.2017",
                "Умань",
                &[],
                M,
            ),
            Band::Possible,
        ),
        (
            ("Ykuhymenko", "Nestor", "", "1991", "", &[], M),
            ("Нестор", "Юхименко", "", "07.09.1991", "", &[], M),
            // Without the list's frequencies a swapped pair with a year
            // alone stays weak; a node's make it possible.
            Band::Weak,
        ),
    ];
    meet_one_letter_apart(cases);
}

/// Each query meets its record by a blocking key, as a node keeps the
/// query's variants, reaches at least the band given, and no name reads as
/// different.
fn meet_one_letter_apart(cases: &[(Row<'_>, Row<'_>, Band)]) {
    let tokenizer = tokenizer();
    for &(query, held, band) in cases {
        let stored = tokenizer.tokenize(&record(held));
        let kept = as_a_node_keeps(&tokenizer.tokenize_query(&record(query)), &stored);
        let query_keys = crate::blocking::blocking_keys(&kept);
        assert!(
            crate::blocking::blocking_keys(&stored)
                .iter()
                .any(|key| query_keys.binary_search(key).is_ok()),
            "{} {} meets {} {} by no blocking key",
            query.0,
            query.1,
            held.0,
            held.1
        );
        let scored = MatchModel::default().score_query(&kept, &stored, &NoTermFrequencies);
        assert!(
            scored.band >= band,
            "{} {}: {} {}",
            query.0,
            query.1,
            scored.probability,
            scored.explain()
        );
        assert!(
            !scored
                .fields
                .iter()
                .any(|field| field.level == Level::Different),
            "{} {}: {}",
            query.0,
            query.1,
            scored.explain()
        );
    }
}

/// Slips the list made, and spellings more than one letter from the
/// skeleton typed: a given name mistyped in the list's language (Срегій,
/// Олекасндр), two letters from Sergei or Aleksandr but one from Сергій or
/// Олександр; a slip that doubled a letter (Гообец: Горобець less its р,
/// whose skeleton reads the double away); a national system's `ou` read
/// apart and then in Russian (Bilous = Білоус = Белоус); a Polish `ch` read
/// as х and then in Russian (Chłibuk = Хлібук = Хлебук); a slip in the
/// other language's form of the name kept (Кроепнко: Кропенко, whose
/// Ukrainian form is Кріпенко; Хлебк: one edit from Хлібк, the other form,
/// and two from Khlibuk).
#[test]
fn slips_of_the_list_and_other_systems_meet_the_record() {
    meet_one_letter_apart(&[
        (
            ("Андрей", "Кроепнко", "", "1972", "Макеевка", &[], M),
            (
                "Андрій",
                "Кріпенко",
                "Миколайович",
                "20.08.1972",
                "Макіївка",
                &[],
                M,
            ),
            Band::Strong,
        ),
        (
            ("Юлия", "Хлебк", "", "2010", "г. Симферополь", &[], F),
            (
                "Yulia",
                "Khlibuk",
                "Andriivna",
                "2010-06-22",
                "Aqmescit, Ukraine",
                &[],
                F,
            ),
            Band::Strong,
        ),
        (
            ("SERGEÏ", "KLIMENTITCH", "", "1989", "", &[], M),
            (
                "Срегій",
                "Климентич",
                "Германович",
                "",
                "Мелітополь",
                &[],
                M,
            ),
            Band::Weak,
        ),
        (
            ("Александр", "Прокопак", "", "1946", "", &[], M),
            (
                "Олекасндр",
                "Прокопак",
                "Савелійович",
                "1946-02-17",
                "",
                &[],
                M,
            ),
            Band::Possible,
        ),
        (
            ("Сергей", "Гообец", "", "03.11.2000", "", &[], M),
            (
                "Сергій",
                "Горобець",
                "Вадимович",
                "2000-11-03",
                "Керч",
                &[],
                M,
            ),
            Band::Strong,
        ),
        (
            ("OLENA", "BILOUS", "", "07/10/1972", "", &[], F),
            (
                "Елена",
                "Белоус",
                "Ильинична",
                "07.10.1972",
                "г. Стаханов",
                &[],
                F,
            ),
            Band::Strong,
        ),
        (
            ("Arsenij", "Chłibuk", "", "1980", "", &[], M),
            ("Арсений", "Хлебук", "Андреевич", "09.09.1980", "", &[], M),
            Band::Possible,
        ),
        // A slip in a French spelling, undone and read the French way:
        // Jokuov is Joukov (`j` = ж), MIKHAÏILCHIN is Mikhaïlichin (`ch` =
        // ш); the year compared through the variant.
        (
            ("Vasia", "Jokuov", "", "1966-07-22", "", &[], M),
            ("Василь", "Жуков", "", "22.07.1966", "Борислав", &[], M),
            Band::Strong,
        ),
        (
            ("ALEKSANDR", "MIKHAÏILCHIN", "", "01/05/1998", "", &[], M),
            (
                "Олександр",
                "Михайлишин",
                "Фадейович",
                "01.05.1998",
                "",
                &[],
                M,
            ),
            Band::Strong,
        ),
    ]);
}

/// Another form of the family name that its letters attest, kept without a
/// birth date: an equivalent form, not a typo, and shown as possible where
/// the name is not common, as the same name kept without a date is (Юлия
/// Олейник searched, Юлія Олійник kept; Серук, Сірук; Kropenko, Кріпенко).
/// Met only as a variant a letter away, as before the query carried its
/// forms apart, it was weak. Guesses stay so: a name a letter away that is
/// no form of it (Олейнек), a Latin `h` read as х (Homenko may be Гоменко),
/// a Latin `i` read as і (Lisenko is Лисенко, whose Лесенко is another
/// family), a Cyrillic word as ISO 9 writes it without marks (Хоменко as
/// Homenko, Гоменко), a suffix's vowel (Петров, Петрів).
#[test]
fn another_form_of_the_name_kept_without_a_date_is_a_lead() {
    let tokenizer = tokenizer();
    let scored = |query: Row<'_>, held: Row<'_>| {
        let stored = tokenizer.tokenize(&record(held));
        // Twenty records of 5,000 carry each name: the names alone are
        // below even odds.
        let frequencies = Shares {
            chosen: stored.iter().map(|(_, token)| token).collect(),
            share: 0.004,
            others: 1e-4,
            people: 5_000.0,
        };
        let kept = as_a_node_keeps(&tokenizer.tokenize_query(&record(query)), &stored);
        let as_form = MatchModel::default().score_query(&kept, &stored, &frequencies);
        let as_variant = MatchModel::default().score_query(
            &kept.filtered(|slot, _| slot != Slot::FamilyForm),
            &stored,
            &frequencies,
        );
        (as_form, as_variant)
    };
    for (query, held) in [
        (
            ("Юлия", "Олейник", "", "2002-12-07", "", &[][..], F),
            ("Юлія", "Олійник", "Дмитрівна", "", "Маріуполь", &[][..], F),
        ),
        (
            ("Татьяна", "Серук", "", "28.08.2015", "", &[], F),
            ("Tatiana", "Siruk", "Askołdiwna", "", "Lutuhyne", &[], F),
        ),
        (
            ("Olga", "Kropenko", "", "1991", "", &[], F),
            ("Ольга", "Кріпенко", "Петрівна", "", "", &[], F),
        ),
    ] {
        let (as_form, as_variant) = scored(query, held);
        assert_level(&as_form, Field::FamilyName, Level::Equivalent);
        assert_shown_as_lead(&as_form);
        assert_level(&as_variant, Field::FamilyName, Level::Close);
        assert_eq!(as_variant.band, Band::Weak, "{}", as_variant.explain());
    }
    for (query, held) in [
        (
            ("Юлия", "Олейник", "", "2002-12-07", "", &[][..], F),
            ("Юлія", "Олейнек", "Дмитрівна", "", "Маріуполь", &[][..], F),
        ),
        (
            ("Petro", "Homenko", "", "1973", "", &[], M),
            ("Петро", "Хоменко", "", "", "", &[], M),
        ),
        (
            ("Petro", "Lisenko", "", "1973", "", &[], M),
            ("Петро", "Лесенко", "", "", "", &[], M),
        ),
        // A Cyrillic х or ш as ISO 9 writes them without marks reads as г
        // or с: Хоменко is not Гоменко, Шкляр not Скляр.
        (
            ("Петро", "Хоменко", "", "1973", "", &[], M),
            ("Петро", "Гоменко", "", "", "", &[], M),
        ),
        (
            ("Петро", "Шкляр", "", "1973", "", &[], M),
            ("Петро", "Скляр", "", "", "", &[], M),
        ),
        // A suffix is no root: Петров is not Петрів.
        (
            ("Петро", "Петров", "", "1973", "", &[], M),
            ("Петро", "Петрів", "", "", "", &[], M),
        ),
    ] {
        let (guessed, _) = scored(query, held);
        assert_ne!(
            guessed.fields[1].level,
            Level::Equivalent,
            "{}",
            guessed.explain()
        );
        assert_eq!(guessed.band, Band::Weak, "{}", guessed.explain());
    }
}

/// A former surname typed by the searcher, met as the family name of a
/// record kept without a date, weighs by how common it is, as a family name
/// does: one few carry makes the pair possible, one many carry leaves it
/// weak.
#[test]
fn a_former_surname_weighs_by_how_common_it_is() {
    let tokenizer = tokenizer();
    let held = tokenizer.tokenize(&record((
        "Віктор",
        "Лозовишин",
        "Андрійович",
        "",
        "Світлодарськ",
        &[],
        M,
    )));
    let query = tokenizer.tokenize_query(&record((
        "Виктор",
        "Овсенко",
        "",
        "2020-03-18",
        "",
        &["Лозовишин"],
        M,
    )));
    let scored = MatchModel::default().score_query(
        &query,
        &held,
        &Shares {
            chosen: held.slot(Slot::GivenClass).to_vec(),
            share: 0.04,
            others: 1.0 / 20_000.0,
            people: 20_000.0,
        },
    );
    assert_eq!(scored.band, Band::Possible, "{}", scored.explain());
    assert!(
        scored
            .fields
            .iter()
            .any(|field| field.field == Field::FamilyName && field.level == Level::OtherName),
        "{}",
        scored.explain()
    );
    // The same name carried by one record in a hundred.
    let common = MatchModel::default().score_query(
        &query,
        &held,
        &Shares {
            chosen: held.slot(Slot::GivenClass).to_vec(),
            share: 0.04,
            others: 0.01,
            people: 20_000.0,
        },
    );
    // Less likely the person, and says so: below even odds (shown as a lead,
    // since nothing rules it out, where it is one in ten or more).
    assert!(
        common.probability < 0.5 && common.probability < scored.probability,
        "{} against {}",
        common.probability,
        scored.probability
    );
}

/// A child kept under an adoptive surname with the former one noted among
/// the other names: a search by the former surname and the year meets the
/// record by a blocking key and compares the year (the record keys its date
/// with its other surnames too), so the same year reads "same year" and a
/// full date "same date". A given name among the other names keys nothing.
#[test]
fn a_former_surname_noted_by_the_holder_compares_the_year() {
    let held = (
        "Сергей",
        "Демченко",
        "Николаевич",
        "2015-11-16",
        "",
        &["Галичишин"][..],
        M,
    );
    let tokenizer = tokenizer();
    let stored = tokenizer.tokenize(&record(held));
    let stored_keys = crate::blocking::blocking_keys(&stored);
    for (date, level) in [("2015", Level::Year), ("16.11.2015", Level::Exact)] {
        let query = ("Serhii", "Halychyshyn", "", date, "", &[][..], M);
        let kept = as_a_node_keeps(&tokenizer.tokenize_query(&record(query)), &stored);
        let query_keys = crate::blocking::blocking_keys(&kept);
        assert!(
            stored_keys
                .iter()
                .any(|key| query_keys.binary_search(key).is_ok()),
            "{date}: no blocking key"
        );
        let scored = score(query, held);
        assert_eq!(
            scored.fields[1].level,
            Level::OtherName,
            "{}",
            scored.explain()
        );
        assert_eq!(scored.fields[3].level, level, "{}", scored.explain());
        assert!(
            scored.band >= Band::Possible,
            "{date}: {}",
            scored.explain()
        );
    }
    let other_year = score(("Serhii", "Halychyshyn", "", "2011", "", &[], M), held);
    assert_eq!(other_year.band, Band::Weak, "{}", other_year.explain());
    assert_level(&other_year, Field::BirthDate, Level::Different);
    // A given name (a diminutive, a name used at home) keys no date: it
    // would join the year groups of different families.
    let years = |other: &[&str]| {
        tokenizer
            .tokenize(&record((
                "Наталія",
                "Салак",
                "",
                "2006-04-23",
                "",
                other,
                F,
            )))
            .slot(Slot::FamilyYear)
            .len()
    };
    assert_eq!(years(&["Тина"]), years(&[]));
    assert_eq!(years(&["Борисова"]), years(&[]) + 1);
}

/// A record kept with its columns swapped (the surname in the given-name
/// column, the given name in the family one) keys its date with that
/// surname too: a search by name and year compares the year, so another
/// year reads "different" and is not shown as the person, and the same year
/// reads "same year".
#[test]
fn a_record_kept_with_swapped_columns_compares_the_year() {
    let held = (
        "Ševelov",
        "Vladimir",
        "Dmitrievič",
        "07/08/1942",
        "",
        &[][..],
        M,
    );
    let other_year = score(("Владимир", "Шевелов", "", "1979", "", &[], M), held);
    assert_level(&other_year, Field::FamilyName, Level::SwappedColumns);
    assert_level(&other_year, Field::BirthDate, Level::Different);
    assert_eq!(other_year.band, Band::Weak, "{}", other_year.explain());
    let other_date = score(("Владимир", "Шевелов", "", "1979-04-01", "", &[], M), held);
    assert_level(&other_date, Field::BirthDate, Level::Different);
    let same_year = score(("Владимир", "Шевелов", "", "1942", "", &[], M), held);
    assert_level(&same_year, Field::BirthDate, Level::Year);
    assert!(same_year.band >= Band::Possible, "{}", same_year.explain());
    let same_date = score(("Владимир", "Шевелов", "", "07.08.1942", "", &[], M), held);
    assert_level(&same_date, Field::BirthDate, Level::Exact);
    assert_eq!(same_date.band, Band::Strong, "{}", same_date.explain());
    // Columns in their places key nothing more: a given name the tables know
    // in the given column.
    let years = |given: &str, family: &str| {
        tokenizer()
            .tokenize(&record((given, family, "", "1942-08-07", "", &[], M)))
            .slot(Slot::FamilyYear)
            .len()
    };
    assert_eq!(years("Vladimir", "Ševelov"), 1);
    assert_eq!(years("Ševelov", "Vladimir"), 2);
    // A given name the tables lack, beside a family name that is also a
    // given name (Амір Роман), is no surname in swapped columns: it keys no
    // year, which would be shared by the Амір of every family.
    assert_eq!(years("Амір", "Роман"), 1);
    assert_eq!(years("Амір", "Мартин"), 1);
}

#[test]
fn other_names_kept_beside_swapped_columns_compare_the_year_they_were_keyed_with() {
    // Kept with columns swapped and two former surnames: the former
    // surnames key the date, the swapped column does not (all keys of a
    // kind or none, so that the counts tell which were made).
    let held = (
        "Шевелев",
        "Владимир",
        "",
        "1942",
        "",
        &["Ковалев", "Петров"][..],
        M,
    );
    // (The given names differ as kept: the pair is weak; what is shown,
    // on request, must not call the year different.)
    let former = score(("Владимир", "Петров", "", "1942", "", &[], M), held);
    assert_eq!(former.fields[3].level, Level::Year, "{}", former.explain());
    let other_year = score(("Владимир", "Петров", "", "1979", "", &[], M), held);
    assert_level(&other_year, Field::BirthDate, Level::Different);
    // The swapped column's surname keys nothing here: its year is not
    // compared, and a search by it is not told "different".
    let swapped = score(("Владимир", "Шевелев", "", "1942", "", &[], M), held);
    assert_ne!(
        swapped.fields[3].level,
        Level::Different,
        "{}",
        swapped.explain()
    );
}

/// Asserts a pair below even odds that is shown as possible, at a
/// probability a lead may have.
#[track_caller]
fn assert_shown_as_lead(scored: &MatchScore) {
    assert_eq!(scored.band, Band::Possible, "{}", scored.explain());
    assert!(
        (LEAD_FLOOR..0.5).contains(&scored.probability),
        "{}: {}",
        scored.probability,
        scored.explain()
    );
}

/// A record that nothing rules out is a lead, shown as possible at the
/// probability it has, not dropped as weak: Юлия Коваленко of 7 December
/// 2002 against a Юлія Коваленко kept without a birth date, in a list where
/// the name is common. A birth place elsewhere, another given name or
/// another year rules it out.
#[test]
fn a_record_nothing_rules_out_is_shown_as_a_lead_at_its_probability() {
    let tokenizer = tokenizer();
    let common = tokenizer.tokenize(&record(("Юлія", "Коваленко", "", "", "", &[], F)));
    // One record in a hundred carries each name, in a list of 5,000: half
    // a namesake expected, and the names alone below even odds.
    let frequencies = Shares {
        chosen: common.iter().map(|(_, token)| token).collect(),
        share: 0.01,
        others: 1e-4,
        people: 5_000.0,
    };
    let scored = |query: Row<'_>, held: Row<'_>| score_among(query, held, &frequencies);
    let query = ("Юлия", "Коваленко", "", "2002-12-07", "", &[][..], F);
    let dateless = scored(query, ("Юлія", "Коваленко", "", "", "Маріуполь", &[], F));
    assert_shown_as_lead(&dateless);
    let elsewhere = scored(
        ("Юлия", "Коваленко", "", "2002-12-07", "Харьков", &[], F),
        ("Юлія", "Коваленко", "", "", "Маріуполь", &[], F),
    );
    assert_eq!(elsewhere.band, Band::Weak, "{}", elsewhere.explain());
    let other_year = scored(query, ("Юлія", "Коваленко", "", "1971", "", &[], F));
    assert_eq!(other_year.band, Band::Weak, "{}", other_year.explain());
    let sister = scored(query, ("Оксана", "Коваленко", "", "", "", &[], F));
    assert!(sister.band < Band::Possible, "{}", sister.explain());
}

/// A lead no namesake rule holds: a family name in the other language's
/// form (Kripak, Кропак), the given name in another form and the year, in a
/// list whose counts are not known (no namesakes expected): below even
/// odds, shown as possible at its probability. Kept without a date whose
/// years could not be compared (a stored record with a date the query's
/// keys did not reach) it is no lead.
#[test]
fn a_lead_in_another_form_with_its_year_is_shown_at_its_probability() {
    struct Common(Vec<Token>, f64);
    impl TermFrequencies for Common {
        fn frequency(&self, token: Token) -> Option<f64> {
            Some(if self.0.contains(&token) {
                self.1
            } else {
                1e-4
            })
        }
    }
    // The tokens of `names`, one record in `share` carrying each.
    let common = |names: Row<'_>, share: f64| {
        Common(
            tokenizer()
                .tokenize(&record(names))
                .iter()
                .map(|(_, token)| token)
                .collect(),
            share,
        )
    };
    let common_names = common(("Олександр", "", "", "", "", &[], M), 0.1);
    let scored = |query: Row<'_>, held: Row<'_>| score_among(query, held, &common_names);
    let lead = scored(
        ("Alexander", "Kripak", "", "2010", "", &[], M),
        ("Александр", "Кропак", "", "21.01.2010", "", &[], M),
    );
    assert_shown_as_lead(&lead);
    let elsewhere = scored(
        ("Alexander", "Kripak", "", "2010", "Kharkiv", &[], M),
        ("Александр", "Кропак", "", "21.01.2010", "Одеса", &[], M),
    );
    assert_eq!(elsewhere.band, Band::Weak, "{}", elsewhere.explain());
    // Met by a former surname noted with a given name beside it (Сербин
    // Галина): the record keyed no year with it, the years are not compared
    // although both records have one, and nothing says it is the person.
    // In a list where the names are common: below even odds.
    let uncompared = score_among(
        ("Галина", "Сербин", "", "2006", "", &[], F),
        ("Галина", "Коваль", "", "1971", "", &["Сербин Галина"], F),
        &common(("Галина", "Сербин", "", "", "", &[], F), 0.01),
    );
    assert!(
        (LEAD_FLOOR..0.5).contains(&uncompared.probability),
        "{}",
        uncompared.probability
    );
    assert_level(&uncompared, Field::BirthDate, Level::Missing);
    assert_eq!(uncompared.band, Band::Weak, "{}", uncompared.explain());
}

/// A list where every name is rare (one record in 10,000 carries it).
struct Rare;

impl TermFrequencies for Rare {
    fn frequency(&self, _token: Token) -> Option<f64> {
        Some(1e-4)
    }
}

/// Two full dates of one year on other days, a rare name: a namesake of that
/// year as likely as the person with a day typed wrong. Shown as possible,
/// at even odds at most; the same full date is strong.
#[test]
fn one_year_on_other_days_is_shown_at_even_odds_at_most() {
    let tokenizer = tokenizer();
    let held = tokenizer.tokenize(&record(("Данило", "Тарасук", "", "06.01.2002", "", &[], M)));
    let score = |query: Row<'_>| {
        MatchModel::default().score_query(&tokenizer.tokenize_query(&record(query)), &held, &Rare)
    };
    let other_day = score(("Danylo", "Tarasuk", "", "04/07/2002", "", &[], M));
    assert_level(&other_day, Field::BirthDate, Level::Year);
    assert_eq!(other_day.band, Band::Possible, "{}", other_day.explain());
    assert!(
        other_day.probability <= 0.5,
        "{}: {}",
        other_day.probability,
        other_day.explain()
    );
    let same_day = score(("Danylo", "Tarasuk", "", "06/01/2002", "", &[], M));
    assert_eq!(same_day.band, Band::Strong, "{}", same_day.explain());
}

/// A rare name and its year, the birth places differing (the issue's
/// "Maksym Ivanenko, Luhansk"): a namesake of that year born elsewhere as
/// likely as the person. Shown as possible, at even odds at most; the same
/// place, or a father's name that agrees, make it strong.
#[test]
fn a_name_and_year_born_elsewhere_is_shown_at_even_odds_at_most() {
    let tokenizer = tokenizer();
    let held = tokenizer.tokenize(&record((
        "Максим",
        "Іваненко",
        "Петрович",
        "03.05.2016",
        "Одеса",
        &[],
        M,
    )));
    let score = |query: Row<'_>| {
        MatchModel::default().score_query(&tokenizer.tokenize_query(&record(query)), &held, &Rare)
    };
    let elsewhere = score(("Maksym", "Ivanenko", "", "2016", "Luhansk", &[], M));
    assert_level(&elsewhere, Field::BirthPlace, Level::Different);
    assert_eq!(elsewhere.band, Band::Possible, "{}", elsewhere.explain());
    assert!(
        elsewhere.probability <= 0.5,
        "{}: {}",
        elsewhere.probability,
        elsewhere.explain()
    );
    let same_place = score(("Maksym", "Ivanenko", "", "2016", "Odesa", &[], M));
    assert_eq!(same_place.band, Band::Strong, "{}", same_place.explain());
    let father_agrees = score(("Maksym", "Ivanenko", "Petrovych", "2016", "Luhansk", &[], M));
    assert_eq!(
        father_agrees.band,
        Band::Strong,
        "{}",
        father_agrees.explain()
    );
}

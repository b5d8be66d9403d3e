//! No raw personal data in anything poshuk writes: the token file, the handle
//! map, the pairs file and the messages are scanned for the input's values in
//! every form an attacker might look for.

use poshuk_core::names::name_key;
use poshuk_core::normalize::{fold_text, skeleton, words};
use poshuk_synth::translit::{System, transliterate};

use crate::support::{HEADER, files_under, poshuk, workspace_with_keyring};

const NAMES: &[&str] = &[
    "Зеновій",
    "Ярошевський-Пшеничний",
    "Мирославович",
    "Кухаренко-Дзвінчук",
    "Аделаїда",
    "Шпичаківська",
    "Фортунатівна",
    "Кам'янець-Подільський",
    "Новоград-Волинський",
    "Zenoviy",
    "Yaroshevskyi",
];
const DATES: &[&str] = &[
    "1937-11-23",
    "23.11.1937",
    "19371123",
    "1951-04-23",
    "23.04.1951",
    "31.13.1950",
];
/// Document numbers with no run of consecutive digits: a scan for `987654`
/// also finds the descending byte runs of tantivy's own structures.
const DOCUMENT_PARTS: &[&str] = &["729461", "583017", "741852", "ЖЖ", "ФФ"];

/// Every form of a name worth searching for.
fn forms(name: &str) -> Vec<String> {
    let mut forms = vec![
        name.to_string(),
        name.to_lowercase(),
        name.to_uppercase(),
        fold_text(name),
    ];
    forms.push(name_key(name));
    for word in words(&fold_text(name)) {
        forms.push(word.to_string());
        forms.push(skeleton(word));
    }
    for system in [
        System::UkrainianNational,
        System::UkrainianLegacy,
        System::RussianBgn,
        System::German,
        System::French,
        System::Polish,
        System::Iso9,
    ] {
        let spelled = transliterate(name, system);
        forms.push(spelled.to_lowercase());
        for word in words(&fold_text(&spelled)) {
            forms.push(word.to_string());
        }
    }
    forms.retain(|form| form.chars().count() >= 5);
    forms.sort();
    forms.dedup();
    forms
}

/// Distinctive records, one with an unreadable date.
fn write_cases(input: &std::path::Path) {
    std::fs::create_dir_all(input).expect("mkdir");
    std::fs::write(
        input.join("cases.csv"),
        format!(
            "{HEADER}\
             case-1,Зеновій,Ярошевський-Пшеничний,Мирославович,Кухаренко-Дзвінчук,M,1937-11-23,Кам'янець-Подільський,passport:ЖЖ 729461;birth_certificate:ІІІ-ЮЮ 583017\n\
             case-2,Аделаїда,Шпичаківська,Фортунатівна,,F,23.04.1951,м. Новоград-Волинський,ФФ 741852\n\
             case-3,Zenoviy,Yaroshevskyi,,,M,31.13.1950,,\n"
        ),
    )
    .expect("write input");
}

/// Every form of every input value worth searching for.
fn needles() -> Vec<String> {
    let mut needles: Vec<String> = NAMES.iter().flat_map(|name| forms(name)).collect();
    needles.extend(DATES.iter().map(|d| d.to_string()));
    needles.extend(DOCUMENT_PARTS.iter().map(|d| d.to_lowercase()));
    needles
}

/// Fails naming the first haystack that holds a needle.
fn assert_clean(haystacks: &[(String, String)]) {
    let needles = needles();
    for (name, haystack) in haystacks {
        for needle in &needles {
            assert!(
                !haystack.contains(&needle.to_lowercase()),
                "{name} contains {needle:?}"
            );
        }
    }
}

fn read_lowercase(path: &std::path::Path) -> (String, String) {
    let bytes = std::fs::read(path).expect("readable");
    (
        path.display().to_string(),
        String::from_utf8_lossy(&bytes).to_lowercase(),
    )
}

#[test]
fn a_node_keeps_no_raw_value_in_its_data_or_log() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    write_cases(&root.join("input"));
    let node = crate::support::NodeProcess::start(root, "ngo-ua");
    let ingest = poshuk(root, &["ingest", "--node", &node.local, "input/cases.csv"]);
    assert!(
        ingest.success && ingest.stderr.contains("3 added"),
        "{}",
        ingest.stderr
    );
    let search = poshuk(root, &["delete", "--node", &node.local, "case-2"]);
    assert!(search.success, "{}", search.stderr);
    let (status, body) = crate::support::post_json(
        &format!("{}/local/v1/search", node.local),
        &serde_json::json!({"record": {"given_name": "Зеновій", "family_name": "Ярошевський-Пшеничний"}}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body["hits"][0]["agreeing"]
            .as_array()
            .is_some_and(|fields| fields.iter().any(|f| f == "family_name")),
        "the record is found, so the scan below is not vacuous: {body}"
    );
    let metrics = crate::support::get_text(&format!("{}/metrics", node.federation));
    let mut haystacks: Vec<(String, String)> = files_under(&root.join("ngo-ua-data"))
        .iter()
        .map(|path| read_lowercase(path))
        .collect();
    assert!(haystacks.len() > 5, "index files expected");
    haystacks.push(read_lowercase(&root.join("node.log")));
    haystacks.push(("metrics".into(), metrics.to_lowercase()));
    haystacks.push(("search answer".into(), body.to_string().to_lowercase()));
    assert_clean(&haystacks);
    // Case ids are sealed: not even they are in the index.
    for (name, haystack) in &haystacks {
        assert!(!haystack.contains("case-1"), "{name} holds a case id");
    }
}

#[test]
fn nothing_written_holds_a_raw_value() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let input = root.join("input");
    write_cases(&input);
    let output = root.join("output");
    std::fs::create_dir(&output).expect("mkdir");

    let mut messages = String::new();
    let encode = poshuk(
        root,
        &[
            "encode",
            "--keyring",
            "keyring.toml",
            "input/cases.csv",
            "-o",
            "output/cases.tokens",
        ],
    );
    assert!(encode.success, "{}", encode.stderr);
    assert!(encode.stderr.contains("3 encoded"), "{}", encode.stderr);
    assert!(
        encode.stderr.contains("1 warnings"),
        "bad date is a warning: {}",
        encode.stderr
    );
    messages.push_str(&encode.stdout);
    messages.push_str(&encode.stderr);
    let link = poshuk(
        root,
        &[
            "link",
            "output/cases.tokens",
            "output/cases.tokens",
            "-o",
            "output/pairs.csv",
            "--min-score",
            "weak",
            "--explain",
        ],
    );
    assert!(link.success, "{}", link.stderr);
    messages.push_str(&link.stdout);
    messages.push_str(&link.stderr);

    let written = files_under(&output);
    assert!(
        written.len() >= 3,
        "token file, handle map and pairs expected: {written:?}"
    );
    let mut haystacks: Vec<(String, String)> =
        written.iter().map(|path| read_lowercase(path)).collect();
    haystacks.push(("messages".into(), messages.to_lowercase()));
    assert_clean(&haystacks);
    // The pairs file found the person against itself: the scan above is not
    // vacuous.
    let pairs = std::fs::read_to_string(output.join("pairs.csv")).expect("pairs");
    assert!(pairs.lines().count() > 3, "{pairs}");
}

/// The red team on a stolen token file of this version: it gives back some
/// given names and surnames by frequency (so it is not toothless), but not
/// whole persons: fewer than 1% of records re-identified by family name,
/// given name and birth year, in Cyrillic and in Latin lists.
#[test]
fn a_stolen_token_file_gives_back_almost_no_person() {
    let (dir, _keyring) = workspace_with_keyring();
    for list in ["ngo_ua", "intl_org"] {
        let run = poshuk(
            dir.path(),
            &[
                "bench",
                "attack",
                "--persons",
                "6000",
                "--seed",
                "3",
                "--list",
                list,
                "--json",
            ],
        );
        assert!(run.success, "{}", run.stderr);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
        assert_eq!(report["tokenizer"], poshuk_core::TOKENIZER_VERSION);
        assert!(report["records"].as_u64().unwrap_or(0) > 2000, "{report}");
        let attacks = report["attacks"].as_array().expect("attacks");
        let share = |name: &str, field: &str| {
            attacks
                .iter()
                .find(|attack| attack["attack"] == name)
                .and_then(|attack| attack[field].as_f64())
                .unwrap_or_else(|| panic!("{name} {field} missing: {report}"))
        };
        assert!(
            share("frequency per slot", "given_name") > 0.05,
            "the attack recovers what frequencies give away: {report}"
        );
        for attack in attacks {
            let reidentified = attack["reidentified"].as_f64().expect("share");
            assert!(reidentified < 0.01, "{list}: {attack}");
            let family = attack["family_name"].as_f64().expect("share");
            assert!(family < 0.05, "{list}: surnames recovered: {attack}");
        }
    }
}

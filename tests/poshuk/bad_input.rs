//! Bad input gets a clear message and loses nothing that can be kept.

use crate::support::{HEADER, Run, poshuk, workspace_with_keyring};

/// `poshuk encode` of one file with the workspace's keyring.
fn encode(root: &std::path::Path, input: &str, output: &str) -> Run {
    poshuk(
        root,
        &["encode", "--keyring", "keyring.toml", input, "-o", output],
    )
}

#[test]
fn malformed_rows_are_reported_by_line_and_the_rest_encoded() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    std::fs::write(
        root.join("cases.csv"),
        format!(
            "{HEADER}\
             1,Олександр,Коваленко,Миколайович,,M,2011-03-07,Маріуполь,\n\
             2,Ольга,Петренко,,,F,,,,,too many\n\
             3,,,,,F,2010-01-01,Херсон,\n\
             4,Ірина,Бондар,,,F,30.02.2010,,\n\
             5,,,,,,,,КВ 123456\n"
        ),
    )
    .expect("write");
    let run = encode(root, "cases.csv", "cases.tokens");
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("line 3: rejected: row has 11 fields, the header has 9"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("line 4: rejected: record has neither a name nor a document"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("line 5: warning: birth_date left empty"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("read 5 rows: 3 encoded, 2 rejected, 1 warnings"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("30.02.2010") && !run.stderr.contains("Петренко"));
    let handles =
        std::fs::read_to_string(root.join("cases.tokens.handles.csv")).expect("handle map");
    let ids: Vec<&str> = handles
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ["1", "4", "5"]);
}

#[test]
fn windows_1251_export_with_ukrainian_headers_is_read() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let text = "Номер справи;Прізвище;Ім'я;По батькові;Дата народження;Стать\nA-1;Шевченко;Тарас;Григорович;09.03.2014;ч\nA-2;Ковальчук;Марія;Іванівна;2013;ж\n";
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(text);
    assert!(!unmappable);
    std::fs::write(root.join("export.csv"), &bytes).expect("write");
    let run = encode(root, "export.csv", "export.tokens");
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("read 2 rows: 2 encoded, 0 rejected, 0 warnings"),
        "{}",
        run.stderr
    );
}

#[test]
fn undecodable_input_names_the_line() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice("1,Іван,Мельник,,,M,2010,,\n".as_bytes());
    bytes.extend_from_slice(&[b'2', b',', 0x00, 0x9F, 0x81, 0x9F, b'\n']);
    std::fs::write(root.join("broken.csv"), &bytes).expect("write");
    let run = encode(root, "broken.csv", "broken.tokens");
    assert!(!run.success);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert!(!root.join("broken.tokens").exists());
}

#[test]
fn workbook_with_mapping_and_named_sheet_is_read() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let notes = workbook.add_worksheet();
    notes.set_name("Примітки").expect("sheet name");
    notes.write_string(0, 0, "not the cases").expect("write");
    let sheet = workbook.add_worksheet();
    sheet.set_name("Діти").expect("sheet name");
    let headers = [
        "Код",
        "Прізвище дитини",
        "Ім'я дитини",
        "Народження",
        "Свідоцтво",
    ];
    for (column, header) in headers.iter().enumerate() {
        sheet
            .write_string(0, column as u16, *header)
            .expect("header");
    }
    sheet.write_string(1, 0, "K-17").expect("cell");
    sheet.write_string(1, 1, "Гончаренко").expect("cell");
    sheet.write_string(1, 2, "Дарина").expect("cell");
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2015, 6, 1).expect("date");
    let format = rust_xlsxwriter::Format::new().set_num_format("dd.mm.yyyy");
    sheet
        .write_datetime_with_format(1, 3, &date, &format)
        .expect("date cell");
    sheet.write_string(1, 4, "І-БК 654321").expect("cell");
    sheet.write_string(2, 0, "K-18").expect("cell");
    workbook
        .save(root.join("cases.xlsx"))
        .expect("save workbook");
    std::fs::write(
        root.join("mapping.toml"),
        "sheet = \"Діти\"\n[columns]\nrecord_id = \"Код\"\nfamily_name = \"Прізвище дитини\"\ngiven_name = \"Ім'я дитини\"\nbirth_date = \"Народження\"\ndocument_ids = \"Свідоцтво\"\n",
    )
    .expect("mapping");
    let run = poshuk(
        root,
        &[
            "encode",
            "--keyring",
            "keyring.toml",
            "cases.xlsx",
            "--mapping",
            "mapping.toml",
            "-o",
            "cases.tokens",
        ],
    );
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("read 2 rows: 1 encoded, 1 rejected, 0 warnings"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line 3: rejected"), "{}", run.stderr);

    let missing = poshuk(
        root,
        &[
            "encode",
            "--keyring",
            "keyring.toml",
            "cases.xlsx",
            "--sheet",
            "Дорослі",
            "-o",
            "x.tokens",
        ],
    );
    assert!(!missing.success);
    assert!(
        missing.stderr.contains("no sheet named \"Дорослі\""),
        "{}",
        missing.stderr
    );
}

/// A workbook of a few kilobytes that declares a value in the last cell of
/// the sheet (XFD1048576) is refused at once, naming the cell, instead of
/// making a grid of 17 billion cells; a field longer than 1 KiB rejects its
/// row, by line, and the rest is read.
#[test]
fn workbook_bombs_and_overlong_fields_are_refused_with_their_place() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (column, header) in ["record_id", "given_name", "family_name"]
        .iter()
        .enumerate()
    {
        sheet
            .write_string(0, column as u16, *header)
            .expect("header");
    }
    sheet.write_string(1, 0, "K-1").expect("cell");
    sheet.write_string(1, 1, "Дарина").expect("cell");
    sheet.write_string(1, 2, "Гончаренко").expect("cell");
    sheet
        .write_string(1_048_575, 16_383, "far away")
        .expect("cell");
    workbook.save(root.join("bomb.xlsx")).expect("save");
    assert!(
        std::fs::metadata(root.join("bomb.xlsx"))
            .expect("file")
            .len()
            < 20_000
    );
    let run = encode(root, "bomb.xlsx", "bomb.tokens");
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("row 1048576 has a value in column 16384"),
        "{}",
        run.stderr
    );

    let long_name = "Д".repeat(600);
    std::fs::write(
        root.join("long.csv"),
        format!(
            "{HEADER}A-1,{long_name},Коваленко,,,F,2010-01-01,,\nA-2,Марія,Шевченко,,,F,2011-02-03,,\n"
        ),
    )
    .expect("write");
    let run = encode(root, "long.csv", "long.tokens");
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("line 2: rejected: given_name holds 1200 bytes, at most 1024"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 encoded, 1 rejected"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_lines_are_read() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    std::fs::write(
        root.join("cases.jsonl"),
        "{\"record_id\":\"j1\",\"given_name\":\"Oleksandr\",\"family_name\":\"Kovalenko\",\"birth_date\":\"2011-03-07\",\"document_ids\":[\"passport:KB123456\"]}\n{broken\n",
    )
    .expect("write");
    let run = encode(root, "cases.jsonl", "cases.tokens");
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("line 2: rejected: line is not valid JSON"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("read 2 rows: 1 encoded, 1 rejected"),
        "{}",
        run.stderr
    );
}

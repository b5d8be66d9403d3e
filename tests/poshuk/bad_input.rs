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
            .contains("line 3: rejected: row has 11 fields, the header (line 1) has 9"),
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
            .contains("line 5: warning: birth_date: left empty"),
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

/// Lines of a handle map (`handle,record_id`), the header left out.
fn handle_map_ids(root: &std::path::Path, tokens: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root.join(format!("{tokens}.handles.csv"))).expect("map");
    let mut ids: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|line| line.split(',').nth(1).map(str::to_string))
        .collect();
    ids.sort();
    ids
}

#[test]
fn real_exports_load_as_they_are() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();

    // A workbook as staff make it: an empty first row, a merged title, the
    // headers on row 3, a number that is a date, notes, a second sheet.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet
        .merge_range(
            1,
            0,
            1,
            5,
            "Список зниклих безвісти дітей (станом на 01.10.2024)",
            &rust_xlsxwriter::Format::new(),
        )
        .expect("title");
    let headers = [
        "Номер справи",
        "ПІБ дитини",
        "Дата народження",
        "Місце народження",
        "Свидетельство о рождении",
        "Примітки",
    ];
    for (column, header) in headers.iter().enumerate() {
        sheet
            .write_string(2, column as u16, *header)
            .expect("header");
    }
    let rows = [
        (
            "1",
            "Коваленко Олександр Іванович",
            41043.0,
            "Маріуполь",
            "I-БК 123456",
        ),
        ("2", "Шевченко Тарас Петрович", 40500.0, "Херсон", ""),
        ("2", "Бондар Ірина", 40100.0, "Херсон", ""),
    ];
    for (index, (id, name, date, place, document)) in rows.iter().enumerate() {
        let row = 3 + index as u32;
        sheet.write_string(row, 0, *id).expect("cell");
        sheet.write_string(row, 1, *name).expect("cell");
        sheet.write_number(row, 2, *date).expect("cell");
        sheet.write_string(row, 3, *place).expect("cell");
        sheet.write_string(row, 4, *document).expect("cell");
    }
    book.add_worksheet()
        .write_string(0, 0, "Довідка")
        .expect("sheet");
    book.save(root.join("list.xlsx")).expect("save");
    let run = encode(root, "list.xlsx", "list.tokens");
    assert!(run.success, "{}", run.stderr);
    for said in [
        "headers on line 3",
        "columns not used: Примітки",
        "line 6: rejected: column \"Номер справи\" (record_id) repeats line 5's",
        "read 3 rows: 2 encoded, 1 rejected",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert_eq!(handle_map_ids(root, "list.tokens"), ["1", "2"]);

    // A `;` file whose headers hold commas, saved as KOI8-U on Windows.
    let text = "Прізвище, ім'я, по батькові;Дата, місце народження;Номер справи\r\n\
                Коваленко Олександр Іванович;14.05.2012, м. Маріуполь;A-1\r\n\
                Їжакевич Євгенія;приблизно 2010;A-2\r\n\
                Ґалаґан Богдан;2030;A-3\r\n";
    let (bytes, _, _) = encoding_rs::KOI8_U.encode(text);
    std::fs::write(root.join("koi8.csv"), &bytes).expect("write");
    let run = encode(root, "koi8.csv", "koi8.tokens");
    assert!(run.success, "{}", run.stderr);
    for said in [
        "encoding koi8-u",
        "separated by `;`",
        "line 3: warning: column \"Дата, місце народження\" (birth_date_and_place): an approximate year",
        "line 4: warning: column \"Дата, місце народження\" (birth_date_and_place): a date after today",
        "read 3 rows: 3 encoded, 0 rejected",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert!(!run.stderr.contains("Їжакевич"), "{}", run.stderr);

    // No case-id column: said once, exit non-zero, nothing written; then
    // numbered by row when asked.
    std::fs::write(
        root.join("no-ids.csv"),
        "Прізвище,Ім'я,Дата народження\nКоваленко,Олександр,2011\nШевченко,Тарас,2012\n",
    )
    .expect("write");
    let run = encode(root, "no-ids.csv", "no-ids.tokens");
    assert!(!run.success);
    assert!(run.stderr.contains("--id-from-row"), "{}", run.stderr);
    assert_eq!(run.stderr.matches("case id").count(), 1, "{}", run.stderr);
    assert!(!root.join("no-ids.tokens").exists());
    let run = poshuk(
        root,
        &[
            "encode",
            "--keyring",
            "keyring.toml",
            "no-ids.csv",
            "-o",
            "no-ids.tokens",
            "--id-from-row",
        ],
    );
    assert!(run.success, "{}", run.stderr);
    // Ids made from the file's name and the row: two lists numbered alike
    // do not overwrite each other's cases.
    assert_eq!(
        handle_map_ids(root, "no-ids.tokens"),
        ["no-ids:row-2", "no-ids:row-3"]
    );

    // A file where every row is refused: exit non-zero.
    std::fs::write(
        root.join("all-bad.csv"),
        format!("{HEADER}1,,,,,,,,\n2,,,,,,,,\n"),
    )
    .expect("write");
    let run = encode(root, "all-bad.csv", "all-bad.tokens");
    assert!(!run.success, "{}", run.stderr);
    assert!(
        run.stderr.contains("no record could be read"),
        "{}",
        run.stderr
    );
    assert!(!root.join("all-bad.tokens").exists());
}

//! Reading a file into records, row by row, keeping what can be kept.

use std::io::Read;
use std::path::Path;

use calamine::{Data, Reader};
use poshuk_core::{BirthDate, Record, Sex};

use crate::decode::{Encoding, decode_bytes};
use crate::mapping::{CanonicalField, ColumnMapping, ResolvedColumns};

/// The layout of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Delimited text with a header row (comma, semicolon or tab).
    Csv,
    /// An Excel workbook (.xlsx, .xlsm, .xls, .ods).
    Workbook,
    /// One JSON object per line.
    JsonLines,
}

impl FileFormat {
    /// The format a file name suggests.
    pub fn from_path(path: &Path) -> FileFormat {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match extension.as_str() {
            "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => FileFormat::Workbook,
            "jsonl" | "ndjson" | "json" => FileFormat::JsonLines,
            _ => FileFormat::Csv,
        }
    }
}

/// How to read a file.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Column mapping (recognized headers when empty).
    pub mapping: ColumnMapping,
    /// Text encoding, if known (detected otherwise).
    pub encoding: Option<Encoding>,
    /// The worksheet to read (overrides the mapping's).
    pub sheet: Option<String>,
    /// The format (from the file name when absent).
    pub format: Option<FileFormat>,
}

/// How bad a row problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The row was kept with a field left empty.
    Warning,
    /// The row was not read.
    Rejected,
}

/// A problem with one row. The reason never quotes the row's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line (CSV, JSONL) or row (workbook) number in the file.
    pub line: usize,
    /// Warning or rejection.
    pub severity: Severity,
    /// What is wrong.
    pub reason: String,
}

/// A record with the line it came from.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    /// 1-based line or row number.
    pub line: usize,
    /// The record.
    pub record: Record,
}

/// Everything read from a file.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    /// Records read (possibly with warnings).
    pub records: Vec<ReadRecord>,
    /// Problems, in line order.
    pub problems: Vec<RowProblem>,
    /// Data rows seen (records plus rejected rows).
    pub rows_seen: usize,
    /// The encoding used for text files.
    pub encoding: Option<Encoding>,
}

impl ReadOutcome {
    /// The number of rejected rows.
    pub fn rejected(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Rejected)
            .count()
    }

    /// The number of warnings.
    pub fn warnings(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Warning)
            .count()
    }
}

/// Errors that stop a whole file from being read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not text in the expected encoding.
    #[error("line {line}: the file is not valid {encoding}")]
    Undecodable {
        /// The first line that failed.
        line: usize,
        /// The encoding tried.
        encoding: &'static str,
    },
    /// The file has no header row.
    #[error("the file is empty: a header row is needed")]
    NoHeader,
    /// No column holds a name or a document.
    #[error(
        "no column holds a name or a document (headers seen: {0}); give a column mapping with --mapping"
    )]
    NoIdentifyingColumn(String),
    /// The mapping names headers the file lacks.
    #[error("the column mapping names headers that the file lacks: {0}")]
    MissingMappedHeaders(String),
    /// The workbook cannot be read.
    #[error("cannot read workbook: {0}")]
    Workbook(String),
    /// The workbook is larger than poshuk reads.
    #[error("the workbook is too large to read: {0}")]
    WorkbookTooLarge(String),
    /// The named sheet does not exist.
    #[error("the workbook has no sheet named {wanted:?} (sheets: {available})")]
    NoSuchSheet {
        /// The sheet asked for.
        wanted: String,
        /// The sheets present.
        available: String,
    },
    /// A CSV structure error that stops reading.
    #[error("line {line}: {reason}")]
    Csv {
        /// The line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Reads a partner file into records.
pub fn read_file(path: &Path, options: &ReadOptions) -> Result<ReadOutcome, ReadError> {
    let format = options
        .format
        .unwrap_or_else(|| FileFormat::from_path(path));
    let io_error = |source| ReadError::Io {
        path: path.display().to_string(),
        source,
    };
    match format {
        FileFormat::Workbook => read_workbook(path, options),
        FileFormat::Csv | FileFormat::JsonLines => {
            let mut bytes = Vec::new();
            std::fs::File::open(path)
                .and_then(|mut file| file.read_to_end(&mut bytes))
                .map_err(io_error)?;
            let encoding = options.encoding.or_else(|| {
                options
                    .mapping
                    .encoding
                    .as_deref()
                    .and_then(Encoding::parse)
            });
            let (text, used) = decode_bytes(&bytes, encoding)?;
            drop(bytes);
            let mut outcome = if format == FileFormat::Csv {
                read_csv_text(&text, &options.mapping)?
            } else {
                read_json_lines(&text)
            };
            outcome.encoding = Some(used);
            Ok(outcome)
        }
    }
}

/// Reads CSV from any reader (used for standard input).
pub fn read_reader_csv(
    mut reader: impl Read,
    options: &ReadOptions,
) -> Result<ReadOutcome, ReadError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: "standard input".into(),
            source,
        })?;
    let (text, used) = decode_bytes(&bytes, options.encoding)?;
    let mut outcome = read_csv_text(&text, &options.mapping)?;
    outcome.encoding = Some(used);
    Ok(outcome)
}

fn detect_delimiter(header_line: &str) -> u8 {
    let count = |c: char| header_line.matches(c).count();
    let candidates = [(b';', count(';')), (b'\t', count('\t')), (b',', count(','))];
    candidates
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map(|(d, _)| *d)
        .unwrap_or(b',')
}

fn resolve_headers(
    mapping: &ColumnMapping,
    headers: &[String],
) -> Result<ResolvedColumns, ReadError> {
    let resolved = mapping.resolve(headers);
    if !resolved.missing_mapped.is_empty() {
        return Err(ReadError::MissingMappedHeaders(
            resolved.missing_mapped.join(", "),
        ));
    }
    if !resolved.has_identifying_column() {
        return Err(ReadError::NoIdentifyingColumn(headers.join(", ")));
    }
    Ok(resolved)
}

fn read_csv_text(text: &str, mapping: &ColumnMapping) -> Result<ReadOutcome, ReadError> {
    let header_line = text.lines().next().ok_or(ReadError::NoHeader)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(header_line))
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(error)) => {
            return Err(ReadError::Csv {
                line: 1,
                reason: csv_reason(&error),
            });
        }
        None => return Err(ReadError::NoHeader),
    };
    let headers: Vec<String> = header.iter().map(str::to_string).collect();
    let columns = resolve_headers(mapping, &headers)?;
    let mut outcome = ReadOutcome::default();
    for row in records {
        match row {
            Ok(row) => {
                let line = row.position().map_or(0, |p| p.line() as usize);
                if row.iter().all(|cell| cell.trim().is_empty()) {
                    continue;
                }
                outcome.rows_seen += 1;
                if row.len() != headers.len() {
                    outcome.problems.push(RowProblem {
                        line,
                        severity: Severity::Rejected,
                        reason: format!(
                            "row has {} fields, the header has {}",
                            row.len(),
                            headers.len()
                        ),
                    });
                    continue;
                }
                let cells: Vec<&str> = row.iter().collect();
                accept_row(&mut outcome, line, |field| {
                    join_cells(&cells, columns.indexes(field))
                });
            }
            Err(error) => {
                outcome.rows_seen += 1;
                let line = error.position().map_or(0, |p| p.line() as usize);
                outcome.problems.push(RowProblem {
                    line,
                    severity: Severity::Rejected,
                    reason: csv_reason(&error),
                });
            }
        }
    }
    Ok(outcome)
}

fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "row is not valid text in the file's encoding".into(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("row has {len} fields, the header has {expected_len}")
        }
        _ => "row cannot be parsed as CSV".into(),
    }
}

fn join_cells(cells: &[&str], indexes: &[usize]) -> String {
    let mut joined = String::new();
    for &index in indexes {
        let Some(cell) = cells.get(index) else {
            continue;
        };
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        if !joined.is_empty() {
            joined.push(';');
        }
        joined.push_str(cell);
    }
    joined
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// Builds a record from a row's fields and files it, with its problems.
/// The longest value a field may hold, in bytes. Names, dates, places and
/// document lists are far shorter; a longer one is a broken export or an
/// attempt to make the node's work grow.
pub const MAX_FIELD_BYTES: usize = 1024;

fn accept_row(outcome: &mut ReadOutcome, line: usize, field: impl Fn(CanonicalField) -> String) {
    for which in CanonicalField::ALL {
        let length = field(which).len();
        if length > MAX_FIELD_BYTES {
            outcome.problems.push(RowProblem {
                line,
                severity: Severity::Rejected,
                reason: format!(
                    "{} holds {length} bytes, at most {MAX_FIELD_BYTES}",
                    which.name()
                ),
            });
            return;
        }
    }
    let mut record = Record {
        record_id: field(CanonicalField::RecordId),
        given_name: field(CanonicalField::GivenName),
        family_name: field(CanonicalField::FamilyName),
        patronymic: field(CanonicalField::Patronymic),
        other_names: split_list(&field(CanonicalField::OtherNames)),
        sex: Sex::parse(&field(CanonicalField::Sex)),
        birth_date: None,
        birth_place: field(CanonicalField::BirthPlace),
        document_ids: split_list(&field(CanonicalField::DocumentIds)),
    };
    split_names(&mut record, &field(CanonicalField::FullName));
    if record.record_id.is_empty() {
        outcome.problems.push(RowProblem {
            line,
            severity: Severity::Rejected,
            reason: "record_id is empty".into(),
        });
        return;
    }
    if !record.is_identifiable() {
        outcome.problems.push(RowProblem {
            line,
            severity: Severity::Rejected,
            reason: "record has neither a name nor a document".into(),
        });
        return;
    }
    let date_text = field(CanonicalField::BirthDate);
    if !date_text.is_empty() {
        match BirthDate::parse(&date_text) {
            Ok(date) => record.birth_date = Some(date),
            Err(error) => outcome.problems.push(RowProblem {
                line,
                severity: Severity::Warning,
                reason: format!("birth_date left empty: {error}"),
            }),
        }
    }
    outcome.records.push(ReadRecord { line, record });
}

/// Names as exports really hold them: the whole name in one column (ПІБ), or
/// the patronymic written after the given name in its column.
fn split_names(record: &mut Record, full_name: &str) {
    if record.given_name.trim().is_empty()
        && record.family_name.trim().is_empty()
        && !full_name.trim().is_empty()
    {
        let (family, given, patronymic) = poshuk_core::names::split_full_name(full_name);
        record.family_name = family;
        record.given_name = given;
        if record.patronymic.trim().is_empty() {
            record.patronymic = patronymic;
        }
    }
    if record.patronymic.trim().is_empty() {
        let words: Vec<&str> = record.given_name.split_whitespace().collect();
        if let [given @ .., last] = words.as_slice()
            && !given.is_empty()
            && poshuk_core::names::looks_like_patronymic(last)
        {
            record.patronymic = (*last).to_string();
            record.given_name = given.join(" ");
        }
    }
}

fn read_json_lines(text: &str) -> ReadOutcome {
    let mut outcome = ReadOutcome::default();
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        if raw_line.trim().is_empty() {
            continue;
        }
        outcome.rows_seen += 1;
        let object = match serde_json::from_str::<serde_json::Value>(raw_line) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(_) => {
                outcome.problems.push(RowProblem {
                    line,
                    severity: Severity::Rejected,
                    reason: "line is not a JSON object".into(),
                });
                continue;
            }
            Err(error) => {
                outcome.problems.push(RowProblem {
                    line,
                    severity: Severity::Rejected,
                    reason: format!("line is not valid JSON (column {})", error.column()),
                });
                continue;
            }
        };
        accept_row(&mut outcome, line, |field| {
            json_field(&object, field.name())
        });
    }
    outcome
}

fn json_field(object: &serde_json::Map<String, serde_json::Value>, name: &str) -> String {
    match object.get(name) {
        Some(serde_json::Value::String(text)) => text.trim().to_string(),
        Some(serde_json::Value::Number(number)) => number.to_string(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                serde_json::Value::String(text) => Some(text.trim().to_string()),
                serde_json::Value::Number(number) => Some(number.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(";"),
        _ => String::new(),
    }
}

/// The most bytes the parts of a workbook may hold once unpacked (a few
/// hundred thousand rows of a case list take a few dozen megabytes).
pub const MAX_WORKBOOK_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;
/// The most columns of a sheet that are read.
pub const MAX_SHEET_COLUMNS: u32 = 1024;
/// The most non-empty cells of a sheet.
pub const MAX_SHEET_CELLS: usize = 20_000_000;

/// Refuses an .xlsx (a zip archive) whose parts would unpack to more than
/// [`MAX_WORKBOOK_UNPACKED_BYTES`]: a few megabytes can hold gigabytes of
/// zeros, which the workbook reader would hold in memory.
fn check_unpacked_size(path: &Path) -> Result<(), ReadError> {
    check_unpacked_size_at_most(path, MAX_WORKBOOK_UNPACKED_BYTES)
}

fn check_unpacked_size_at_most(path: &Path, limit: u64) -> Result<(), ReadError> {
    let file = std::fs::File::open(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let Ok(mut archive) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        // Not a zip (an .xls or a damaged file): the reader says why.
        return Ok(());
    };
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let size = archive
            .by_index_raw(index)
            .map_err(|error| ReadError::Workbook(error.to_string()))?
            .size();
        total = total.saturating_add(size);
    }
    if total > limit {
        return Err(ReadError::WorkbookTooLarge(format!(
            "its parts unpack to {} MiB, at most {} MiB",
            total >> 20,
            limit >> 20
        )));
    }
    Ok(())
}

/// A sheet's non-empty cells by row, read cell by cell: a workbook that
/// declares one cell at XFD1048576 must not make a dense grid of 17 billion
/// cells.
struct SparseSheet {
    /// (row, column, text), in reading order.
    cells: Vec<(u32, u32, String)>,
}

impl SparseSheet {
    fn rows(&self) -> Vec<(u32, Vec<String>)> {
        let mut rows: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
        for (row, column, text) in &self.cells {
            let cells = rows.entry(*row).or_default();
            let column = *column as usize;
            if cells.len() <= column {
                cells.resize(column + 1, String::new());
            }
            cells[column] = text.clone();
        }
        rows.into_iter().collect()
    }
}

fn read_xlsx_sparse(path: &Path, sheet: Option<String>) -> Result<SparseSheet, ReadError> {
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(path)
        .map_err(|error: calamine::XlsxError| ReadError::Workbook(error.to_string()))?;
    let sheets = workbook.sheet_names();
    let name = match sheet {
        Some(name) if !sheets.contains(&name) => {
            return Err(ReadError::NoSuchSheet {
                wanted: name,
                available: sheets.join(", "),
            });
        }
        Some(name) => name,
        None => sheets.first().cloned().ok_or(ReadError::NoHeader)?,
    };
    let mut reader = workbook
        .worksheet_cells_reader(&name)
        .map_err(|error| ReadError::Workbook(error.to_string()))?;
    let mut cells = Vec::new();
    while let Some(cell) = reader
        .next_cell()
        .map_err(|error| ReadError::Workbook(error.to_string()))?
    {
        let (row, column) = cell.get_position();
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if text.trim().is_empty() {
            continue;
        }
        if column >= MAX_SHEET_COLUMNS {
            return Err(ReadError::WorkbookTooLarge(format!(
                "row {} has a value in column {}, beyond the {MAX_SHEET_COLUMNS} columns read",
                row + 1,
                column + 1
            )));
        }
        if cells.len() >= MAX_SHEET_CELLS {
            return Err(ReadError::WorkbookTooLarge(format!(
                "the sheet has more than {MAX_SHEET_CELLS} non-empty cells"
            )));
        }
        cells.push((row, column, text));
    }
    Ok(SparseSheet { cells })
}

fn read_workbook(path: &Path, options: &ReadOptions) -> Result<ReadOutcome, ReadError> {
    let wanted = options
        .sheet
        .clone()
        .or_else(|| options.mapping.sheet.clone());
    let is_xlsx = path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            extension.eq_ignore_ascii_case("xlsx") || extension.eq_ignore_ascii_case("xlsm")
        });
    check_unpacked_size(path)?;
    let rows: Vec<(u32, Vec<String>)> = if is_xlsx {
        read_xlsx_sparse(path, wanted)?.rows()
    } else {
        let mut workbook = calamine::open_workbook_auto(path)
            .map_err(|error| ReadError::Workbook(error.to_string()))?;
        let sheets = workbook.sheet_names();
        let range = match wanted {
            Some(name) => {
                if !sheets.contains(&name) {
                    return Err(ReadError::NoSuchSheet {
                        wanted: name,
                        available: sheets.join(", "),
                    });
                }
                workbook.worksheet_range(&name)
            }
            None => match workbook.worksheet_range_at(0) {
                Some(range) => range,
                None => return Err(ReadError::NoHeader),
            },
        }
        .map_err(|error| ReadError::Workbook(error.to_string()))?;
        let first_row = range.start().map_or(0, |(row, _)| row);
        range
            .rows()
            .enumerate()
            .map(|(index, row)| {
                (
                    first_row + index as u32,
                    row.iter().map(cell_text).collect(),
                )
            })
            .collect()
    };
    let mut rows = rows.into_iter();
    let (_, header) = rows.next().ok_or(ReadError::NoHeader)?;
    let columns = resolve_headers(&options.mapping, &header)?;
    let mut outcome = ReadOutcome::default();
    for (row, cells) in rows {
        // Rows count from 1 in a spreadsheet.
        let line = row as usize + 1;
        if cells.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        outcome.rows_seen += 1;
        let cell_refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        accept_row(&mut outcome, line, |field| {
            join_cells(&cell_refs, columns.indexes(field))
        });
    }
    Ok(outcome)
}

/// A cell as text; dates as ISO 8601 (workbooks store them as day serials).
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::String(text) => text.clone(),
        Data::Int(number) => number.to_string(),
        Data::Float(number) if number.fract() == 0.0 => format!("{}", *number as i64),
        Data::Float(number) => number.to_string(),
        Data::DateTime(datetime) => serial_to_iso(datetime).unwrap_or_default(),
        Data::DateTimeIso(text) => text.clone(),
        Data::Bool(value) => value.to_string(),
        _ => String::new(),
    }
}

/// An Excel date to `YYYY-MM-DD`, through calamine's own conversion, which
/// knows both date systems: a workbook saved with the 1904 system (older Mac
/// Excel) stores the same day as a serial 1,462 smaller, and reading it as
/// 1900-based would move every birth date four years and a day.
fn serial_to_iso(datetime: &calamine::ExcelDateTime) -> Option<String> {
    if !(1.0..2_958_466.0).contains(&datetime.as_f64()) {
        return None;
    }
    let (year, month, day, ..) = datetime.to_ymd_hms_milli();
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

#[cfg(test)]
mod tests {

    /// A zip whose parts unpack beyond the bound is refused before any part
    /// is unpacked (here the bound is 1 MiB, the part 2 MiB of zeros).
    #[test]
    fn a_workbook_that_unpacks_too_large_is_refused() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("zeros.xlsx");
        let file = std::fs::File::create(&path).expect("create");
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("xl/sharedStrings.xml", options)
            .expect("start");
        zip.write_all(&vec![0u8; 2 << 20]).expect("write");
        zip.finish().expect("finish");
        assert!(std::fs::metadata(&path).expect("file").len() < 100_000);
        let error = check_unpacked_size_at_most(&path, 1 << 20).expect_err("refused");
        assert!(error.to_string().contains("unpack to 2 MiB"), "{error}");
        assert!(check_unpacked_size_at_most(&path, 4 << 20).is_ok());
    }
    use super::*;

    const HEADER: &str = "record_id,given_name,family_name,patronymic,other_names,sex,birth_date,birth_place,document_ids\n";

    #[test]
    fn reads_good_rows_and_reports_bad_ones_by_line() {
        let text = format!(
            "{HEADER}1,Олександр,Коваленко,Миколайович,,M,2011-03-07,Маріуполь,\n\
             2,Ольга,Петренко,,,F,,,,extra\n3,,,,,,,,\n\
             4,,,,,F,2010-01-01,,\n\
             5,Ірина,Бондар,,,F,31.02.2010,,\n\
             6,Іван,Мельник,,,M,2009,,\n"
        );
        let outcome = read_csv_text(&text, &ColumnMapping::default()).expect("reads");
        let ids: Vec<&str> = outcome
            .records
            .iter()
            .map(|r| r.record.record_id.as_str())
            .collect();
        assert_eq!(ids, ["1", "5", "6"]);
        let problem_lines: Vec<(usize, Severity)> = outcome
            .problems
            .iter()
            .map(|p| (p.line, p.severity))
            .collect();
        assert_eq!(
            problem_lines,
            [
                (3, Severity::Rejected),
                (4, Severity::Rejected),
                (5, Severity::Rejected),
                (6, Severity::Warning)
            ]
        );
        assert!(outcome.records[1].record.birth_date.is_none());
        for problem in &outcome.problems {
            assert!(!problem.reason.contains("Петренко") && !problem.reason.contains("31.02"));
        }
    }

    #[test]
    fn reads_semicolon_csv_with_ukrainian_headers() {
        let text = "Прізвище;Ім'я;По батькові;Дата народження;Номер справи\nШевченко;Тарас;Григорович;09.03.2014;A-1\n";
        let outcome = read_csv_text(text, &ColumnMapping::default()).expect("reads");
        assert_eq!(outcome.records.len(), 1);
        let record = &outcome.records[0].record;
        assert_eq!(record.family_name, "Шевченко");
        assert_eq!(
            record.birth_date.map(|d| d.to_iso()),
            Some("2014-03-09".into())
        );
    }

    #[test]
    fn splits_a_full_name_column_and_a_patronymic_in_the_given_column() {
        let text = "№;ПІБ;Дата народження\n1;Коваленко Олександр Миколайович;07.03.2011\n";
        let outcome = read_csv_text(text, &ColumnMapping::default()).expect("reads");
        let record = &outcome.records[0].record;
        assert_eq!(
            (
                record.family_name.as_str(),
                record.given_name.as_str(),
                record.patronymic.as_str()
            ),
            ("Коваленко", "Олександр", "Миколайович")
        );
        let text = format!("{HEADER}2,Марія Петрівна,Шевчук,,,F,,,\n");
        let outcome = read_csv_text(&text, &ColumnMapping::default()).expect("reads");
        let record = &outcome.records[0].record;
        assert_eq!(
            (record.given_name.as_str(), record.patronymic.as_str()),
            ("Марія", "Петрівна")
        );
    }

    #[test]
    fn reads_json_lines_with_lists() {
        let text = "{\"record_id\":\"7\",\"given_name\":\"Ivan\",\"document_ids\":[\"passport:AB1\",\"x:2\"]}\nnot json\n";
        let outcome = read_json_lines(text);
        assert_eq!(outcome.records.len(), 1);
        assert_eq!(outcome.records[0].record.document_ids.len(), 2);
        assert_eq!(outcome.problems[0].line, 2);
    }

    #[test]
    fn converts_excel_serials_of_both_date_systems() {
        use calamine::{ExcelDateTime, ExcelDateTimeType};
        let date = |serial, is_1904| {
            serial_to_iso(&ExcelDateTime::new(
                serial,
                ExcelDateTimeType::DateTime,
                is_1904,
            ))
        };
        assert_eq!(date(40_609.0, false).as_deref(), Some("2011-03-07"));
        assert_eq!(date(36_526.0, false).as_deref(), Some("2000-01-01"));
        // The same days in a workbook saved with the 1904 date system.
        assert_eq!(
            date(40_609.0 - 1_462.0, true).as_deref(),
            Some("2011-03-07")
        );
        assert_eq!(
            date(36_526.0 - 1_462.0, true).as_deref(),
            Some("2000-01-01")
        );
        assert_eq!(date(-3.0, false), None);
    }
}

//! Reading a file into records, row by row, keeping what can be kept.

use std::io::Read;
use std::path::Path;

use std::collections::HashMap;

use calamine::{Data, Reader};
use poshuk_core::{Record, Sex};

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
    /// The header's line (CSV, JSONL) or row (workbook), from 1; found among
    /// the first rows when absent (empty and title rows are skipped).
    pub header_row: Option<usize>,
    /// A file without a case-id column: make ids from the file's name, the
    /// sheet and the row (`cases:row-12`, `cases:Sheet1!12`), so that two
    /// lists numbered alike do not overwrite each other. Stable while rows
    /// are not inserted above and the file keeps its name.
    pub id_from_row: bool,
    /// The file's name without its extension (set by [`read_file`]), for
    /// ids made from rows.
    pub source_name: Option<String>,
    /// Rows repeating a case id: keep the last (by default, the repeats are
    /// rejected and reported, and the first row is kept).
    pub merge_duplicate_ids: bool,
    /// Keep each record's row as the file has it ([`ReadRecord::cells`]),
    /// for reports that join the partner's own columns back.
    pub keep_cells: bool,
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
    /// The row's cells as the file has them, with [`ReadOptions::keep_cells`]
    /// (empty otherwise, and for JSON lines).
    pub cells: Vec<String>,
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
    /// The line or row the header was taken from (from 1).
    pub header_line: usize,
    /// The delimiter of a CSV file.
    pub delimiter: Option<char>,
    /// Headers no field reads: listed, so that no column is dropped unseen.
    pub unused_columns: Vec<String>,
    /// Whether the case ids were made from the rows (`--id-from-row`).
    pub ids_from_rows: bool,
    /// The header row's cells (empty for JSON lines).
    pub headers: Vec<String>,
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
        "row {0} holds no header poshuk recognizes as a name or a document column: choose another --header-row, or name your headers in a --mapping"
    )]
    NoIdentifyingColumn(usize),
    /// No row near the top reads as a header.
    #[error(
        "none of the first {searched} rows holds headers poshuk recognizes (a name or a document column): say which row with --header-row N, or name your headers in a --mapping"
    )]
    NoHeaderFound {
        /// Rows looked at.
        searched: usize,
    },
    /// The header row asked for is not in the file.
    #[error("--header-row {0}: the file has no such row")]
    NoSuchHeaderRow(usize),
    /// No column holds the case id.
    #[error(
        "no column holds a case id (headers such as `№`, `Номер справи`, `record_id`; a `№ п/п` column numbers the rows and is not one): name it in a --mapping, or pass --id-from-row to make ids from the file's name and the row"
    )]
    NoIdColumn,
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
    let mut named = options.clone();
    if named.source_name.is_none() {
        named.source_name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .map(str::to_string);
    }
    let options = &named;
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
                read_csv_text(&text, options)?
            } else {
                read_json_lines(&text, options)?
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
    let mut outcome = match options.format {
        Some(FileFormat::JsonLines) => read_json_lines(&text, options)?,
        _ => read_csv_text(&text, options)?,
    };
    outcome.encoding = Some(used);
    Ok(outcome)
}

/// How many non-empty rows from the top may hold the header (an empty
/// first row, a title, a date line, a merged banner come before it).
const HEADER_SEARCH_ROWS: usize = 30;
/// Rows after a candidate header that tell whether a delimiter fits.
const DELIMITER_SAMPLE_ROWS: usize = 20;
/// The delimiters a CSV export may use.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// One row of a file: its line (or sheet row) from 1, and its cells.
type Row = (usize, Vec<String>);

fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|cell| cell.trim().is_empty())
}

/// The header among `rows`: the row `forced` names, or, among the first
/// non-empty rows, the one in which most fields find a column (at least a
/// name or a document column). Title rows, merged banners and empty rows
/// find none and are passed over.
fn find_header(
    rows: &[Row],
    mapping: &ColumnMapping,
    forced: Option<usize>,
) -> Result<(usize, ResolvedColumns), ReadError> {
    if let Some(line) = forced {
        let index = rows
            .iter()
            .position(|(at, _)| *at == line)
            .ok_or(ReadError::NoSuchHeaderRow(line))?;
        let columns = mapping.resolve(&rows[index].1);
        if !columns.missing_mapped.is_empty() {
            return Err(ReadError::MissingMappedHeaders(
                columns.missing_mapped.join(", "),
            ));
        }
        if !columns.has_identifying_column() {
            // The row's cells are not repeated: it may hold a person.
            return Err(ReadError::NoIdentifyingColumn(line));
        }
        return Ok((index, columns));
    }
    let mut best: Option<(usize, ResolvedColumns)> = None;
    let mut missing: Option<Vec<String>> = None;
    let candidates = rows
        .iter()
        .enumerate()
        .filter(|(_, (_, cells))| !is_blank(cells))
        .take(HEADER_SEARCH_ROWS);
    for (index, (_, cells)) in candidates {
        let columns = mapping.resolve(cells);
        if !columns.missing_mapped.is_empty() {
            missing.get_or_insert_with(|| columns.missing_mapped.clone());
            continue;
        }
        if !columns.has_identifying_column() {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(_, found)| columns.recognized() > found.recognized())
        {
            best = Some((index, columns));
        }
    }
    match (best, missing) {
        (Some(found), _) => Ok(found),
        (None, Some(missing)) => Err(ReadError::MissingMappedHeaders(missing.join(", "))),
        (None, None) => Err(ReadError::NoHeaderFound {
            searched: HEADER_SEARCH_ROWS,
        }),
    }
}

/// Line numbers of a text, as an editor shows them. The csv crate's own
/// count starts a record after a CRLF one line early, so files saved on
/// Windows had every problem reported a line too low.
struct Lines<'t> {
    text: &'t [u8],
    newlines: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Lines<'t> {
        let text = text.as_bytes();
        let newlines = text
            .iter()
            .enumerate()
            .filter(|(_, byte)| **byte == b'\n')
            .map(|(at, _)| at)
            .collect();
        Lines { text, newlines }
    }

    /// The line of the record that starts at `position`: line ends left
    /// over from the record before are passed over.
    fn of(&self, position: Option<&csv::Position>) -> usize {
        let Some(position) = position else {
            return 0;
        };
        let mut at = position.byte() as usize;
        while self
            .text
            .get(at)
            .is_some_and(|byte| matches!(byte, b'\r' | b'\n'))
        {
            at += 1;
        }
        self.newlines.partition_point(|&newline| newline < at) + 1
    }
}

/// The first rows of a CSV text with `delimiter` (rows that do not parse
/// are left out: they are reported when the file is read).
fn first_csv_rows(text: &str, delimiter: u8, count: usize) -> Vec<Row> {
    let lines = Lines::new(text);
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .take(count)
        .filter_map(Result::ok)
        .map(|row| {
            let line = lines.of(row.position());
            (line, row.iter().map(str::to_string).collect())
        })
        .collect()
}

/// A CSV file's delimiter and header, chosen together.
struct CsvHeader {
    delimiter: u8,
    line: usize,
    columns: ResolvedColumns,
    cells: Vec<String>,
}

/// The delimiter and the header of a CSV text: for each delimiter, its
/// header; then the delimiter under which the rows after the header have
/// the header's width, and most fields find a column. Counting delimiters
/// in the first line is not enough: `Прізвище, ім'я, по батькові;Дата,
/// місце народження` holds four commas and one semicolon.
fn find_csv_header(
    text: &str,
    mapping: &ColumnMapping,
    forced: Option<usize>,
) -> Result<CsvHeader, ReadError> {
    let mut best: Option<((usize, usize, usize), CsvHeader)> = None;
    let mut first_error = None;
    for delimiter in DELIMITERS {
        let rows = first_csv_rows(
            text,
            delimiter,
            2 * HEADER_SEARCH_ROWS + DELIMITER_SAMPLE_ROWS,
        );
        let (index, columns) = match find_header(&rows, mapping, forced) {
            Ok(found) => found,
            Err(error) => {
                first_error.get_or_insert(error);
                continue;
            }
        };
        let (line, header) = &rows[index];
        let sample: Vec<&Row> = rows[index + 1..]
            .iter()
            .filter(|(_, cells)| !is_blank(cells))
            .take(DELIMITER_SAMPLE_ROWS)
            .collect();
        let fitting = sample
            .iter()
            .filter(|(_, cells)| cells.len() == header.len())
            .count();
        // In tenths; a header with no rows after it fits.
        let fit = (fitting * 10).checked_div(sample.len()).unwrap_or(10);
        let key = (fit, columns.recognized(), header.len());
        if best.as_ref().is_none_or(|(found, _)| key > *found) {
            let chosen = CsvHeader {
                delimiter,
                line: *line,
                columns,
                cells: header.clone(),
            };
            best = Some((key, chosen));
        }
    }
    match best {
        Some((_, chosen)) => Ok(chosen),
        None => Err(first_error.unwrap_or(ReadError::NoHeader)),
    }
}

fn read_csv_text(text: &str, options: &ReadOptions) -> Result<ReadOutcome, ReadError> {
    if text.trim().is_empty() {
        return Err(ReadError::NoHeader);
    }
    let header = find_csv_header(text, &options.mapping, options.header_row)?;
    let (columns, headers, header_line) = (&header.columns, &header.cells, header.line);
    let mut rows = RowReader::new(options, Some((columns, headers)), "row-".into())?;
    rows.outcome.header_line = header_line;
    rows.outcome.delimiter = Some(header.delimiter as char);
    let lines = Lines::new(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(header.delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    for row in reader.records() {
        match row {
            Ok(row) => {
                let line = lines.of(row.position());
                if line <= header_line || row.iter().all(|cell| cell.trim().is_empty()) {
                    continue;
                }
                rows.outcome.rows_seen += 1;
                if row.len() != headers.len() {
                    let reason = format!(
                        "row has {} fields, the header (line {header_line}) has {}",
                        row.len(),
                        headers.len()
                    );
                    rows.problem(line, Severity::Rejected, reason);
                    continue;
                }
                let cells: Vec<&str> = row.iter().collect();
                rows.accept(line, &cells, |field| {
                    join_cells(&cells, columns.indexes(field))
                });
            }
            Err(error) => {
                let line = lines.of(error.position());
                if line <= header_line {
                    continue;
                }
                rows.outcome.rows_seen += 1;
                rows.problem(line, Severity::Rejected, csv_reason(&error));
            }
        }
    }
    Ok(rows.finish())
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

/// The longest value a field may hold, in bytes. Names, dates, places and
/// document lists are far shorter; a longer one is a broken export or an
/// attempt to make the node's work grow.
pub const MAX_FIELD_BYTES: usize = 1024;

/// Turns rows into records, filing each row's problems by line and column:
/// the case id (or one made from the row), duplicate ids, dates as lists
/// write them.
struct RowReader {
    outcome: ReadOutcome,
    /// Each field's column as the file names it, for messages.
    column_names: HashMap<CanonicalField, String>,
    /// The first line of each case id, and its record's place.
    seen: HashMap<String, (usize, usize)>,
    merge_duplicates: bool,
    keep_cells: bool,
    /// `Some(prefix)`: ids are made from the row when the file has none.
    id_prefix: Option<String>,
    today: (u32, u32, u32),
}

impl RowReader {
    /// `columns`: the resolved header (none for JSON lines, whose keys are
    /// the field names). Refuses a header without a case-id column unless
    /// ids are to be made from rows (`row_prefix` then starts them).
    fn new(
        options: &ReadOptions,
        columns: Option<(&ResolvedColumns, &[String])>,
        row_prefix: String,
    ) -> Result<RowReader, ReadError> {
        let mut column_names = HashMap::new();
        for field in CanonicalField::ALL {
            let name = match columns {
                Some((columns, headers)) => columns.header_of(field, headers).map(str::to_string),
                None => Some(field.name().to_string()),
            };
            if let Some(name) = name {
                column_names.insert(field, name);
            }
        }
        let mut outcome = ReadOutcome::default();
        if let Some((columns, headers)) = columns {
            outcome.unused_columns = columns
                .unused(headers)
                .into_iter()
                .map(|header| {
                    if crate::mapping::is_row_number_header(&header) {
                        format!("{header} (row numbers, not case numbers)")
                    } else {
                        header
                    }
                })
                .collect();
            outcome.headers = headers.to_vec();
            if columns.indexes(CanonicalField::RecordId).is_empty() && !options.id_from_row {
                return Err(ReadError::NoIdColumn);
            }
        }
        outcome.ids_from_rows = options.id_from_row;
        Ok(RowReader {
            outcome,
            column_names,
            seen: HashMap::new(),
            merge_duplicates: options.merge_duplicate_ids,
            keep_cells: options.keep_cells,
            id_prefix: options.id_from_row.then(|| match &options.source_name {
                Some(source) => format!("{source}:{row_prefix}"),
                None => row_prefix,
            }),
            today: crate::dates::today(),
        })
    }

    /// `column "Дата народження" (birth_date)`.
    fn column(&self, field: CanonicalField) -> String {
        match self.column_names.get(&field) {
            Some(name) if name != field.name() => format!("column \"{name}\" ({})", field.name()),
            _ => field.name().to_string(),
        }
    }

    fn problem(&mut self, line: usize, severity: Severity, reason: String) {
        self.outcome.problems.push(RowProblem {
            line,
            severity,
            reason,
        });
    }

    /// Builds a record from a row's fields and files it, with its problems.
    fn accept(&mut self, line: usize, cells: &[&str], field: impl Fn(CanonicalField) -> String) {
        for which in CanonicalField::ALL {
            let length = field(which).len();
            if length > MAX_FIELD_BYTES {
                let reason = format!(
                    "{} holds {length} bytes, at most {MAX_FIELD_BYTES}",
                    self.column(which)
                );
                self.problem(line, Severity::Rejected, reason);
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
        if record.record_id.is_empty()
            && let Some(prefix) = &self.id_prefix
        {
            record.record_id = format!("{prefix}{line}");
        }
        if record.record_id.is_empty() {
            let reason = format!("{} is empty", self.column(CanonicalField::RecordId));
            self.problem(line, Severity::Rejected, reason);
            return;
        }
        if !record.is_identifiable() {
            let reason = "record has neither a name nor a document".to_string();
            self.problem(line, Severity::Rejected, reason);
            return;
        }
        let mut date_text = field(CanonicalField::BirthDate);
        let mut date_field = CanonicalField::BirthDate;
        let date_and_place = field(CanonicalField::BirthDateAndPlace);
        if date_text.is_empty() && !date_and_place.is_empty() {
            let (date, place) = split_date_and_place(&date_and_place);
            date_text = date;
            date_field = CanonicalField::BirthDateAndPlace;
            if record.birth_place.is_empty() {
                record.birth_place = place;
            }
        }
        if !date_text.is_empty() {
            self.read_date(line, date_field, &date_text, &mut record);
        }
        let place = self.outcome.records.len();
        let cells = if self.keep_cells {
            cells.iter().map(|cell| cell.to_string()).collect()
        } else {
            Vec::new()
        };
        match self.seen.get(&record.record_id).copied() {
            Some((first, index)) if self.merge_duplicates => {
                let reason = format!(
                    "{} repeats line {first}'s: this later row is kept (--merge-duplicates)",
                    self.column(CanonicalField::RecordId)
                );
                self.problem(line, Severity::Warning, reason);
                self.outcome.records[index] = ReadRecord {
                    line,
                    record,
                    cells,
                };
            }
            Some((first, _)) => {
                let reason = format!(
                    "{} repeats line {first}'s: not read, the first row is kept (check the list; --merge-duplicates keeps the last row instead)",
                    self.column(CanonicalField::RecordId)
                );
                self.problem(line, Severity::Rejected, reason);
            }
            None => {
                self.seen.insert(record.record_id.clone(), (line, place));
                self.outcome.records.push(ReadRecord {
                    line,
                    record,
                    cells,
                });
            }
        }
    }

    fn read_date(&mut self, line: usize, field: CanonicalField, text: &str, record: &mut Record) {
        use crate::dates::DateReading;
        let column = self.column(field);
        match crate::dates::read_birth_date(text, self.today) {
            DateReading::Date(date) => record.birth_date = Some(date),
            DateReading::Approximate(date) => {
                record.birth_date = Some(date);
                let reason = format!("{column}: an approximate year, kept as that year");
                self.problem(line, Severity::Warning, reason);
            }
            DateReading::YearRange => {
                // Several year tokens on one stored record would tell a
                // thief which of a family's year tokens are close; a
                // searcher's query may carry a range instead.
                let reason = format!(
                    "{column}: a range of years, left empty (a list keeps one year per person; search with the range instead)"
                );
                self.problem(line, Severity::Warning, reason);
            }
            DateReading::Future => {
                let reason = format!("{column}: a date after today, left empty");
                self.problem(line, Severity::Warning, reason);
            }
            DateReading::TwoDigitYear => {
                let reason = format!(
                    "{column}: a year of two digits (which century?), left empty: write the year in full"
                );
                self.problem(line, Severity::Warning, reason);
            }
            DateReading::Unreadable(error) => {
                let reason = format!("{column}: left empty: {error}");
                self.problem(line, Severity::Warning, reason);
            }
        }
    }

    fn finish(self) -> ReadOutcome {
        let mut outcome = self.outcome;
        outcome.problems.sort_by_key(|problem| problem.line);
        outcome
    }
}

/// "14.05.2012, м. Маріуполь" → the date before the first comma or
/// semicolon, the place after it; without one, all of it is the date.
fn split_date_and_place(text: &str) -> (String, String) {
    match text.split_once([',', ';']) {
        Some((date, place)) => (date.trim().to_string(), place.trim().to_string()),
        None => (text.trim().to_string(), String::new()),
    }
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

fn read_json_lines(text: &str, options: &ReadOptions) -> Result<ReadOutcome, ReadError> {
    let mut rows = RowReader::new(options, None, "row-".into())?;
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        if raw_line.trim().is_empty() {
            continue;
        }
        rows.outcome.rows_seen += 1;
        let object = match serde_json::from_str::<serde_json::Value>(raw_line) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(_) => {
                let reason = "line is not a JSON object".to_string();
                rows.problem(line, Severity::Rejected, reason);
                continue;
            }
            Err(error) => {
                let reason = format!("line is not valid JSON (column {})", error.column());
                rows.problem(line, Severity::Rejected, reason);
                continue;
            }
        };
        rows.accept(line, &[], |field| json_field(&object, field.name()));
    }
    Ok(rows.finish())
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
    /// The sheet's name.
    name: String,
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

/// The sheet asked for (refused when the workbook has none of that name),
/// or the first.
fn choose_sheet(sheets: &[String], wanted: Option<String>) -> Result<String, ReadError> {
    match wanted {
        Some(name) if !sheets.contains(&name) => Err(ReadError::NoSuchSheet {
            wanted: name,
            available: sheets.join(", "),
        }),
        Some(name) => Ok(name),
        None => sheets.first().cloned().ok_or(ReadError::NoHeader),
    }
}

fn read_xlsx_sparse(path: &Path, sheet: Option<String>) -> Result<SparseSheet, ReadError> {
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(path)
        .map_err(|error: calamine::XlsxError| ReadError::Workbook(error.to_string()))?;
    let sheets = workbook.sheet_names();
    let name = choose_sheet(&sheets, sheet)?;
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
    Ok(SparseSheet { name, cells })
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
    let (sheet, rows): (String, Vec<(u32, Vec<String>)>) = if is_xlsx {
        let sparse = read_xlsx_sparse(path, wanted)?;
        (sparse.name.clone(), sparse.rows())
    } else {
        let mut workbook = calamine::open_workbook_auto(path)
            .map_err(|error| ReadError::Workbook(error.to_string()))?;
        let sheets = workbook.sheet_names();
        let name = choose_sheet(&sheets, wanted)?;
        let range = workbook
            .worksheet_range(&name)
            .map_err(|error| ReadError::Workbook(error.to_string()))?;
        let first_row = range.start().map_or(0, |(row, _)| row);
        let rows = range
            .rows()
            .enumerate()
            .map(|(index, row)| {
                (
                    first_row + index as u32,
                    row.iter().map(cell_text).collect(),
                )
            })
            .collect();
        (name, rows)
    };
    // Rows count from 1 in a spreadsheet.
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(row, cells)| (row as usize + 1, cells))
        .collect();
    if rows.is_empty() {
        return Err(ReadError::NoHeader);
    }
    let (index, columns) = find_header(&rows, &options.mapping, options.header_row)?;
    let (header_line, headers) = &rows[index];
    let mut reader = RowReader::new(options, Some((&columns, headers)), format!("{sheet}!"))?;
    reader.outcome.header_line = *header_line;
    for (line, cells) in &rows[index + 1..] {
        if is_blank(cells) {
            continue;
        }
        reader.outcome.rows_seen += 1;
        let cell_refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        reader.accept(*line, &cell_refs, |field| {
            join_cells(&cell_refs, columns.indexes(field))
        });
    }
    Ok(reader.finish())
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
        let outcome = read_csv_text(&text, &ReadOptions::default()).expect("reads");
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
        let outcome = read_csv_text(text, &ReadOptions::default()).expect("reads");
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
        let outcome = read_csv_text(text, &ReadOptions::default()).expect("reads");
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
        let outcome = read_csv_text(&text, &ReadOptions::default()).expect("reads");
        let record = &outcome.records[0].record;
        assert_eq!(
            (record.given_name.as_str(), record.patronymic.as_str()),
            ("Марія", "Петрівна")
        );
    }

    #[test]
    fn reads_json_lines_with_lists() {
        let text = "{\"record_id\":\"7\",\"given_name\":\"Ivan\",\"document_ids\":[\"passport:AB1\",\"x:2\"]}\nnot json\n";
        let outcome = read_json_lines(text, &ReadOptions::default()).expect("reads");
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

    fn ids(outcome: &ReadOutcome) -> Vec<&str> {
        outcome
            .records
            .iter()
            .map(|read| read.record.record_id.as_str())
            .collect()
    }

    #[test]
    fn an_export_as_staff_save_it_reads_as_it_is() {
        // A title, an empty line, headers with commas in a `;` file, a
        // combined date-and-place column, notes, Windows line endings, a
        // repeated case number and dates as lists write them.
        let text = "Список зниклих безвісти дітей (станом на 01.10.2024);;;;\r\n\
                    ;;;;\r\n\
                    Номер справи;ПІБ дитини;Дата, місце народження;Свидетельство о рождении;Примітки\r\n\
                    1;Коваленко Олександр Іванович;14.05.2012, м. Маріуполь;I-БК 123456;з матір'ю\r\n\
                    2;Шевченко Тарас;14 травня 2012;;\r\n\
                    2;Бондар Ірина;2010;;\r\n\
                    3;Мельник Іван;2014р.н.;;\r\n\
                    4;Петренко Ольга;2009-2011;;\r\n\
                    5;Ткачук Андрій;~2010;;\r\n";
        let outcome = read_csv_text(text, &ReadOptions::default()).expect("reads");
        assert_eq!(outcome.header_line, 3);
        assert_eq!(outcome.delimiter, Some(';'));
        assert_eq!(outcome.unused_columns, ["Примітки"]);
        assert_eq!(ids(&outcome), ["1", "2", "3", "4", "5"]);
        let first = &outcome.records[0];
        assert_eq!(first.line, 4, "lines count as an editor shows them");
        assert_eq!(first.record.family_name, "Коваленко");
        assert_eq!(first.record.patronymic, "Іванович");
        assert_eq!(first.record.birth_place, "м. Маріуполь");
        assert_eq!(first.record.document_ids, ["I-БК 123456"]);
        let date = |index: usize| outcome.records[index].record.birth_date.map(|d| d.to_iso());
        assert_eq!(date(0).as_deref(), Some("2012-05-14"));
        assert_eq!(date(1).as_deref(), Some("2012-05-14"));
        assert_eq!(date(2).as_deref(), Some("2014"));
        assert_eq!(date(3), None, "a range is not made a year");
        assert_eq!(date(4).as_deref(), Some("2010"));
        let problems: Vec<(usize, Severity, &str)> = outcome
            .problems
            .iter()
            .map(|p| (p.line, p.severity, p.reason.as_str()))
            .collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!((problems[0].0, problems[0].1), (6, Severity::Rejected));
        assert!(problems[0].2.contains("repeats line 5"), "{problems:?}");
        assert!(problems[0].2.contains("\"Номер справи\""), "{problems:?}");
        assert_eq!((problems[1].0, problems[1].1), (8, Severity::Warning));
        assert!(problems[1].2.contains("range of years"), "{problems:?}");
        assert!(
            problems[1].2.contains("\"Дата, місце народження\""),
            "{problems:?}"
        );
        assert_eq!((problems[2].0, problems[2].1), (9, Severity::Warning));
        assert!(problems[2].2.contains("approximate"), "{problems:?}");
        for problem in &outcome.problems {
            assert!(!problem.reason.contains("Бондар") && !problem.reason.contains("2009"));
        }

        // Asked, the last of the repeated rows is kept instead.
        let merging = ReadOptions {
            merge_duplicate_ids: true,
            ..ReadOptions::default()
        };
        let merged = read_csv_text(text, &merging).expect("reads");
        assert_eq!(ids(&merged), ["1", "2", "3", "4", "5"]);
        assert_eq!(merged.records[1].record.family_name, "Бондар");
    }

    #[test]
    fn a_list_without_case_ids_is_refused_once_or_numbered_by_row() {
        // `№ п/п` numbers the rows: it is no case number.
        let text = "№ п/п,Прізвище,Ім'я,Рік народження\n1,Коваленко,Олександр,2011\n2,Шевченко,Тарас,2012\n";
        let error = read_csv_text(text, &ReadOptions::default()).expect_err("refused");
        assert!(matches!(error, ReadError::NoIdColumn), "{error}");
        assert!(error.to_string().contains("--id-from-row"));
        let numbered = ReadOptions {
            id_from_row: true,
            ..ReadOptions::default()
        };
        let outcome = read_csv_text(text, &numbered).expect("reads");
        assert_eq!(ids(&outcome), ["row-2", "row-3"]);
        assert_eq!(
            outcome.unused_columns,
            ["№ п/п (row numbers, not case numbers)"]
        );
    }

    #[test]
    fn the_header_row_can_be_named_and_a_file_without_one_says_how() {
        let text = "Звіт\nrecord_id,family_name,given_name\n1,Коваленко,Олександр\n";
        let named = ReadOptions {
            header_row: Some(2),
            ..ReadOptions::default()
        };
        assert_eq!(read_csv_text(text, &named).expect("reads").records.len(), 1);
        let wrong = ReadOptions {
            header_row: Some(9),
            ..ReadOptions::default()
        };
        assert!(matches!(
            read_csv_text(text, &wrong),
            Err(ReadError::NoSuchHeaderRow(9))
        ));
        let no_header = "Коваленко,Олександр,2011\nШевченко,Тарас,2012\n";
        let error = read_csv_text(no_header, &ReadOptions::default()).expect_err("refused");
        assert!(error.to_string().contains("--header-row"), "{error}");
        assert!(!error.to_string().contains("Коваленко"), "{error}");
    }

    #[test]
    fn a_workbook_with_a_title_and_numbers_for_dates_reads_from_its_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("list.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("Діти").expect("name");
        let title = rust_xlsxwriter::Format::new();
        sheet
            .merge_range(
                1,
                0,
                1,
                5,
                "Список зниклих безвісти дітей (станом на 01.10.2024)",
                &title,
            )
            .expect("title");
        let headers = [
            "№",
            "ПІБ",
            "Дата народження",
            "Місце народження",
            "Свідоцтво про народження",
            "Примітки",
        ];
        for (column, header) in headers.iter().enumerate() {
            sheet
                .write_string(2, column as u16, *header)
                .expect("header");
        }
        sheet.write_number(3, 0, 1.0).expect("cell");
        sheet
            .write_string(3, 1, "Коваленко Олександр Іванович")
            .expect("cell");
        // 41,043 is 14 May 2012, in a cell not formatted as a date.
        sheet.write_number(3, 2, 41043.0).expect("cell");
        sheet.write_string(3, 3, "Маріуполь").expect("cell");
        book.add_worksheet()
            .write_string(0, 0, "друга сторінка")
            .expect("second sheet");
        book.save(&path).expect("save");
        let outcome = read_file(&path, &ReadOptions::default()).expect("reads");
        assert_eq!(outcome.header_line, 3);
        assert_eq!(outcome.unused_columns, ["Примітки"]);
        assert_eq!(outcome.records.len(), 1, "{:?}", outcome.problems);
        let record = &outcome.records[0];
        assert_eq!(record.line, 4);
        assert_eq!(record.record.record_id, "1");
        assert_eq!(record.record.family_name, "Коваленко");
        assert_eq!(
            record.record.birth_date.map(|d| d.to_iso()).as_deref(),
            Some("2012-05-14")
        );
        let numbered = ReadOptions {
            id_from_row: true,
            header_row: Some(3),
            ..ReadOptions::default()
        };
        assert_eq!(read_file(&path, &numbered).expect("reads").records.len(), 1);
    }

    #[test]
    fn a_koi8_file_is_read_as_koi8_and_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("koi8.csv");
        let text = "Номер справи;Прізвище;Ім'я\n1;Коваленко;Олександр\n2;Їжакевич;Євгенія\n";
        let (bytes, _, _) = encoding_rs::KOI8_U.encode(text);
        std::fs::write(&path, &bytes).expect("write");
        let outcome = read_file(&path, &ReadOptions::default()).expect("reads");
        assert_eq!(outcome.encoding, Some(Encoding::Koi8U));
        assert_eq!(outcome.records[1].record.family_name, "Їжакевич");
    }
}

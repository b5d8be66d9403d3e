//! Reading partners' case exports (CSV, Excel, JSONL) into canonical records.
//!
//! Partners export from whatever they keep their cases in: Excel saved as
//! Windows-1251 CSV with semicolons, UTF-8 CSV with a BOM, `.xlsx` workbooks,
//! JSON lines from a case-management system. A column mapping (TOML) names which
//! of their headers holds which field; common Ukrainian, Russian and English
//! headers are recognized without one.
//!
//! Bad input loses nothing that can be kept: a row that cannot be read is
//! reported with its line number and reason and the rest is read; an unreadable
//! date keeps the record without the date and adds a warning. Problem reports
//! never quote the values they complain about (they are personal data).

pub mod dates;
mod decode;
mod mapping;
mod read;

pub use dates::{DateReading, read_birth_date, today};
pub use decode::{Encoding, decode_bytes};
pub use mapping::{CanonicalField, ColumnMapping, MappingError};
pub use read::{
    FileFormat, MAX_FIELD_BYTES, MAX_SHEET_CELLS, MAX_SHEET_COLUMNS, MAX_WORKBOOK_UNPACKED_BYTES,
    ReadError, ReadOptions, ReadOutcome, ReadRecord, RowProblem, Severity, read_file,
    read_reader_csv,
};

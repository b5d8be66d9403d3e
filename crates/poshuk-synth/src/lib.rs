//! Synthetic case lists of three kinds of partner, with the truth of who is who.
//!
//! The same persons are written down by a Ukrainian NGO (Ukrainian Cyrillic),
//! by sources in Russia (Russified given names and patronymics, Russian surname
//! spellings, children under adoptive surnames with changed birth dates, swapped
//! day and month) and by an international organization (Latin in mixed
//! transliteration systems, English given-name forms, swapped name columns).
//! Hard negatives are generated on purpose: siblings, twins and namesakes.
//!
//! Feeds the tests, `poshuk demo` and the benchmarks. Deterministic per seed.

mod generate;
mod tables;
pub mod translit;

use std::path::Path;

pub use generate::{Relation, Source, SynthConfig, SynthData, SynthRow, generate};

/// Errors writing the files.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The output cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

const HEADER: [&str; 9] = [
    "record_id",
    "given_name",
    "family_name",
    "patronymic",
    "other_names",
    "sex",
    "birth_date",
    "birth_place",
    "document_ids",
];

/// Writes `ngo_ua.csv`, `ru_sources.csv`, `intl_org.csv`, `truth.csv` and
/// `relations.csv` (the hard negatives) into `dir`.
pub fn write_dir(data: &SynthData, dir: &Path) -> Result<(), SynthError> {
    let fail = |path: &Path, error: std::io::Error| SynthError::Write {
        path: path.display().to_string(),
        source: error,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    for source in Source::ALL {
        let path = dir.join(format!("{}.csv", source.stem()));
        let mut writer = csv::Writer::from_path(&path).map_err(|e| fail(&path, e.into()))?;
        writer
            .write_record(HEADER)
            .map_err(|e| fail(&path, e.into()))?;
        for row in &data.rows[source as usize] {
            writer
                .write_record([
                    &row.record_id,
                    &row.given_name,
                    &row.family_name,
                    &row.patronymic,
                    &row.other_names,
                    &row.sex,
                    &row.birth_date,
                    &row.birth_place,
                    &row.document_ids,
                ])
                .map_err(|e| fail(&path, e.into()))?;
        }
        writer.flush().map_err(|e| fail(&path, e))?;
    }
    let path = dir.join("truth.csv");
    let mut writer = csv::Writer::from_path(&path).map_err(|e| fail(&path, e.into()))?;
    writer
        .write_record(["source", "record_id", "person_id"])
        .map_err(|e| fail(&path, e.into()))?;
    for (source, record_id, person_id) in &data.truth {
        writer
            .write_record([source.stem(), record_id, &person_id.to_string()])
            .map_err(|e| fail(&path, e.into()))?;
    }
    writer.flush().map_err(|e| fail(&path, e))?;
    let path = dir.join("relations.csv");
    let mut writer = csv::Writer::from_path(&path).map_err(|e| fail(&path, e.into()))?;
    writer
        .write_record(["person_a", "person_b", "relation"])
        .map_err(|e| fail(&path, e.into()))?;
    for (a, b, relation) in &data.relations {
        writer
            .write_record([
                a.to_string().as_str(),
                b.to_string().as_str(),
                relation.name(),
            ])
            .map_err(|e| fail(&path, e.into()))?;
    }
    writer.flush().map_err(|e| fail(&path, e))?;
    Ok(())
}

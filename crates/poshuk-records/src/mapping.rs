//! Column mapping: which of a partner's headers holds which canonical field.

use std::collections::HashMap;

use serde::Deserialize;

/// The canonical fields of a case record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CanonicalField {
    /// The partner's case id.
    RecordId,
    /// Given name.
    GivenName,
    /// Family name.
    FamilyName,
    /// Patronymic.
    Patronymic,
    /// Other names, `;`-separated.
    OtherNames,
    /// Sex.
    Sex,
    /// Birth date.
    BirthDate,
    /// Birth place.
    BirthPlace,
    /// Document ids, `;`-separated.
    DocumentIds,
    /// The whole name in one column (ПІБ, ФИО), split on reading.
    FullName,
    /// Birth date and place in one column ("Дата, місце народження"):
    /// the date at its start, the place after it.
    BirthDateAndPlace,
}

impl CanonicalField {
    /// Every field.
    pub const ALL: [CanonicalField; 11] = [
        CanonicalField::RecordId,
        CanonicalField::GivenName,
        CanonicalField::FamilyName,
        CanonicalField::Patronymic,
        CanonicalField::OtherNames,
        CanonicalField::Sex,
        CanonicalField::BirthDate,
        CanonicalField::BirthPlace,
        CanonicalField::DocumentIds,
        CanonicalField::FullName,
        CanonicalField::BirthDateAndPlace,
    ];

    /// The canonical column name.
    pub fn name(self) -> &'static str {
        match self {
            CanonicalField::RecordId => "record_id",
            CanonicalField::GivenName => "given_name",
            CanonicalField::FamilyName => "family_name",
            CanonicalField::Patronymic => "patronymic",
            CanonicalField::OtherNames => "other_names",
            CanonicalField::Sex => "sex",
            CanonicalField::BirthDate => "birth_date",
            CanonicalField::BirthPlace => "birth_place",
            CanonicalField::DocumentIds => "document_ids",
            CanonicalField::FullName => "full_name",
            CanonicalField::BirthDateAndPlace => "birth_date_and_place",
        }
    }

    fn from_name(name: &str) -> Option<CanonicalField> {
        CanonicalField::ALL
            .into_iter()
            .find(|field| field.name() == name)
    }

    /// Headers recognized without a mapping file (compared case-insensitively,
    /// apostrophes and spaces ignored).
    fn known_headers(self) -> &'static [&'static str] {
        match self {
            CanonicalField::RecordId => &[
                "record_id",
                "id",
                "case_id",
                "номер справи",
                "номер",
                "№",
                "номер дела",
                "номер справи/картки",
                "реєстраційний номер",
                "регистрационный номер",
                "номер картки",
                "номер карточки",
                "case number",
                "case no",
                "case",
                "no",
            ],
            CanonicalField::GivenName => &[
                "given_name",
                "ім'я",
                "имя",
                "first name",
                "firstname",
                "given name",
                "name",
            ],
            CanonicalField::FamilyName => &[
                "family_name",
                "прізвище",
                "фамилия",
                "last name",
                "lastname",
                "surname",
                "family name",
            ],
            CanonicalField::Patronymic => &[
                "patronymic",
                "по батькові",
                "по-батькові",
                "отчество",
                "middle name",
                "father's name",
            ],
            CanonicalField::OtherNames => &[
                "other_names",
                "інші імена",
                "інші прізвища",
                "попереднє прізвище",
                "другие имена",
                "прежняя фамилия",
                "aliases",
                "other names",
                "also known as",
            ],
            CanonicalField::Sex => &["sex", "стать", "пол", "gender"],
            CanonicalField::BirthDate => &[
                "birth_date",
                "дата народження",
                "дата рождения",
                "date of birth",
                "dob",
                "birth date",
                "birthdate",
                "рік народження",
                "год рождения",
                "year of birth",
                "birth year",
            ],
            CanonicalField::BirthPlace => &[
                "birth_place",
                "місце народження",
                "место рождения",
                "place of birth",
                "birth place",
                "birthplace",
            ],
            CanonicalField::FullName => &[
                "full_name",
                "піб",
                "п.і.б.",
                "п.і.б",
                "фио",
                "ф.и.о.",
                "ф.и.о",
                "прізвище ім'я по батькові",
                "прізвище, ім'я, по батькові",
                "прізвище та ім'я",
                "прізвище, ім'я",
                "ім'я та прізвище",
                "фамилия имя отчество",
                "фамилия, имя, отчество",
                "фамилия и имя",
                "имя и фамилия",
                "full name",
                "name and surname",
                "surname and name",
            ],
            CanonicalField::DocumentIds => &[
                "document_ids",
                "документи",
                "документ",
                "документы",
                "documents",
                "document",
                "passport",
                "паспорт",
                "свідоцтво про народження",
                "свідоцтво",
                "свидетельство о рождении",
                "свидетельство",
                "номер документа",
                "документ, що посвідчує особу",
                "документ, удостоверяющий личность",
                "birth certificate",
                "passport number",
            ],
            CanonicalField::BirthDateAndPlace => &[
                "birth_date_and_place",
                "дата, місце народження",
                "дата і місце народження",
                "дата та місце народження",
                "дата, место рождения",
                "дата и место рождения",
                "date and place of birth",
            ],
        }
    }
}

/// Headers of a column that numbers the rows (`№ п/п`: "in order"): not a
/// case number. Two lists both numbered 1, 2, 3 would overwrite each other's
/// cases in a node, and a re-sorted list would move every case.
const ROW_NUMBER_HEADERS: &[&str] = &[
    "№ п/п",
    "№ з/п",
    "п/п",
    "з/п",
    "№ по порядку",
    "порядковий номер",
    "порядковый номер",
];

/// Whether a header names a column of row numbers.
pub(crate) fn is_row_number_header(header: &str) -> bool {
    let key = header_key(header);
    ROW_NUMBER_HEADERS
        .iter()
        .any(|known| header_key(known) == key)
}

/// Words that say whose field it is, not which ("ПІБ дитини", "ФИО
/// ребенка", "ПІБ (повністю)"): left out when headers are compared.
const QUALIFIERS: &[&str] = &[
    "дитини",
    "ребенка",
    "ребёнка",
    "особи",
    "лица",
    "зниклого",
    "пропавшего",
    "повністю",
    "полностью",
    "child",
    "child's",
];

/// A header as compared: lower case, without a bracketed aside, qualifier
/// words, apostrophes, spaces and punctuation.
pub(crate) fn header_key(header: &str) -> String {
    let lower = header.trim().trim_start_matches('\u{feff}').to_lowercase();
    // "ПІБ (повністю)", "Дата народження (дд.мм.рррр)".
    let mut unbracketed = String::with_capacity(lower.len());
    let mut depth = 0usize;
    for c in lower.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => unbracketed.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = unbracketed
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|word| !word.is_empty() && !QUALIFIERS.contains(word))
        .collect();
    // A header made only of qualifiers is kept as it was.
    let kept = if words.is_empty() {
        unbracketed
    } else {
        words.join(" ")
    };
    kept.chars()
        .filter(|c| {
            !matches!(
                c,
                '\'' | '’' | 'ʼ' | '`' | ' ' | '_' | '-' | '.' | ',' | '/' | ':' | ';'
            )
        })
        .collect()
}

/// Errors in a mapping file.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The TOML does not parse.
    #[error("column mapping is not valid TOML: {0}")]
    Toml(String),
    /// A key in `[columns]` is not a canonical field.
    #[error(
        "column mapping names an unknown field `{0}` (known: record_id, given_name, family_name, patronymic, other_names, sex, birth_date, birth_place, document_ids, full_name)"
    )]
    UnknownField(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    columns: HashMap<String, OneOrMany>,
    #[serde(default)]
    sheet: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Which headers feed which field. Several headers may feed one field (two
/// document columns, say); their values are joined with `;`.
#[derive(Debug, Clone, Default)]
pub struct ColumnMapping {
    explicit: HashMap<CanonicalField, Vec<String>>,
    /// The worksheet to read in a workbook (the first one if absent).
    pub sheet: Option<String>,
    /// The encoding the file is in, if the mapping says.
    pub encoding: Option<String>,
}

impl ColumnMapping {
    /// Parses a mapping file's text.
    pub fn from_toml(text: &str) -> Result<ColumnMapping, MappingError> {
        let file: MappingFile = toml::from_str(text)
            .map_err(|error| MappingError::Toml(error.message().to_string()))?;
        let mut explicit = HashMap::new();
        for (name, headers) in file.columns {
            let field = CanonicalField::from_name(&name).ok_or(MappingError::UnknownField(name))?;
            let headers = match headers {
                OneOrMany::One(header) => vec![header],
                OneOrMany::Many(headers) => headers,
            };
            explicit.insert(field, headers);
        }
        Ok(ColumnMapping {
            explicit,
            sheet: file.sheet,
            encoding: file.encoding,
        })
    }

    /// For each canonical field, the indexes of the header columns that feed it.
    /// Fields named in the mapping use exactly its headers; the others fall back
    /// to the recognized headers.
    pub fn resolve(&self, headers: &[String]) -> ResolvedColumns {
        let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
        let mut columns: Vec<(CanonicalField, Vec<usize>)> = Vec::new();
        let mut missing_mapped: Vec<String> = Vec::new();
        for field in CanonicalField::ALL {
            let indexes: Vec<usize> = match self.explicit.get(&field) {
                Some(wanted) => {
                    let mut found = Vec::new();
                    for header in wanted {
                        match keys.iter().position(|key| *key == header_key(header)) {
                            Some(index) => found.push(index),
                            None => missing_mapped.push(header.clone()),
                        }
                    }
                    found
                }
                None => field
                    .known_headers()
                    .iter()
                    .find_map(|known| keys.iter().position(|key| *key == header_key(known)))
                    .into_iter()
                    .collect(),
            };
            columns.push((field, indexes));
        }
        ResolvedColumns {
            columns,
            missing_mapped,
        }
    }
}

/// A mapping applied to one file's header row.
#[derive(Debug, Clone)]
pub struct ResolvedColumns {
    columns: Vec<(CanonicalField, Vec<usize>)>,
    /// Headers the mapping names that the file lacks.
    pub missing_mapped: Vec<String>,
}

impl ResolvedColumns {
    /// The column indexes feeding a field.
    pub fn indexes(&self, field: CanonicalField) -> &[usize] {
        self.columns
            .iter()
            .find(|(candidate, _)| *candidate == field)
            .map(|(_, indexes)| indexes.as_slice())
            .unwrap_or(&[])
    }

    /// How many fields found a column.
    pub fn recognized(&self) -> usize {
        self.columns
            .iter()
            .filter(|(_, indexes)| !indexes.is_empty())
            .count()
    }

    /// The header of the first column feeding `field`, as the file writes it.
    pub fn header_of<'h>(&self, field: CanonicalField, headers: &'h [String]) -> Option<&'h str> {
        let index = *self.indexes(field).first()?;
        headers.get(index).map(|header| header.trim())
    }

    /// Headers no field reads, as the file writes them (empty ones left out):
    /// the summary lists them, so that no column is dropped unseen.
    pub fn unused(&self, headers: &[String]) -> Vec<String> {
        headers
            .iter()
            .enumerate()
            .filter(|(index, header)| {
                !header.trim().is_empty()
                    && !self
                        .columns
                        .iter()
                        .any(|(_, indexes)| indexes.contains(index))
            })
            .map(|(_, header)| header.trim().to_string())
            .collect()
    }

    /// Whether any name or document column was found.
    pub fn has_identifying_column(&self) -> bool {
        [
            CanonicalField::GivenName,
            CanonicalField::FamilyName,
            CanonicalField::OtherNames,
            CanonicalField::DocumentIds,
            CanonicalField::FullName,
        ]
        .iter()
        .any(|field| !self.indexes(*field).is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_ukrainian_headers_without_a_mapping() {
        let headers: Vec<String> = ["Прізвище", "Ім’я", "По батькові", "Дата народження"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let resolved = ColumnMapping::default().resolve(&headers);
        assert_eq!(resolved.indexes(CanonicalField::FamilyName), &[0]);
        assert_eq!(resolved.indexes(CanonicalField::GivenName), &[1]);
        assert_eq!(resolved.indexes(CanonicalField::Patronymic), &[2]);
        assert_eq!(resolved.indexes(CanonicalField::BirthDate), &[3]);
    }

    #[test]
    fn headers_seen_in_real_lists_are_recognized() {
        let cases = [
            ("№", CanonicalField::RecordId),
            ("ПІБ дитини", CanonicalField::FullName),
            ("ФИО ребенка", CanonicalField::FullName),
            ("Прізвище та ім'я", CanonicalField::FullName),
            ("ПІБ (повністю)", CanonicalField::FullName),
            ("Прізвище, ім'я, по батькові", CanonicalField::FullName),
            ("Свидетельство о рождении", CanonicalField::DocumentIds),
            ("Дата, місце народження", CanonicalField::BirthDateAndPlace),
            ("Дата народження дитини", CanonicalField::BirthDate),
            ("Full name", CanonicalField::FullName),
            ("Name", CanonicalField::GivenName),
        ];
        for (header, field) in cases {
            let headers = vec![header.to_string()];
            let resolved = ColumnMapping::default().resolve(&headers);
            assert_eq!(resolved.indexes(field), [0], "{header}");
            assert!(resolved.unused(&headers).is_empty(), "{header}");
        }
        // Row numbers are recognized as such, and are no case number.
        let headers = vec!["№ п/п".to_string(), "ПІБ".to_string()];
        let resolved = ColumnMapping::default().resolve(&headers);
        assert!(resolved.indexes(CanonicalField::RecordId).is_empty());
        assert!(is_row_number_header("№ п/п"));
        let headers: Vec<String> = ["ПІБ", "Примітки"].iter().map(|s| s.to_string()).collect();
        let resolved = ColumnMapping::default().resolve(&headers);
        assert_eq!(resolved.unused(&headers), ["Примітки"]);
        assert_eq!(
            resolved.header_of(CanonicalField::FullName, &headers),
            Some("ПІБ")
        );
    }

    #[test]
    fn mapping_file_joins_several_columns() {
        let mapping = ColumnMapping::from_toml(
            "[columns]\nfamily_name = \"Прізвище дитини\"\ndocument_ids = [\"Паспорт\", \"Свідоцтво\"]\n",
        )
        .expect("valid mapping");
        let headers: Vec<String> = ["Свідоцтво", "Прізвище дитини", "Паспорт"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let resolved = mapping.resolve(&headers);
        assert_eq!(resolved.indexes(CanonicalField::FamilyName), &[1]);
        assert_eq!(resolved.indexes(CanonicalField::DocumentIds), &[2, 0]);
    }

    #[test]
    fn unknown_field_is_named() {
        let error = ColumnMapping::from_toml("[columns]\nsurname = \"x\"\n").unwrap_err();
        assert!(error.to_string().contains("`surname`"), "{error}");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The example in config/ must stay valid.
    #[test]
    fn example_mapping_parses() {
        let mapping =
            ColumnMapping::from_toml(include_str!("../../../config/mapping.example.toml"))
                .expect("example mapping is valid");
        let headers: Vec<String> = ["Номер справи", "Прізвище", "Ім'я"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            mapping
                .resolve(&headers)
                .indexes(CanonicalField::FamilyName),
            &[1]
        );
    }
}

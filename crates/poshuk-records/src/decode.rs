//! Text encodings of partner exports: UTF-8 (with or without BOM), UTF-16 with
//! BOM, Windows-1251, which Excel writes for Cyrillic on Windows, and KOI8-U
//! (and KOI8-R), which older Unix and mail systems still write.

use crate::read::ReadError;

/// An encoding a partner file may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    Utf8,
    /// Windows-1251 (Cyrillic).
    Windows1251,
    /// UTF-16 (little or big endian), told by its byte-order mark.
    Utf16,
    /// KOI8-U, which holds KOI8-R's Russian letters at the same places and
    /// adds Ukrainian і ї є ґ.
    Koi8U,
}

impl Encoding {
    /// Parses a name as given to `--encoding`.
    pub fn parse(name: &str) -> Option<Encoding> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "windows-1251" | "cp1251" | "win1251" | "1251" => Some(Encoding::Windows1251),
            "utf-16" | "utf16" => Some(Encoding::Utf16),
            "koi8-u" | "koi8u" | "koi8-r" | "koi8r" | "koi8" => Some(Encoding::Koi8U),
            _ => None,
        }
    }

    /// Its name, as the summary says which was used.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1251 => "windows-1251",
            Encoding::Utf16 => "utf-16",
            Encoding::Koi8U => "koi8-u",
        }
    }
}

/// Decodes a file's bytes. With no encoding given, UTF-8 is tried first (it
/// rarely decodes text that is not UTF-8), then Windows-1251 or KOI8 when the
/// bytes look like Cyrillic in one of them. Returns the text and the
/// encoding used.
pub fn decode_bytes(
    bytes: &[u8],
    forced: Option<Encoding>,
) -> Result<(String, Encoding), ReadError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let (text, _, had_errors) = encoding_rs::UTF_16LE.decode(bytes);
        if had_errors {
            return Err(ReadError::Undecodable {
                line: 1,
                encoding: "utf-16",
            });
        }
        return Ok((text.into_owned(), Encoding::Utf16));
    }
    let without_bom = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match forced {
        Some(Encoding::Windows1251) => Ok((decode_1251(without_bom), Encoding::Windows1251)),
        Some(Encoding::Koi8U) => Ok((decode_koi8(without_bom), Encoding::Koi8U)),
        Some(Encoding::Utf16) => Err(ReadError::Undecodable {
            line: 1,
            encoding: "utf-16 (no byte-order mark)",
        }),
        Some(Encoding::Utf8) => match std::str::from_utf8(without_bom) {
            Ok(text) => Ok((text.to_string(), Encoding::Utf8)),
            Err(error) => Err(ReadError::Undecodable {
                line: line_of(without_bom, error.valid_up_to()),
                encoding: "utf-8",
            }),
        },
        None => match std::str::from_utf8(without_bom) {
            Ok(text) => Ok((text.to_string(), Encoding::Utf8)),
            Err(error) => {
                if looks_like_1251(without_bom) {
                    // KOI8 puts its letters in the same byte range: the
                    // decoding that reads like Ukrainian or Russian wins.
                    let windows = decode_1251(without_bom);
                    let koi8 = decode_koi8(without_bom);
                    if plausibility(&koi8) > plausibility(&windows) {
                        Ok((koi8, Encoding::Koi8U))
                    } else {
                        Ok((windows, Encoding::Windows1251))
                    }
                } else {
                    Err(ReadError::Undecodable {
                        line: line_of(without_bom, error.valid_up_to()),
                        encoding: "utf-8 (and it does not look like windows-1251; pass --encoding)",
                    })
                }
            }
        },
    }
}

fn decode_1251(bytes: &[u8]) -> String {
    // Every byte is defined in Windows-1251 except 0x98, which encoding_rs maps
    // to U+FFFD; nothing is lost that could be kept.
    encoding_rs::WINDOWS_1251
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

fn decode_koi8(bytes: &[u8]) -> String {
    encoding_rs::KOI8_U
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

/// How much a text reads like Ukrainian or Russian: the mean log
/// frequency of its Cyrillic letters (any case), other non-ASCII characters
/// counting as very rare. Both Windows-1251 and KOI8 put the Cyrillic
/// letters in 0xC0–0xFF, in different orders, so either decoding of one
/// file gives Cyrillic; only the wrong one gives "йнбюкемйн" for
/// "КОВАЛЕНКО". (Read as Windows-1251, KOI8 text is garbled without an
/// error: this is why it must be told, not tried.)
fn plausibility(text: &str) -> f64 {
    // Letter frequencies of Ukrainian and Russian running text together,
    // per thousand letters (rounded; the order is what matters).
    const FREQUENCY: &[(char, f64)] = &[
        ('о', 100.0),
        ('а', 80.0),
        ('е', 75.0),
        ('и', 65.0),
        ('н', 65.0),
        ('т', 58.0),
        ('і', 40.0),
        ('р', 45.0),
        ('в', 45.0),
        ('с', 45.0),
        ('л', 42.0),
        ('к', 36.0),
        ('м', 30.0),
        ('д', 30.0),
        ('п', 27.0),
        ('у', 27.0),
        ('я', 20.0),
        ('з', 19.0),
        ('ь', 16.0),
        ('г', 16.0),
        ('б', 16.0),
        ('ч', 13.0),
        ('й', 11.0),
        ('ы', 9.0),
        ('х', 9.0),
        ('ж', 8.0),
        ('ш', 7.0),
        ('ю', 6.0),
        ('ї', 6.0),
        ('ц', 5.0),
        ('є', 4.0),
        ('щ', 4.0),
        ('э', 2.0),
        ('ф', 2.0),
        ('ё', 1.0),
        ('ґ', 0.5),
        ('ъ', 0.3),
    ];
    let (mut total, mut count) = (0.0f64, 0usize);
    for c in text.chars().filter(|c| !c.is_ascii()) {
        let lower = c.to_lowercase().next().unwrap_or(c);
        let frequency = FREQUENCY
            .iter()
            .find(|(letter, _)| *letter == lower)
            .map_or(0.01, |(_, frequency)| *frequency);
        total += frequency.ln();
        count += 1;
    }
    if count == 0 {
        f64::MIN
    } else {
        total / count as f64
    }
}

/// Cyrillic text in Windows-1251 has most high bytes in 0xC0–0xFF (а–я, А–Я)
/// plus a few of 0xA8/0xB8 (Ё ё), 0xB2/0xB3 (І і), 0xAF/0xBF (Ї ї), 0xAA/0xBA
/// (Є є), 0xA5/0xB4 (Ґ ґ).
fn looks_like_1251(bytes: &[u8]) -> bool {
    let mut high = 0usize;
    let mut cyrillic = 0usize;
    for &byte in bytes {
        if byte >= 0x80 {
            high += 1;
            if byte >= 0xC0
                || matches!(
                    byte,
                    0xA8 | 0xB8 | 0xB2 | 0xB3 | 0xAF | 0xBF | 0xAA | 0xBA | 0xA5 | 0xB4 | 0xB9
                )
            {
                cyrillic += 1;
            }
        }
    }
    high > 0 && cyrillic * 10 >= high * 9
}

/// The 1-based line number of a byte offset.
pub(crate) fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_windows_1251() {
        let (encoded, _, _) =
            encoding_rs::WINDOWS_1251.encode("Прізвище;Ім'я\nКоваленко;Олександр\n");
        let (text, encoding) = decode_bytes(&encoded, None).expect("decodes");
        assert_eq!(encoding, Encoding::Windows1251);
        assert!(text.contains("Коваленко"));
    }

    #[test]
    fn tells_koi8_from_windows_1251() {
        let text = "Прізвище;Ім'я;Дата народження\nКоваленко;Олександр;14.05.2012\nЄвгенія Ґалаґан;Їжакевич;2010\n";
        let (koi8, _, _) = encoding_rs::KOI8_U.encode(text);
        let (decoded, encoding) = decode_bytes(&koi8, None).expect("decodes");
        assert_eq!((decoded.as_str(), encoding), (text, Encoding::Koi8U));
        let (windows, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let (decoded, encoding) = decode_bytes(&windows, None).expect("decodes");
        assert_eq!((decoded.as_str(), encoding), (text, Encoding::Windows1251));
        // Upper-case only (a list in capitals) is told apart too.
        let capitals = "КОВАЛЕНКО ОЛЕКСАНДР;ШЕВЧЕНКО ТАРАС;БОНДАР ІРИНА\n";
        let (windows, _, _) = encoding_rs::WINDOWS_1251.encode(capitals);
        assert_eq!(
            decode_bytes(&windows, None).expect("decodes").1,
            Encoding::Windows1251
        );
        let (koi8, _, _) = encoding_rs::KOI8_U.encode(capitals);
        assert_eq!(
            decode_bytes(&koi8, None).expect("decodes"),
            (capitals.to_string(), Encoding::Koi8U)
        );
    }

    #[test]
    fn strips_utf8_bom() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("Прізвище\n".as_bytes());
        assert_eq!(decode_bytes(&bytes, None).expect("decodes").0, "Прізвище\n");
    }

    #[test]
    fn undecodable_input_names_the_line() {
        let mut bytes = b"a,b\nc,d\n".to_vec();
        bytes.extend_from_slice(&[0x00, 0x9F, 0x9F, 0x0A]);
        let error = decode_bytes(&bytes, None).unwrap_err();
        assert!(error.to_string().contains("line 3"), "{error}");
        let forced = decode_bytes(&bytes, Some(Encoding::Utf8)).unwrap_err();
        assert!(forced.to_string().contains("line 3"), "{forced}");
    }
}

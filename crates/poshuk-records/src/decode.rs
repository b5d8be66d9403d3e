//! Text encodings of partner exports: UTF-8 (with or without BOM), UTF-16 with
//! BOM, and Windows-1251, which Excel writes for Cyrillic on Windows.

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
}

impl Encoding {
    /// Parses a name as given to `--encoding`.
    pub fn parse(name: &str) -> Option<Encoding> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "windows-1251" | "cp1251" | "win1251" | "1251" => Some(Encoding::Windows1251),
            "utf-16" | "utf16" => Some(Encoding::Utf16),
            _ => None,
        }
    }
}

/// Decodes a file's bytes. With no encoding given, UTF-8 is tried first (it
/// rarely decodes text that is not UTF-8), then Windows-1251 when the bytes look
/// like Cyrillic in it. Returns the text and the encoding used.
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
                    Ok((decode_1251(without_bom), Encoding::Windows1251))
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

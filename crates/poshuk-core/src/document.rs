//! Identity document numbers with look-alike letters folded.
//!
//! A birth certificate series `І-БК` is typed as `I-BK`, `І-БК`, `1-БК` or `IBK`;
//! a passport series `КВ` as `KB` (look-alikes) or `KV` (transliteration). The
//! folded key maps Cyrillic letters to Latin (by shape where a look-alike exists,
//! else by sound) and then merges the pairs that typists confuse, so all of
//! these meet.

use crate::normalize::fold_text;

/// The folded key of a document number: separators dropped, an optional
/// `type:` prefix ignored, letters folded. Empty when nothing remains.
pub fn document_key(document: &str) -> String {
    let number = match document.split_once(':') {
        Some((_kind, number)) => number,
        None => document,
    };
    // NFKC would turn the number sign into the letters "No".
    let folded = fold_text(&number.replace('№', " "));
    let mut key = String::with_capacity(folded.len());
    for character in folded.chars() {
        if character.is_ascii_digit() {
            key.push(character);
            continue;
        }
        if let Some(symbols) = fold_document_letter(character) {
            key.push_str(symbols);
        }
    }
    key
}

/// The digits of a document number, when there are enough of them to be
/// distinctive on their own (a series typed differently still matches).
pub fn document_digits(document: &str) -> Option<String> {
    let number = document.split_once(':').map_or(document, |(_, n)| n);
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 5).then_some(digits)
}

/// One letter to its folded class: look-alike pairs and their transliterations
/// merge (B = V = Б = В, C = S = С, N = H = Н, P = R = Р, Y = U = У = И), the
/// remaining letters go by transliteration.
fn fold_document_letter(character: char) -> Option<&'static str> {
    let folded = match character {
        'a' | 'а' => "A",
        'b' | 'v' | 'w' | 'б' | 'в' => "B",
        'c' | 's' | 'с' => "C",
        'd' | 'д' => "D",
        'e' | 'е' | 'є' | 'э' | 'ё' => "E",
        'f' | 'ф' => "F",
        'g' | 'г' | 'ґ' => "G",
        'h' | 'n' | 'н' => "N",
        'i' | 'і' | 'ї' | 'j' | 'й' => "I",
        'l' | 'л' => "L",
        'k' | 'к' | 'q' => "K",
        'm' | 'м' => "M",
        'o' | 'о' => "O",
        'p' | 'r' | 'р' | 'п' => "P",
        't' | 'т' => "T",
        'x' | 'х' => "X",
        'y' | 'u' | 'у' | 'и' | 'ы' => "Y",
        'z' | 'з' | 'ж' => "Z",
        'ц' => "C",
        'ч' | 'ш' | 'щ' => "C",
        'ю' => "Y",
        'я' => "A",
        _ => return None,
    };
    Some(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_and_transliterations_meet() {
        let groups: &[&[&str]] = &[
            &[
                "І-БК 123456",
                "I-BK 123456",
                "IBK123456",
                "birth_certificate:І-БК №123456",
            ],
            &["КВ 654321", "KB654321", "KV 654321", "passport: кв654321"],
            &["НО 111222", "HO111222", "NO 111222"],
            &["РС 777888", "PC 777888", "RS777888"],
        ];
        for group in groups {
            let expected = document_key(group[0]);
            for spelling in group.iter().skip(1) {
                assert_eq!(document_key(spelling), expected, "{spelling}");
            }
        }
        assert_ne!(document_key("КВ 654321"), document_key("КМ 654321"));
    }

    #[test]
    fn digits_need_length() {
        assert_eq!(document_digits("КВ 654321").as_deref(), Some("654321"));
        assert_eq!(document_digits("A-12"), None);
    }
}

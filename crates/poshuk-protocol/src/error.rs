//! The one shape of every error answer: a message that says what to do, a
//! stable code for programs, and a kind (`{message, code, type}`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The broad class of an error, as the HTTP status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is wrong (4xx other than 409): fix it, do not retry as is.
    InvalidRequest,
    /// The request conflicts with the server's state (409): retry later or
    /// after what the message says.
    Conflict,
    /// The server failed (5xx).
    Internal,
}

impl ErrorKind {
    /// The kind of an HTTP status code.
    pub fn of_status(status: u16) -> ErrorKind {
        match status {
            409 => ErrorKind::Conflict,
            400..=499 => ErrorKind::InvalidRequest,
            _ => ErrorKind::Internal,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// What went wrong and what to do.
    pub message: String,
    /// A stable machine code (`bad_request`, `unknown_epoch`, ...).
    pub code: String,
    /// The broad class.
    #[serde(rename = "type")]
    pub kind: ErrorKind,
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({})", self.message, self.code)
    }
}

/// Masks what a parser's message may repeat of its input: every
/// double-quoted part (escaped quotes inside it included) becomes `"…"`, and a
/// backticked part that is not a plain identifier (a number, a date), or
/// that names an unknown field or variant, becomes `` `…` ``. The names of
/// our own fields, which serde writes in backticks, stay, so the message
/// still says which field is wrong or missing.
pub fn mask_quoted(message: &str) -> String {
    let mut masked = String::with_capacity(message.len());
    let mut characters = message.chars();
    while let Some(character) = characters.next() {
        match character {
            '"' => {
                masked.push_str("\"…\"");
                while let Some(inside) = characters.next() {
                    match inside {
                        '\\' => {
                            characters.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '`' => {
                let inside: String = characters.by_ref().take_while(|&c| c != '`').collect();
                // An unknown field or variant is the sender's word, not a
                // name of ours: masked like a value.
                let theirs =
                    masked.ends_with("unknown field ") || masked.ends_with("unknown variant ");
                let identifier = !theirs
                    && inside
                        .chars()
                        .next()
                        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
                    && inside
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_');
                masked.push('`');
                masked.push_str(if identifier { &inside } else { "…" });
                masked.push('`');
            }
            other => masked.push(other),
        }
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message serde_json gives for a bad body, masked.
    fn parse_error<T: serde::de::DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        let error = serde_json::from_str::<T>(body).expect_err("malformed");
        mask_quoted(&error.to_string())
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Person {
        record_id: String,
        document_ids: Vec<String>,
    }

    #[test]
    fn values_are_masked_and_field_names_stay() {
        let cases = [
            (
                r#"{"record_id":"1","document_ids":"Коваленко"}"#,
                "Коваленко",
                "line 1",
            ),
            (
                r#"{"record_id":12345,"document_ids":[]}"#,
                "12345",
                "line 1",
            ),
            (
                r#"{"record_id":"1","document_ids":[987654321]}"#,
                "987654321",
                "line 1",
            ),
            (
                r#"{"record_id":"1","document_ids":"Петренко \"Петя\" Іванович"}"#,
                "Петя",
                "line 1",
            ),
            (
                r#"{"record_id":"1","document_ids":"Петренко \"Петя\" Іванович"}"#,
                "Іванович",
                "line 1",
            ),
            (
                r#"{"record_id":"1"}"#,
                "record_id`",
                "missing field `document_ids`",
            ),
            (
                r#"{"record_id":"1","document_ids":[],"Kovalenko":1}"#,
                "Kovalenko",
                "unknown field `…`",
            ),
        ];
        for (body, secret, kept) in cases {
            let message = parse_error::<Person>(body);
            assert!(!message.contains(secret), "{body}: {message}");
            assert!(message.contains(kept), "{body}: {message}");
        }
    }

    #[test]
    fn unterminated_quotes_mask_the_rest() {
        assert_eq!(mask_quoted(r#"bad "Коваленко"#), r#"bad "…""#);
        assert_eq!(mask_quoted("bad `12345"), "bad `…`");
        assert_eq!(mask_quoted(r#"a "x\" still" b"#), r#"a "…" b"#);
    }
}

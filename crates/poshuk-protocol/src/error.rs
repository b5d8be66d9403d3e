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

/// Replaces every double-quoted part of a message with `"…"`: a message never
/// repeats what a request carried. Field names in serde's messages are in
/// backticks and stay.
pub fn mask_quoted(message: &str) -> String {
    let mut masked = String::with_capacity(message.len());
    let mut inside = false;
    for character in message.chars() {
        if character == '"' {
            if !inside {
                masked.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            masked.push(character);
        }
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_parts_are_masked_and_field_names_stay() {
        let message = r#"invalid type: string "Коваленко", expected a sequence at `document_ids` line 1 column 9"#;
        let masked = mask_quoted(message);
        assert!(!masked.contains("Коваленко"), "{masked}");
        assert!(
            masked.contains("`document_ids`") && masked.contains("line 1"),
            "{masked}"
        );
    }
}

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

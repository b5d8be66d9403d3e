//! Contact requests between partners, as the coordinator relays them: a
//! partner's staff ask the owner of a hit to get in touch; the owner accepts
//! (with a contact text of its choosing) or declines. Messages and replies
//! travel sealed to the other partner's public key (hex of an age file), so
//! the coordinator stores and relays ciphertext only; it sees who asked whom
//! about which handle, as it already does for searches.

use serde::{Deserialize, Serialize};

use crate::Handle;

/// The largest sealed letter, in bytes before hex (a message of
/// [`MAX_LETTER_CHARS`] characters in any script, sealed, fits).
pub const MAX_SEALED_LETTER: usize = 12 * 1024;
/// The longest message or reply staff may write, in characters.
pub const MAX_LETTER_CHARS: usize = 2000;

/// A new contact request (`POST /v1/contacts`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewContact {
    /// The partner that holds the record.
    pub to: String,
    /// The record's handle at that partner.
    pub handle: Handle,
    /// The message, sealed to `to`'s public key (hex).
    pub sealed_message: String,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatus {
    /// Not answered yet.
    Pending,
    /// The owner answered with a contact text.
    Accepted,
    /// The owner declined.
    Declined,
}

impl ContactStatus {
    /// Its name on the wire and in stores.
    pub fn name(self) -> &'static str {
        match self {
            ContactStatus::Pending => "pending",
            ContactStatus::Accepted => "accepted",
            ContactStatus::Declined => "declined",
        }
    }

    /// From its name.
    pub fn parse(text: &str) -> Option<ContactStatus> {
        match text {
            "pending" => Some(ContactStatus::Pending),
            "accepted" => Some(ContactStatus::Accepted),
            "declined" => Some(ContactStatus::Declined),
            _ => None,
        }
    }
}

/// A contact request as the coordinator keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactRequest {
    /// The coordinator's id (random, hex).
    pub id: String,
    /// Who asked.
    pub from: String,
    /// Whom.
    pub to: String,
    /// The record asked about (the owner's handle).
    pub handle: Handle,
    /// The message, sealed to `to` (hex).
    pub sealed_message: String,
    /// Where it stands.
    pub status: ContactStatus,
    /// The reply, sealed to `from` (hex), when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_reply: Option<String>,
    /// The owner's own handle of the record, in the owner's listing of a
    /// request made to a pseudonym (an anonymous partner's hit): the
    /// requester knew only the search's disguised handle, `handle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Handle>,
    /// When it was made (Unix milliseconds).
    pub created_ms: u64,
}

/// The requests a partner sent or received (`GET /v1/contacts`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContactList {
    /// Newest first.
    pub requests: Vec<ContactRequest>,
}

/// An owner's answer (`POST /v1/contacts/{id}/answer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactAnswer {
    /// Accepted (with a reply) or declined.
    pub accept: bool,
    /// The reply, sealed to the asking partner (hex); required to accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_reply: Option<String>,
    /// The pseudonym the request was made to, when the answering partner is
    /// anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_pseudonym: Option<String>,
}

/// The key to seal a letter to a partner or a pseudonym
/// (`GET /v1/contacts/recipient?to=`, and a node's `GET /v1/recipient`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recipient {
    /// An age public key (`age1...`).
    pub public_key: String,
}

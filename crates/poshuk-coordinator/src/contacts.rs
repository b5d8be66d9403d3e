//! The relay of contact requests between partners, kept in the coordinator's
//! embedded database (`coordinator.db` in the state directory) so that
//! requests survive restarts. The coordinator stores sealed letters it
//! cannot open, who asked whom, about which handle, and the status.
//!
//! Bounds: a letter is at most [`MAX_SEALED_LETTER`] bytes; a partner may
//! have at most [`MAX_PENDING_PER_PARTNER`] unanswered requests out and make
//! at most [`MAX_REQUESTS_PER_DAY`] a day; a listing returns every request
//! awaiting the partner's answer and the newest [`MAX_LISTED`] others.

use std::path::Path;
use std::sync::Mutex;

use poshuk_protocol::contacts::MAX_SEALED_LETTER;
use poshuk_protocol::{ContactAnswer, ContactRequest, ContactStatus, Handle, NewContact};
use rusqlite::{Connection, OptionalExtension, params};

/// The database file in the state directory.
pub(crate) const DATABASE_FILE: &str = "coordinator.db";
/// Unanswered requests one partner may have out at once.
pub(crate) const MAX_PENDING_PER_PARTNER: i64 = 200;
/// Requests one partner may make in 24 hours.
pub(crate) const MAX_REQUESTS_PER_DAY: i64 = 100;
/// Requests a listing returns.
const MAX_LISTED: i64 = 500;

/// Why a contact request or answer is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContactError {
    /// The addressee is not a partner.
    #[error("unknown partner `{0}`")]
    UnknownPartner(String),
    /// A partner cannot ask itself.
    #[error("a partner cannot send a contact request to itself")]
    ToSelf,
    /// The letter is not hex, empty, or too large.
    #[error("{0}")]
    BadLetter(String),
    /// Too many requests.
    #[error("{0}")]
    TooMany(String),
    /// No such request for this partner.
    #[error("no contact request with this id is addressed to this partner")]
    NotFound,
    /// Already answered.
    #[error("this contact request was already answered")]
    Answered,
    /// The database failed.
    #[error("coordinator database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The replicas' shared database failed.
    #[error("the coordinators' database: {0}")]
    Shared(String),
    /// A lock was poisoned.
    #[error("coordinator database lock poisoned")]
    Poisoned,
}

/// The relay's database.
pub(crate) struct ContactStore {
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for ContactStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ContactStore")
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// A sealed letter as hex, checked: not empty, hex, within the bound.
fn check_letter(hex_text: &str) -> Result<(), ContactError> {
    if hex_text.is_empty() {
        return Err(ContactError::BadLetter("the sealed letter is empty".into()));
    }
    if hex_text.len() > 2 * MAX_SEALED_LETTER {
        return Err(ContactError::BadLetter(format!(
            "the sealed letter is larger than {MAX_SEALED_LETTER} bytes"
        )));
    }
    if !hex_text.len().is_multiple_of(2) || !hex_text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(ContactError::BadLetter(
            "the sealed letter must be hex digits".into(),
        ));
    }
    Ok(())
}

/// A new request's checks, the same for both stores: a known addressee
/// other than the sender, a well-formed letter. The request's new id.
fn check_new(
    from: &str,
    known_partner: impl Fn(&str) -> bool,
    request: &NewContact,
) -> Result<String, ContactError> {
    if !known_partner(&request.to) {
        return Err(ContactError::UnknownPartner(request.to.clone()));
    }
    if request.to == from {
        return Err(ContactError::ToSelf);
    }
    check_letter(&request.sealed_message)?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|_| ContactError::Poisoned)?;
    Ok(hex::encode(id))
}

/// An answer's checks: an acceptance carries a well-formed sealed reply.
/// The reply, if any.
fn check_answer(answer: &ContactAnswer) -> Result<Option<&str>, ContactError> {
    match (answer.accept, &answer.sealed_reply) {
        (true, Some(reply)) => {
            check_letter(reply)?;
            Ok(Some(reply.as_str()))
        }
        (true, None) => Err(ContactError::BadLetter(
            "an acceptance carries a sealed reply".into(),
        )),
        (false, _) => Ok(None),
    }
}

/// The relay's store: this process's SQLite database, or the replicas'
/// shared PostgreSQL one.
pub(crate) enum Contacts {
    /// `coordinator.db` in the state directory.
    Local(std::sync::Arc<ContactStore>),
    /// The replicas' database.
    Shared(std::sync::Arc<crate::shared::SharedStore>),
}

impl Contacts {
    /// Stores a new request from `from`; its id.
    pub(crate) async fn create(
        &self,
        from: &str,
        known_partner: impl Fn(&str) -> bool,
        request: NewContact,
    ) -> Result<String, ContactError> {
        match self {
            Contacts::Local(store) => {
                let (store, from) = (store.clone(), from.to_string());
                let known: std::collections::BTreeSet<String> = [request.to.clone()]
                    .into_iter()
                    .filter(|id| known_partner(id))
                    .collect();
                tokio::task::spawn_blocking(move || {
                    store.create(&from, |id| known.contains(id), &request)
                })
                .await
                .map_err(|_| ContactError::Poisoned)?
            }
            Contacts::Shared(shared) => {
                let id = check_new(from, known_partner, &request)?;
                shared.create_contact(from, &request, &id).await?;
                Ok(id)
            }
        }
    }

    /// The requests `partner` sent or received.
    pub(crate) async fn list(&self, partner: &str) -> Result<Vec<ContactRequest>, ContactError> {
        match self {
            Contacts::Local(store) => {
                let (store, partner) = (store.clone(), partner.to_string());
                tokio::task::spawn_blocking(move || store.list(&partner))
                    .await
                    .map_err(|_| ContactError::Poisoned)?
            }
            Contacts::Shared(shared) => shared.list_contacts(partner).await,
        }
    }

    /// The requests made to pseudonyms (see
    /// [`ContactStore::list_pseudonymous`]).
    pub(crate) async fn list_pseudonymous(&self) -> Result<Vec<ContactRequest>, ContactError> {
        match self {
            Contacts::Local(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.list_pseudonymous())
                    .await
                    .map_err(|_| ContactError::Poisoned)?
            }
            Contacts::Shared(shared) => shared.list_pseudonymous().await,
        }
    }

    /// The receiver's answer; the request's sender.
    pub(crate) async fn answer(
        &self,
        receiver: &str,
        id: &str,
        answer: ContactAnswer,
    ) -> Result<String, ContactError> {
        match self {
            Contacts::Local(store) => {
                let (store, receiver, id) = (store.clone(), receiver.to_string(), id.to_string());
                tokio::task::spawn_blocking(move || store.answer(&receiver, &id, &answer))
                    .await
                    .map_err(|_| ContactError::Poisoned)?
            }
            Contacts::Shared(shared) => {
                let reply = check_answer(&answer)?;
                shared.answer_contact(receiver, id, &answer, reply).await
            }
        }
    }

    /// Whether the store answers.
    pub(crate) async fn ping(&self) -> Result<(), String> {
        match self {
            Contacts::Local(store) => store.ping().map_err(|error| error.to_string()),
            Contacts::Shared(shared) => shared.ping().await.map_err(|error| error.to_string()),
        }
    }
}

/// The columns [`request_of`] reads, in its order.
const COLUMNS: &str =
    "id, sender, receiver, handle, sealed_message, status, sealed_reply, created_ms";

/// A stored row as a request; `None` for a row no request can be made of
/// (a damaged handle or status), which listings leave out.
fn request_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<ContactRequest>> {
    let (Ok(handle), Some(status)) = (
        row.get::<_, String>(3)?.parse::<Handle>(),
        ContactStatus::parse(&row.get::<_, String>(5)?),
    ) else {
        return Ok(None);
    };
    Ok(Some(ContactRequest {
        id: row.get(0)?,
        from: row.get(1)?,
        to: row.get(2)?,
        handle,
        sealed_message: row.get(4)?,
        status,
        sealed_reply: row.get(6)?,
        created_ms: row.get::<_, i64>(7)?.max(0) as u64,
        record: None,
    }))
}

impl ContactStore {
    /// Opens or creates the database in `state_dir`.
    pub(crate) fn open(state_dir: &Path) -> Result<ContactStore, ContactError> {
        let connection = Connection::open(state_dir.join(DATABASE_FILE))?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS contacts (
                 id TEXT PRIMARY KEY,
                 sender TEXT NOT NULL,
                 receiver TEXT NOT NULL,
                 handle TEXT NOT NULL,
                 sealed_message TEXT NOT NULL,
                 status TEXT NOT NULL,
                 sealed_reply TEXT,
                 created_ms INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS contacts_sender ON contacts(sender, created_ms);
             CREATE INDEX IF NOT EXISTS contacts_receiver ON contacts(receiver, created_ms);",
        )?;
        Ok(ContactStore {
            connection: Mutex::new(connection),
        })
    }

    /// Whether the database answers a query.
    pub(crate) fn ping(&self) -> Result<(), ContactError> {
        let connection = self.connection.lock().map_err(|_| ContactError::Poisoned)?;
        connection.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Stores a new request from `from`, after its bounds; its id.
    pub(crate) fn create(
        &self,
        from: &str,
        known_partner: impl Fn(&str) -> bool,
        request: &NewContact,
    ) -> Result<String, ContactError> {
        let id = check_new(from, known_partner, request)?;
        let now = now_ms();
        let mut connection = self.connection.lock().map_err(|_| ContactError::Poisoned)?;
        let transaction = connection.transaction()?;
        let pending: i64 = transaction.query_row(
            "SELECT COUNT(*) FROM contacts WHERE sender = ?1 AND status = 'pending'",
            params![from],
            |row| row.get(0),
        )?;
        if pending >= MAX_PENDING_PER_PARTNER {
            return Err(ContactError::TooMany(format!(
                "this partner has {MAX_PENDING_PER_PARTNER} unanswered contact requests: wait for answers"
            )));
        }
        let today: i64 = transaction.query_row(
            "SELECT COUNT(*) FROM contacts WHERE sender = ?1 AND created_ms > ?2",
            params![from, now.saturating_sub(86_400_000) as i64],
            |row| row.get(0),
        )?;
        if today >= MAX_REQUESTS_PER_DAY {
            return Err(ContactError::TooMany(format!(
                "this partner made {MAX_REQUESTS_PER_DAY} contact requests in the last 24 hours: retry later"
            )));
        }
        transaction.execute(
            "INSERT INTO contacts (id, sender, receiver, handle, sealed_message, status, sealed_reply, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', NULL, ?6)",
            params![
                id,
                from,
                request.to,
                request.handle.to_string(),
                request.sealed_message,
                now as i64
            ],
        )?;
        transaction.commit()?;
        Ok(id)
    }

    /// Every request (for the move to a shared database).
    pub(crate) fn all(&self) -> Result<Vec<ContactRequest>, ContactError> {
        let connection = self.connection.lock().map_err(|_| ContactError::Poisoned)?;
        let mut statement = connection.prepare(&format!("SELECT {COLUMNS} FROM contacts"))?;
        let rows = statement.query_map([], request_of)?;
        Ok(rows
            .filter_map(|row| row.transpose())
            .collect::<Result<_, _>>()?)
    }

    /// The requests `partner` sent or received, newest first: every request
    /// still waiting for its answer (at most [`MAX_PENDING_PER_PARTNER`] from
    /// each sender), and the newest [`MAX_LISTED`] of the rest, so a flood
    /// of old requests cannot hide one that waits.
    pub(crate) fn list(&self, partner: &str) -> Result<Vec<ContactRequest>, ContactError> {
        let connection = self.connection.lock().map_err(|_| ContactError::Poisoned)?;
        let mut statement = connection.prepare(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE receiver = ?1 AND status = 'pending'
             UNION
             SELECT * FROM (
                 SELECT {COLUMNS} FROM contacts WHERE sender = ?1 OR receiver = ?1
                 ORDER BY created_ms DESC LIMIT ?2)
             ORDER BY created_ms DESC"
        ))?;
        let rows = statement.query_map(params![partner, MAX_LISTED], request_of)?;
        Ok(rows
            .filter_map(|row| row.transpose())
            .collect::<Result<_, _>>()?)
    }

    /// The requests made to pseudonyms (anonymous partners' hits): those
    /// waiting, and the newest [`MAX_LISTED`] of the rest; the caller keeps
    /// those of the partner asking.
    pub(crate) fn list_pseudonymous(&self) -> Result<Vec<ContactRequest>, ContactError> {
        let connection = self.connection.lock().map_err(|_| ContactError::Poisoned)?;
        let mut statement = connection.prepare(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE substr(receiver, 1, 5) = 'anon-' AND status = 'pending'
             UNION
             SELECT * FROM (
                 SELECT {COLUMNS} FROM contacts WHERE substr(receiver, 1, 5) = 'anon-'
                 ORDER BY created_ms DESC LIMIT ?1)
             ORDER BY created_ms DESC"
        ))?;
        let rows = statement.query_map(params![MAX_LISTED], request_of)?;
        Ok(rows
            .filter_map(|row| row.transpose())
            .collect::<Result<_, _>>()?)
    }

    /// The receiver's answer to a pending request; the request's sender.
    pub(crate) fn answer(
        &self,
        receiver: &str,
        id: &str,
        answer: &ContactAnswer,
    ) -> Result<String, ContactError> {
        let reply = check_answer(answer)?;
        let status = if answer.accept {
            ContactStatus::Accepted
        } else {
            ContactStatus::Declined
        };
        let mut connection = self.connection.lock().map_err(|_| ContactError::Poisoned)?;
        let transaction = connection.transaction()?;
        let found: Option<(String, String)> = transaction
            .query_row(
                "SELECT sender, status FROM contacts WHERE id = ?1 AND receiver = ?2",
                params![id, receiver],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((sender, current)) = found else {
            return Err(ContactError::NotFound);
        };
        if current != ContactStatus::Pending.name() {
            return Err(ContactError::Answered);
        }
        transaction.execute(
            "UPDATE contacts SET status = ?2, sealed_reply = ?3 WHERE id = ?1",
            params![id, status.name(), reply],
        )?;
        transaction.commit()?;
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(to: &str) -> NewContact {
        NewContact {
            to: to.into(),
            handle: Handle([7; 16]),
            sealed_message: "00aa".into(),
        }
    }

    #[test]
    fn requests_survive_reopening_and_are_answered_once_by_their_receiver() {
        let dir = tempfile::tempdir().expect("tempdir");
        let known = |id: &str| ["a", "b", "c"].contains(&id);
        let id = {
            let store = ContactStore::open(dir.path()).expect("opens");
            store.create("a", known, &request("b")).expect("stored")
        };
        let store = ContactStore::open(dir.path()).expect("reopens");
        assert_eq!(store.list("a").expect("lists").len(), 1);
        assert_eq!(store.list("b").expect("lists").len(), 1);
        assert!(store.list("c").expect("lists").is_empty());
        let accept = ContactAnswer {
            accept: true,
            sealed_reply: Some("bb".into()),
            as_pseudonym: None,
        };
        assert!(matches!(
            store.answer("c", &id, &accept),
            Err(ContactError::NotFound)
        ));
        assert!(matches!(
            store.answer("a", &id, &accept),
            Err(ContactError::NotFound)
        ));
        assert_eq!(store.answer("b", &id, &accept).expect("answered"), "a");
        assert!(matches!(
            store.answer("b", &id, &accept),
            Err(ContactError::Answered)
        ));
        let listed = store.list("a").expect("lists");
        assert_eq!(listed[0].status, ContactStatus::Accepted);
        assert_eq!(listed[0].sealed_reply.as_deref(), Some("bb"));
    }

    #[test]
    fn bad_letters_unknown_partners_and_floods_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ContactStore::open(dir.path()).expect("opens");
        let known = |id: &str| ["a", "b"].contains(&id);
        assert!(matches!(
            store.create("a", known, &request("x")),
            Err(ContactError::UnknownPartner(_))
        ));
        assert!(matches!(
            store.create("a", known, &request("a")),
            Err(ContactError::ToSelf)
        ));
        for bad in ["", "zz", "abc", &"00".repeat(MAX_SEALED_LETTER + 1)] {
            let mut letter = request("b");
            letter.sealed_message = bad.to_string();
            assert!(
                matches!(
                    store.create("a", known, &letter),
                    Err(ContactError::BadLetter(_))
                ),
                "{}",
                bad.len()
            );
        }
        for _ in 0..MAX_REQUESTS_PER_DAY {
            store.create("a", known, &request("b")).expect("stored");
        }
        assert!(matches!(
            store.create("a", known, &request("b")),
            Err(ContactError::TooMany(_))
        ));
        // Another partner is not held back by the first one's flood.
        store.create("b", known, &request("a")).expect("stored");
    }

    #[test]
    fn a_request_waiting_for_its_answer_is_listed_under_any_flood() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ContactStore::open(dir.path()).expect("opens");
        let known = |id: &str| ["a", "b"].contains(&id);
        let waiting = store.create("a", known, &request("b")).expect("stored");
        // Answered requests, newer, more than a listing holds.
        let connection = store.connection.lock().expect("lock");
        for index in 0..(MAX_LISTED + 20) {
            connection
                .execute(
                    "INSERT INTO contacts VALUES (?1, 'a', 'b', ?2, '00', 'declined', NULL, ?3)",
                    params![
                        format!("old{index}"),
                        Handle([1; 16]).to_string(),
                        i64::MAX - index
                    ],
                )
                .expect("inserted");
        }
        drop(connection);
        let listed = store.list("b").expect("lists");
        assert!(listed.iter().any(|request| request.id == waiting));
        assert_eq!(listed.len() as i64, MAX_LISTED + 1);
    }
}

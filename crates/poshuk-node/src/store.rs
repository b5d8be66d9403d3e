//! The node's own small database (`node.db`, SQLite in the data directory):
//! staff accounts, web sessions, review states of hits, contact requests and
//! the list of recent searches by staff. What is here stays on the partner's
//! machine: it holds staff notes and contact texts, never tokens.
//!
//! Why SQLite and not a JSON file: several tabs and the command line write
//! at once, and a crash mid-write must leave the last committed state.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

/// The database file's name in the data directory.
pub const STORE_FILE: &str = "node.db";

/// Errors of the store. Messages name the operation, never a value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("node database ({what}): {source}")]
    Sqlite {
        /// The operation.
        what: &'static str,
        /// The cause.
        source: rusqlite::Error,
    },
    /// A lock was poisoned by a panic in another thread.
    #[error("node database lock poisoned")]
    Poisoned,
    /// The sealed database could not be read or written.
    #[error("node database: {0}")]
    Sealed(String),
}

fn failed(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { what, source }
}

/// A staff member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Searches, reviews, writes and answers contact requests.
    Searcher,
    /// Also sees every staff member's recent searches.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Searcher => "searcher",
            Role::Admin => "admin",
        }
    }

    /// A stored or typed name.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "searcher" => Some(Role::Searcher),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A staff account as listed (never its password hash).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StaffAccount {
    /// The login name.
    pub name: String,
    /// `searcher` or `admin`.
    pub role: String,
}

/// A web session as the store keeps it.
#[derive(Clone)]
pub struct SessionRow {
    /// The staff member.
    pub staff: String,
    /// Their role.
    pub role: Role,
    /// The session's CSRF token (hex).
    pub csrf: String,
    /// When it was made (Unix seconds).
    pub created: i64,
    /// When it was last used.
    pub last_seen: i64,
}

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "SessionRow({}, <csrf redacted>)", self.staff)
    }
}

/// What staff decided about a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    /// The same person.
    Confirmed,
    /// Not the same person.
    Rejected,
    /// To be checked.
    ToCheck,
}

impl ReviewState {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            ReviewState::Confirmed => "confirmed",
            ReviewState::Rejected => "rejected",
            ReviewState::ToCheck => "to_check",
        }
    }

    /// A stored or submitted name.
    pub fn parse(text: &str) -> Option<ReviewState> {
        match text {
            "confirmed" => Some(ReviewState::Confirmed),
            "rejected" => Some(ReviewState::Rejected),
            "to_check" => Some(ReviewState::ToCheck),
            _ => None,
        }
    }
}

/// A review of one partner's record (by its handle).
#[derive(Clone)]
pub struct Review {
    /// The partner holding the record.
    pub partner: String,
    /// The record's handle (hex).
    pub handle: String,
    /// The decision.
    pub state: ReviewState,
    /// The staff member's note (may hold personal data: stays here).
    pub note: String,
    /// Who decided.
    pub staff: String,
    /// When (Unix seconds).
    pub at: i64,
}

impl std::fmt::Debug for Review {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "Review({}, {}, {:?}, <note redacted>)",
            self.partner, self.handle, self.state
        )
    }
}

/// Which way a contact request goes, seen from this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// This partner's staff asked another partner.
    Outgoing,
    /// Another partner asked this one.
    Incoming,
}

impl Direction {
    fn name(self) -> &'static str {
        match self {
            Direction::Outgoing => "out",
            Direction::Incoming => "in",
        }
    }
}

/// A contact request as this node keeps it: opened texts, since they are
/// this partner's own or were sealed to it.
#[derive(Clone)]
pub struct ContactRow {
    /// The coordinator's id of the request.
    pub id: String,
    /// Which way.
    pub direction: Direction,
    /// The other partner.
    pub partner: String,
    /// The handle of the record the request is about (the owner's).
    pub handle: String,
    /// The request's message.
    pub message: String,
    /// `pending`, `accepted` or `declined`.
    pub status: String,
    /// The owner's reply when accepted.
    pub reply: String,
    /// Who wrote the request (outgoing) or answered it (incoming).
    pub staff: String,
    /// When it was made (Unix seconds).
    pub created: i64,
}

impl std::fmt::Debug for ContactRow {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "ContactRow({}, {:?}, {}, {}, <texts redacted>)",
            self.id, self.direction, self.partner, self.status
        )
    }
}

/// A search made by staff, as the overview lists it: no query text.
#[derive(Debug, Clone)]
pub struct SearchRow {
    /// When (Unix seconds).
    pub at: i64,
    /// Who.
    pub staff: String,
    /// Hits returned.
    pub hits: i64,
    /// Whether some partner did not answer.
    pub partial: bool,
}

/// The store: one connection behind a lock (the page's writes are few and
/// small).
pub struct Store {
    connection: Mutex<Connection>,
    /// On an encrypted node: the database lives in memory, and every change
    /// is written sealed to this file before the call returns.
    sealed: Option<(std::path::PathBuf, std::sync::Arc<crate::vault::Vault>)>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Store")
    }
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS staff (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash BLOB PRIMARY KEY,
    staff TEXT NOT NULL REFERENCES staff(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reviews (
    partner TEXT NOT NULL,
    handle TEXT NOT NULL,
    state TEXT NOT NULL,
    note TEXT NOT NULL,
    staff TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (partner, handle)
);
CREATE TABLE IF NOT EXISTS contacts (
    id TEXT NOT NULL,
    direction TEXT NOT NULL,
    partner TEXT NOT NULL,
    handle TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    reply TEXT NOT NULL,
    staff TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (id, direction)
);
CREATE TABLE IF NOT EXISTS searches (
    at INTEGER NOT NULL,
    staff TEXT NOT NULL,
    hits INTEGER NOT NULL,
    partial INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS searches_at ON searches(at);
CREATE TABLE IF NOT EXISTS overlap_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    staff TEXT NOT NULL,
    started INTEGER NOT NULL,
    cases INTEGER NOT NULL,
    searched INTEGER NOT NULL,
    not_searchable INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    partial_cases INTEGER NOT NULL DEFAULT 0,
    silent TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS overlap_hits (
    run INTEGER NOT NULL REFERENCES overlap_runs(id) ON DELETE CASCADE,
    case_id TEXT NOT NULL,
    partner TEXT NOT NULL,
    partner_name TEXT NOT NULL,
    handle TEXT NOT NULL,
    band TEXT NOT NULL,
    score REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS overlap_hits_run ON overlap_hits(run);
";

/// An overlap run: this partner's export searched case by case.
#[derive(Debug, Clone)]
pub struct OverlapRun {
    /// Its number.
    pub id: i64,
    /// Who started it.
    pub staff: String,
    /// When (Unix seconds).
    pub started: i64,
    /// Cases read from the export.
    pub cases: i64,
    /// Cases searched so far.
    pub searched: i64,
    /// Cases the federation would not search (too little to name a person).
    pub not_searchable: i64,
    /// Rows of the export that could not be read.
    pub rows_rejected: i64,
    /// Cases searched while some partner did not answer (or refused).
    pub partial_cases: i64,
    /// Those partners, with how they failed (`ru-sources: limited, ...`).
    pub silent: String,
    /// `running`, `done`, or why it stopped.
    pub status: String,
}

/// One hit of an overlap run: one of this partner's cases found at another.
#[derive(Clone)]
pub struct OverlapHit {
    /// This partner's case id.
    pub case_id: String,
    /// The partner holding the record.
    pub partner: String,
    /// Its display name.
    pub partner_name: String,
    /// The record's handle there.
    pub handle: String,
    /// `strong` or `possible`.
    pub band: String,
    /// The score (to a tenth, as the federation gives it).
    pub score: f64,
}

impl std::fmt::Debug for OverlapHit {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "OverlapHit({}, {}, {})",
            self.partner, self.handle, self.band
        )
    }
}

/// Overlap runs kept (with their hits); older ones are dropped.
const OVERLAP_RUNS_KEPT: i64 = 5;

/// Recent searches kept for the overview; older ones are dropped.
const SEARCHES_KEPT: i64 = 1000;

impl Store {
    /// Opens (or creates) `node.db` in `data_dir`, in WAL mode so the
    /// command line and the node may both use it.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(STORE_FILE);
        let connection = Connection::open(&path).map_err(failed("open"))?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(failed("open"))?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")
            .map_err(failed("open"))?;
        connection.execute_batch(SCHEMA).map_err(failed("schema"))?;
        Ok(Store {
            connection: Mutex::new(connection),
            sealed: None,
        })
    }

    /// Opens the database of an encrypted node: `node.db.sealed` in
    /// `data_dir`, decrypted into memory; nothing of it is written in the
    /// clear (a crash loses at most the change being made).
    pub fn open_sealed(
        data_dir: &Path,
        vault: std::sync::Arc<crate::vault::Vault>,
    ) -> Result<Store, StoreError> {
        let path = data_dir.join(crate::vault::SEALED_STORE_FILE);
        let mut connection = Connection::open_in_memory().map_err(failed("open"))?;
        if path.exists() {
            let bytes = vault
                .read_file(&path)
                .map_err(|error| StoreError::Sealed(error.to_string()))?;
            connection
                .deserialize_read_exact(rusqlite::MAIN_DB, &bytes[..], bytes.len(), false)
                .map_err(failed("open"))?;
        }
        connection
            .execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(failed("open"))?;
        connection.execute_batch(SCHEMA).map_err(failed("schema"))?;
        let store = Store {
            connection: Mutex::new(connection),
            sealed: Some((path, vault)),
        };
        if let Ok(mut connection) = store.connection.lock() {
            store.persist(&mut connection)?;
        }
        Ok(store)
    }

    /// Writes the in-memory database, sealed (an encrypted node's only copy
    /// on disk).
    fn persist(&self, connection: &mut Connection) -> Result<(), StoreError> {
        let Some((path, vault)) = &self.sealed else {
            return Ok(());
        };
        let data = connection
            .serialize(rusqlite::MAIN_DB)
            .map_err(failed("seal"))?;
        let plain = zeroize::Zeroizing::new(data.to_vec());
        vault
            .write_file(path, &plain)
            .map_err(|error| StoreError::Sealed(error.to_string()))
    }

    fn with<T>(
        &self,
        what: &'static str,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection.lock().map_err(|_| StoreError::Poisoned)?;
        let before = connection.total_changes();
        let done = work(&mut connection).map_err(failed(what))?;
        if self.sealed.is_some() && connection.total_changes() != before {
            self.persist(&mut connection)?;
        }
        Ok(done)
    }

    // --- staff -------------------------------------------------------------

    /// Adds a staff account or replaces its password and role; their
    /// sessions end.
    pub fn put_staff(&self, name: &str, password_hash: &str, role: Role) -> Result<(), StoreError> {
        self.with("staff", |connection| {
            let transaction = connection.transaction()?;
            transaction.execute("DELETE FROM sessions WHERE staff = ?1", params![name])?;
            transaction.execute(
                "INSERT INTO staff (name, password_hash, role, created) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET password_hash = ?2, role = ?3",
                params![name, password_hash, role.name(), now()],
            )?;
            transaction.commit()
        })
    }

    /// Removes a staff account (and its sessions); whether it existed.
    pub fn remove_staff(&self, name: &str) -> Result<bool, StoreError> {
        self.with("staff", |connection| {
            Ok(connection.execute("DELETE FROM staff WHERE name = ?1", params![name])? > 0)
        })
    }

    /// Every account, by name.
    pub fn list_staff(&self) -> Result<Vec<StaffAccount>, StoreError> {
        self.with("staff", |connection| {
            let mut statement = connection.prepare("SELECT name, role FROM staff ORDER BY name")?;
            let rows = statement.query_map([], |row| {
                Ok(StaffAccount {
                    name: row.get(0)?,
                    role: row.get(1)?,
                })
            })?;
            rows.collect()
        })
    }

    /// The password hash and role of an account.
    pub fn staff_login(&self, name: &str) -> Result<Option<(String, Role)>, StoreError> {
        self.with("staff", |connection| {
            connection
                .query_row(
                    "SELECT password_hash, role FROM staff WHERE name = ?1",
                    params![name],
                    |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
                )
                .optional()
        })
        .map(|found| found.map(|(hash, role)| (hash, Role::parse(&role).unwrap_or(Role::Searcher))))
    }

    // --- sessions ----------------------------------------------------------

    /// Stores a new session under the hash of its token.
    pub fn create_session(
        &self,
        token_hash: &[u8; 32],
        staff: &str,
        csrf: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        self.with("sessions", |connection| {
            connection.execute(
                "INSERT INTO sessions (token_hash, staff, csrf, created, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![token_hash.as_slice(), staff, csrf, at],
            )?;
            Ok(())
        })
    }

    /// The session under a token's hash, with its account's role.
    pub fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRow>, StoreError> {
        self.with("sessions", |connection| {
            connection
                .query_row(
                    "SELECT sessions.staff, staff.role, sessions.csrf, sessions.created, sessions.last_seen
                     FROM sessions JOIN staff ON staff.name = sessions.staff
                     WHERE sessions.token_hash = ?1",
                    params![token_hash.as_slice()],
                    |row| {
                        Ok(SessionRow {
                            staff: row.get(0)?,
                            role: Role::parse(&row.get::<_, String>(1)?).unwrap_or(Role::Searcher),
                            csrf: row.get(2)?,
                            created: row.get(3)?,
                            last_seen: row.get(4)?,
                        })
                    },
                )
                .optional()
        })
    }

    /// Marks a session used now.
    pub fn touch_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        let at = now();
        self.with("sessions", |connection| {
            connection.execute(
                "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1",
                params![token_hash.as_slice(), at],
            )?;
            Ok(())
        })
    }

    /// Ends a session.
    pub fn end_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.with("sessions", |connection| {
            connection.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                params![token_hash.as_slice()],
            )?;
            Ok(())
        })
    }

    /// Drops sessions idle since `idle_before` or made before
    /// `created_before`.
    pub fn expire_sessions(&self, idle_before: i64, created_before: i64) -> Result<(), StoreError> {
        self.with("sessions", |connection| {
            connection.execute(
                "DELETE FROM sessions WHERE last_seen < ?1 OR created < ?2",
                params![idle_before, created_before],
            )?;
            Ok(())
        })
    }

    // --- reviews -----------------------------------------------------------

    /// Records a decision about a partner's record (the last one counts).
    pub fn put_review(&self, review: &Review) -> Result<(), StoreError> {
        self.with("reviews", |connection| {
            connection.execute(
                "INSERT INTO reviews (partner, handle, state, note, staff, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(partner, handle) DO UPDATE SET state = ?3, note = ?4, staff = ?5, at = ?6",
                params![
                    review.partner,
                    review.handle,
                    review.state.name(),
                    review.note,
                    review.staff,
                    review.at
                ],
            )?;
            Ok(())
        })
    }

    /// The decision about a partner's record, if any.
    pub fn review(&self, partner: &str, handle: &str) -> Result<Option<Review>, StoreError> {
        self.with("reviews", |connection| {
            connection
                .query_row(
                    "SELECT state, note, staff, at FROM reviews WHERE partner = ?1 AND handle = ?2",
                    params![partner, handle],
                    |row| {
                        Ok(Review {
                            partner: partner.to_string(),
                            handle: handle.to_string(),
                            state: ReviewState::parse(&row.get::<_, String>(0)?)
                                .unwrap_or(ReviewState::ToCheck),
                            note: row.get(1)?,
                            staff: row.get(2)?,
                            at: row.get(3)?,
                        })
                    },
                )
                .optional()
        })
    }

    // --- contact requests ----------------------------------------------------

    /// Stores or updates a contact request.
    pub fn put_contact(&self, contact: &ContactRow) -> Result<(), StoreError> {
        self.with("contacts", |connection| {
            connection.execute(
                "INSERT INTO contacts (id, direction, partner, handle, message, status, reply, staff, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(id, direction) DO UPDATE SET status = ?6, reply = ?7,
                     staff = CASE WHEN ?8 = '' THEN staff ELSE ?8 END",
                params![
                    contact.id,
                    contact.direction.name(),
                    contact.partner,
                    contact.handle,
                    contact.message,
                    contact.status,
                    contact.reply,
                    contact.staff,
                    contact.created
                ],
            )?;
            Ok(())
        })
    }

    /// Contact requests one way: those waiting for an answer first, then
    /// the newest; at most 500.
    pub fn contacts(&self, direction: Direction) -> Result<Vec<ContactRow>, StoreError> {
        self.select_contacts(
            "WHERE direction = ?1 ORDER BY status = 'pending' DESC, created DESC, id DESC LIMIT 500",
            params![direction.name()],
            direction,
        )
    }

    /// One contact request, by its id.
    pub fn contact(
        &self,
        id: &str,
        direction: Direction,
    ) -> Result<Option<ContactRow>, StoreError> {
        Ok(self
            .select_contacts(
                "WHERE direction = ?1 AND id = ?2",
                params![direction.name(), id],
                direction,
            )?
            .into_iter()
            .next())
    }

    fn select_contacts(
        &self,
        filter: &str,
        values: impl rusqlite::Params,
        direction: Direction,
    ) -> Result<Vec<ContactRow>, StoreError> {
        self.with("contacts", |connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT id, partner, handle, message, status, reply, staff, created FROM contacts {filter}"
            ))?;
            let rows = statement.query_map(values, |row| {
                Ok(ContactRow {
                    id: row.get(0)?,
                    direction,
                    partner: row.get(1)?,
                    handle: row.get(2)?,
                    message: row.get(3)?,
                    status: row.get(4)?,
                    reply: row.get(5)?,
                    staff: row.get(6)?,
                    created: row.get(7)?,
                })
            })?;
            rows.collect()
        })
    }

    // --- overlap runs --------------------------------------------------------

    /// Starts an overlap run of `cases` cases; its number. Runs beyond the
    /// newest [`OVERLAP_RUNS_KEPT`] are dropped with their hits.
    pub fn start_overlap(
        &self,
        staff: &str,
        cases: usize,
        rows_rejected: usize,
    ) -> Result<i64, StoreError> {
        let at = now();
        self.with("overlap", |connection| {
            connection.execute(
                "INSERT INTO overlap_runs (staff, started, cases, searched, not_searchable, rows_rejected, status)
                 VALUES (?1, ?2, ?3, 0, 0, ?4, 'running')",
                params![staff, at, cases as i64, rows_rejected as i64],
            )?;
            let id = connection.last_insert_rowid();
            connection.execute(
                "DELETE FROM overlap_runs WHERE id NOT IN (SELECT id FROM overlap_runs ORDER BY id DESC LIMIT ?1)",
                params![OVERLAP_RUNS_KEPT],
            )?;
            Ok(id)
        })
    }

    /// Records one searched case of a run and its hits; `partial` when some
    /// partner did not answer for it.
    pub fn add_overlap_case(
        &self,
        run: i64,
        searchable: bool,
        partial: bool,
        hits: &[OverlapHit],
    ) -> Result<(), StoreError> {
        self.with("overlap", |connection| {
            let transaction = connection.transaction()?;
            transaction.execute(
                "UPDATE overlap_runs SET searched = searched + 1, not_searchable = not_searchable + ?2,
                     partial_cases = partial_cases + ?3 WHERE id = ?1",
                params![run, i64::from(!searchable), i64::from(partial)],
            )?;
            for hit in hits {
                transaction.execute(
                    "INSERT INTO overlap_hits (run, case_id, partner, partner_name, handle, band, score)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![run, hit.case_id, hit.partner, hit.partner_name, hit.handle, hit.band, hit.score],
                )?;
            }
            transaction.commit()
        })
    }

    /// Ends a run with its status (`done`, or why it stopped) and the
    /// partners that did not answer for some case.
    pub fn finish_overlap(&self, run: i64, status: &str, silent: &str) -> Result<(), StoreError> {
        self.with("overlap", |connection| {
            connection.execute(
                "UPDATE overlap_runs SET status = ?2, silent = ?3 WHERE id = ?1",
                params![run, status, silent],
            )?;
            Ok(())
        })
    }

    /// Marks runs still `running` as interrupted (at start: the process
    /// that ran them is gone).
    pub fn interrupt_overlaps(&self) -> Result<(), StoreError> {
        self.with("overlap", |connection| {
            connection.execute(
                "UPDATE overlap_runs SET status = 'interrupted' WHERE status = 'running'",
                [],
            )?;
            Ok(())
        })
    }

    /// The newest run and its hits.
    pub fn latest_overlap(&self) -> Result<Option<(OverlapRun, Vec<OverlapHit>)>, StoreError> {
        self.with("overlap", |connection| {
            let run = connection
                .query_row(
                    "SELECT id, staff, started, cases, searched, not_searchable, rows_rejected, status,
                         partial_cases, silent
                     FROM overlap_runs ORDER BY id DESC LIMIT 1",
                    [],
                    |row| {
                        Ok(OverlapRun {
                            id: row.get(0)?,
                            staff: row.get(1)?,
                            started: row.get(2)?,
                            cases: row.get(3)?,
                            searched: row.get(4)?,
                            not_searchable: row.get(5)?,
                            rows_rejected: row.get(6)?,
                            status: row.get(7)?,
                            partial_cases: row.get(8)?,
                            silent: row.get(9)?,
                        })
                    },
                )
                .optional()?;
            let Some(run) = run else {
                return Ok(None);
            };
            let mut statement = connection.prepare(
                "SELECT case_id, partner, partner_name, handle, band, score FROM overlap_hits
                 WHERE run = ?1 ORDER BY case_id, score DESC",
            )?;
            let hits = statement
                .query_map(params![run.id], |row| {
                    Ok(OverlapHit {
                        case_id: row.get(0)?,
                        partner: row.get(1)?,
                        partner_name: row.get(2)?,
                        handle: row.get(3)?,
                        band: row.get(4)?,
                        score: row.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some((run, hits)))
        })
    }

    // --- recent searches ----------------------------------------------------

    /// Notes a staff search (no query text), keeping the newest
    /// [`SEARCHES_KEPT`].
    pub fn note_search(&self, staff: &str, hits: usize, partial: bool) -> Result<(), StoreError> {
        let at = now();
        self.with("searches", |connection| {
            connection.execute(
                "INSERT INTO searches (at, staff, hits, partial) VALUES (?1, ?2, ?3, ?4)",
                params![at, staff, hits as i64, partial],
            )?;
            connection.execute(
                "DELETE FROM searches WHERE rowid NOT IN (SELECT rowid FROM searches ORDER BY at DESC, rowid DESC LIMIT ?1)",
                params![SEARCHES_KEPT],
            )?;
            Ok(())
        })
    }

    /// The newest searches, of one staff member or of all.
    pub fn recent_searches(
        &self,
        staff: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SearchRow>, StoreError> {
        self.with("searches", |connection| {
            let mut statement = connection.prepare(
                "SELECT at, staff, hits, partial FROM searches WHERE ?1 IS NULL OR staff = ?1
                 ORDER BY at DESC, rowid DESC LIMIT ?2",
            )?;
            let rows = statement.query_map(params![staff, limit as i64], |row| {
                Ok(SearchRow {
                    at: row.get(0)?,
                    staff: row.get(1)?,
                    hits: row.get(2)?,
                    partial: row.get(3)?,
                })
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("opens");
            store
                .put_staff("olena", "$argon2id$hash", Role::Admin)
                .expect("staff");
            store
                .put_review(&Review {
                    partner: "b".into(),
                    handle: "00ff".into(),
                    state: ReviewState::Rejected,
                    note: "інша дитина".into(),
                    staff: "olena".into(),
                    at: 5,
                })
                .expect("review");
            store
                .put_contact(&ContactRow {
                    id: "c1".into(),
                    direction: Direction::Outgoing,
                    partner: "b".into(),
                    handle: "00ff".into(),
                    message: "hello".into(),
                    status: "pending".into(),
                    reply: String::new(),
                    staff: "olena".into(),
                    created: 1,
                })
                .expect("contact");
        }
        let store = Store::open(dir.path()).expect("reopens");
        let (hash, role) = store.staff_login("olena").expect("reads").expect("found");
        assert_eq!((hash.as_str(), role), ("$argon2id$hash", Role::Admin));
        let review = store.review("b", "00ff").expect("reads").expect("found");
        assert_eq!(review.state, ReviewState::Rejected);
        assert_eq!(review.note, "інша дитина");
        assert!(!format!("{review:?}").contains("дитина"));
        let outgoing = store.contacts(Direction::Outgoing).expect("reads");
        assert_eq!(outgoing.len(), 1);
        assert!(
            store
                .contacts(Direction::Incoming)
                .expect("reads")
                .is_empty()
        );
    }

    #[test]
    fn a_password_change_or_removal_ends_the_sessions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("opens");
        store
            .put_staff("ivan", "h1", Role::Searcher)
            .expect("staff");
        store
            .create_session(&[1; 32], "ivan", "csrf")
            .expect("session");
        assert!(store.session(&[1; 32]).expect("reads").is_some());
        store
            .put_staff("ivan", "h2", Role::Searcher)
            .expect("staff");
        assert!(store.session(&[1; 32]).expect("reads").is_none());
        store
            .create_session(&[2; 32], "ivan", "csrf")
            .expect("session");
        assert!(store.remove_staff("ivan").expect("removes"));
        assert!(store.session(&[2; 32]).expect("reads").is_none());
    }

    #[test]
    fn only_the_newest_searches_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("opens");
        for index in 0..(SEARCHES_KEPT + 5) {
            store
                .note_search(if index % 2 == 0 { "a" } else { "b" }, 1, false)
                .expect("notes");
        }
        assert_eq!(
            store.recent_searches(None, 5000).expect("reads").len() as i64,
            SEARCHES_KEPT
        );
        assert!(
            store
                .recent_searches(Some("a"), 10)
                .expect("reads")
                .iter()
                .all(|row| row.staff == "a")
        );
    }
}

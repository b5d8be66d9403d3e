//! State shared by several coordinator replicas, in PostgreSQL
//! (`database_url` in the config, or `POSHUK_DATABASE_URL`): retired
//! epochs and suspended partners, sealed keys waiting for pickup, contact
//! requests, the nonces of signed requests (a request replayed to another
//! replica is refused), each partner's searches per minute and per day, and
//! hits per day per searcher and owner. Without a database the coordinator
//! keeps the same state in its state directory (SQLite and files) and runs
//! as one process.
//!
//! What stays per replica: the token bucket and the searches in flight
//! (a partner may have that many in flight at each replica), the view of
//! each node's status (each replica polls), and the audit log (each replica
//! chains its own file; `poshuk audit verify` checks each).

use std::collections::BTreeSet;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use poshuk_protocol::{ContactAnswer, ContactRequest, ContactStatus, Handle, NewContact};

use crate::contacts::{ContactError, MAX_PENDING_PER_PARTNER, MAX_REQUESTS_PER_DAY};
use crate::keys::KeyState;
use crate::limits::Refusal;

/// Errors of the shared store; messages never carry a token or a letter.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SharedError {
    /// The database refused or failed a statement.
    #[error("the coordinators' database: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool.
    #[error("the coordinators' database cannot be reached: {0}")]
    Pool(String),
    /// The URL is not a PostgreSQL connection string.
    #[error("database_url is not a PostgreSQL connection string: {0}")]
    Url(String),
}

impl From<deadpool_postgres::PoolError> for SharedError {
    fn from(error: deadpool_postgres::PoolError) -> SharedError {
        SharedError::Pool(error.to_string())
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS poshuk_retired (epoch BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS poshuk_suspended (partner TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS poshuk_sealed (
    partner TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (partner, epoch)
);
CREATE TABLE IF NOT EXISTS poshuk_settings (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS poshuk_contacts (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    receiver TEXT NOT NULL,
    handle TEXT NOT NULL,
    sealed_message TEXT NOT NULL,
    status TEXT NOT NULL,
    sealed_reply TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS poshuk_contacts_sender ON poshuk_contacts (sender, created_ms);
CREATE INDEX IF NOT EXISTS poshuk_contacts_receiver ON poshuk_contacts (receiver, created_ms);
CREATE TABLE IF NOT EXISTS poshuk_nonces (
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX IF NOT EXISTS poshuk_nonces_expiry ON poshuk_nonces (expires_ms);
CREATE TABLE IF NOT EXISTS poshuk_search_counts (
    partner TEXT NOT NULL,
    period TEXT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (partner, period)
);
CREATE TABLE IF NOT EXISTS poshuk_hit_counts (
    searcher TEXT NOT NULL,
    owner TEXT NOT NULL,
    day BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (searcher, owner, day)
);
";

/// How long a nonce is remembered: the signed requests' window on both
/// sides of the clock, with room (`poshuk_protocol::signed`).
const NONCE_MEMORY_MS: i64 = 5 * 60 * 1000;
/// Contact requests a listing returns besides the waiting ones.
const MAX_LISTED: i64 = 500;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// The replicas' shared store.
pub(crate) struct SharedStore {
    pool: Pool,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SharedStore(<database>)")
    }
}

impl SharedStore {
    /// Connects (a pool of at most 16 connections) and makes the tables,
    /// one replica at a time.
    pub(crate) async fn connect(url: &str) -> Result<SharedStore, SharedError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|error: tokio_postgres::Error| SharedError::Url(error.to_string()))?;
        // A database that stops answering must not hold a request, or the
        // status loop, for long: bounded connects and statements, and TCP
        // keepalives to notice a partition.
        config
            .connect_timeout(std::time::Duration::from_secs(3))
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(10))
            .options("-c statement_timeout=5000");
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .recycle_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|error| SharedError::Pool(error.to_string()))?;
        let store = SharedStore { pool };
        let mut client = store.pool.get().await?;
        let transaction = client.transaction().await?;
        // Two replicas starting at once must not both create a table.
        transaction
            .execute("SELECT pg_advisory_xact_lock(740074)", &[])
            .await?;
        transaction.batch_execute(SCHEMA).await?;
        transaction.commit().await?;
        Ok(store)
    }

    /// Whether the database answers.
    pub(crate) async fn ping(&self) -> Result<(), SharedError> {
        let client = self.pool.get().await?;
        client.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    /// Whether the database holds no federation state yet (a coordinator
    /// moving to replicas imports its own then).
    pub(crate) async fn is_empty(&self) -> Result<bool, SharedError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT (SELECT COUNT(*) FROM poshuk_retired) + (SELECT COUNT(*) FROM poshuk_suspended)
                      + (SELECT COUNT(*) FROM poshuk_sealed) + (SELECT COUNT(*) FROM poshuk_contacts)",
                &[],
            )
            .await?;
        Ok(row.get::<_, i64>(0) == 0)
    }

    /// Imports a single coordinator's state: its retired epochs, suspended
    /// partners, sealed keys waiting and contact requests, in one
    /// transaction.
    pub(crate) async fn import(
        &self,
        state: &KeyState,
        sealed: &[(String, u32, Vec<u8>)],
        contacts: &[ContactRequest],
    ) -> Result<(), SharedError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        for epoch in &state.retired {
            transaction
                .execute(
                    "INSERT INTO poshuk_retired (epoch) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[&i64::from(*epoch)],
                )
                .await?;
        }
        for partner in &state.suspended {
            transaction
                .execute(
                    "INSERT INTO poshuk_suspended (partner) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[partner],
                )
                .await?;
        }
        for (partner, epoch, bytes) in sealed {
            transaction
                .execute(
                    "INSERT INTO poshuk_sealed (partner, epoch, bytes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[partner, &i64::from(*epoch), bytes],
                )
                .await?;
        }
        for request in contacts {
            transaction
                .execute(
                    "INSERT INTO poshuk_contacts (id, sender, receiver, handle, sealed_message, status, sealed_reply, created_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                    &[
                        &request.id,
                        &request.from,
                        &request.to,
                        &request.handle.to_string(),
                        &request.sealed_message,
                        &request.status.name(),
                        &request.sealed_reply,
                        &(request.created_ms as i64),
                    ],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The replicas' common pseudonym key: made by the first replica that
    /// asks, read by the others.
    pub(crate) async fn pseudonym_key(&self) -> Result<[u8; 32], SharedError> {
        let client = self.pool.get().await?;
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|_| SharedError::Pool("no OS randomness".into()))?;
        client
            .execute(
                "INSERT INTO poshuk_settings (name, value) VALUES ('pseudonym_key', $1) ON CONFLICT (name) DO NOTHING",
                &[&fresh.as_slice()],
            )
            .await?;
        let row = client
            .query_one(
                "SELECT value FROM poshuk_settings WHERE name = 'pseudonym_key'",
                &[],
            )
            .await?;
        let value: Vec<u8> = row.get(0);
        value
            .try_into()
            .map_err(|_| SharedError::Pool("the stored pseudonym key is not 32 bytes".into()))
    }

    /// Drops counts of past minutes and days (called now and then).
    pub(crate) async fn prune(&self) -> Result<(), SharedError> {
        let client = self.pool.get().await?;
        let seconds = now_ms() / 1000;
        let (minute, day) = (format!("minute:{}", seconds / 60), seconds / 86_400);
        client
            .execute(
                "DELETE FROM poshuk_search_counts WHERE (period LIKE 'minute:%' AND period <> $1)
                 OR (period LIKE 'day:%' AND period <> $2)",
                &[&minute, &format!("day:{day}")],
            )
            .await?;
        client
            .execute("DELETE FROM poshuk_hit_counts WHERE day < $1", &[&day])
            .await?;
        Ok(())
    }

    // --- key epochs ----------------------------------------------------------

    /// The retired epochs and suspended partners.
    pub(crate) async fn key_state(&self) -> Result<KeyState, SharedError> {
        let client = self.pool.get().await?;
        let retired = client
            .query("SELECT epoch FROM poshuk_retired", &[])
            .await?
            .iter()
            .map(|row| row.get::<_, i64>(0) as u32)
            .collect::<BTreeSet<u32>>();
        let suspended = client
            .query("SELECT partner FROM poshuk_suspended", &[])
            .await?
            .iter()
            .map(|row| row.get::<_, String>(0))
            .collect::<BTreeSet<String>>();
        Ok(KeyState { retired, suspended })
    }

    /// Retires every epoch up to `epoch`, suspends `exclude` and drops the
    /// sealed keys waiting for them, in one transaction.
    pub(crate) async fn retire(&self, epoch: u32, exclude: &[String]) -> Result<(), SharedError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "INSERT INTO poshuk_retired (epoch) SELECT generate_series(1, $1::BIGINT) ON CONFLICT DO NOTHING",
                &[&i64::from(epoch)],
            )
            .await?;
        for partner in exclude {
            transaction
                .execute(
                    "INSERT INTO poshuk_suspended (partner) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[partner],
                )
                .await?;
            transaction
                .execute("DELETE FROM poshuk_sealed WHERE partner = $1", &[partner])
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Leaves a sealed key for a partner's node.
    pub(crate) async fn put_sealed(
        &self,
        partner: &str,
        epoch: u32,
        sealed: &[u8],
    ) -> Result<(), SharedError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO poshuk_sealed (partner, epoch, bytes) VALUES ($1, $2, $3)
                 ON CONFLICT (partner, epoch) DO UPDATE SET bytes = EXCLUDED.bytes",
                &[&partner, &i64::from(epoch), &sealed],
            )
            .await?;
        Ok(())
    }

    /// A partner's sealed key: of `epoch`, or the newest waiting.
    pub(crate) async fn sealed(
        &self,
        partner: &str,
        epoch: Option<u32>,
    ) -> Result<Option<(u32, Vec<u8>)>, SharedError> {
        let client = self.pool.get().await?;
        let row = match epoch {
            Some(epoch) => {
                client
                    .query_opt(
                        "SELECT epoch, bytes FROM poshuk_sealed WHERE partner = $1 AND epoch = $2",
                        &[&partner, &i64::from(epoch)],
                    )
                    .await?
            }
            None => {
                client
                    .query_opt(
                        "SELECT epoch, bytes FROM poshuk_sealed WHERE partner = $1 ORDER BY epoch DESC LIMIT 1",
                        &[&partner],
                    )
                    .await?
            }
        };
        Ok(row.map(|row| (row.get::<_, i64>(0) as u32, row.get::<_, Vec<u8>>(1))))
    }

    // --- signed requests ---------------------------------------------------------

    /// Remembers a signed request's nonce; false when a replica has seen it
    /// in the replay window (a replay).
    pub(crate) async fn fresh_nonce(&self, key_id: &str, nonce: &str) -> Result<bool, SharedError> {
        let client = self.pool.get().await?;
        let now = now_ms();
        let inserted = client
            .execute(
                "INSERT INTO poshuk_nonces (key_id, nonce, expires_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&key_id, &nonce, &(now + NONCE_MEMORY_MS)],
            )
            .await?;
        // Forgotten once outside the window (an index range, usually empty).
        client
            .execute("DELETE FROM poshuk_nonces WHERE expires_ms < $1", &[&now])
            .await?;
        Ok(inserted == 1)
    }

    // --- admission -------------------------------------------------------------------

    /// Counts one search of `partner` against the federation-wide minute
    /// and day, or says why not.
    pub(crate) async fn admit(
        &self,
        partner: &str,
        per_minute: u32,
        per_day: u32,
    ) -> Result<Result<(), Refusal>, SharedError> {
        let counted = async {
            let client = self.pool.get().await?;
            let seconds = now_ms() / 1000;
            let minute = format!("minute:{}", seconds / 60);
            let day = format!("day:{}", seconds / 86_400);
            let take = "INSERT INTO poshuk_search_counts (partner, period, used) VALUES ($1, $2, 1)
                 ON CONFLICT (partner, period) DO UPDATE SET used = poshuk_search_counts.used + 1
                 WHERE poshuk_search_counts.used < $3 RETURNING used";
            let in_minute = client
                .query_opt(take, &[&partner, &minute, &i64::from(per_minute.max(1))])
                .await?;
            if in_minute.is_none() {
                return Ok::<_, SharedError>(Err(Refusal::Rate {
                    retry_after: (60 - seconds % 60).max(1) as u64,
                }));
            }
            let in_day = client
                .query_opt(take, &[&partner, &day, &i64::from(per_day)])
                .await?;
            if in_day.is_none() {
                return Ok(Err(Refusal::Quota {
                    retry_after: (86_400 - seconds % 86_400) as u64,
                }));
            }
            Ok(Ok(()))
        };
        counted.await
    }

    /// Whether `searcher` has hits of `owner`'s left today.
    pub(crate) async fn has_hit_budget(&self, searcher: &str, owner: &str, budget: u64) -> bool {
        let Ok(client) = self.pool.get().await else {
            return false;
        };
        let day = now_ms() / 86_400_000;
        match client
            .query_opt(
                "SELECT used FROM poshuk_hit_counts WHERE searcher = $1 AND owner = $2 AND day = $3",
                &[&searcher, &owner, &day],
            )
            .await
        {
            Ok(Some(row)) => (row.get::<_, i64>(0) as u64) < budget,
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Takes up to `wanted` hits of `owner`'s from today's budget of
    /// `searcher`; how many were granted.
    pub(crate) async fn take_hits(
        &self,
        searcher: &str,
        owner: &str,
        wanted: u64,
        budget: u64,
    ) -> u64 {
        let granted = async {
            let mut client = self.pool.get().await?;
            let transaction = client.transaction().await?;
            let day = now_ms() / 86_400_000;
            transaction
                .execute(
                    "INSERT INTO poshuk_hit_counts (searcher, owner, day, used) VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING",
                    &[&searcher, &owner, &day],
                )
                .await?;
            let used: i64 = transaction
                .query_one(
                    "SELECT used FROM poshuk_hit_counts WHERE searcher = $1 AND owner = $2 AND day = $3 FOR UPDATE",
                    &[&searcher, &owner, &day],
                )
                .await?
                .get(0);
            let granted = budget.saturating_sub(used.max(0) as u64).min(wanted);
            transaction
                .execute(
                    "UPDATE poshuk_hit_counts SET used = used + $4 WHERE searcher = $1 AND owner = $2 AND day = $3",
                    &[&searcher, &owner, &day, &(granted as i64)],
                )
                .await?;
            transaction.commit().await?;
            Ok::<u64, SharedError>(granted)
        };
        granted.await.unwrap_or(0)
    }

    // --- contact requests ------------------------------------------------------------

    /// Stores a new request (checked by the caller: partners, letter); its
    /// id, or why not.
    pub(crate) async fn create_contact(
        &self,
        from: &str,
        request: &NewContact,
        id: &str,
    ) -> Result<(), ContactError> {
        let mut client = self.pool.get().await.map_err(pool_to_contact)?;
        let transaction = client.transaction().await.map_err(sql_to_contact)?;
        // One sender's requests are counted one at a time across replicas.
        transaction
            .execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&from])
            .await
            .map_err(sql_to_contact)?;
        let now = now_ms();
        let pending: i64 = transaction
            .query_one(
                "SELECT COUNT(*) FROM poshuk_contacts WHERE sender = $1 AND status = 'pending'",
                &[&from],
            )
            .await
            .map_err(sql_to_contact)?
            .get(0);
        if pending >= MAX_PENDING_PER_PARTNER {
            return Err(ContactError::TooMany(format!(
                "this partner has {MAX_PENDING_PER_PARTNER} unanswered contact requests: wait for answers"
            )));
        }
        let today: i64 = transaction
            .query_one(
                "SELECT COUNT(*) FROM poshuk_contacts WHERE sender = $1 AND created_ms > $2",
                &[&from, &(now - 86_400_000)],
            )
            .await
            .map_err(sql_to_contact)?
            .get(0);
        if today >= MAX_REQUESTS_PER_DAY {
            return Err(ContactError::TooMany(format!(
                "this partner made {MAX_REQUESTS_PER_DAY} contact requests in the last 24 hours: retry later"
            )));
        }
        transaction
            .execute(
                "INSERT INTO poshuk_contacts (id, sender, receiver, handle, sealed_message, status, sealed_reply, created_ms)
                 VALUES ($1, $2, $3, $4, $5, 'pending', NULL, $6)",
                &[&id, &from, &request.to, &request.handle.to_string(), &request.sealed_message, &now],
            )
            .await
            .map_err(sql_to_contact)?;
        transaction.commit().await.map_err(sql_to_contact)?;
        Ok(())
    }

    /// The requests `partner` sent or received: every one waiting for its
    /// answer, and the newest others.
    pub(crate) async fn list_contacts(
        &self,
        partner: &str,
    ) -> Result<Vec<ContactRequest>, ContactError> {
        let client = self.pool.get().await.map_err(pool_to_contact)?;
        let rows = client
            .query(
                "SELECT id, sender, receiver, handle, sealed_message, status, sealed_reply, created_ms
                 FROM poshuk_contacts WHERE receiver = $1 AND status = 'pending'
                 UNION
                 (SELECT id, sender, receiver, handle, sealed_message, status, sealed_reply, created_ms
                  FROM poshuk_contacts WHERE sender = $1 OR receiver = $1
                  ORDER BY created_ms DESC LIMIT $2)
                 ORDER BY created_ms DESC",
                &[&partner, &MAX_LISTED],
            )
            .await
            .map_err(sql_to_contact)?;
        Ok(rows.iter().filter_map(contact_of).collect())
    }

    /// The requests made to pseudonyms (anonymous partners' hits): those
    /// waiting, and the newest of the rest; the caller keeps a partner's own.
    pub(crate) async fn list_pseudonymous(&self) -> Result<Vec<ContactRequest>, ContactError> {
        let client = self.pool.get().await.map_err(pool_to_contact)?;
        let rows = client
            .query(
                "SELECT id, sender, receiver, handle, sealed_message, status, sealed_reply, created_ms
                 FROM poshuk_contacts WHERE receiver LIKE 'anon-%' AND status = 'pending'
                 UNION
                 (SELECT id, sender, receiver, handle, sealed_message, status, sealed_reply, created_ms
                  FROM poshuk_contacts WHERE receiver LIKE 'anon-%'
                  ORDER BY created_ms DESC LIMIT $1)
                 ORDER BY created_ms DESC",
                &[&MAX_LISTED],
            )
            .await
            .map_err(sql_to_contact)?;
        Ok(rows.iter().filter_map(contact_of).collect())
    }

    /// The receiver's answer to a pending request; the request's sender.
    pub(crate) async fn answer_contact(
        &self,
        receiver: &str,
        id: &str,
        answer: &ContactAnswer,
        reply: Option<&str>,
    ) -> Result<String, ContactError> {
        let status = if answer.accept {
            ContactStatus::Accepted
        } else {
            ContactStatus::Declined
        };
        let client = self.pool.get().await.map_err(pool_to_contact)?;
        // Answered once: the update only applies to a pending request.
        let updated = client
            .query_opt(
                "UPDATE poshuk_contacts SET status = $3, sealed_reply = $4
                 WHERE id = $1 AND receiver = $2 AND status = 'pending' RETURNING sender",
                &[&id, &receiver, &status.name(), &reply],
            )
            .await
            .map_err(sql_to_contact)?;
        if let Some(row) = updated {
            return Ok(row.get(0));
        }
        let exists = client
            .query_opt(
                "SELECT 1 FROM poshuk_contacts WHERE id = $1 AND receiver = $2",
                &[&id, &receiver],
            )
            .await
            .map_err(sql_to_contact)?;
        Err(if exists.is_some() {
            ContactError::Answered
        } else {
            ContactError::NotFound
        })
    }
}

fn pool_to_contact(error: deadpool_postgres::PoolError) -> ContactError {
    ContactError::Shared(error.to_string())
}

fn sql_to_contact(error: tokio_postgres::Error) -> ContactError {
    ContactError::Shared(error.to_string())
}

/// A stored row (id, sender, receiver, handle, sealed message, status, sealed
/// reply, created) as a request; `None` for a row no request can be made of.
fn contact_of(row: &tokio_postgres::Row) -> Option<ContactRequest> {
    let handle: Handle = row.get::<_, String>(3).parse().ok()?;
    let status = ContactStatus::parse(&row.get::<_, String>(5))?;
    Some(ContactRequest {
        id: row.get(0),
        from: row.get(1),
        to: row.get(2),
        handle,
        sealed_message: row.get(4),
        status,
        sealed_reply: row.get(6),
        created_ms: row.get::<_, i64>(7).max(0) as u64,
        record: None,
    })
}

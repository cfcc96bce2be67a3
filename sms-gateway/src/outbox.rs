//! The durable outbox: an SQLite file (WAL) in the data directory.
//!
//! # Durability and the promises it keeps
//!
//! - **Stored before promised.** [`Outbox::enqueue`] returns only after the
//!   message is committed with `synchronous = FULL`, so once the citizen is
//!   told "the SMS is on its way" a crash or power cut cannot lose it.
//! - **One message per conversation and link.** The idempotency key (a
//!   hash of conversation id and link id) is a UNIQUE column; a second
//!   enqueue answers [`Enqueued::AlreadySent`], whatever state the first is
//!   in, across restarts.
//! - **Sent once.** A message leaves `pending` only when the provider's
//!   answer is committed. A crash between the provider accepting and that
//!   commit leaves it pending, and it is sent again after the restart with
//!   the same idempotency key; a provider that deduplicates on the key
//!   (`Idempotency-Key`, GatewayAPI's `userref`) turns that into exactly
//!   once. Only one worker may run per outbox file.
//! - **The number is erased.** The phone number is kept only while the
//!   message may still be sent: it is set to NULL in the same commit that
//!   records acceptance or the final failure. `secure_delete` zeroes the
//!   freed bytes and the worker truncates the WAL when idle, so the digits
//!   do not linger in the file either.
//! - **Rate limit without numbers.** The per-number limit counts rows keyed
//!   by an HMAC of the number under a random key kept in a separate file
//!   (`<outbox>.key`, mode 0600); rows older than a day are deleted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::number::MobileNumber;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Errors of the outbox store.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("cannot read or create the outbox key file {path}: {source}")]
    Key {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the outbox key file {0} is damaged (expected 32 bytes)")]
    BadKey(PathBuf),
    #[error("the outbox lock was poisoned by a panic")]
    Poisoned,
}

/// The outbox's own row id of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub i64);

/// What [`Outbox::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored; the worker will send it. Tell the citizen it is on its way.
    Queued(MessageId),
    /// This link was already sent (or is queued) in this conversation.
    AlreadySent(MessageId),
    /// The number has had its share of messages today.
    RateLimited,
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for its first or next try.
    Pending,
    /// Accepted by the provider; no delivery report yet.
    Sent,
    /// The provider reported it delivered.
    Delivered,
    /// Rejected, out of tries, or reported undeliverable.
    Failed,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sent => "sent",
            State::Delivered => "delivered",
            State::Failed => "failed",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "sent" => State::Sent,
            "delivered" => State::Delivered,
            "failed" => State::Failed,
            _ => State::Pending,
        }
    }
}

/// One message as analysts and tests may see it: no number, no text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatus {
    pub id: MessageId,
    pub state: State,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub provider_id: Option<String>,
    /// Whether the phone number is still stored.
    pub has_number: bool,
}

/// Message counts per state, for the KPIs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: u64,
    pub sent: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// Settings the outbox needs.
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// The sender name stored with each message.
    pub sender: String,
    /// Messages one number may receive in any 24 hours.
    pub per_number_per_day: u32,
}

/// A message due for a try (crate-internal, for the worker).
#[derive(Debug)]
pub(crate) struct Due {
    pub(crate) id: MessageId,
    pub(crate) key: String,
    pub(crate) sender: String,
    pub(crate) text: String,
    pub(crate) number: Option<MobileNumber>,
    pub(crate) attempts: u32,
}

/// The durable outbox. Cheap to clone; all clones share one connection.
/// Its methods do short blocking SQLite work (one commit, a few ms at
/// most): call them from `spawn_blocking` on a busy async runtime.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    key: [u8; 32],
    options: OutboxOptions,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    link_id TEXT NOT NULL,
    number TEXT,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    provider_id TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (state, next_attempt_ms);
CREATE INDEX IF NOT EXISTS messages_provider_id ON messages (provider_id);
CREATE TABLE IF NOT EXISTS rate (
    number_hash BLOB NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_number ON rate (number_hash, at_ms);
CREATE INDEX IF NOT EXISTS rate_at ON rate (at_ms);
";

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path` and its key file
    /// `<path>.key`.
    pub fn open(path: &Path, options: OutboxOptions) -> Result<Outbox, OutboxError> {
        let key = load_or_create_key(&key_path(path))?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Outbox {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                key,
                options,
                wake: tokio::sync::Notify::new(),
            }),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, OutboxError> {
        self.inner.conn.lock().map_err(|_| OutboxError::Poisoned)
    }

    /// Stores a message for `number` about `link_id` in `conversation_id`,
    /// unless that link was already sent in this conversation or the
    /// number is over its daily limit. Returns after the commit.
    pub fn enqueue(
        &self,
        conversation_id: &str,
        link_id: &str,
        number: &MobileNumber,
        text: &str,
    ) -> Result<Enqueued, OutboxError> {
        let key = idempotency_key(conversation_id, link_id);
        let number_hash = self.number_hash(number);
        let now = now_ms();
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM messages WHERE idempotency_key = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            return Ok(Enqueued::AlreadySent(MessageId(id)));
        }
        tx.execute("DELETE FROM rate WHERE at_ms <= ?1", [now - DAY_MS])?;
        let recent: i64 = tx.query_row(
            "SELECT COUNT(*) FROM rate WHERE number_hash = ?1 AND at_ms > ?2",
            params![number_hash, now - DAY_MS],
            |r| r.get(0),
        )?;
        if recent >= i64::from(self.inner.options.per_number_per_day) {
            return Ok(Enqueued::RateLimited);
        }
        tx.execute(
            "INSERT INTO rate (number_hash, at_ms) VALUES (?1, ?2)",
            params![number_hash, now],
        )?;
        tx.execute(
            "INSERT INTO messages (idempotency_key, link_id, number, sender, text, state, next_attempt_ms, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
            params![key, link_id, number.e164_digits(), self.inner.options.sender, text, now],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        drop(conn);
        self.inner.wake.notify_one();
        Ok(Enqueued::Queued(MessageId(id)))
    }

    /// Message counts per state.
    pub fn counts(&self) -> Result<Counts, OutboxError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM messages GROUP BY state")?;
        let mut counts = Counts::default();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            let n = u64::try_from(n).unwrap_or(0);
            match State::parse(&state) {
                State::Pending => counts.pending += n,
                State::Sent => counts.sent += n,
                State::Delivered => counts.delivered += n,
                State::Failed => counts.failed += n,
            }
        }
        Ok(counts)
    }

    /// One message's state, without its number or text.
    pub fn status(&self, id: MessageId) -> Result<Option<MessageStatus>, OutboxError> {
        let conn = self.conn()?;
        Ok(conn
            .query_row(
                "SELECT state, attempts, last_error, provider_id, number IS NOT NULL FROM messages WHERE id = ?1",
                [id.0],
                |r| {
                    Ok(MessageStatus {
                        id,
                        state: State::parse(&r.get::<_, String>(0)?),
                        attempts: r.get(1)?,
                        last_error: r.get(2)?,
                        provider_id: r.get(3)?,
                        has_number: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Applies a delivery report found by the provider's message id (or,
    /// failing that, the idempotency key the provider echoes). Returns
    /// whether a message was found.
    pub fn record_delivery(
        &self,
        provider_id: Option<&str>,
        key: Option<&str>,
        delivered: bool,
    ) -> Result<bool, OutboxError> {
        let (state, error) = if delivered {
            (State::Delivered, None)
        } else {
            (State::Failed, Some("undelivered"))
        };
        let conn = self.conn()?;
        let now = now_ms();
        // Only sent (or already delivered/failed, for repeated reports)
        // messages change; a pending one has not been accepted yet.
        let sql = "UPDATE messages SET state = ?1, last_error = COALESCE(?2, last_error), number = NULL, finished_ms = ?3
                   WHERE {col} = ?4 AND state != 'pending'";
        let mut changed = 0;
        if let Some(pid) = provider_id {
            changed = conn.execute(
                &sql.replace("{col}", "provider_id"),
                params![state.as_str(), error, now, pid],
            )?;
        }
        if changed == 0 {
            if let Some(key) = key {
                changed = conn.execute(
                    &sql.replace("{col}", "idempotency_key"),
                    params![state.as_str(), error, now, key],
                )?;
            }
        }
        Ok(changed > 0)
    }

    /// Waits until a message is enqueued (or a permit is already stored).
    pub(crate) async fn woken(&self) {
        self.inner.wake.notified().await;
    }

    /// Up to `limit` pending messages due by `now`, skipping `busy` ones.
    pub(crate) fn due(
        &self,
        now: i64,
        limit: usize,
        busy: &HashSet<MessageId>,
    ) -> Result<Vec<Due>, OutboxError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, idempotency_key, sender, text, number, attempts FROM messages
             WHERE state = 'pending' AND next_attempt_ms <= ?1 ORDER BY next_attempt_ms, id LIMIT ?2",
        )?;
        let fetch = i64::try_from(limit + busy.len()).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![now, fetch], |r| {
            let number: Option<String> = r.get(4)?;
            Ok(Due {
                id: MessageId(r.get(0)?),
                key: r.get(1)?,
                sender: r.get(2)?,
                text: r.get(3)?,
                number: number.and_then(|n| MobileNumber::parse(&format!("+{n}")).ok()),
                attempts: r.get(5)?,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            let due = row?;
            if !busy.contains(&due.id) {
                out.push(due);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// When the earliest pending message not in `busy` is due.
    pub(crate) fn next_due(&self, busy: &HashSet<MessageId>) -> Result<Option<i64>, OutboxError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, next_attempt_ms FROM messages WHERE state = 'pending' ORDER BY next_attempt_ms LIMIT ?1",
        )?;
        let fetch = i64::try_from(busy.len() + 1).unwrap_or(i64::MAX);
        let rows = stmt.query_map([fetch], |r| Ok((MessageId(r.get(0)?), r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (id, at) = row?;
            if !busy.contains(&id) {
                return Ok(Some(at));
            }
        }
        Ok(None)
    }

    pub(crate) fn mark_sent(
        &self,
        id: MessageId,
        attempts: u32,
        provider_id: Option<&str>,
    ) -> Result<(), OutboxError> {
        self.conn()?.execute(
            "UPDATE messages SET state = 'sent', attempts = ?2, provider_id = ?3, number = NULL, finished_ms = ?4, last_error = NULL
             WHERE id = ?1",
            params![id.0, attempts, provider_id, now_ms()],
        )?;
        Ok(())
    }

    pub(crate) fn mark_retry(
        &self,
        id: MessageId,
        attempts: u32,
        next_ms: i64,
        error: &str,
    ) -> Result<(), OutboxError> {
        self.conn()?.execute(
            "UPDATE messages SET attempts = ?2, next_attempt_ms = ?3, last_error = ?4 WHERE id = ?1",
            params![id.0, attempts, next_ms, error],
        )?;
        Ok(())
    }

    pub(crate) fn mark_failed(
        &self,
        id: MessageId,
        attempts: u32,
        error: &str,
    ) -> Result<(), OutboxError> {
        self.conn()?.execute(
            "UPDATE messages SET state = 'failed', attempts = ?2, last_error = ?3, number = NULL, finished_ms = ?4 WHERE id = ?1",
            params![id.0, attempts, error, now_ms()],
        )?;
        Ok(())
    }

    /// Folds the WAL into the database and truncates it, so erased numbers
    /// do not survive in old WAL frames.
    pub(crate) fn checkpoint(&self) -> Result<(), OutboxError> {
        self.conn()?
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn number_hash(&self, number: &MobileNumber) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.inner.key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes any key length"),
        };
        mac.update(number.e164_digits().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// The idempotency key of a conversation and link: fixed length, no
/// personal data, safe to hand to a provider.
pub fn idempotency_key(conversation_id: &str, link_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(conversation_id.as_bytes());
    h.update([0]);
    h.update(link_id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn key_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

fn load_or_create_key(path: &Path) -> Result<[u8; 32], OutboxError> {
    let io = |source| OutboxError::Key {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| OutboxError::BadKey(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| io(std::io::Error::other(e.to_string())))?;
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            file.write_all(&key).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(dir: &Path, limit: u32) -> Outbox {
        Outbox::open(
            &dir.join("outbox.sqlite3"),
            OutboxOptions {
                sender: "Eksempel".into(),
                per_number_per_day: limit,
            },
        )
        .unwrap()
    }

    #[test]
    fn same_link_in_same_conversation_is_queued_once_even_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let n = MobileNumber::parse("22334455").unwrap();
        let first = outbox(dir.path(), 5)
            .enqueue("c1", "https://a.dk", &n, "t")
            .unwrap();
        let Enqueued::Queued(id) = first else {
            panic!("{first:?}")
        };
        let again = outbox(dir.path(), 5)
            .enqueue("c1", "https://a.dk", &n, "t")
            .unwrap();
        assert_eq!(again, Enqueued::AlreadySent(id));
        let other = outbox(dir.path(), 5)
            .enqueue("c2", "https://a.dk", &n, "t")
            .unwrap();
        assert!(matches!(other, Enqueued::Queued(_)));
        assert_eq!(outbox(dir.path(), 5).counts().unwrap().pending, 2);
    }

    #[test]
    fn sixth_message_to_one_number_in_a_day_is_rate_limited() {
        let dir = tempfile::tempdir().unwrap();
        let o = outbox(dir.path(), 5);
        let n = MobileNumber::parse("22334455").unwrap();
        for i in 0..5 {
            assert!(matches!(
                o.enqueue(&format!("c{i}"), "l", &n, "t").unwrap(),
                Enqueued::Queued(_)
            ));
        }
        assert_eq!(
            o.enqueue("c9", "l", &n, "t").unwrap(),
            Enqueued::RateLimited
        );
        let other = MobileNumber::parse("22334466").unwrap();
        assert!(matches!(
            o.enqueue("c9", "l", &other, "t").unwrap(),
            Enqueued::Queued(_)
        ));
        // The rate table holds hashes, never the number.
        let conn = Connection::open(dir.path().join("outbox.sqlite3")).unwrap();
        let hashes: Vec<Vec<u8>> = conn
            .prepare("SELECT number_hash FROM rate")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(hashes.len(), 6);
        assert!(hashes
            .iter()
            .all(|h| h.len() == 32 && !h.windows(8).any(|w| w == b"22334455")));
    }

    #[test]
    fn number_is_erased_when_sent_or_failed() {
        let dir = tempfile::tempdir().unwrap();
        let o = outbox(dir.path(), 5);
        let n = MobileNumber::parse("22334455").unwrap();
        let Enqueued::Queued(a) = o.enqueue("c1", "l", &n, "t").unwrap() else {
            panic!()
        };
        let Enqueued::Queued(b) = o.enqueue("c2", "l", &n, "t").unwrap() else {
            panic!()
        };
        assert!(o.status(a).unwrap().unwrap().has_number);
        o.mark_sent(a, 1, Some("p1")).unwrap();
        o.mark_failed(b, 1, "rejected").unwrap();
        assert!(!o.status(a).unwrap().unwrap().has_number);
        assert!(!o.status(b).unwrap().unwrap().has_number);
        assert!(o.record_delivery(Some("p1"), None, true).unwrap());
        assert_eq!(o.status(a).unwrap().unwrap().state, State::Delivered);
        let c = o.counts().unwrap();
        assert_eq!((c.pending, c.sent, c.delivered, c.failed), (0, 0, 1, 1));
    }
}

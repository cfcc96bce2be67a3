//! The transcript store: conversations and their redacted turns in SQLite.
//!
//! Design notes:
//! - One SQLite file in the data directory, WAL journal, `synchronous=FULL`:
//!   every write is its own transaction, and a call that returned `Ok` has
//!   reached the disk, so a turn accepted is a turn stored even if the
//!   process is killed or the machine loses power right after.
//! - `secure_delete=ON`, so deleted transcripts are overwritten in the file
//!   rather than left in free pages.
//! - The schema is versioned with `PRAGMA user_version`; [`schema`] holds the
//!   ordered migrations, each applied in one transaction.
//! - Text enters only as [`RedactedText`]; the other strings a caller passes
//!   (municipality, topic, answer and department ids) must look like ids
//!   (`[a-z0-9_-]`), so free text cannot slip in through them.
//! - Calls block (rusqlite). An async server calls them through
//!   `tokio::task::spawn_blocking`; [`Store`] is cheap to clone and shares
//!   one connection behind a mutex, which is enough for the write rate of
//!   a municipality's calls and chats (see `transcripts-crash-writer` for
//!   the measured rate).
//! - Times are stored as UTC unix seconds; the days of filters and reports
//!   are Danish days (see `danish_time`).

mod kpi;
mod not_understood;
mod query;
mod schema;
mod users;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use time::OffsetDateTime;

use crate::RedactedText;

pub use kpi::{DayFigures, Kpis, TopicRate};
pub use not_understood::NotUnderstoodGroup;
pub use query::{
    ConversationDetail, ConversationFilter, ConversationSummary, OutcomeKind, Period, Turn,
};
pub(crate) use users::random_hex;
pub use users::{Role, Session, SessionUser, MIN_PASSWORD_CHARS};

/// What went wrong in the store. Messages never carry transcript text.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database has schema version {found}, newer than this program knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    /// The value itself is left out: it may be text that must not be logged.
    #[error("not a valid {what} (use a-z, 0-9, -, _ and .)")]
    InvalidId { what: &'static str },
    #[error("no conversation with id {0}")]
    UnknownConversation(i64),
    #[error("conversation {0} has already ended")]
    ConversationEnded(i64),
    #[error("no turn with id {0}")]
    UnknownTurn(i64),
    #[error("a user named `{0}` already exists")]
    UserExists(String),
    #[error("no user named `{0}`")]
    UnknownUser(String),
    #[error("the password is too short (at least {0} characters)")]
    WeakPassword(usize),
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error("the system random source failed: {0}")]
    Random(String),
    #[error("`{0}` is not a date (use YYYY-MM-DD)")]
    InvalidDate(String),
}

/// The channel a conversation came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Voice,
    Chat,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Chat => "chat",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "voice" => Some(Channel::Voice),
            "chat" => Some(Channel::Chat),
            _ => None,
        }
    }
}

/// How a conversation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The bot answered and the citizen was done.
    Answered,
    /// The bot sent an SMS with a link.
    SmsSent,
    /// The call was transferred to a department (its id in topics.yaml).
    Transferred { department: String },
    /// Handed over to a person: the switchboard or a chat agent (its id).
    HandedOver { department: String },
    /// An emergency: the citizen was told to call 112.
    Emergency,
    /// The citizen left before any of the above.
    Abandoned,
}

impl Outcome {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Answered => OutcomeKind::Answered,
            Outcome::SmsSent => OutcomeKind::SmsSent,
            Outcome::Transferred { .. } => OutcomeKind::Transferred,
            Outcome::HandedOver { .. } => OutcomeKind::HandedOver,
            Outcome::Emergency => OutcomeKind::Emergency,
            Outcome::Abandoned => OutcomeKind::Abandoned,
        }
    }

    /// The department transferred or handed over to.
    pub fn department(&self) -> Option<&str> {
        match self {
            Outcome::Transferred { department } | Outcome::HandedOver { department } => {
                Some(department)
            }
            _ => None,
        }
    }

    fn from_row(kind: Option<String>, department: Option<String>) -> Option<Outcome> {
        Some(match OutcomeKind::parse(kind.as_deref()?)? {
            OutcomeKind::Answered => Outcome::Answered,
            OutcomeKind::SmsSent => Outcome::SmsSent,
            OutcomeKind::Transferred => Outcome::Transferred {
                department: department.unwrap_or_default(),
            },
            OutcomeKind::HandedOver => Outcome::HandedOver {
                department: department.unwrap_or_default(),
            },
            OutcomeKind::Emergency => Outcome::Emergency,
            OutcomeKind::Abandoned => Outcome::Abandoned,
        })
    }
}

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    Bot,
    Citizen,
}

impl Speaker {
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Bot => "bot",
            Speaker::Citizen => "citizen",
        }
    }

    fn parse(s: &str) -> Speaker {
        if s == "bot" {
            Speaker::Bot
        } else {
            Speaker::Citizen
        }
    }
}

/// The matcher's decision for a citizen turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Answer,
    Confirm,
    Handover,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Answer => "answer",
            Decision::Confirm => "confirm",
            Decision::Handover => "handover",
        }
    }

    fn parse(s: &str) -> Option<Decision> {
        match s {
            "answer" => Some(Decision::Answer),
            "confirm" => Some(Decision::Confirm),
            "handover" => Some(Decision::Handover),
            _ => None,
        }
    }
}

/// A conversation's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationId(pub i64);

/// A turn's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TurnId(pub i64);

/// A conversation as it starts.
#[derive(Debug, Clone)]
pub struct NewConversation<'a> {
    pub channel: Channel,
    /// The municipality's id (its directory name under municipalities/).
    pub municipality: &'a str,
    pub started_at: OffsetDateTime,
    /// Whether it came in outside the opening hours.
    pub out_of_hours: bool,
}

/// One turn to append to a conversation.
#[derive(Debug, Clone)]
pub struct NewTurn<'a> {
    pub speaker: Speaker,
    pub at: OffsetDateTime,
    /// What was said, scrubbed. The store takes no other text.
    pub text: &'a RedactedText,
    /// The matched topic id (`none` when nothing fitted).
    pub topic: Option<&'a str>,
    pub answer_id: Option<&'a str>,
    pub confidence: Option<f32>,
    pub decision: Option<Decision>,
    /// Time from the end of the citizen's utterance to the bot's reply.
    pub latency_ms: Option<u32>,
}

/// The transcript store. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// The default file name inside the data directory.
    pub const FILE_NAME: &'static str = "vejviser.sqlite";

    /// Opens (creating if needed) `vejviser.sqlite` in `data_dir`.
    pub fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        Store::open(&data_dir.join(Store::FILE_NAME))
    }

    /// Opens (creating if needed) the database file at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // journal_mode answers with a row, so it is read rather than executed.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
        )?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// A second connection to the same file. Give the analysts' views their
    /// own, so a long report query never holds up the writing of turns (WAL
    /// lets one connection read while another writes).
    pub fn open_again(&self) -> Result<Store, StoreError> {
        Store::open(&self.path)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held leaves no half-written data: every
        // write is one transaction, rolled back when it is dropped.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the start of a conversation.
    pub fn start_conversation(
        &self,
        new: &NewConversation<'_>,
    ) -> Result<ConversationId, StoreError> {
        check_id("municipality", new.municipality)?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO conversations (channel, municipality, started_at, out_of_hours)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                new.channel.as_str(),
                new.municipality,
                new.started_at.unix_timestamp(),
                new.out_of_hours
            ],
        )?;
        Ok(ConversationId(conn.last_insert_rowid()))
    }

    /// Appends a turn. When this returns `Ok` the turn is on disk.
    pub fn add_turn(&self, id: ConversationId, turn: &NewTurn<'_>) -> Result<TurnId, StoreError> {
        for (what, value) in [("topic", turn.topic), ("answer id", turn.answer_id)] {
            if let Some(v) = value {
                check_id(what, v)?;
            }
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ended: Option<Option<i64>> = tx
            .query_row(
                "SELECT ended_at FROM conversations WHERE id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .optional()?;
        match ended {
            None => return Err(StoreError::UnknownConversation(id.0)),
            Some(Some(_)) => return Err(StoreError::ConversationEnded(id.0)),
            Some(None) => {}
        }
        tx.execute(
            "INSERT INTO turns (conversation_id, at, speaker, text, text_folded, topic,
                                answer_id, confidence, decision, latency_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id.0,
                turn.at.unix_timestamp(),
                turn.speaker.as_str(),
                turn.text.as_str(),
                turn.text.as_str().to_lowercase(),
                turn.topic,
                turn.answer_id,
                turn.confidence.map(f64::from),
                turn.decision.map(Decision::as_str),
                turn.latency_ms,
            ],
        )?;
        let turn_id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(TurnId(turn_id))
    }

    /// Marks a citizen turn whose "Handler det om …?" the citizen answered no.
    pub fn reject_confirmation(&self, turn: TurnId) -> Result<(), StoreError> {
        let n = self.conn().execute(
            "UPDATE turns SET confirmation_rejected = 1 WHERE id = ?1",
            [turn.0],
        )?;
        if n == 0 {
            return Err(StoreError::UnknownTurn(turn.0));
        }
        Ok(())
    }

    /// Records how a conversation ended.
    pub fn end_conversation(
        &self,
        id: ConversationId,
        ended_at: OffsetDateTime,
        outcome: &Outcome,
    ) -> Result<(), StoreError> {
        if let Some(d) = outcome.department() {
            check_id("department", d)?;
        }
        let n = self.conn().execute(
            "UPDATE conversations SET ended_at = ?2, outcome = ?3, department = ?4
             WHERE id = ?1 AND ended_at IS NULL",
            params![
                id.0,
                ended_at.unix_timestamp(),
                outcome.kind().as_str(),
                outcome.department()
            ],
        )?;
        if n == 0 {
            return Err(match self.conversation(id)? {
                None => StoreError::UnknownConversation(id.0),
                Some(_) => StoreError::ConversationEnded(id.0),
            });
        }
        Ok(())
    }

    /// Flags a conversation as out of hours (the dialogue may learn it at
    /// any turn, e.g. when a transfer finds the department closed).
    pub fn mark_out_of_hours(&self, id: ConversationId) -> Result<(), StoreError> {
        let n = self.conn().execute(
            "UPDATE conversations SET out_of_hours = 1 WHERE id = ?1",
            [id.0],
        )?;
        if n == 0 {
            return Err(StoreError::UnknownConversation(id.0));
        }
        Ok(())
    }

    /// Deletes a conversation and its turns; false if there was none.
    pub fn delete_conversation(&self, id: ConversationId) -> Result<bool, StoreError> {
        let conn = self.conn();
        let n = conn.execute("DELETE FROM conversations WHERE id = ?1", [id.0])?;
        if n > 0 {
            checkpoint(&conn)?;
        }
        Ok(n > 0)
    }

    /// Retention: deletes every conversation that started more than `days`
    /// days before `now`, with its turns. Returns how many were deleted.
    /// The server calls this periodically (e.g. hourly).
    pub fn delete_older_than(&self, days: u32, now: OffsetDateTime) -> Result<usize, StoreError> {
        let cutoff = now.unix_timestamp() - i64::from(days) * 86_400;
        let conn = self.conn();
        let n = conn.execute("DELETE FROM conversations WHERE started_at < ?1", [cutoff])?;
        conn.execute(
            "DELETE FROM sessions WHERE expires_at <= ?1",
            [now.unix_timestamp()],
        )?;
        if n > 0 {
            checkpoint(&conn)?;
        }
        Ok(n)
    }
}

/// Copies the WAL into the main file and empties it, so deleted transcripts
/// do not linger in old WAL frames (`secure_delete` has already overwritten
/// them in the pages). A busy reader only postpones this to the next time.
fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    let _busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(())
}

/// Text read back from the database was redacted when it was written: the
/// store accepts nothing else. This is the one place that rebuilds it.
fn stored_text(text: String) -> RedactedText {
    RedactedText(text)
}

/// Ids are lowercase ASCII words; this keeps free text out of id columns.
fn check_id(what: &'static str, value: &str) -> Result<(), StoreError> {
    let ok = !value.is_empty()
        && value.len() <= 100
        && value.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidId { what })
    }
}

fn timestamp(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests;

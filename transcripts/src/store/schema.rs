//! Versioned schema migrations (`PRAGMA user_version`).
//!
//! Migrations are appended, never edited: the N-th entry brings a database
//! from version N to N+1, in one transaction with the version bump.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: conversations, turns, users and sessions.
    "CREATE TABLE conversations (
        id           INTEGER PRIMARY KEY,
        channel      TEXT NOT NULL CHECK (channel IN ('voice', 'chat')),
        municipality TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        ended_at     INTEGER,
        outcome      TEXT CHECK (outcome IN
                       ('answered', 'sms_sent', 'transferred', 'handed_over', 'emergency',
                        'abandoned')),
        department   TEXT,
        out_of_hours INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX conversations_started ON conversations (started_at);
    CREATE TABLE turns (
        id                    INTEGER PRIMARY KEY,
        conversation_id       INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        at                    INTEGER NOT NULL,
        speaker               TEXT NOT NULL CHECK (speaker IN ('bot', 'citizen')),
        text                  TEXT NOT NULL,
        text_folded           TEXT NOT NULL,
        topic                 TEXT,
        answer_id             TEXT,
        confidence            REAL,
        decision              TEXT CHECK (decision IN ('answer', 'confirm', 'handover')),
        confirmation_rejected INTEGER NOT NULL DEFAULT 0,
        latency_ms            INTEGER
    );
    CREATE INDEX turns_conversation ON turns (conversation_id, id);
    CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL CHECK (role IN ('analyst', 'editor', 'admin')),
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        csrf       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );",
];

/// The schema version this program writes.
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

//! Callback requests booked in the web chat: a small SQLite file in the
//! data directory (`callbacks.sqlite3`), read by staff with `vejviser
//! callbacks list` and closed with `vejviser callbacks done ID`.
//!
//! # Personal data
//!
//! The phone number the citizen typed is the only personal data here, and
//! it is kept only while the request is open: `done` sets it to NULL in the
//! same commit that closes the request, `secure_delete` zeroes the freed
//! bytes and the WAL is truncated afterwards, so the digits do not linger
//! in the file. What stays is department, time window and when the request
//! was made and closed, for the figures. The number is never logged, never
//! in an error, and never reaches the transcript store: the chat turn
//! records only that a callback was booked.
//!
//! Writes commit with `synchronous = FULL` before the chat confirms the
//! booking, so a confirmed callback survives a crash.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::civil::{Date, Time};
use rusqlite::{params, Connection};

/// The file name in the data directory.
pub(crate) const FILE: &str = "callbacks.sqlite3";

/// A Danish phone number to call back: landline or mobile, eight digits
/// after an optional +45 or 0045. Personal data: redacting `Debug`, no
/// `Display`.
///
/// Written here rather than taken from `sms_gateway::MobileNumber`, which
/// refuses the landline and service numbers a callback may well go to.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PhoneNumber {
    digits: String,
}

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneNumber(********)")
    }
}

/// Why a typed callback number was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PhoneError {
    #[error("a Danish phone number has 8 digits")]
    WrongLength,
    #[error("only Danish numbers (+45) can be called back")]
    NotDanish,
    #[error("the text is not a phone number")]
    NotDigits,
}

impl PhoneError {
    /// What the chat writes back, in Danish.
    pub(crate) fn reply_da(self) -> &'static str {
        match self {
            PhoneError::WrongLength => "Et dansk telefonnummer har otte cifre.",
            PhoneError::NotDanish => "Vi kan kun ringe til danske telefonnumre.",
            PhoneError::NotDigits => {
                "Jeg kunne ikke finde et telefonnummer. Skriv de otte cifre, fx 12 34 56 78."
            }
        }
    }
}

impl PhoneNumber {
    /// "+45 33 12 34 56", "0045 33123456", "33 12 34 56", "3312-3456",
    /// also after a few words ("mit nummer er 33 12 34 56").
    pub(crate) fn parse(input: &str) -> Result<PhoneNumber, PhoneError> {
        let t = input.trim();
        let t = match t.find(|c: char| c == '+' || c.is_ascii_digit()) {
            Some(start) if start > 0 => &t[start..],
            _ => t,
        };
        let (plus, rest) = match t.strip_prefix('+') {
            Some(r) => (true, r),
            None => (false, t),
        };
        let mut digits = String::new();
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' => {}
                _ => return Err(PhoneError::NotDigits),
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::NotDigits);
        }
        let national = if plus {
            digits.strip_prefix("45").ok_or(PhoneError::NotDanish)?
        } else if let Some(d) = digits.strip_prefix("0045") {
            d
        } else if digits.len() == 10 && digits.starts_with("45") {
            &digits[2..]
        } else if digits.starts_with("00") {
            return Err(PhoneError::NotDanish);
        } else {
            &digits
        };
        if national.len() != 8 {
            return Err(PhoneError::WrongLength);
        }
        // Danish subscriber numbers never start with 0 or 1.
        if national.starts_with(['0', '1']) {
            return Err(PhoneError::WrongLength);
        }
        Ok(PhoneNumber {
            digits: national.to_string(),
        })
    }
}

/// Errors of the callback store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallbackError {
    #[error("callback database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("cannot create the data directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An open request as staff see it.
#[derive(Debug)]
pub(crate) struct OpenCallback {
    pub(crate) id: i64,
    pub(crate) department: String,
    pub(crate) date: String,
    pub(crate) from: String,
    pub(crate) to: String,
    /// "+45 12 34 56 78", for the person who calls.
    pub(crate) number: String,
    pub(crate) created_at: String,
}

/// The callback store; cheap to clone, calls block.
#[derive(Clone)]
pub(crate) struct Callbacks {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY,
    department TEXT NOT NULL,
    day TEXT NOT NULL,
    from_time TEXT NOT NULL,
    to_time TEXT NOT NULL,
    number TEXT,
    created_at TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX IF NOT EXISTS callbacks_open ON callbacks (done_at, day);
";

impl Callbacks {
    /// Opens (creating if needed) `callbacks.sqlite3` in `data`.
    pub(crate) fn open_in(data: &Path) -> Result<Callbacks, CallbackError> {
        std::fs::create_dir_all(data).map_err(|source| CallbackError::Dir {
            path: data.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(data.join(FILE))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Callbacks {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a request; returns after the commit.
    pub(crate) fn book(
        &self,
        department: &str,
        date: Date,
        from: Time,
        to: Time,
        number: &PhoneNumber,
        now: jiff::Timestamp,
    ) -> Result<i64, CallbackError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO callbacks (department, day, from_time, to_time, number, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                department,
                date.to_string(),
                from.strftime("%H:%M").to_string(),
                to.strftime("%H:%M").to_string(),
                number.digits,
                now.to_string()
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Open requests, earliest window first.
    pub(crate) fn open_requests(&self) -> Result<Vec<OpenCallback>, CallbackError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, department, day, from_time, to_time, number, created_at
             FROM callbacks WHERE done_at IS NULL ORDER BY day, from_time, id",
        )?;
        let rows = stmt.query_map([], |r| {
            let digits: String = r.get::<_, Option<String>>(5)?.unwrap_or_default();
            Ok(OpenCallback {
                id: r.get(0)?,
                department: r.get(1)?,
                date: r.get(2)?,
                from: r.get(3)?,
                to: r.get(4)?,
                number: grouped(&digits),
                created_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Closes a request and erases its number; `false` if there is no open
    /// request with that id.
    pub(crate) fn done(&self, id: i64, now: jiff::Timestamp) -> Result<bool, CallbackError> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE callbacks SET number = NULL, done_at = ?2 WHERE id = ?1 AND done_at IS NULL",
            params![id, now.to_string()],
        )?;
        // Move the change into the main file and empty the WAL, so the
        // erased digits are gone from both.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(n == 1)
    }
}

/// "12345678" → "+45 12 34 56 78".
fn grouped(digits: &str) -> String {
    let mut out = String::from("+45");
    for (i, c) in digits.chars().enumerate() {
        if i % 2 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn danish_numbers_in_any_grouping_landlines_included() {
        for t in [
            "+45 33 12 34 56",
            "0045 33123456",
            "33 12 34 56",
            "3312-3456",
            "4533123456",
            "mit nummer er 33 12 34 56",
        ] {
            assert_eq!(
                PhoneNumber::parse(t).map(|n| n.digits),
                Ok("33123456".into()),
                "{t}"
            );
        }
        assert_eq!(PhoneNumber::parse("1234567"), Err(PhoneError::WrongLength));
        assert_eq!(
            PhoneNumber::parse("+46 701234567"),
            Err(PhoneError::NotDanish)
        );
        assert_eq!(PhoneNumber::parse("ring mig"), Err(PhoneError::NotDigits));
        assert_eq!(PhoneNumber::parse("01234567"), Err(PhoneError::WrongLength));
    }

    #[test]
    fn debug_hides_the_number() {
        let n = PhoneNumber::parse("33123456").expect("valid");
        assert!(!format!("{n:?}").contains("3312"));
    }

    #[test]
    fn done_erases_the_number_from_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Callbacks::open_in(dir.path()).expect("open");
        let n = PhoneNumber::parse("87654321").expect("valid");
        let day = jiff::civil::date(2026, 3, 11);
        let id = store
            .book(
                "omstilling",
                day,
                jiff::civil::time(9, 0, 0, 0),
                jiff::civil::time(12, 0, 0, 0),
                &n,
                jiff::Timestamp::UNIX_EPOCH,
            )
            .expect("book");
        let open = store.open_requests().expect("list");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].number, "+45 87 65 43 21");
        assert!(store.done(id, jiff::Timestamp::UNIX_EPOCH).expect("done"));
        assert!(!store.done(id, jiff::Timestamp::UNIX_EPOCH).expect("done"));
        assert!(store.open_requests().expect("list").is_empty());
        drop(store);
        for name in [FILE, "callbacks.sqlite3-wal"] {
            let bytes = std::fs::read(dir.path().join(name)).unwrap_or_default();
            assert!(
                !bytes.windows(8).any(|w| w == b"87654321"),
                "{name} still holds the number"
            );
        }
    }
}

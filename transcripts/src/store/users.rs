//! Staff accounts and login sessions.
//!
//! Passwords are stored as argon2id PHC strings (the argon2 crate's default
//! parameters). A session is a random 256-bit token given to the browser;
//! only its BLAKE2s hash is stored, so a copy of the database does not hand
//! out live sessions. Each session carries its own CSRF token.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use blake2::{Blake2s256, Digest};
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::{check_id, Store, StoreError};

/// The shortest password `add_user` accepts.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads transcripts and figures.
    Analyst,
    /// Edits the talk-flows and answers; reads like an analyst.
    Editor,
    /// Everything, including deleting conversations.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "analyst" => Some(Role::Analyst),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A new login session: hand `token` to the browser, keep `csrf` in forms.
#[derive(Clone)]
pub struct Session {
    pub token: String,
    pub csrf: String,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Who a valid session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub name: String,
    pub role: Role,
    pub csrf: String,
}

/// `n` random bytes from the operating system, hex-encoded.
pub(crate) fn random_hex(n: usize) -> Result<String, StoreError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(hex(&buf))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    hex(&Blake2s256::digest(token.as_bytes()))
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| StoreError::Random(e.to_string()))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| StoreError::PasswordHash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::PasswordHash(e.to_string()))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Store {
    /// Adds a staff account. Names are ids (`a-z`, digits, `-`, `_`).
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        password: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        check_id("user name", name)?;
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(StoreError::WeakPassword(MIN_PASSWORD_CHARS));
        }
        let hash = hash_password(password)?;
        let conn = self.conn();
        let n = conn.execute(
            "INSERT OR IGNORE INTO users (name, role, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![name, role.as_str(), hash, now.unix_timestamp()],
        )?;
        if n == 0 {
            return Err(StoreError::UserExists(name.to_string()));
        }
        Ok(())
    }

    /// Removes a staff account and ends its sessions.
    pub fn remove_user(&self, name: &str) -> Result<(), StoreError> {
        let n = self
            .conn()
            .execute("DELETE FROM users WHERE name = ?1", [name])?;
        if n == 0 {
            return Err(StoreError::UnknownUser(name.to_string()));
        }
        Ok(())
    }

    /// The user's role if the password is right. An unknown name costs the
    /// same hashing work as a wrong password, so timing tells nothing.
    pub fn check_password(&self, name: &str, password: &str) -> Result<Option<Role>, StoreError> {
        let row: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT role, password_hash FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((role, hash)) => Ok(verify_password(password, &hash)
                .then(|| Role::parse(&role))
                .flatten()),
            None => {
                let _ = hash_password(password)?;
                Ok(None)
            }
        }
    }

    /// Starts a session for `name` lasting `ttl`.
    pub fn create_session(
        &self,
        name: &str,
        ttl: time::Duration,
        now: OffsetDateTime,
    ) -> Result<Session, StoreError> {
        let token = random_hex(32)?;
        let csrf = random_hex(32)?;
        let expires_at = now + ttl;
        self.conn().execute(
            "INSERT INTO sessions (token_hash, user_name, csrf, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                token_hash(&token),
                name,
                csrf,
                now.unix_timestamp(),
                expires_at.unix_timestamp()
            ],
        )?;
        Ok(Session {
            token,
            csrf,
            expires_at,
        })
    }

    /// The user of a live session, or `None` if the token is unknown or
    /// expired.
    pub fn session_user(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionUser>, StoreError> {
        let row: Option<(String, String, String)> = self
            .conn()
            .query_row(
                "SELECT u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.name = s.user_name
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                params![token_hash(token), now.unix_timestamp()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.and_then(|(name, role, csrf)| {
            Some(SessionUser {
                name,
                role: Role::parse(&role)?,
                csrf,
            })
        }))
    }

    /// Ends a session (logout).
    pub fn end_session(&self, token: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            [token_hash(token)],
        )?;
        Ok(())
    }
}

//! Personal-data scrubbing and the redacted transcript store.
//!
//! This crate owns the boundary between what a citizen said and what may be
//! kept. A [`RawUtterance`] cannot be printed, serialised or logged (its
//! `Debug` shows only its length); the only way to text that may be stored
//! or logged is [`Scrubber::scrub`], which returns a [`RedactedText`].
//!
//! The scrubber (module `scrub`) finds Danish personal data in speech
//! recognition output and typed chat: CPR, phone, e-mail, bank account,
//! licence plate, date of birth, case number, names, addresses and health
//! details, each replaced by a typed placeholder (`[CPR]`, `[NAVN]`, ...).
//!
//! [`Store`] keeps conversations and their redacted turns in SQLite, with
//! staff accounts and sessions; it accepts text only as [`RedactedText`].
//! [`views::router`] is the analysts' web views (login, conversations, "ikke
//! forstået", key figures, CSV) as an axum router the server mounts.

mod danish_time;
mod store;
pub mod views;

pub use store::{
    Channel, ConversationDetail, ConversationFilter, ConversationId, ConversationSummary,
    DayFigures, Decision, Kpis, NewConversation, NewTurn, NotUnderstoodGroup, Outcome, OutcomeKind,
    Period, Role, Session, SessionUser, Speaker, Store, StoreError, TopicRate, Turn, TurnId,
    MIN_PASSWORD_CHARS,
};

/// What a citizen said or typed, in memory for one turn only.
pub struct RawUtterance(String);

impl std::fmt::Debug for RawUtterance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawUtterance({} chars)", self.0.chars().count())
    }
}

impl RawUtterance {
    pub fn new(text: impl Into<String>) -> Self {
        RawUtterance(text.into())
    }

    /// The raw text, for the matcher only. Never store or log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

mod scrub;

pub use scrub::Scrubber;

/// Text with personal data replaced by typed placeholders.
///
/// Only [`Scrubber::scrub`] makes one; its field is private to this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactedText(String);

impl RedactedText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RedactedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Logs one turn's redacted text at INFO. Takes only [`RedactedText`], so
/// raw citizen text cannot reach a log line through it.
pub fn log_turn(conversation: &str, turn: u32, text: &RedactedText) {
    tracing::info!(conversation, turn, text = text.as_str(), "turn");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_raw_shows_only_length() {
        let raw = RawUtterance::new("jeg hedder Hans");
        assert_eq!(format!("{raw:?}"), "RawUtterance(15 chars)");
    }

    #[test]
    fn removes_numbers_and_emails() {
        let raw = RawUtterance::new("mit nummer er 010288-1234 og mail a@b.dk om pas");
        assert_eq!(
            Scrubber::new().scrub(&raw).as_str(),
            "mit nummer er [CPR] og mail [EMAIL] om pas"
        );
    }
}

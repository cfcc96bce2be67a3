//! Reading conversations back: filters, search in the redacted text, one
//! conversation's turns.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, OptionalExtension, Row};
use time::{Date, OffsetDateTime};

use super::{
    stored_text, timestamp, Channel, ConversationId, Decision, Outcome, Speaker, Store, StoreError,
    TurnId,
};
use crate::{danish_time, RedactedText};

/// The kind of an outcome, for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutcomeKind {
    Answered,
    SmsSent,
    Transferred,
    HandedOver,
    Emergency,
    Abandoned,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 6] = [
        OutcomeKind::Answered,
        OutcomeKind::SmsSent,
        OutcomeKind::Transferred,
        OutcomeKind::HandedOver,
        OutcomeKind::Emergency,
        OutcomeKind::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Answered => "answered",
            OutcomeKind::SmsSent => "sms_sent",
            OutcomeKind::Transferred => "transferred",
            OutcomeKind::HandedOver => "handed_over",
            OutcomeKind::Emergency => "emergency",
            OutcomeKind::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A half-open time range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

impl Period {
    /// From the start of Danish day `from` (YYYY-MM-DD) to the end of day
    /// `until` (inclusive), or to `now` when there is no `until`.
    pub fn from_days(
        from: &str,
        until: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Period, StoreError> {
        let from = danish_time::start_of_day(parse_day(from)?);
        let to = match until {
            Some(u) => day_after(parse_day(u)?),
            None => now + time::Duration::seconds(1),
        };
        Ok(Period { from, to })
    }

    /// The last `days` days up to `now`.
    pub fn last_days(days: u32, now: OffsetDateTime) -> Period {
        Period {
            from: now - time::Duration::days(i64::from(days)),
            to: now + time::Duration::seconds(1),
        }
    }
}

/// Parses YYYY-MM-DD.
pub(crate) fn parse_day(s: &str) -> Result<Date, StoreError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), format).map_err(|_| StoreError::InvalidDate(s.chars().take(20).collect()))
}

fn day_after(d: Date) -> OffsetDateTime {
    danish_time::start_of_day(d.next_day().unwrap_or(d))
}

/// Which conversations to list. Every field left `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// Started at or after.
    pub from: Option<OffsetDateTime>,
    /// Started before.
    pub to: Option<OffsetDateTime>,
    pub channel: Option<Channel>,
    /// Some turn matched this topic.
    pub topic: Option<String>,
    pub outcome: Option<OutcomeKind>,
    /// Transferred or handed over to this department.
    pub department: Option<String>,
    pub out_of_hours: Option<bool>,
    /// Some turn's redacted text contains this (case-insensitive).
    pub text: Option<String>,
    /// At most this many (newest first); 0 means no limit.
    pub limit: u32,
    pub offset: u32,
}

impl ConversationFilter {
    pub fn with_period(period: Period) -> ConversationFilter {
        ConversationFilter {
            from: Some(period.from),
            to: Some(period.to),
            ..ConversationFilter::default()
        }
    }

    fn where_clause(&self) -> (String, Vec<Value>) {
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        if let Some(from) = self.from {
            clauses.push("c.started_at >= ?");
            values.push(Value::Integer(from.unix_timestamp()));
        }
        if let Some(to) = self.to {
            clauses.push("c.started_at < ?");
            values.push(Value::Integer(to.unix_timestamp()));
        }
        if let Some(ch) = self.channel {
            clauses.push("c.channel = ?");
            values.push(Value::Text(ch.as_str().into()));
        }
        if let Some(topic) = &self.topic {
            clauses.push(
                "EXISTS (SELECT 1 FROM turns t WHERE t.conversation_id = c.id AND t.topic = ?)",
            );
            values.push(Value::Text(topic.clone()));
        }
        if let Some(kind) = self.outcome {
            clauses.push("c.outcome = ?");
            values.push(Value::Text(kind.as_str().into()));
        }
        if let Some(dept) = &self.department {
            clauses.push("c.department = ?");
            values.push(Value::Text(dept.clone()));
        }
        if let Some(ooh) = self.out_of_hours {
            clauses.push("c.out_of_hours = ?");
            values.push(Value::Integer(i64::from(ooh)));
        }
        if let Some(text) = &self.text {
            clauses.push(
                "EXISTS (SELECT 1 FROM turns t WHERE t.conversation_id = c.id \
                 AND instr(t.text_folded, ?) > 0)",
            );
            values.push(Value::Text(text.to_lowercase()));
        }
        let sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        (sql, values)
    }
}

/// One line of the conversations list.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub channel: Channel,
    pub municipality: String,
    pub started_at: OffsetDateTime,
    pub ended_at: Option<OffsetDateTime>,
    /// `None` while the conversation is going on.
    pub outcome: Option<Outcome>,
    pub out_of_hours: bool,
    pub turns: u32,
    /// The distinct topics its turns matched, in order of first appearance.
    pub topics: Vec<String>,
}

/// One stored turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub id: TurnId,
    pub at: OffsetDateTime,
    pub speaker: Speaker,
    pub text: RedactedText,
    pub topic: Option<String>,
    pub answer_id: Option<String>,
    pub confidence: Option<f32>,
    pub decision: Option<Decision>,
    pub confirmation_rejected: bool,
    pub latency_ms: Option<u32>,
}

/// A conversation with all its turns.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationDetail {
    pub summary: ConversationSummary,
    pub turns: Vec<Turn>,
}

const SUMMARY_COLUMNS: &str = "c.id, c.channel, c.municipality, c.started_at, c.ended_at, \
     c.outcome, c.department, c.out_of_hours, \
     (SELECT count(*) FROM turns t WHERE t.conversation_id = c.id), \
     (SELECT group_concat(topic, ' ') FROM (SELECT t.topic, min(t.id) AS first FROM turns t \
        WHERE t.conversation_id = c.id AND t.topic IS NOT NULL GROUP BY t.topic ORDER BY first))";

fn summary_from_row(r: &Row<'_>) -> rusqlite::Result<ConversationSummary> {
    let channel: String = r.get(1)?;
    let topics: Option<String> = r.get(9)?;
    Ok(ConversationSummary {
        id: ConversationId(r.get(0)?),
        channel: Channel::parse(&channel).unwrap_or(Channel::Chat),
        municipality: r.get(2)?,
        started_at: timestamp(r.get(3)?),
        ended_at: r.get::<_, Option<i64>>(4)?.map(timestamp),
        outcome: Outcome::from_row(r.get(5)?, r.get(6)?),
        out_of_hours: r.get(7)?,
        turns: r.get(8)?,
        topics: topics
            .map(|t| t.split(' ').map(str::to_string).collect())
            .unwrap_or_default(),
    })
}

impl Store {
    /// The conversations matching `filter`, newest first.
    pub fn conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let (where_sql, mut values) = filter.where_clause();
        let limit = if filter.limit == 0 {
            -1
        } else {
            i64::from(filter.limit)
        };
        values.push(Value::Integer(limit));
        values.push(Value::Integer(i64::from(filter.offset)));
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM conversations c {where_sql}
             ORDER BY c.started_at DESC, c.id DESC LIMIT ? OFFSET ?"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(values), summary_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many conversations match `filter` (ignoring its limit and offset).
    pub fn count_conversations(&self, filter: &ConversationFilter) -> Result<u64, StoreError> {
        let (where_sql, values) = filter.where_clause();
        let sql = format!("SELECT count(*) FROM conversations c {where_sql}");
        let n: i64 = self
            .conn()
            .query_row(&sql, params_from_iter(values), |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// One conversation with its turns in order, or `None`.
    pub fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationDetail>, StoreError> {
        let conn = self.conn();
        let summary = conn
            .query_row(
                &format!("SELECT {SUMMARY_COLUMNS} FROM conversations c WHERE c.id = ?1"),
                [id.0],
                summary_from_row,
            )
            .optional()?;
        let Some(summary) = summary else {
            return Ok(None);
        };
        let mut stmt = conn.prepare(
            "SELECT id, at, speaker, text, topic, answer_id, confidence, decision,
                    confirmation_rejected, latency_ms
             FROM turns WHERE conversation_id = ?1 ORDER BY id",
        )?;
        let turns = stmt
            .query_map([id.0], |r| {
                let speaker: String = r.get(2)?;
                let decision: Option<String> = r.get(7)?;
                Ok(Turn {
                    id: TurnId(r.get(0)?),
                    at: timestamp(r.get(1)?),
                    speaker: Speaker::parse(&speaker),
                    text: stored_text(r.get(3)?),
                    topic: r.get(4)?,
                    answer_id: r.get(5)?,
                    confidence: r.get::<_, Option<f64>>(6)?.map(|c| c as f32),
                    decision: decision.as_deref().and_then(Decision::parse),
                    confirmation_rejected: r.get(8)?,
                    latency_ms: r.get(9)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(ConversationDetail { summary, turns }))
    }

    /// Whether a turn with this id is stored.
    pub fn has_turn(&self, id: TurnId) -> Result<bool, StoreError> {
        let n: i64 =
            self.conn()
                .query_row("SELECT count(*) FROM turns WHERE id = ?1", [id.0], |r| {
                    r.get(0)
                })?;
        Ok(n > 0)
    }
}

//! Storing conversations in the transcript store from an async front end.
//!
//! [`Recorder`] owns one writer thread (`transcripts`) fed by a bounded
//! queue: a call task hands over what to store and goes on at once, so a
//! slow disk (`synchronous = FULL`) never holds up a runtime worker or a
//! caller's audio. The writer keeps, per conversation, the store's id it
//! was given, so a front end need not wait for it either.
//!
//! What arrives here is already redacted ([`RedactedText`]); a caller's
//! number never does. A full queue drops the record and logs an error
//! (data was lost), rather than stalling the call.
//!
//! The conversions from the engine's [`Outcome`] and the matcher's
//! decision to the store's types are here so every front end stores them
//! the same way.

use std::collections::HashMap;

use tokio::sync::mpsc;
use transcripts::{self as store, ConversationId, NewConversation, NewTurn, RedactedText, Store};

use crate::dialogue::Outcome;

/// Records waiting for the writer thread.
const RECORD_CAPACITY: usize = 1024;

/// One turn as a front end hands it over.
#[derive(Debug, Clone)]
pub struct TurnRecord {
    pub speaker: store::Speaker,
    pub at: jiff::Timestamp,
    pub text: RedactedText,
    pub topic: Option<String>,
    pub answer_id: Option<String>,
    pub confidence: Option<f32>,
    pub decision: Option<knowledge::Decision>,
    pub latency_ms: Option<u32>,
}

enum Record {
    Start {
        conversation: u64,
        channel: store::Channel,
        at: jiff::Timestamp,
        out_of_hours: bool,
    },
    Turn {
        conversation: u64,
        turn: TurnRecord,
    },
    End {
        conversation: u64,
        at: jiff::Timestamp,
        outcome: store::Outcome,
    },
}

/// The handle front ends store through; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Starts the writer thread over `store` for `municipality`. The
    /// thread ends when every handle is dropped.
    pub fn start(store: Store, municipality: String) -> std::io::Result<Recorder> {
        let (tx, rx) = mpsc::channel(RECORD_CAPACITY);
        std::thread::Builder::new()
            .name("transcripts".into())
            .spawn(move || write(store, &municipality, rx))?;
        Ok(Recorder { tx })
    }

    /// A new conversation's handle; nothing is stored until
    /// [`Conversation::start`].
    pub fn conversation(&self, id: u64) -> Conversation {
        Conversation {
            id,
            tx: self.tx.clone(),
            started: false,
        }
    }
}

/// One conversation's share of the [`Recorder`].
pub struct Conversation {
    id: u64,
    tx: mpsc::Sender<Record>,
    started: bool,
}

impl Conversation {
    /// Opens the conversation in the store (once).
    pub fn start(&mut self, channel: store::Channel, at: jiff::Timestamp, out_of_hours: bool) {
        if !self.started {
            self.started = true;
            self.send(Record::Start {
                conversation: self.id,
                channel,
                at,
                out_of_hours,
            });
        }
    }

    pub fn turn(&self, turn: TurnRecord) {
        if self.started {
            self.send(Record::Turn {
                conversation: self.id,
                turn,
            });
        }
    }

    /// Ends the conversation with the engine's outcome.
    pub fn end(&self, at: jiff::Timestamp, outcome: &Outcome) {
        if self.started {
            self.send(Record::End {
                conversation: self.id,
                at,
                outcome: store_outcome(outcome),
            });
        }
    }

    fn send(&self, r: Record) {
        if self.tx.try_send(r).is_err() {
            tracing::error!("transcript queue full or writer gone; a record was not stored");
        }
    }
}

fn write(store: Store, municipality: &str, mut rx: mpsc::Receiver<Record>) {
    let mut open: HashMap<u64, ConversationId> = HashMap::new();
    while let Some(r) = rx.blocking_recv() {
        let result = match r {
            Record::Start {
                conversation,
                channel,
                at,
                out_of_hours,
            } => store
                .start_conversation(&NewConversation {
                    channel,
                    municipality,
                    started_at: to_time(at),
                    out_of_hours,
                })
                .map(|id| {
                    open.insert(conversation, id);
                }),
            Record::Turn { conversation, turn } => match open.get(&conversation) {
                Some(id) => store
                    .add_turn(
                        *id,
                        &NewTurn {
                            speaker: turn.speaker,
                            at: to_time(turn.at),
                            text: &turn.text,
                            topic: turn.topic.as_deref(),
                            answer_id: turn.answer_id.as_deref(),
                            confidence: turn.confidence,
                            decision: turn.decision.map(store_decision),
                            latency_ms: turn.latency_ms,
                        },
                    )
                    .map(|_| ()),
                None => Ok(()),
            },
            Record::End {
                conversation,
                at,
                outcome,
            } => match open.remove(&conversation) {
                Some(id) => store.end_conversation(id, to_time(at), &outcome),
                None => Ok(()),
            },
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "storing a transcript record failed");
        }
    }
}

/// The store's outcome for the engine's; a conversation still in
/// progress when it ends was abandoned.
pub fn store_outcome(outcome: &Outcome) -> store::Outcome {
    match outcome {
        Outcome::Answered => store::Outcome::Answered,
        Outcome::SmsSent => store::Outcome::SmsSent,
        Outcome::Transferred(department) => store::Outcome::Transferred {
            department: department.clone(),
        },
        Outcome::HandedOver(department) => store::Outcome::HandedOver {
            department: department.clone(),
        },
        Outcome::Emergency => store::Outcome::Emergency,
        Outcome::InProgress | Outcome::Abandoned => store::Outcome::Abandoned,
    }
}

/// The store's decision for the matcher's.
pub fn store_decision(d: knowledge::Decision) -> store::Decision {
    match d {
        knowledge::Decision::Answer => store::Decision::Answer,
        knowledge::Decision::Confirm => store::Decision::Confirm,
        knowledge::Decision::Handover => store::Decision::Handover,
    }
}

/// A timestamp as the store keeps it.
pub fn to_time(t: jiff::Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

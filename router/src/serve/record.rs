//! Storing a turn in the transcript store, shared by the chat and the
//! voice webhook: the citizen's side (already scrubbed, with what the
//! matcher made of it), the bot's side (its texts, passed through the
//! scrubber as well) and the end of a conversation.

use router::dialogue::{Outcome, Turn};
use transcripts::{ConversationId, NewTurn, RawUtterance, RedactedText, Speaker, StoreError};

use super::App;
use router::record::{store_decision as decision, store_outcome as outcome, to_time};

/// Stores what the citizen said (scrubbed) with the turn's match.
pub(crate) fn citizen_turn(
    app: &App,
    conversation: ConversationId,
    at: jiff::Timestamp,
    said: &RedactedText,
    turn: &Turn,
    latency_ms: u32,
) -> Result<(), StoreError> {
    app.store
        .add_turn(
            conversation,
            &NewTurn {
                speaker: Speaker::Citizen,
                at: to_time(at),
                text: said,
                topic: turn.topic.as_deref(),
                answer_id: turn.answer_id.as_deref(),
                confidence: turn.confidence,
                decision: turn.decision.map(decision),
                latency_ms: Some(latency_ms),
            },
        )
        .map(|_| ())
}

/// Stores what the bot said, if anything; the texts go through the
/// scrubber too (an answer may quote a number the citizen gave).
pub(crate) fn bot_turn(
    app: &App,
    conversation: ConversationId,
    at: jiff::Timestamp,
    said: &[&str],
) -> Result<(), StoreError> {
    if said.is_empty() {
        return Ok(());
    }
    let text = app.scrubber.scrub(&RawUtterance::new(said.join("\n")));
    app.store
        .add_turn(
            conversation,
            &NewTurn {
                speaker: Speaker::Bot,
                at: to_time(at),
                text: &text,
                topic: None,
                answer_id: None,
                confidence: None,
                decision: None,
                latency_ms: None,
            },
        )
        .map(|_| ())
}

/// Stores how the conversation ended.
pub(crate) fn end(
    app: &App,
    conversation: ConversationId,
    at: jiff::Timestamp,
    how: &Outcome,
) -> Result<(), StoreError> {
    app.store
        .end_conversation(conversation, to_time(at), &outcome(how))
}

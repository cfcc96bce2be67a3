//! `vejviser match --jsonl`: the measuring interface of the matcher.
//!
//! In: `{"id": ..., "text": ..., "channel": "voice"|"chat"}` per line.
//! Out: `{"id", "topic", "answer_id", "confidence", "decision"}` per line,
//! in input order. A line that cannot be read gets
//! `{"id": ..., "error": "..."}` so output lines still pair with input lines.
//! An emergency caught by the dialogue's cue phrases is reported as the
//! dialogue treats it (topic `noedsituation`, confidence 1); see
//! [`understand`].

use std::process::ExitCode;

use serde_json::json;

use crate::labelled::{answer_lines, understand};
use crate::paths::Project;

pub(crate) fn run(project: &Project) -> anyhow::Result<ExitCode> {
    let (matcher, emergency_words) = project.understanding()?;
    answer_lines(|line, channel| {
        let m = understand(&matcher, Some(&emergency_words), &line.text, channel)?;
        Ok(json!({
            "id": line.id,
            "topic": m.topic,
            "answer_id": m.answer_id,
            "confidence": (f64::from(m.confidence) * 1000.0).round() / 1000.0,
            "decision": m.decision.as_str(),
        }))
    })
}

//! `vejviser match --jsonl`: the measuring interface of the matcher.
//!
//! In: `{"id": ..., "text": ..., "channel": "voice"|"chat"}` per line.
//! Out: `{"id", "topic", "answer_id", "confidence", "decision"}` per line,
//! in input order. A line that cannot be read gets
//! `{"id": ..., "error": "..."}` so output lines still pair with input lines.

use std::process::ExitCode;

use serde_json::json;

use crate::labelled::answer_lines;
use crate::paths::Project;

pub(crate) fn run(project: &Project) -> anyhow::Result<ExitCode> {
    let matcher = project.matcher()?;
    answer_lines(|line, channel| {
        let m = matcher.find(&line.text, channel)?;
        Ok(json!({
            "id": line.id,
            "topic": m.topic,
            "answer_id": m.answer_id,
            "confidence": (f64::from(m.confidence) * 1000.0).round() / 1000.0,
            "decision": m.decision.as_str(),
        }))
    })
}

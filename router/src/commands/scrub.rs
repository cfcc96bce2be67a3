//! `vejviser scrub --jsonl`: the measuring interface of the scrubber.
//!
//! In: `{"id": ..., "text": ..., "channel": "voice"|"chat"}` per line.
//! Out: `{"id": ..., "redacted": "..."}` per line, in input order. A line
//! that cannot be read gets `{"id": ..., "error": "..."}` (the error names
//! the line, never its text) and the exit code is 1 at the end.

use std::process::ExitCode;

use serde_json::json;
use transcripts::{RawUtterance, Scrubber};

use crate::labelled::answer_lines;

pub(crate) fn run() -> anyhow::Result<ExitCode> {
    let scrubber = Scrubber::new();
    answer_lines(|line, _channel| {
        let raw = RawUtterance::new(line.text);
        let redacted = scrubber.scrub(&raw);
        Ok(json!({"id": line.id, "redacted": redacted.as_str()}))
    })
}

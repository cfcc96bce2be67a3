//! `vejviser scrub --jsonl`: the measuring interface of the scrubber.
//!
//! In: `{"id": ..., "text": ..., "channel": "voice"|"chat"}` per line.
//! Out: `{"id": ..., "redacted": "..."}` per line, in input order. A line
//! that cannot be read gets `{"id": ..., "error": "..."}` (the error names
//! the line, never its text) and the exit code is 1 at the end.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use serde_json::json;
use transcripts::{RawUtterance, Scrubber};

use crate::labelled::{parse_channel, Line};

pub(crate) fn run() -> anyhow::Result<ExitCode> {
    let scrubber = Scrubber::new();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Line>(&line) {
            Err(e) => {
                failed = true;
                // serde_json's message names the position, not the text.
                let id = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(serde_json::Value::Null);
                json!({"id": id, "error": format!("line {}: not an object with a \"text\" string (column {})", n + 1, e.column())})
            }
            Ok(l) => match parse_channel(l.channel.as_deref()) {
                Err(e) => {
                    failed = true;
                    json!({"id": l.id, "error": format!("line {}: {e}", n + 1)})
                }
                Ok(_) => {
                    let raw = RawUtterance::new(l.text);
                    let redacted = scrubber.scrub(&raw);
                    json!({"id": l.id, "redacted": redacted.as_str()})
                }
            },
        };
        serde_json::to_writer(&mut out, &reply)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

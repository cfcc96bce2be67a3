//! `vejviser match --jsonl`: the measuring interface of the matcher.
//!
//! In: `{"id": ..., "text": ..., "channel": "voice"|"chat"}` per line.
//! Out: `{"id", "topic", "answer_id", "confidence", "decision"}` per line,
//! in input order. A line that cannot be read gets
//! `{"id": ..., "error": "..."}` so output lines still pair with input lines.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use serde_json::json;

use crate::labelled::{parse_channel, Line};
use crate::paths::Project;

pub(crate) fn run(project: &Project) -> anyhow::Result<ExitCode> {
    let matcher = project.matcher()?;
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
                json!({"id": null, "error": format!("line {}: {e}", n + 1)})
            }
            Ok(l) => match parse_channel(l.channel.as_deref()) {
                Err(e) => {
                    failed = true;
                    json!({"id": l.id, "error": format!("line {}: {e}", n + 1)})
                }
                Ok(channel) => {
                    let m = matcher.find(&l.text, channel)?;
                    json!({
                        "id": l.id,
                        "topic": m.topic,
                        "answer_id": m.answer_id,
                        "confidence": (f64::from(m.confidence) * 1000.0).round() / 1000.0,
                        "decision": m.decision.as_str(),
                    })
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

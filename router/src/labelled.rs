//! The JSON-lines formats the measuring commands read.

use anyhow::{bail, Context};
use knowledge::Channel;
use serde::Deserialize;

/// One input line of `match --jsonl` (and of labelled files, with `topic`).
#[derive(Deserialize)]
pub(crate) struct Line {
    #[serde(default)]
    pub(crate) id: serde_json::Value,
    pub(crate) text: String,
    #[serde(default)]
    pub(crate) channel: Option<String>,
    #[serde(default)]
    pub(crate) topic: Option<String>,
}

pub(crate) fn parse_channel(channel: Option<&str>) -> anyhow::Result<Channel> {
    match channel {
        None | Some("chat") => Ok(Channel::Chat),
        Some("voice") => Ok(Channel::Voice),
        Some(other) => bail!("unknown channel `{other}`: use \"voice\" or \"chat\""),
    }
}

/// A labelled utterance.
pub(crate) struct Labelled {
    pub(crate) id: String,
    pub(crate) text: String,
    pub(crate) channel: Channel,
    pub(crate) topic: String,
}

/// The lines of a JSON-lines file of utterances (blank lines skipped),
/// each with where it stands (`file:line`) for error messages.
pub(crate) fn read_lines(path: &std::path::Path) -> anyhow::Result<Vec<(String, Line)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), n + 1);
        let l: Line = serde_json::from_str(line)
            .with_context(|| format!("{at}: not a JSON object with \"text\""))?;
        out.push((at, l));
    }
    Ok(out)
}

pub(crate) fn read_labelled(path: &std::path::Path) -> anyhow::Result<Vec<Labelled>> {
    let mut out = Vec::new();
    for (at, l) in read_lines(path)? {
        let Some(topic) = l.topic else {
            bail!("{at}: no \"topic\" label");
        };
        out.push(Labelled {
            id: match l.id {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            },
            text: l.text,
            channel: parse_channel(l.channel.as_deref()).context(at)?,
            topic,
        });
    }
    Ok(out)
}

/// A stable split of labelled lines into a fitting half and a reporting
/// half, by a hash of the id (FNV-1a), independent of line order.
pub(crate) fn is_fitting_half(id: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.is_multiple_of(2)
}

/// The loop of the measuring commands (`match --jsonl`, `scrub --jsonl`):
/// reads `{"id", "text", "channel"}` lines on stdin and writes what
/// `answer` makes of each, one line out per line in, in order. A line that
/// cannot be read gets `{"id", "error"}` naming the line and column, never
/// its text, and the exit code is 1 at the end.
pub(crate) fn answer_lines(
    mut answer: impl FnMut(Line, Channel) -> anyhow::Result<serde_json::Value>,
) -> anyhow::Result<std::process::ExitCode> {
    use serde_json::json;
    use std::io::{BufRead, Write};

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
                Ok(channel) => answer(l, channel)?,
            },
        };
        serde_json::to_writer(&mut out, &reply)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if failed {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// What the product makes of one utterance before any dialogue state: an
/// emergency caught by the dialogue's cue phrases (built in, plus the
/// flow's `emergency_words`) is topic `noedsituation` whatever the matcher
/// ranks first, exactly as [`router::dialogue::Dialogue`] treats it;
/// everything else is the matcher's verdict.
pub(crate) fn understand(
    matcher: &knowledge::Matcher,
    emergency_words: Option<&[String]>,
    text: &str,
    channel: Channel,
) -> anyhow::Result<knowledge::Match> {
    let m = matcher.find(text, channel)?;
    match emergency_words {
        Some(words) if router::dialogue::is_emergency(text, words) => {
            let answer_id = m
                .candidates
                .iter()
                .find(|c| c.topic == knowledge::TOPIC_EMERGENCY)
                .and_then(|c| c.answer_id.clone());
            Ok(knowledge::Match {
                topic: knowledge::TOPIC_EMERGENCY.to_string(),
                answer_id,
                confidence: 1.0,
                decision: knowledge::Decision::Answer,
                ..m
            })
        }
        _ => Ok(m),
    }
}

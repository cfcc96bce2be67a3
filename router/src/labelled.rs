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

pub(crate) fn read_labelled(path: &std::path::Path) -> anyhow::Result<Vec<Labelled>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line).with_context(|| {
            format!(
                "{}:{}: not a JSON object with \"text\"",
                path.display(),
                n + 1
            )
        })?;
        let Some(topic) = l.topic else {
            bail!("{}:{}: no \"topic\" label", path.display(), n + 1);
        };
        out.push(Labelled {
            id: match l.id {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            },
            text: l.text,
            channel: parse_channel(l.channel.as_deref())
                .with_context(|| format!("{}:{}", path.display(), n + 1))?,
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

//! `vejviser call FILE.wav [--dtmf DIGITS] [--at TIME] [--json]`: one whole
//! voice turn offline — recognition → scrub → match → the dialogue engine.
//!
//! The engine is started on the voice channel at `--at` (default now) and
//! its greeting is drained; then the recognised utterance is fed, then
//! each `--dtmf` digit as a key press, all at the same time. A file in
//! which the recogniser hears nothing is no utterance: with `--dtmf` only
//! the keys are fed, without it the turn is a no-input timeout (what a
//! phone call does when the caller says nothing).
//!
//! With `--json`, stdout is exactly one JSON object:
//! `{"redacted", "topic", "answer_id", "confidence", "actions"}`.
//! `redacted` is the recognised text after the scrubber (`""` for
//! silence); `topic`, `answer_id` and `confidence` are the last values
//! the turn's steps set (null when none did, e.g. a menu key that
//! transfers); `actions` are the turn's actions as the verbs of
//! [`router::verbs`] (`say`, `gather`, `offer_sms`, `sms`, `transfer`,
//! `handover`, `callback`, `hangup`), greeting excluded. Measurements of
//! the product are taken with this command: keep the keys.
//!
//! Errors (unreadable file, not a WAV, unsupported format, bad digits)
//! are checked before any model loads, go to stderr, and exit with 2;
//! nothing is printed on stdout then.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use knowledge::Channel;
use router::dialogue::{Dialogue, Event, Turn};
use router::verbs::Verb;
use transcripts::{RawUtterance, Scrubber};

use super::transcribe::{read_clip, recognise, AsrOptions};
use crate::paths::Project;

/// Options of `vejviser call`.
#[derive(clap::Args, Debug)]
pub(crate) struct CallArgs {
    /// The caller's utterance: a mono WAV file of 16-bit PCM or G.711
    /// (µ-law, A-law) at 8 or 16 kHz.
    file: PathBuf,
    /// Keys pressed after the utterance (0–9, `*`, `#`), in order.
    #[arg(long)]
    dtmf: Option<String>,
    /// The moment of the call, RFC 3339 (`2026-11-23T10:00:00+01:00`);
    /// opening hours are checked at it. Default: now.
    #[arg(long)]
    at: Option<String>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    asr: AsrOptions,
}

/// What one offline turn gave.
struct Outcome {
    redacted: String,
    topic: Option<String>,
    answer_id: Option<String>,
    confidence: Option<f32>,
    verbs: Vec<Verb>,
}

pub(crate) fn run(project: &Project, args: &CallArgs) -> anyhow::Result<ExitCode> {
    // Everything the caller got wrong is found before a model loads.
    let keys = parse_keys(args.dtmf.as_deref().unwrap_or(""))?;
    let at = match &args.at {
        Some(t) => t
            .parse::<jiff::Timestamp>()
            .with_context(|| format!("--at {t}: not an RFC 3339 time"))?,
        None => jiff::Timestamp::now(),
    };
    let clip = read_clip(&args.file)?;
    let config = project.dialogue_config()?;
    let heard = recognise(project, &args.asr, &clip)?.into_text();
    let raw = RawUtterance::new(heard.trim());
    let redacted = Scrubber::new().scrub(&raw);

    let mut dialogue = Dialogue::new(config.clone());
    // The greeting is the call's, not this turn's.
    let _ = dialogue.step(
        Event::Started {
            channel: Channel::Voice,
        },
        at,
    );
    let mut turns: Vec<Turn> = Vec::new();
    if !raw.expose().is_empty() {
        turns.push(dialogue.step(Event::Utterance(&raw), at));
    } else if keys.is_empty() {
        turns.push(dialogue.step(Event::NoInput, at));
    }
    drop(raw);
    for key in keys {
        turns.push(dialogue.step(Event::Dtmf(key), at));
    }
    let mut out = Outcome {
        redacted: redacted.as_str().to_string(),
        topic: None,
        answer_id: None,
        confidence: None,
        verbs: Vec::new(),
    };
    for turn in &turns {
        out.topic = turn.topic.clone().or(out.topic);
        out.answer_id = turn.answer_id.clone().or(out.answer_id);
        out.confidence = turn.confidence.or(out.confidence);
        out.verbs
            .extend(Verb::from_actions(&turn.actions, &config.departments));
    }
    if args.json {
        println!("{}", serde_json::to_string(&json(&out))?);
    } else {
        print!("{}", summary(&out, &args.file));
    }
    Ok(ExitCode::SUCCESS)
}

/// The keys of `--dtmf`, or an error naming the first bad one.
fn parse_keys(digits: &str) -> anyhow::Result<Vec<char>> {
    digits
        .chars()
        .map(|c| match c {
            '0'..='9' | '*' | '#' => Ok(c),
            other => bail!("--dtmf {digits:?}: {other:?} is not a phone key (0-9, *, #)"),
        })
        .collect()
}

/// The printed object; a struct so the keys come out in this order.
#[derive(serde::Serialize)]
struct Printed<'a> {
    redacted: &'a str,
    topic: Option<&'a str>,
    answer_id: Option<&'a str>,
    confidence: Option<f64>,
    actions: &'a [Verb],
}

fn json(out: &Outcome) -> Printed<'_> {
    Printed {
        redacted: &out.redacted,
        topic: out.topic.as_deref(),
        answer_id: out.answer_id.as_deref(),
        confidence: out
            .confidence
            .map(|c| (f64::from(c) * 1000.0).round() / 1000.0),
        actions: &out.verbs,
    }
}

/// A few lines for a person at a terminal.
fn summary(out: &Outcome, file: &Path) -> String {
    let mut s = format!("{}\n", file.display());
    let heard = if out.redacted.is_empty() {
        "(intet)"
    } else {
        out.redacted.as_str()
    };
    s += &format!("  hørt (renset): {heard}\n");
    s += &format!(
        "  emne: {}  svar: {}  sikkerhed: {}\n",
        out.topic.as_deref().unwrap_or("-"),
        out.answer_id.as_deref().unwrap_or("-"),
        out.confidence
            .map_or("-".to_string(), |c| format!("{c:.2}")),
    );
    for verb in &out.verbs {
        let line = match verb {
            Verb::Say { text, .. } => format!("siger: {text}"),
            Verb::Gather { .. } => "lytter".to_string(),
            Verb::Buttons { .. } | Verb::Links { .. } => continue,
            Verb::OfferSms { .. } => "tilbyder sms".to_string(),
            Verb::Sms { text, .. } => format!("sender sms: {text}"),
            Verb::Transfer {
                department,
                sip_uri,
                ..
            } => format!("stiller om til {department} ({sip_uri})"),
            Verb::Handover {
                name,
                phone,
                open_now,
                ..
            } => format!(
                "henviser til {name} på {phone} ({})",
                if *open_now { "åbent" } else { "lukket" }
            ),
            Verb::Callback { department, .. } => format!("bestiller opringning fra {department}"),
            Verb::AskNumber { .. } => "beder om et telefonnummer".to_string(),
            Verb::BookCallback {
                department, label, ..
            } => format!("gemmer opringning fra {department} {label}"),
            Verb::Hangup => "lægger på".to_string(),
        };
        s += &format!("  → {line}\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert_eq!(parse_keys("12*#").expect("keys"), vec!['1', '2', '*', '#']);
        let e = parse_keys("3a").expect_err("a is no key").to_string();
        assert!(e.contains("'a'"), "{e}");
        assert!(parse_keys("").expect("none").is_empty());
    }
}

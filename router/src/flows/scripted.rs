//! Flow tests: scripted conversations in `flows/tests/*.yaml`, run
//! against the real knowledge base, matcher, flow and departments by
//! `vejviser flows test` and by the test suite.
//!
//! Each test names a channel and a local time (Europe/Copenhagen), then
//! turns: what the citizen says, presses or chooses, and the actions
//! expected in return (in order; other actions may come between them).

use std::path::Path;
use std::sync::Arc;

use jiff::civil::DateTime;
use jiff::Timestamp;
use knowledge::{Channel, Problem};
use schemars::JsonSchema;
use serde::Deserialize;
use transcripts::RawUtterance;

use crate::config::Config;
use crate::dialogue::{Action, Dialogue, Event, NumberPurpose, NumberReply, Turn};
use crate::locate::Locator;

/// A flow-test file as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Format version; always 1.
    pub version: u32,
    pub tests: Vec<TestCase>,
}

/// One scripted conversation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the test shows, in a few words.
    pub name: String,
    /// `voice` or `chat`.
    pub channel: ChannelName,
    /// Local time in Copenhagen, `YYYY-MM-DD HH:MM`.
    pub time: String,
    /// Whether an SMS can reach the citizen (default true); false is a
    /// caller from a landline or a hidden number.
    pub sms_to_caller: Option<bool>,
    /// What the greeting must contain.
    #[serde(default)]
    pub greeting: Vec<Expect>,
    pub turns: Vec<TestTurn>,
    /// Outcome when the script ends: answered, sms-sent, transferred:ID,
    /// handed-over:ID, emergency, abandoned, in-progress.
    pub outcome: Option<String>,
}

/// The channel of a test.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelName {
    Voice,
    Chat,
}

/// One turn: exactly one input, then what is expected.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTurn {
    /// The citizen says or types this.
    pub says: Option<String>,
    /// The citizen presses this key.
    pub press: Option<String>,
    /// The citizen says nothing until the timeout.
    pub silence: Option<bool>,
    /// The citizen presses a chat button (its id: ja, nej, sms:ja, sms:nej, menu:1 …).
    pub button: Option<String>,
    /// The citizen consents to the SMS (true) or not (false).
    pub sms_consent: Option<bool>,
    /// The SMS went out (true) or failed (false).
    pub sms_result: Option<bool>,
    /// Chat: what became of the number the citizen typed after being asked
    /// for one (the number itself never reaches the dialogue).
    pub number: Option<NumberInput>,
    /// The citizen hangs up or closes the chat.
    pub hang_up: Option<bool>,
    /// The transfer asked for in the previous turn failed.
    pub transfer_failed: Option<bool>,
    /// Actions expected, in order.
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// Kinds of action that must not happen: say, transfer, handover,
    /// offer_sms, send_sms, buttons, links, callback, ask_number,
    /// book_callback, end.
    #[serde(default)]
    pub never: Vec<String>,
    /// The topic of the turn.
    pub topic: Option<String>,
    /// The outcome after the turn.
    pub outcome: Option<String>,
}

/// What the chat front end made of a typed number.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NumberInput {
    /// A usable number: the SMS is queued, or the callback number kept.
    Accepted,
    /// Not a Danish number of the kind asked for.
    Invalid,
    /// The citizen wrote "fortryd".
    Cancelled,
    /// The outbox refused: too many messages to the number today.
    RateLimited,
    /// The outbox refused: the link went to this conversation already.
    AlreadySent,
    /// Storing failed.
    Failed,
}

impl NumberInput {
    fn reply(self) -> NumberReply {
        match self {
            NumberInput::Accepted => NumberReply::Accepted,
            NumberInput::Invalid => NumberReply::Invalid {
                reply: "Et dansk mobilnummer har otte cifre.",
            },
            NumberInput::Cancelled => NumberReply::Cancelled,
            NumberInput::RateLimited => NumberReply::RateLimited,
            NumberInput::AlreadySent => NumberReply::AlreadySent,
            NumberInput::Failed => NumberReply::Failed,
        }
    }
}

/// One expected action; give one key.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Something said that contains this text (case-insensitive).
    pub say: Option<String>,
    /// A transfer to this department.
    pub transfer: Option<String>,
    /// A handover to this department.
    pub handover: Option<String>,
    /// With `handover`: whether the department is open.
    pub open: Option<bool>,
    /// An SMS is offered.
    pub offer_sms: Option<bool>,
    /// An SMS is sent whose text contains this.
    pub send_sms: Option<String>,
    /// Buttons are shown, one of them labelled with this text.
    pub buttons: Option<String>,
    /// Links are shown.
    pub links: Option<bool>,
    /// A callback is requested from this department.
    pub callback: Option<String>,
    /// Chat: a number is asked for, `sms` or `callback`.
    pub ask_number: Option<String>,
    /// Chat: a callback from this department is booked.
    pub book_callback: Option<String>,
    /// The conversation ends.
    pub end: Option<bool>,
}

const KINDS: [&str; 11] = [
    "say",
    "transfer",
    "handover",
    "offer_sms",
    "send_sms",
    "buttons",
    "links",
    "callback",
    "ask_number",
    "book_callback",
    "end",
];

fn kind(a: &Action) -> &'static str {
    match a {
        Action::Say(_) => "say",
        Action::Listen { .. } => "listen",
        Action::ShowButtons(_) => "buttons",
        Action::ShowLinks(_) => "links",
        Action::OfferSms { .. } => "offer_sms",
        Action::SendSms { .. } => "send_sms",
        Action::Transfer { .. } => "transfer",
        Action::Handover { .. } => "handover",
        Action::Callback { .. } => "callback",
        Action::AskNumber { .. } => "ask_number",
        Action::BookCallback { .. } => "book_callback",
        Action::End => "end",
    }
}

/// A one-line description of an action for failure messages.
pub fn describe(a: &Action) -> String {
    match a {
        Action::Say(s) => format!("say {:?}", s.text),
        Action::Listen { dtmf, .. } => format!("listen{}", if *dtmf { " (keys)" } else { "" }),
        Action::ShowButtons(b) => format!(
            "buttons [{}]",
            b.iter()
                .map(|b| b.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Action::ShowLinks(l) => format!("links ({})", l.len()),
        Action::OfferSms { .. } => "offer sms".into(),
        Action::SendSms { text, .. } => format!("send sms {text:?}"),
        Action::Transfer { department, .. } => format!("transfer to {department}"),
        Action::Handover {
            department,
            open_now,
            ..
        } => format!(
            "handover to {department} ({})",
            if *open_now { "open" } else { "closed" }
        ),
        Action::Callback { department, .. } => format!("callback from {department}"),
        Action::AskNumber { purpose } => format!("ask number for {}", purpose_name(purpose)),
        Action::BookCallback { department, window } => {
            format!("book callback from {department} {}", window.label)
        }
        Action::End => "end".into(),
    }
}

fn purpose_name(p: &NumberPurpose) -> &'static str {
    match p {
        NumberPurpose::Sms { .. } => "sms",
        NumberPurpose::Callback { .. } => "callback",
    }
}

impl Expect {
    fn matches(&self, a: &Action) -> bool {
        let contains =
            |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
        match a {
            Action::Say(s) => self.say.as_deref().is_some_and(|x| contains(&s.text, x)),
            Action::Transfer { department, .. } => self.transfer.as_ref() == Some(department),
            Action::Handover {
                department,
                open_now,
                ..
            } => {
                self.handover.as_ref() == Some(department)
                    && self.open.is_none_or(|o| o == *open_now)
            }
            Action::OfferSms { .. } => self.offer_sms == Some(true),
            Action::SendSms { text, .. } => {
                self.send_sms.as_deref().is_some_and(|x| contains(text, x))
            }
            Action::ShowButtons(b) => self
                .buttons
                .as_deref()
                .is_some_and(|x| b.iter().any(|b| contains(&b.label, x))),
            Action::ShowLinks(_) => self.links == Some(true),
            Action::Callback { department, .. } => self.callback.as_ref() == Some(department),
            Action::AskNumber { purpose } => {
                self.ask_number.as_deref() == Some(purpose_name(purpose))
            }
            Action::BookCallback { department, .. } => {
                self.book_callback.as_ref() == Some(department)
            }
            Action::End => self.end == Some(true),
            Action::Listen { .. } => false,
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(x) = &self.say {
            parts.push(format!("say {x:?}"));
        }
        if let Some(x) = &self.transfer {
            parts.push(format!("transfer to {x}"));
        }
        if let Some(x) = &self.handover {
            parts.push(format!("handover to {x}"));
        }
        if let Some(x) = self.open {
            parts.push(if x { "open".into() } else { "closed".into() });
        }
        if self.offer_sms.is_some() {
            parts.push("offer sms".into());
        }
        if let Some(x) = &self.send_sms {
            parts.push(format!("send sms {x:?}"));
        }
        if let Some(x) = &self.buttons {
            parts.push(format!("button {x:?}"));
        }
        if self.links.is_some() {
            parts.push("links".into());
        }
        if let Some(x) = &self.callback {
            parts.push(format!("callback from {x}"));
        }
        if let Some(x) = &self.ask_number {
            parts.push(format!("ask number for {x}"));
        }
        if let Some(x) = &self.book_callback {
            parts.push(format!("book callback from {x}"));
        }
        if self.end.is_some() {
            parts.push("end".into());
        }
        parts.join(", ")
    }
}

/// The result of one file: how many tests passed, and a located problem
/// per failing test or malformed script.
pub struct FileReport {
    pub passed: usize,
    pub failed: Vec<Problem>,
}

/// Runs every test of the file at `path` (text already read).
pub fn run_file(config: &Arc<Config>, path: &Path, text: &str) -> FileReport {
    let loc = Locator::new(path, text);
    let file: TestFile = match knowledge::yaml::parse_yaml(path, text) {
        Ok(f) => f,
        Err(p) => {
            return FileReport {
                passed: 0,
                failed: vec![p],
            }
        }
    };
    let mut report = FileReport {
        passed: 0,
        failed: Vec::new(),
    };
    if file.version != 1 {
        report.failed.push(loc.at(
            loc.top("version"),
            "version",
            format!("version {} is not known; write `version: 1`", file.version),
        ));
    }
    for (i, case) in file.tests.iter().enumerate() {
        let at = loc.item("tests", i, "name");
        match run_case(config, case, &loc, at) {
            Ok(()) => report.passed += 1,
            Err(p) => report.failed.push(p),
        }
    }
    report
}

fn run_case(
    config: &Arc<Config>,
    case: &TestCase,
    loc: &Locator<'_>,
    at: (usize, usize),
) -> Result<(), Problem> {
    let fail = |at: (usize, usize), code: &'static str, msg: String| {
        loc.at(at, code, format!("test `{}`: {msg}", case.name))
    };
    let now: Timestamp = case
        .time
        .parse::<DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(config.time_zone.clone()).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            fail(
                loc.find_from(at, "time:"),
                "bad-time",
                format!("time `{}` is not YYYY-MM-DD HH:MM", case.time),
            )
        })?;
    let channel = match case.channel {
        ChannelName::Voice => Channel::Voice,
        ChannelName::Chat => Channel::Chat,
    };
    let mut dialogue = Dialogue::new(Arc::clone(config));
    dialogue.set_sms_to_caller(case.sms_to_caller.unwrap_or(true));
    let greeting = dialogue.step(Event::Started { channel }, now);
    check_expect(&case.greeting, &greeting, &[])
        .map_err(|m| fail(loc.find_from(at, "greeting:"), "greeting", m))?;
    let turns_at = loc.find_from(at, "turns:");
    let first = loc.find_from((turns_at.0 + 1, 1), "- ");
    let mut turn_at = turns_at;
    for (n, t) in case.turns.iter().enumerate() {
        turn_at = loc.next_item(turn_at, first.1);
        let inputs = [
            t.says.is_some(),
            t.press.is_some(),
            t.silence.is_some(),
            t.button.is_some(),
            t.sms_consent.is_some(),
            t.sms_result.is_some(),
            t.number.is_some(),
            t.hang_up.is_some(),
            t.transfer_failed.is_some(),
        ];
        if inputs.iter().filter(|x| **x).count() != 1 {
            return Err(fail(
                turn_at,
                "bad-turn",
                format!("turn {} must have exactly one of says, press, silence, button, sms_consent, sms_result, number, hang_up, transfer_failed", n + 1),
            ));
        }
        for k in &t.never {
            if !KINDS.contains(&k.as_str()) {
                return Err(fail(
                    turn_at,
                    "bad-turn",
                    format!("`{k}` is not an action kind ({})", KINDS.join(", ")),
                ));
            }
        }
        let raw;
        let event = if let Some(s) = &t.says {
            raw = RawUtterance::new(s.clone());
            Event::Utterance(&raw)
        } else if let Some(p) = &t.press {
            match p.chars().collect::<Vec<_>>()[..] {
                [c] => Event::Dtmf(c),
                _ => {
                    return Err(fail(
                        turn_at,
                        "bad-turn",
                        format!("press `{p}` must be one key"),
                    ))
                }
            }
        } else if t.silence.is_some() {
            Event::NoInput
        } else if let Some(b) = &t.button {
            Event::Button(b)
        } else if let Some(c) = t.sms_consent {
            Event::SmsConsent(c)
        } else if let Some(r) = t.sms_result {
            Event::SmsResult { sent: r }
        } else if let Some(n) = t.number {
            Event::Number(n.reply())
        } else if t.transfer_failed.is_some() {
            Event::TransferFailed
        } else {
            Event::Ended
        };
        let turn = dialogue.step(event, now);
        let mut problems = Vec::new();
        if let Err(m) = check_expect(&t.expect, &turn, &t.never) {
            problems.push(m);
        }
        if let Some(topic) = &t.topic {
            if turn.topic.as_ref() != Some(topic) {
                problems.push(format!(
                    "expected topic {topic}, got {}",
                    turn.topic.as_deref().unwrap_or("none")
                ));
            }
        }
        if let Some(o) = &t.outcome {
            if turn.outcome.code() != *o {
                problems.push(format!("expected outcome {o}, got {}", turn.outcome.code()));
            }
        }
        if !problems.is_empty() {
            return Err(fail(
                turn_at,
                "expectation",
                format!("turn {}: {}", n + 1, problems.join("; ")),
            ));
        }
    }
    if let Some(o) = &case.outcome {
        if dialogue.outcome().code() != *o {
            return Err(fail(
                loc.find_from(at, "outcome:"),
                "expectation",
                format!(
                    "expected outcome {o} at the end, got {}",
                    dialogue.outcome().code()
                ),
            ));
        }
    }
    Ok(())
}

/// Each expectation matched by a later action than the previous one, and
/// no action of a forbidden kind.
fn check_expect(expect: &[Expect], turn: &Turn, never: &[String]) -> Result<(), String> {
    let got = || {
        turn.actions
            .iter()
            .map(describe)
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let mut from = 0;
    for e in expect {
        match turn.actions[from..].iter().position(|a| e.matches(a)) {
            Some(p) => from += p + 1,
            None => return Err(format!("expected {}; got: {}", e.describe(), got())),
        }
    }
    if let Some(a) = turn
        .actions
        .iter()
        .find(|a| never.iter().any(|k| k == kind(a)))
    {
        return Err(format!("did not expect {}; got: {}", describe(a), got()));
    }
    Ok(())
}

//! Golden traces of whole conversations through the dialogue engine: the
//! events in, every action out, as a person reads them. Regenerate after an
//! intended change with `UPDATE_EXPECT=1 cargo test --release -p router --test it trace`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use expect_test::expect_file;
use jiff::civil::date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use knowledge::Channel;
use router::dialogue::{Action, Dialogue, Event, NumberReply};
use router::Config;
use transcripts::RawUtterance;

fn config() -> Arc<Config> {
    static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let repo: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Arc::new(router::load(&repo, "eksempel").expect("shipped config loads"))
    }))
}

fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
    date(y, m, d)
        .at(h, min, 0, 0)
        .to_zoned(TimeZone::get("Europe/Copenhagen").expect("tz"))
        .expect("valid")
        .timestamp()
}

/// Plays `events` and renders the trace.
fn trace(channel: Channel, now: Timestamp, events: &[&str]) -> String {
    let mut d = Dialogue::new(config());
    let mut out = String::new();
    let mut play = |label: String, event: Event<'_>, out: &mut String| {
        let turn = d.step(event, now);
        out.push_str(&format!("> {label}\n"));
        for a in &turn.actions {
            out.push_str(&format!("  {}\n", render(a)));
        }
        out.push_str(&format!(
            "  = topic {} answer {} decision {} outcome {}{}\n",
            turn.topic.as_deref().unwrap_or("-"),
            turn.answer_id.as_deref().unwrap_or("-"),
            turn.decision.map_or("-", |d| d.as_str()),
            turn.outcome.code(),
            if turn.out_of_hours {
                " (out of hours)"
            } else {
                ""
            },
        ));
    };
    play(
        format!("start {}", channel.as_str()),
        Event::Started { channel },
        &mut out,
    );
    for e in events {
        if let Some(k) = e.strip_prefix("key ") {
            let c = k.chars().next().expect("a key");
            play(e.to_string(), Event::Dtmf(c), &mut out);
        } else if let Some(b) = e.strip_prefix("button ") {
            play(e.to_string(), Event::Button(b), &mut out);
        } else if let Some(n) = e.strip_prefix("number ") {
            let reply = match n {
                "accepted" => NumberReply::Accepted,
                "cancelled" => NumberReply::Cancelled,
                _ => NumberReply::Invalid {
                    reply: "Et dansk mobilnummer har otte cifre.",
                },
            };
            play(e.to_string(), Event::Number(reply), &mut out);
        } else if *e == "silence" {
            play(e.to_string(), Event::NoInput, &mut out);
        } else if *e == "transfer failed" {
            play(e.to_string(), Event::TransferFailed, &mut out);
        } else {
            let raw = RawUtterance::new(*e);
            play(format!("says {e:?}"), Event::Utterance(&raw), &mut out);
        }
    }
    out
}

fn render(a: &Action) -> String {
    match a {
        Action::Say(s) => format!(
            "say{}{} {:?}",
            if s.barge_in { "" } else { " (no barge-in)" },
            s.recording
                .as_ref()
                .map_or(String::new(), |r| format!(" [{r}]")),
            s.text
        ),
        Action::Listen { timeout, dtmf } => format!(
            "listen{}{}",
            timeout.map_or(String::new(), |t| format!(" {}s", t.as_secs())),
            if *dtmf { " +keys" } else { "" }
        ),
        Action::ShowButtons(b) => format!(
            "buttons {}",
            b.iter()
                .map(|b| format!("[{}: {}]", b.id, b.label))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Action::ShowLinks(l) => format!(
            "links {}",
            l.iter()
                .map(|l| l.url.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Action::OfferSms { answer_id, url } => format!(
            "offer sms {} {}",
            answer_id.as_deref().unwrap_or("-"),
            url.as_deref().unwrap_or("-")
        ),
        Action::SendSms { answer_id, text } => {
            format!("send sms {} {text:?}", answer_id.as_deref().unwrap_or("-"))
        }
        Action::Transfer {
            department,
            sip_uri,
            summary,
            ..
        } => format!("transfer {department} {sip_uri} {summary:?}"),
        Action::Handover {
            department,
            phone,
            open_now,
            opens,
            callback,
            ..
        } => format!(
            "handover {department} {phone} open={open_now} opens={} callback={callback}",
            opens.as_deref().unwrap_or("-")
        ),
        Action::Callback { department, opens } => {
            format!("callback {department} {}", opens.as_deref().unwrap_or("-"))
        }
        Action::AskNumber { purpose } => format!("ask number {purpose:?}"),
        Action::BookCallback { department, window } => {
            format!(
                "book callback {department} {} {:?}",
                window.date, window.label
            )
        }
        Action::End => "end".into(),
    }
}

#[test]
fn voice_confirm_answer_sms_goodbye() {
    let t = trace(
        Channel::Voice,
        at(2026, 3, 10, 10, 0),
        &[
            "øh det er angående noget med min mor",
            "nej det er noget andet",
            "hvordan søger jeg om nyt pas",
            "ja tak",
            "kan du gentage det",
            "nej tak det var det",
        ],
    );
    expect_file!["golden/voice_confirm_answer_sms_goodbye.txt"].assert_eq(&t);
}

#[test]
fn voice_menu_after_misunderstandings() {
    let t = trace(
        Channel::Voice,
        at(2026, 3, 10, 10, 0),
        &[
            "hvem vinder fodboldkampen",
            "silence",
            "key 1",
            "key 7",
            "key 2",
            "nej",
        ],
    );
    expect_file!["golden/voice_menu_after_misunderstandings.txt"].assert_eq(&t);
}

#[test]
fn voice_failed_transfer_says_the_number_and_offers_it_by_sms() {
    let t = trace(
        Channel::Voice,
        at(2026, 3, 10, 10, 0),
        &[
            "stil mig om til jobcentret",
            "transfer failed",
            "key 1",
            "nej",
        ],
    );
    expect_file!["golden/voice_failed_transfer.txt"].assert_eq(&t);
}

#[test]
fn chat_closed_department_on_second_easter_day() {
    let t = trace(
        Channel::Chat,
        at(2026, 4, 6, 10, 0),
        &[
            "jeg skal flytte min samtale på jobcentret",
            "button sms:nej",
            "jeg vil gerne tale med en medarbejder",
            "button callback:ja",
            "number invalid",
            "number accepted",
            "button vindue:0",
        ],
    );
    expect_file!["golden/chat_closed_department_on_second_easter_day.txt"].assert_eq(&t);
}

#[test]
fn chat_sms_asks_for_a_typed_number() {
    let t = trace(
        Channel::Chat,
        at(2026, 3, 10, 10, 0),
        &[
            "hvordan melder jeg flytning",
            "button sms:ja",
            "number invalid",
            "number accepted",
            "nej tak",
        ],
    );
    expect_file!["golden/chat_sms_asks_for_a_typed_number.txt"].assert_eq(&t);
}

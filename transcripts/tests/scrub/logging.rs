//! Raw citizen text never reaches a log line: a tracing layer captures
//! every formatted event while utterances are scrubbed and logged the way
//! the router logs a turn.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use transcripts::{log_turn, RawUtterance, Scrubber};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!(" {}={value}", field.name()));
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = String::new();
        event.record(&mut Fields(&mut line));
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }
}

#[test]
fn logged_turns_hold_no_raw_personal_data() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let secrets = [
        (
            "jeg hedder mette kjær og mit cpr er 170562 1183",
            ["mette", "kjær", "170562", "1183"],
        ),
        (
            "ring til mig på 28 47 19 63 eller skriv til lone.bech@hotmail.dk",
            ["28 47", "19 63", "lone", "hotmail"],
        ),
        (
            "min mor har demens og bor på elmevej 7 i holbæk",
            ["demens", "elmevej", "7 i", "elmevej 7"],
        ),
    ];
    let scrubber = Scrubber::new();
    tracing::subscriber::with_default(subscriber, || {
        for (n, (text, _)) in secrets.iter().enumerate() {
            let raw = RawUtterance::new(*text);
            // What a careless caller could log: the raw value's Debug.
            tracing::info!(?raw, "received");
            let redacted = scrubber.scrub(&raw);
            log_turn("c-1", n as u32, &redacted);
        }
    });
    let lines = capture.0.lock().expect("capture lock").clone();
    assert_eq!(lines.len(), 2 * secrets.len(), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("[CPR]")), "{lines:?}");
    for line in &lines {
        for (_, words) in &secrets {
            for w in words {
                assert!(
                    !line.contains(w),
                    "raw text {w:?} reached a log line: {line}"
                );
            }
        }
    }
}

//! A test tool for the crash-safety test, not part of the product.
//!
//! `transcripts-crash-writer DB [TURNS]` writes turns into the store at DB as
//! fast as it can (a new conversation every ten turns) and prints
//! `accepted TURN_ID` after each `add_turn` returned, then `done` and the
//! rate. The test SIGKILLs it mid-stream and checks that every printed id is
//! in the database. Without TURNS it runs until killed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use time::OffsetDateTime;
use transcripts::{
    Channel, Decision, NewConversation, NewTurn, Outcome, RawUtterance, Scrubber, Speaker, Store,
};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: transcripts-crash-writer DB [TURNS]");
        return ExitCode::from(2);
    };
    let limit: u64 = args
        .next()
        .and_then(|a| a.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or(u64::MAX);
    match run(&path, limit) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("transcripts-crash-writer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &std::path::Path, limit: u64) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(path)?;
    let scrubber = Scrubber::new();
    let text = scrubber.scrub(&RawUtterance::new(
        "jeg vil gerne høre om mit pas mit nummer er 12345678",
    ));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let started = Instant::now();
    let mut conversation = None;
    let mut written = 0u64;
    while written < limit {
        let id = match conversation {
            Some(id) => id,
            None => {
                let id = store.start_conversation(&NewConversation {
                    channel: Channel::Voice,
                    municipality: "eksempel",
                    started_at: OffsetDateTime::now_utc(),
                    out_of_hours: false,
                })?;
                conversation = Some(id);
                id
            }
        };
        let turn = store.add_turn(
            id,
            &NewTurn {
                speaker: Speaker::Citizen,
                at: OffsetDateTime::now_utc(),
                text: &text,
                topic: Some("pas"),
                answer_id: Some("pas-bestil"),
                confidence: Some(0.8),
                decision: Some(Decision::Answer),
                latency_ms: Some(120),
            },
        )?;
        writeln!(out, "accepted {}", turn.0)?;
        out.flush()?;
        written += 1;
        if written.is_multiple_of(10) {
            store.end_conversation(id, OffsetDateTime::now_utc(), &Outcome::Answered)?;
            conversation = None;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    writeln!(
        out,
        "done {written} turns in {secs:.2} s ({:.0} turns/s, each committed with fsync)",
        written as f64 / secs.max(1e-9)
    )?;
    Ok(())
}

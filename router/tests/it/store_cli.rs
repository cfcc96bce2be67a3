//! `vejviser users` and `vejviser report` against a real store file.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use time::macros::datetime;
use transcripts::{
    Channel, Decision, NewConversation, NewTurn, Outcome, RawUtterance, Role, Scrubber, Speaker,
    Store,
};

use crate::repo;

fn vejviser(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vejviser"))
        .args(["--root", repo().to_str().expect("utf-8 path")])
        .args(args)
        .args(["--data", data.to_str().expect("utf-8 path")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writes");
    child.wait_with_output().expect("runs")
}

#[test]
fn users_add_reads_the_password_from_stdin_and_remove_removes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = vejviser(
        dir.path(),
        &["users", "add", "mette", "--role", "analyst"],
        "en lang adgangskode\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open_in(dir.path()).expect("opens");
    assert_eq!(
        store
            .check_password("mette", "en lang adgangskode")
            .expect("checks"),
        Some(Role::Analyst)
    );
    let again = vejviser(
        dir.path(),
        &["users", "add", "mette", "--role", "admin"],
        "endnu en lang kode\n",
    );
    assert!(!again.status.success(), "a second mette is refused");
    let short = vejviser(
        dir.path(),
        &["users", "add", "ole", "--role", "admin"],
        "kort\n",
    );
    assert!(!short.status.success(), "a short password is refused");

    let out = vejviser(dir.path(), &["users", "remove", "mette"], "");
    assert!(out.status.success());
    assert_eq!(
        store
            .check_password("mette", "en lang adgangskode")
            .expect("checks"),
        None
    );
}

#[test]
fn report_json_prints_the_key_figures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_in(dir.path()).expect("opens");
    let scrubber = Scrubber::new();
    for (i, outcome) in [
        Outcome::Answered,
        Outcome::SmsSent,
        Outcome::Transferred {
            department: "borgerservice".into(),
        },
    ]
    .iter()
    .enumerate()
    {
        let at = datetime!(2026-10-05 09:00 UTC) + time::Duration::hours(i as i64);
        let id = store
            .start_conversation(&NewConversation {
                channel: Channel::Voice,
                municipality: "eksempel",
                started_at: at,
                out_of_hours: i == 2,
            })
            .expect("starts");
        let text = scrubber.scrub(&RawUtterance::new("jeg skal have nyt pas"));
        store
            .add_turn(
                id,
                &NewTurn {
                    speaker: Speaker::Citizen,
                    at,
                    text: &text,
                    topic: Some("pas"),
                    answer_id: None,
                    confidence: Some(0.9),
                    decision: Some(Decision::Answer),
                    latency_ms: Some(100 * (i as u32 + 1)),
                },
            )
            .expect("adds");
        store.end_conversation(id, at, outcome).expect("ends");
    }
    let out = vejviser(
        dir.path(),
        &["report", "--since", "2026-10-01", "--json"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let k: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(k["conversations"], 3);
    assert_eq!(k["sms_sent"], 1);
    assert_eq!(k["transfers_per_department"]["borgerservice"], 1);
    let containment = k["containment"].as_f64().expect("a number");
    assert!((containment - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(k["latency_median_ms"], 200);
    assert_eq!(k["days"][0]["date"], "2026-10-05");

    let later = vejviser(
        dir.path(),
        &["report", "--since", "2026-10-06", "--json"],
        "",
    );
    let k: serde_json::Value = serde_json::from_slice(&later.stdout).expect("json");
    assert_eq!(k["conversations"], 0);

    let bad = vejviser(dir.path(), &["report", "--since", "i går", "--json"], "");
    assert!(!bad.status.success());
}

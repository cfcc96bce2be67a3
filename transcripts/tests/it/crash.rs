//! A turn accepted is a turn stored: SIGKILL a writer mid-stream, reopen.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use transcripts::{Store, TurnId};

#[test]
fn every_accepted_turn_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vejviser.sqlite");
    // Create the schema first so the child starts writing at once.
    drop(Store::open(&db).unwrap());
    let mut child = Command::new(env!("CARGO_BIN_EXE_transcripts-crash-writer"))
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut accepted = Vec::new();
    // Kill it after 300 accepted turns, while it is writing the next ones.
    while accepted.len() < 300 {
        let line = lines.next().expect("writer ended early").unwrap();
        if let Some(id) = line.strip_prefix("accepted ") {
            accepted.push(id.parse::<i64>().unwrap());
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
                           // Ids it printed between our last read and the kill were accepted too.
    for line in lines {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("accepted ") {
            accepted.push(id.parse::<i64>().unwrap());
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the writer was killed, not finished");

    let store = Store::open(&db).unwrap();
    let missing: Vec<i64> = accepted
        .iter()
        .copied()
        .filter(|id| !store.has_turn(TurnId(*id)).unwrap())
        .collect();
    assert!(missing.is_empty(), "accepted but lost: {missing:?}");
    assert!(accepted.len() >= 300);
}

//! `vejviser flows check` and `vejviser flows test` on the shipped flows
//! and on broken copies, and the dialogue engine through its library API.

use std::process::{Command, Output};
use std::sync::Arc;

use crate::repo;
use jiff::civil::date;
use jiff::tz::TimeZone;
use knowledge::Channel;
use router::dialogue::{Action, Dialogue, Event};
use transcripts::RawUtterance;

fn vejviser(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vejviser"))
        .args(["--root", repo().to_str().expect("utf-8 path")])
        .args(args)
        .output()
        .expect("runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of the shipped flows directory to break.
fn flows_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("tests")).expect("mkdir");
    for name in ["flow.yaml", "departments.yaml"] {
        std::fs::copy(repo().join("flows").join(name), dir.path().join(name)).expect("copy");
    }
    dir
}

#[test]
fn flows_check_passes_on_shipped_flows() {
    let out = vejviser(&["flows", "check"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));
}

#[test]
fn flows_test_passes_on_shipped_flows_with_at_least_30_tests() {
    let out = vejviser(&["flows", "test"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let last = text.lines().last().expect("summary line");
    let passed: usize = last
        .trim_start_matches("flow tests: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(passed >= 30, "{last}");
    assert!(last.ends_with(" 0 failed"), "{last}");
}

#[test]
fn flows_check_locates_each_problem_and_exits_1() {
    let dir = flows_copy();
    let flow = dir.path().join("flow.yaml");
    let text = std::fs::read_to_string(&flow).expect("read");
    let broken = text
        .replace(
            "# thresholds:\n#   answer: 0.70\n#   confirm: 0.10",
            "thresholds:\n  answer: 0.12\n  confirm: 0.10",
        )
        .replace(
            "    transfer: jobcenter\n  - topic: mitid",
            "    transfer: jobcentret\n  - topic: mitid",
        )
        .replace(
            "        menu: borgerservice",
            "        topic: pas.findes.ikke",
        )
        .replace("{kommune}. Jeg er", "{kommunen}. Jeg er");
    assert_ne!(broken, text);
    std::fs::write(&flow, &broken).expect("write");
    let out = vejviser(&["flows", "check", dir.path().to_str().expect("utf-8")]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let line_of = |needle: &str| {
        broken
            .lines()
            .position(|l| l.contains(needle))
            .map(|n| n + 1)
            .expect("needle in file")
    };
    let expect = [
        (line_of("  answer: 0.12"), "unsafe-threshold"),
        (line_of("transfer: jobcentret"), "unknown-department"),
        (line_of("topic: pas.findes.ikke"), "unknown-topic"),
        (line_of("  - id: borgerservice"), "unreachable"),
        (line_of("  greeting:"), "unknown-variable"),
    ];
    for (line, code) in expect {
        let prefix = format!("{}:{line}:", flow.display());
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&prefix) && l.ends_with(&format!("[{code}]"))),
            "no {code} at line {line} in:\n{report}"
        );
    }
}

#[test]
fn flows_check_rejects_unknown_keys_with_line_and_column() {
    let dir = flows_copy();
    let path = dir.path().join("departments.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    let broken = text.replacen("    sip: sip:omstilling", "    sipp: sip:omstilling", 1);
    std::fs::write(&path, &broken).expect("write");
    let out = vejviser(&["flows", "check", dir.path().to_str().expect("utf-8")]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let line = broken
        .lines()
        .position(|l| l.contains("sipp:"))
        .expect("line")
        + 1;
    let first = report.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!("departments.yaml:{line}:5: "))
            && first.contains("unknown field `sipp`"),
        "{report}"
    );
    assert!(
        report.contains("1 problem(s)"),
        "one cause, one problem:\n{report}"
    );
}

#[test]
fn flows_check_rejects_a_synonym_shared_by_two_departments() {
    let dir = flows_copy();
    let path = dir.path().join("departments.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    let broken = text.replace(
        "synonyms: [valg, valgkort]",
        "synonyms: [valg, hjemmeplejen]",
    );
    assert_ne!(broken, text);
    std::fs::write(&path, &broken).expect("write");
    let out = vejviser(&["flows", "check", dir.path().to_str().expect("utf-8")]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let line = broken
        .lines()
        .position(|l| l.contains("[valg, hjemmeplejen]"))
        .expect("line")
        + 1;
    assert!(
        report.contains(&format!("departments.yaml:{line}:"))
            && report.contains("[duplicate-synonym]"),
        "{report}"
    );
}

#[test]
fn flows_test_reports_a_failing_turn_with_its_line() {
    let dir = flows_copy();
    let script = "version: 1\ntests:\n  - name: forkert-forventning\n    channel: voice\n    time: \"2026-03-10 10:00\"\n    turns:\n      - says: hvad koster et nyt pas\n      - says: jeg vil gerne tale med en medarbejder\n        expect:\n          - transfer: jobcenter\n";
    std::fs::write(dir.path().join("tests/a.yaml"), script).expect("write");
    let out = vejviser(&["flows", "test", dir.path().to_str().expect("utf-8")]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains(
            "a.yaml:8:7: test `forkert-forventning`: turn 2: expected transfer to jobcenter"
        ),
        "{report}"
    );
    assert!(
        report.contains("flow tests: 0 passed, 1 failed"),
        "{report}"
    );
}

#[test]
fn transfer_summary_carries_no_citizen_text() {
    let config = Arc::new(router::load(&repo(), "eksempel").expect("shipped config loads"));
    let now = date(2026, 3, 10)
        .at(10, 0, 0, 0)
        .to_zoned(TimeZone::get("Europe/Copenhagen").expect("tz"))
        .expect("valid")
        .timestamp();
    let mut d = Dialogue::new(config);
    d.step(
        Event::Started {
            channel: Channel::Voice,
        },
        now,
    );
    let said = RawUtterance::new(
        "jeg hedder Kirsten Østergaard 0101801234 og skal flytte min samtale på jobcentret",
    );
    let turn = d.step(Event::Utterance(&said), now);
    let summary = turn
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Transfer { summary, .. } => Some(summary.clone()),
            _ => None,
        })
        .expect("a transfer");
    assert!(summary.contains("job.samtale"), "{summary}");
    for word in ["Kirsten", "Østergaard", "0101801234", "hedder"] {
        assert!(!summary.contains(word), "{summary}");
    }
}

#[test]
fn ended_dialogue_ignores_further_events() {
    let config = Arc::new(router::load(&repo(), "eksempel").expect("shipped config loads"));
    let now = jiff::Timestamp::UNIX_EPOCH;
    let mut d = Dialogue::new(config);
    d.step(
        Event::Started {
            channel: Channel::Chat,
        },
        now,
    );
    d.step(Event::Ended, now);
    let turn = d.step(
        Event::Utterance(&RawUtterance::new("hvad koster et pas")),
        now,
    );
    assert!(turn.actions.is_empty());
    assert_eq!(turn.outcome.code(), "abandoned");
}

#[test]
fn failed_reload_keeps_the_working_configuration() {
    let live = router::config::LiveConfig::new(
        router::load(&repo(), "eksempel").expect("shipped config loads"),
    );
    let before = live.current();
    let dir = flows_copy();
    let flow = dir.path().join("flow.yaml");
    let text = std::fs::read_to_string(&flow).expect("read");
    std::fs::write(
        &flow,
        text.replace("switchboard: omstilling", "switchboard: ingen"),
    )
    .expect("write");
    let err = live
        .reload(|| router::config::load_with_flows(&repo(), "eksempel", dir.path()))
        .expect_err("broken flow is rejected");
    assert!(err
        .problems()
        .iter()
        .any(|p| p.code == "unknown-department"));
    assert!(Arc::ptr_eq(&before, &live.current()));
    std::fs::write(&flow, text).expect("write");
    live.reload(|| router::config::load_with_flows(&repo(), "eksempel", dir.path()))
        .expect("fixed flow loads");
    assert!(!Arc::ptr_eq(&before, &live.current()));
}

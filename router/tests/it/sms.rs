//! `vejviser sms …` with the real binary: a test message through the file
//! provider, the template check, and a worker killed with messages queued.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sms_gateway::local_provider::{LocalProvider, Reply};
use sms_gateway::{Enqueued, MobileNumber, Outbox, OutboxOptions};

use crate::repo;

fn vejviser(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vejviser"))
        .args(["--root", repo().to_str().expect("utf-8 path")])
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn sms_test_writes_one_message_through_the_file_provider() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let out = vejviser(&[
        "sms",
        "test",
        "+45 22 33 44 55",
        "--link",
        "pas-ny-medbring",
        "--data",
        data,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("state: Sent after 1 attempt(s)"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(dir.path().join("sms-sent.jsonl")).expect("file written");
    let line: serde_json::Value = serde_json::from_str(written.trim()).expect("one JSON line");
    assert_eq!(line["to"], "+45******55");
    assert_eq!(line["from"], "EksKommune");
    assert_eq!(
        line["text"],
        "Hej. Se hvad du skal have med, når du søger pas: https://video.eksempel.dk/pas-medbring Venlig hilsen Eksempel Kommune"
    );
    assert!(!written.contains("22334455"));
}

#[test]
fn sms_test_refuses_landline_and_unknown_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let out = vejviser(&[
        "sms",
        "test",
        "70 10 20 30",
        "--link",
        "pas-ny-medbring",
        "--data",
        data,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Det nummer kan ikke modtage sms"));
    let out = vejviser(&[
        "sms",
        "test",
        "22334455",
        "--link",
        "findes-ikke",
        "--data",
        data,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no link `findes-ikke`"));
}

#[test]
fn sms_check_passes_for_the_example_municipality() {
    let out = vejviser(&["sms", "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 too long"), "{stdout}");
}

fn start_worker(config: &Path, data: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vejviser"))
        .args([
            "--root",
            repo().to_str().expect("utf-8 path"),
            "sms",
            "worker",
        ])
        .arg("--sms-config")
        .arg(config)
        .arg("--data")
        .arg(data)
        .env("VEJVISER_TEST_SMS_TOKEN", "crash-token")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker starts")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sms_worker_killed_with_messages_queued_sends_each_exactly_once_after_restart() {
    const MESSAGES: usize = 30;
    const CONCURRENCY: usize = 2;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // Each send takes 80 ms, so the kill lands with most messages queued.
    let provider = rt
        .block_on(LocalProvider::start("crash-token", |_| {
            Reply::Stall(Duration::from_millis(80))
        }))
        .expect("provider starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("sms.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\nsender: Test\ntemplates:\n  - id: video\n    kind: video\n    text: \"Se {{url}}\"\n\
             provider:\n  kind: gatewayapi\n  url: {}\n  token_env: VEJVISER_TEST_SMS_TOKEN\n  timeout_ms: 5000\n\
             outbox:\n  concurrency: {CONCURRENCY}\n  backoff_base_ms: 50\n",
            provider.url()
        ),
    )
    .expect("config written");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let db = data.join("sms-outbox.sqlite3");
    let outbox = Outbox::open(
        &db,
        OutboxOptions {
            sender: "Test".into(),
            per_number_per_day: 5,
        },
    )
    .expect("outbox opens");
    for i in 0..MESSAGES {
        let number = MobileNumber::parse(&format!("4{:07}", 2_000_000 + i)).expect("number");
        let queued = outbox
            .enqueue(
                &format!("conversation-{i}"),
                "https://video.eksempel.dk/pas",
                &number,
                "Se https://video.eksempel.dk/pas",
            )
            .expect("enqueue");
        assert!(matches!(queued, Enqueued::Queued(_)));
    }

    let mut worker = start_worker(&config, &data);
    wait_for("the first sends", || provider.received().len() >= 6);
    worker.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix.
    worker.wait().expect("reaped");
    let left = outbox.counts().expect("counts").pending;
    assert!(left > 0, "the kill should leave messages queued");

    let mut worker = start_worker(&config, &data);
    wait_for("the queue to drain", || {
        outbox.counts().map(|c| c.pending == 0).unwrap_or(false)
    });
    worker.kill().expect("SIGKILL");
    worker.wait().expect("reaped");

    let counts = outbox.counts().expect("counts");
    assert_eq!(
        (counts.sent, counts.failed, counts.pending),
        (MESSAGES as u64, 0, 0)
    );
    let accepted = provider.accepted_per_key();
    assert_eq!(
        accepted.len(),
        MESSAGES,
        "every queued message reached the provider"
    );
    assert!(accepted.values().all(|&n| n == 1), "{accepted:?}");
    // Only a send in flight at the kill can be repeated, and it carries
    // the same key, which the provider deduplicates.
    assert!(
        provider.duplicates() <= CONCURRENCY,
        "{} duplicates",
        provider.duplicates()
    );
}

//! A real `vejviser serve` process on a free port, driven over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::repo;

/// A running server; killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Server {
    /// Starts `vejviser serve` over the project at `root` with its data in
    /// `data`, and waits until it listens.
    pub(crate) fn start(root: &Path, data: &Path) -> Server {
        Server::start_with(root, data, &[], &[])
    }

    /// The same with more `serve` arguments and environment variables.
    pub(crate) fn start_with(
        root: &Path,
        data: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vejviser"))
            .args(["--root", root.to_str().expect("utf-8 path")])
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args)
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the server prints its address before anything else")
                .expect("utf-8");
            if let Some(at) = line.find("http://") {
                break line[at..].trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server { child, base }
    }

    /// Kills the process at once, as a crash or power loss would.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of the project's configuration in a scratch directory, so a test
/// can edit files without touching the checkout.
pub(crate) fn scratch_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["knowledge", "answers", "flows", "municipalities"] {
        copy_dir(&repo().join(sub), &dir.path().join(sub));
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn post(base: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

fn texts(reply: &serde_json::Value) -> String {
    reply["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
fn chat_api_answers_and_refuses_bad_input_with_reasons() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&repo(), data.path());
    let base = &server.base;

    let (status, opened) = post(base, "/api/chat/sessions", "{}");
    assert_eq!(status, 200, "{opened}");
    let session = opened["session"].as_str().expect("session id").to_string();
    assert_eq!(session.len(), 32);
    assert!(!texts(&opened).is_empty(), "a greeting: {opened}");

    let path = format!("/api/chat/sessions/{session}/messages");
    let (status, reply) = post(
        base,
        &path,
        r#"{"text": "hvad koster et nyt pas til en voksen"}"#,
    );
    assert_eq!(status, 200, "{reply}");
    assert!(texts(&reply).to_lowercase().contains("pas"), "{reply}");

    let (status, reply) = post(
        base,
        "/api/chat/sessions/0000/messages",
        r#"{"text": "hej"}"#,
    );
    assert_eq!(status, 404);
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|e| e.contains("session")),
        "{reply}"
    );

    let (status, reply) = post(base, &path, r#"{"text": "#);
    assert_eq!(status, 400);
    assert!(
        reply["error"].as_str().is_some_and(|e| e.contains("JSON")),
        "{reply}"
    );

    let (status, reply) = post(base, &path, r#"{"tekst": "hej"}"#);
    assert_eq!(status, 400, "{reply}");

    let long = format!(r#"{{"text": "{}"}}"#, "a".repeat(1001));
    let (status, reply) = post(base, &path, &long);
    assert_eq!(status, 413);
    assert!(
        reply["error"].as_str().is_some_and(|e| e.contains("1000")),
        "{reply}"
    );

    let (status, health) = {
        let r = client()
            .get(format!("{base}/health"))
            .send()
            .expect("health");
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().expect("json"),
        )
    };
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert!(
        health["answers"].as_u64().is_some_and(|n| n >= 600),
        "{health}"
    );
}

#[test]
fn a_chat_is_rate_limited_per_session() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&repo(), data.path());
    let (_, opened) = post(&server.base, "/api/chat/sessions", "{}");
    let session = opened["session"].as_str().expect("session id");
    let path = format!("/api/chat/sessions/{session}/messages");
    let mut refused = None;
    for n in 0..20 {
        let r = client()
            .post(format!("{}{path}", server.base))
            .header("content-type", "application/json")
            .body(r#"{"text": "hvornår har borgerservice åbent"}"#)
            .send()
            .expect("request");
        if r.status().as_u16() == 429 {
            let wait = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            refused = Some((n, wait));
            break;
        }
    }
    let (n, wait) = refused.expect("refused within 20 messages");
    assert_eq!(n, 12, "twelve messages a minute are allowed");
    assert!(wait.is_some_and(|w| (1..=60).contains(&w)), "{wait:?}");
}

#[test]
fn stored_conversations_survive_a_crash_and_hold_only_scrubbed_text() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&repo(), data.path());
    let (_, opened) = post(&server.base, "/api/chat/sessions", "{}");
    let session = opened["session"].as_str().expect("session id").to_string();
    let path = format!("/api/chat/sessions/{session}/messages");
    let (status, _) = post(
        &server.base,
        &path,
        r#"{"text": "mit cpr nummer er 010203-1234 og jeg skal have nyt sundhedskort"}"#,
    );
    assert_eq!(status, 200);
    server.kill();

    let db = data.path().join("vejviser.sqlite");
    let conn = rusqlite::Connection::open(&db).expect("open");
    let (conversations, turns): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM turns)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("counts");
    assert_eq!(conversations, 1);
    assert!(turns >= 3, "greeting, question and answer: {turns}");
    let mut texts = conn.prepare("SELECT text FROM turns").expect("prepare");
    let all: Vec<String> = texts
        .query_map([], |r| r.get(0))
        .expect("query")
        .map(|t| t.expect("row"))
        .collect();
    assert!(all.iter().any(|t| t.contains("[CPR]")), "{all:?}");
    assert!(!all.iter().any(|t| t.contains("010203")), "{all:?}");

    // The restarted server starts new conversations beside the stored one.
    let server = Server::start(&repo(), data.path());
    let (status, _) = post(&server.base, "/api/chat/sessions", "{}");
    assert_eq!(status, 200);
    let conversations: i64 = conn
        .query_row("SELECT count(*) FROM conversations", [], |r| r.get(0))
        .expect("count");
    assert_eq!(conversations, 2);
}

#[test]
fn a_broken_edit_never_replaces_the_working_configuration() {
    let project = scratch_project();
    let data = tempfile::tempdir().expect("tempdir");
    let server = Server::start(project.path(), data.path());
    let file = project.path().join("answers/pas.yaml");
    let good = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        good.replacen("    topic: pas.ny", "    topik: pas.ny", 1),
    )
    .expect("write");

    let health = wait_for(&server.base, |h| h["status"] == "reload-failed");
    let problems = health["reload_error"].to_string();
    assert!(problems.contains("pas.yaml:"), "{problems}");
    assert!(problems.contains("topik"), "{problems}");

    let (status, opened) = post(&server.base, "/api/chat/sessions", "{}");
    assert_eq!(status, 200, "the old configuration still serves: {opened}");

    std::fs::write(&file, good).expect("write");
    wait_for(&server.base, |h| h["status"] == "ok");
}

fn wait_for(base: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health: serde_json::Value = client()
            .get(format!("{base}/health"))
            .send()
            .expect("health")
            .json()
            .expect("json");
        if done(&health) {
            return health;
        }
        assert!(Instant::now() < deadline, "health never changed: {health}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every occurrence of `needle` in the files of `dir` whose names start
/// with `prefix` (the database and its WAL).
fn files_containing(dir: &Path, prefix: &str, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(prefix) {
            continue;
        }
        let bytes = std::fs::read(entry.path()).expect("read");
        if bytes.windows(needle.len()).any(|w| w == needle) {
            hits.push(name);
        }
    }
    hits
}

/// Rows in the SMS outbox.
pub(crate) fn outbox_rows(data: &Path) -> i64 {
    let conn = rusqlite::Connection::open(data.join("sms-outbox.sqlite3")).expect("outbox");
    conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .expect("count")
}

#[test]
fn chat_refuses_a_wrong_mobile_number_in_danish_and_queues_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&repo(), data.path());
    let base = &server.base;
    let (_, opened) = post(base, "/api/chat/sessions", "{}");
    let session = opened["session"].as_str().expect("session").to_string();
    let path = format!("/api/chat/sessions/{session}/messages");

    let (_, answer) = post(base, &path, r#"{"text": "hvordan melder jeg flytning"}"#);
    let buttons = answer["messages"].to_string();
    assert!(
        buttons.contains("sms:ja") && buttons.contains("Ja tak"),
        "{answer}"
    );
    let (_, asked) = post(base, &path, r#"{"button": "sms:ja"}"#);
    assert_eq!(asked["ask"]["kind"], "mobile", "{asked}");
    assert!(texts(&asked).contains("mobilnummer"), "{asked}");

    // Seven digits, then a foreign number: a Danish reason each time, and
    // the field stays a phone field.
    let (status, wrong) = post(base, &path, r#"{"text": "12 34 56 7"}"#);
    assert_eq!(status, 200);
    assert!(texts(&wrong).contains("otte cifre"), "{wrong}");
    assert_eq!(wrong["ask"]["kind"], "mobile", "{wrong}");
    let (_, foreign) = post(base, &path, r#"{"text": "+46 70 123 45 67"}"#);
    assert!(texts(&foreign).contains("danske mobilnumre"), "{foreign}");
    let (_, cancelled) = post(base, &path, r#"{"text": "fortryd"}"#);
    assert!(texts(&cancelled).contains("helt i orden"), "{cancelled}");
    assert!(cancelled.get("ask").is_none(), "{cancelled}");
    assert_eq!(outbox_rows(data.path()), 0, "nothing queued");
    drop(server);
    assert!(
        files_containing(data.path(), "vejviser.sqlite", b"1234567").is_empty(),
        "the mistyped number is in the transcript store"
    );
}

#[test]
fn chat_books_a_callback_and_staff_erase_the_number_when_done() {
    // A scratch project where the switchboard is closed all day today, so
    // the chat offers a callback whatever the time of the test.
    let project = scratch_project();
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz"))
        .date();
    let departments = project.path().join("flows/departments.yaml");
    let text = std::fs::read_to_string(&departments).expect("read");
    let text = text.replacen(
        "    phone: \"{hovednummer}\"\n",
        &format!("    phone: \"{{hovednummer}}\"\n    closed_on: [\"{today}\"]\n"),
        1,
    );
    assert!(
        text.contains(&today.to_string()),
        "the switchboard entry moved"
    );
    std::fs::write(&departments, text).expect("write");
    let data = tempfile::tempdir().expect("tempdir");
    let server = Server::start(project.path(), data.path());
    let base = &server.base;
    let (_, opened) = post(base, "/api/chat/sessions", "{}");
    let session = opened["session"].as_str().expect("session").to_string();
    let path = format!("/api/chat/sessions/{session}/messages");

    let (_, closed) = post(
        base,
        &path,
        r#"{"text": "jeg vil gerne tale med en medarbejder"}"#,
    );
    assert!(
        closed["messages"].to_string().contains("callback:ja"),
        "{closed}"
    );
    let (_, asked) = post(base, &path, r#"{"button": "callback:ja"}"#);
    assert_eq!(asked["ask"]["kind"], "phone", "{asked}");
    let (_, windows) = post(base, &path, r#"{"text": "+45 33 12 34 56"}"#);
    let first = windows["messages"]
        .as_array()
        .and_then(|m| m.iter().find_map(|m| m["buttons"].as_array()))
        .and_then(|b| b.first())
        .cloned()
        .unwrap_or_else(|| panic!("window buttons: {windows}"));
    assert_eq!(first["value"], "vindue:0", "{windows}");
    let label = first["label"].as_str().expect("label").to_lowercase();
    let (_, booked) = post(base, &path, r#"{"button": "vindue:0"}"#);
    let confirmation = texts(&booked);
    assert!(confirmation.contains("ringer dig op"), "{booked}");
    assert!(confirmation.contains(&label), "{label} in {confirmation}");

    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vejviser"))
            .args(["--root", project.path().to_str().expect("utf-8")])
            .arg("callbacks")
            .args(args)
            .arg("--data")
            .arg(data.path())
            .output()
            .expect("runs")
    };
    let list = cli(&["list", "--json"]);
    assert!(list.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["department"], "omstilling");
    assert_eq!(rows[0]["number"], "+45 33 12 34 56");
    drop(server);
    assert!(
        files_containing(data.path(), "vejviser.sqlite", b"33123456").is_empty()
            && files_containing(data.path(), "vejviser.sqlite", b"33 12 34 56").is_empty(),
        "the number is in the transcript store"
    );

    let id = rows[0]["id"].to_string();
    assert!(cli(&["done", &id]).status.success());
    assert!(!cli(&["done", &id]).status.success(), "already done");
    let list = cli(&["list", "--json"]);
    assert!(list.stdout.is_empty(), "no open requests");
    assert!(
        files_containing(data.path(), "callbacks.sqlite3", b"33123456").is_empty(),
        "the number outlives the request"
    );
}

#[test]
fn chat_sms_goes_once_per_link_and_at_most_five_a_day_to_a_number() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&repo(), data.path());
    let base = &server.base;
    // Asks for the moving answer's link by SMS to 40 50 60 70 in a chat.
    let request = |path: &str| {
        post(base, path, r#"{"text": "hvordan melder jeg flytning"}"#);
        let (_, asked) = post(base, path, r#"{"button": "sms:ja"}"#);
        assert_eq!(asked["ask"]["kind"], "mobile", "{asked}");
        let (status, reply) = post(base, path, r#"{"text": "40 50 60 70"}"#);
        assert_eq!(status, 200);
        texts(&reply)
    };
    let mut first_path = String::new();
    for i in 0..5 {
        let (_, opened) = post(base, "/api/chat/sessions", "{}");
        let path = format!(
            "/api/chat/sessions/{}/messages",
            opened["session"].as_str().expect("session")
        );
        let said = request(&path);
        assert!(said.contains("Du får en sms"), "chat {i}: {said}");
        if i == 0 {
            first_path = path;
        }
    }
    let again = request(&first_path);
    assert!(again.contains("allerede sendt"), "{again}");
    let (_, opened) = post(base, "/api/chat/sessions", "{}");
    let path = format!(
        "/api/chat/sessions/{}/messages",
        opened["session"].as_str().expect("session")
    );
    let limited = request(&path);
    assert!(limited.contains("så mange sms'er i dag"), "{limited}");
    assert_eq!(outbox_rows(data.path()), 5);
}

//! The voice webhook (`vejviser serve --webhook`, docs/webhook.md): a real
//! server process on a free port, signed requests, Danish speech from
//! espeak-ng recognised by the real Whisper model, and the SQLite
//! transcript store read afterwards.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::call::danish;
use crate::repo;
use crate::server::Server;

const SECRET: &str = "a-long-shared-secret-for-the-tests";

/// A server with the webhook on, its clock starting on a Monday morning.
fn start(data: &std::path::Path, asr: bool) -> Server {
    let mut args = vec![
        "--webhook",
        "--threads",
        "1",
        "--now",
        "2026-11-23T10:00:00+01:00",
    ];
    if !asr {
        args.push("--no-asr");
    }
    Server::start_with(&repo(), data, &args, &[("VEJVISER_WEBHOOK_SECRET", SECRET)])
}

fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A request signed with `secret` now; returns status and JSON body.
fn send(
    base: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    secret: Option<&str>,
) -> (u16, serde_json::Value) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let mut request = reqwest::blocking::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", content_type)
        .body(body.to_vec());
    if let Some(secret) = secret {
        request = request
            .header("x-vejviser-timestamp", now.to_string())
            .header("x-vejviser-signature", signature(secret, now, body));
    }
    let response = request.send().expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, json)
}

fn signed(base: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    send(
        base,
        path,
        "application/json",
        body.as_bytes(),
        Some(SECRET),
    )
}

fn wav(base: &str, call: &str, wav: &[u8]) -> (u16, serde_json::Value) {
    let path = format!("/api/voice/calls/{call}/utterance");
    send(base, &path, "audio/wav", wav, Some(SECRET))
}

fn types(reply: &serde_json::Value) -> Vec<String> {
    reply["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["type"].as_str().expect("type").to_string())
        .collect()
}

#[test]
fn webhook_refuses_bad_requests_and_transfers_on_a_key() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), false);
    let base = &server.base;

    // Unsigned, wrongly signed.
    let (status, body) = send(base, "/api/voice/calls", "application/json", b"{}", None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "unauthorized");
    let (status, _) = send(
        base,
        "/api/voice/calls",
        "application/json",
        b"{}",
        Some("another-secret-of-some-length"),
    );
    assert_eq!(status, 401);

    // A call starts with the greeting and a gather.
    let (status, started) = signed(base, "/api/voice/calls", r#"{"from": "+45 20 30 40 50"}"#);
    assert_eq!(status, 200, "{started}");
    let call = started["call"].as_str().expect("call id").to_string();
    assert_eq!(types(&started), ["say", "gather"], "{started}");
    assert_eq!(started["ended"], false);

    // Unknown call; not a WAV by type, by content; a broken WAV.
    let (status, body) = signed(base, "/api/voice/calls/nosuchcall/dtmf", r#"{"digit":"3"}"#);
    assert_eq!(status, 404, "{body}");
    let path = format!("/api/voice/calls/{call}/utterance");
    let (status, body) = send(base, &path, "text/plain", b"hello", Some(SECRET));
    assert_eq!(status, 415, "{body}");
    let (status, body) = send(base, &path, "audio/wav", b"hello, not audio", Some(SECRET));
    assert_eq!(status, 415, "{body}");
    assert!(body["message"].as_str().unwrap_or("").contains("not a WAV"));
    let (status, body) = send(
        base,
        &path,
        "audio/wav",
        b"RIFF\0\0\0\0WAVEjunk",
        Some(SECRET),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "bad-wav");
    // Too big: over 2 MB.
    let big = vec![0u8; 3 * 1024 * 1024];
    let (status, _) = send(base, &path, "audio/wav", &big, Some(SECRET));
    assert_eq!(status, 413);
    // Without a recogniser (--no-asr) speech is refused with 503.
    let silence = asr::encode_wav(&[0; 1600], 16_000, asr::WavEncoding::Pcm16);
    let (status, body) = wav(base, &call, &silence);
    assert_eq!(status, 503, "{body}");
    let (status, body) = signed(
        base,
        &format!("/api/voice/calls/{call}/dtmf"),
        r#"{"digit":"x"}"#,
    );
    assert_eq!(status, 400, "{body}");

    // Key 3 in the main menu: Jobcenter, open on a Monday at ten.
    let (status, reply) = signed(
        base,
        &format!("/api/voice/calls/{call}/dtmf"),
        r#"{"digit":"3"}"#,
    );
    assert_eq!(status, 200, "{reply}");
    let transfer = reply["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["type"] == "transfer")
        .unwrap_or_else(|| panic!("a transfer: {reply}"));
    assert_eq!(transfer["department"], "jobcenter");
    assert_eq!(transfer["sip_uri"], "sip:jobcenter@pbx.eksempel.dk");
    assert!(transfer["phone"].is_string(), "{reply}");
    assert_eq!(reply["ended"], false, "the transfer may still fail");

    let (status, reply) = signed(base, &format!("/api/voice/calls/{call}/end"), "");
    assert_eq!(status, 200, "{reply}");
    let (status, _) = signed(
        base,
        &format!("/api/voice/calls/{call}/dtmf"),
        r#"{"digit":"3"}"#,
    );
    assert_eq!(status, 404, "an ended call is gone");

    // A second call whose transfer fails: the bot says the number instead.
    let (_, started) = signed(base, "/api/voice/calls", "");
    let second = started["call"].as_str().expect("call id").to_string();
    let (_, reply) = signed(
        base,
        &format!("/api/voice/calls/{second}/dtmf"),
        r#"{"digit":"3"}"#,
    );
    let phone = reply["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["type"] == "transfer")
        .and_then(|a| a["phone"].as_str())
        .unwrap_or_else(|| panic!("a transfer with a number: {reply}"))
        .to_string();
    let (status, reply) = signed(
        base,
        &format!("/api/voice/calls/{second}/transfer-failed"),
        "",
    );
    assert_eq!(status, 200, "{reply}");
    assert!(
        !types(&reply).contains(&"transfer".to_string()),
        "no second transfer: {reply}"
    );
    let said: String = reply["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| a["type"] == "say")
        .filter_map(|a| a["text"].as_str())
        .collect();
    let digits = |t: &str| t.chars().filter(char::is_ascii_digit).collect::<String>();
    assert!(
        digits(&said).contains(&digits(&phone)) || said.contains("Jobcenter"),
        "the fallback names the department or its number ({phone}): {said}"
    );
    signed(base, &format!("/api/voice/calls/{second}/end"), "");
    server.kill();

    let conn = rusqlite::Connection::open(data.path().join("vejviser.sqlite")).expect("open");
    let (outcome, department): (String, String) = conn
        .query_row(
            "SELECT outcome, department FROM conversations ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("one conversation");
    assert_eq!(
        (outcome.as_str(), department.as_str()),
        ("transferred", "jobcenter")
    );
    let numbers: i64 = conn
        .query_row(
            "SELECT count(*) FROM turns WHERE text LIKE '%20 30 40 50%' OR text LIKE '%20304050%'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(numbers, 0, "the caller's number is never stored");
}

#[test]
fn webhook_answers_speech_and_stores_only_scrubbed_text() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), true);
    let base = &server.base;
    let (status, started) = signed(base, "/api/voice/calls", "");
    assert_eq!(status, 200, "{started}");
    let call = started["call"].as_str().expect("call id").to_string();

    // A clear question at 8 kHz µ-law, as a telephone records it.
    let question = danish("jeg vil gerne bestille et nyt kørekort", 8_000);
    let (status, reply) = wav(
        base,
        &call,
        &asr::encode_wav(&question, 8_000, asr::WavEncoding::MuLaw),
    );
    assert_eq!(status, 200, "{reply}");
    let kinds = types(&reply);
    assert!(kinds.contains(&"say".to_string()), "{reply}");
    assert_eq!(kinds.last().map(String::as_str), Some("gather"), "{reply}");

    // A CPR number said aloud, at 16 kHz PCM.
    let cpr = danish("Mit cpr nummer er 010203-1234", 16_000);
    let (status, reply) = wav(
        base,
        &call,
        &asr::encode_wav(&cpr, 16_000, asr::WavEncoding::Pcm16),
    );
    assert_eq!(status, 200, "{reply}");
    let (status, _) = signed(base, &format!("/api/voice/calls/{call}/end"), "");
    assert_eq!(status, 200);
    server.kill();

    let conn = rusqlite::Connection::open(data.path().join("vejviser.sqlite")).expect("open");
    let channel: String = conn
        .query_row("SELECT channel FROM conversations", [], |r| r.get(0))
        .expect("one conversation");
    assert_eq!(channel, "voice");
    let mut texts = conn
        .prepare("SELECT speaker, text, topic FROM turns ORDER BY id")
        .expect("prepare");
    let turns: Vec<(String, String, Option<String>)> = texts
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .map(|t| t.expect("row"))
        .collect();
    let citizen: Vec<&(String, String, Option<String>)> =
        turns.iter().filter(|t| t.0 == "citizen").collect();
    assert_eq!(citizen.len(), 2, "{turns:?}");
    assert!(
        citizen[0].1.to_lowercase().contains("kørekort"),
        "{turns:?}"
    );
    let topic = citizen[0].2.as_deref().unwrap_or("");
    assert!(topic.starts_with("koerekort."), "{turns:?}");
    for (_, text, _) in &turns {
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        assert!(!digits.contains("010203"), "{turns:?}");
        assert!(!digits.contains("0102031234"), "{turns:?}");
    }
}

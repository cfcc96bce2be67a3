//! `vejviser call`: one whole voice turn offline with the real binary, the
//! real Whisper model (scripts/fetch-whisper) and Danish speech from
//! espeak-ng.

use std::path::Path;
use std::process::{Command, Output};

use asr::WavEncoding;

use crate::repo;

/// `text` from espeak-ng's Danish voice, resampled to `rate`.
pub(crate) fn danish(text: &str, rate: u32) -> Vec<i16> {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("s.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "da", "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng runs (scripts/setup installs it)");
    assert!(status.success());
    let audio = asr::decode_wav(&std::fs::read(&wav).expect("wav")).expect("espeak wav");
    asr::resample(&audio.samples, audio.rate, rate).expect("resample")
}

/// Runs `vejviser call` on `wav` with `args` after the file.
fn call(wav: &[u8], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("utterance.wav");
    std::fs::write(&file, wav).expect("writes");
    call_file(&file, args)
}

fn call_file(file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vejviser"))
        .args(["--root", repo().to_str().expect("utf-8 path")])
        .args(["call", "--threads", "1"])
        .arg(file)
        .args(args)
        .output()
        .expect("runs")
}

/// The one JSON object on stdout.
fn object(out: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    serde_json::from_str(&stdout).expect("stdout is one JSON object")
}

/// The verbs of `type`.
fn verbs<'a>(reply: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    reply["actions"]
        .as_array()
        .expect("actions is a list")
        .iter()
        .filter(|a| a["type"] == kind)
        .collect()
}

#[test]
fn call_answers_a_clear_question_with_the_documented_shape() {
    let pcm = danish("Jeg har mistet mit sundhedskort", 16_000);
    let reply = object(&call(
        &asr::encode_wav(&pcm, 16_000, WavEncoding::Pcm16),
        &["--json", "--at", "2026-11-23T10:00:00+01:00"],
    ));
    let mut keys: Vec<&str> = reply
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["actions", "answer_id", "confidence", "redacted", "topic"],
        "{reply}"
    );
    let heard = reply["redacted"].as_str().expect("text").to_lowercase();
    assert!(heard.contains("sundhedskort"), "{reply}");
    assert_eq!(reply["topic"], "sundhedskort.nyt", "{reply}");
    assert!(reply["answer_id"].is_string(), "{reply}");
    let confidence = reply["confidence"].as_f64().expect("a number");
    assert!((0.0..=1.0).contains(&confidence), "{reply}");
    // The answer is said, no greeting, and the caller is listened to again.
    let said = verbs(&reply, "say");
    assert!(!said.is_empty(), "{reply}");
    assert!(
        said.iter()
            .all(|s| !s["text"].as_str().unwrap_or("").contains("Velkommen")),
        "no greeting: {reply}"
    );
    let say = said[0].as_object().expect("object");
    for key in ["text", "recording", "barge_in", "audio_url"] {
        assert!(say.contains_key(key), "say has {key}: {reply}");
    }
    let last = reply["actions"]
        .as_array()
        .and_then(|a| a.last())
        .expect("some action");
    assert_eq!(last["type"], "gather", "{reply}");
    assert_eq!(last["dtmf"], true, "{reply}");
}

#[test]
fn call_reads_8khz_telephone_ulaw_and_alaw() {
    let samples = danish("jeg vil gerne bestille et nyt kørekort", 8_000);
    for encoding in [WavEncoding::MuLaw, WavEncoding::ALaw] {
        let reply = object(&call(
            &asr::encode_wav(&samples, 8_000, encoding),
            &["--json"],
        ));
        let heard = reply["redacted"].as_str().expect("text").to_lowercase();
        assert!(heard.contains("kørekort"), "{encoding:?}: {reply}");
        let topic = reply["topic"].as_str().expect("a topic");
        assert!(topic.starts_with("koerekort."), "{encoding:?}: {reply}");
    }
}

#[test]
fn a_cpr_number_said_aloud_is_not_in_the_output() {
    let pcm = danish(
        "Mit cpr nummer er 010203-1234, og jeg har mistet mit sundhedskort",
        16_000,
    );
    let out = call(
        &asr::encode_wav(&pcm, 16_000, WavEncoding::Pcm16),
        &["--json"],
    );
    let reply = object(&out);
    let redacted = reply["redacted"].as_str().expect("text");
    assert!(!redacted.trim().is_empty(), "something was heard: {reply}");
    // No run of six or more digits, in any grouping, anywhere on stdout.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let digits: String = stdout
        .chars()
        .filter(|c| c.is_ascii_digit() || c.is_whitespace() || *c == '-')
        .collect();
    for group in digits.split(char::is_whitespace) {
        let run: String = group.chars().filter(char::is_ascii_digit).collect();
        assert!(run.len() < 6, "a number-like run {run:?} in {stdout}");
    }
    assert!(!stdout.contains("010203"), "{stdout}");
}

#[test]
fn dtmf_to_an_open_department_transfers() {
    // Half a second of silence: no utterance, only the key (3: Jobcenter
    // in the main menu of flows/flow.yaml), on a Monday morning.
    let silence = asr::encode_wav(&[0; 8_000], 16_000, WavEncoding::Pcm16);
    let reply = object(&call(
        &silence,
        &["--json", "--dtmf", "3", "--at", "2026-11-23T10:00:00+01:00"],
    ));
    let transfers = verbs(&reply, "transfer");
    assert_eq!(transfers.len(), 1, "{reply}");
    assert_eq!(transfers[0]["department"], "jobcenter", "{reply}");
    assert_eq!(
        transfers[0]["sip_uri"], "sip:jobcenter@pbx.eksempel.dk",
        "{reply}"
    );
    assert!(transfers[0]["phone"].is_string(), "{reply}");

    // The same key on a Sunday: closed, so a handover instead of a transfer.
    let reply = object(&call(
        &silence,
        &["--json", "--dtmf", "3", "--at", "2026-11-22T10:00:00+01:00"],
    ));
    assert!(verbs(&reply, "transfer").is_empty(), "{reply}");
    let handover = verbs(&reply, "handover");
    assert_eq!(handover.len(), 1, "{reply}");
    assert_eq!(handover[0]["open_now"], false, "{reply}");
}

#[test]
fn call_refuses_bad_input_with_exit_code_2_and_no_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = call_file(&dir.path().join("missing.wav"), &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.wav"));

    let out = call(b"RIFX this is not audio", &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a WAV file"), "{stderr}");

    let stereo_float = {
        let mut wav = asr::encode_wav(&[0; 160], 16_000, WavEncoding::Pcm16);
        wav[20] = 3; // format tag 3: IEEE float
        wav
    };
    let out = call(&stereo_float, &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("format tag 3"), "{stderr}");

    let silence = asr::encode_wav(&[0; 1600], 16_000, WavEncoding::Pcm16);
    let out = call(&silence, &["--json", "--dtmf", "12x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("'x'"));
}

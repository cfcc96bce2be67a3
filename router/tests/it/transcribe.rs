//! `vejviser transcribe`: the real binary, the real converted model
//! (scripts/fetch-whisper) and Danish speech from espeak-ng.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use asr::WavEncoding;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `text` from espeak-ng's Danish voice, resampled to `rate`.
fn danish(text: &str, rate: u32) -> Vec<i16> {
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

fn transcribe(wav: &[u8]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("utterance.wav");
    std::fs::write(&file, wav).expect("writes");
    Command::new(env!("CARGO_BIN_EXE_vejviser"))
        .args(["--root", repo().to_str().expect("utf-8 path")])
        .args(["transcribe", "--threads", "1"])
        .arg(&file)
        .output()
        .expect("runs")
}

#[test]
fn transcribe_prints_danish_speech_at_16khz() {
    let samples = danish("jeg har mistet mit sundhedskort", 16_000);
    let out = transcribe(&asr::encode_wav(&samples, 16_000, WavEncoding::Pcm16));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("sundhedskort"), "heard {text:?}");
}

#[test]
fn transcribe_reads_8khz_telephone_alaw() {
    let samples = danish("jeg vil gerne bestille et nyt kørekort", 8_000);
    let out = transcribe(&asr::encode_wav(&samples, 8_000, WavEncoding::ALaw));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("kørekort"), "heard {text:?}");
}

#[test]
fn transcribe_explains_unusable_files() {
    let out = transcribe(b"this is not audio at all");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a WAV file"), "{stderr}");
    assert!(stderr.contains("utterance.wav"), "{stderr}");

    let cd_quality = asr::encode_wav(&[0; 4410], 44_100, WavEncoding::Pcm16);
    let out = transcribe(&cd_quality);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("44100 Hz"), "{stderr}");
    assert!(stderr.contains("8000 or 16000"), "{stderr}");
}

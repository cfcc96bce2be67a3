//! Test audio: Danish speech from `espeak-ng -v da`, and the model path.

use std::path::PathBuf;
use std::process::Command;

use asr::{AudioClip, WhisperConfig};

/// The converted base model with Q8_0 weights (`ct2-to-ggml --q8_0`), the
/// product's default; the tests fail (not skip) when it is missing.
pub(crate) fn model() -> PathBuf {
    model_file("ggml-base-q8_0.bin")
}

/// The same model with f16 weights.
pub(crate) fn model_f16() -> PathBuf {
    model_file("ggml-base.bin")
}

fn model_file(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-whisper",
        path.display()
    );
    path
}

pub(crate) fn config() -> WhisperConfig {
    let mut c = WhisperConfig::new(model());
    // One thread: tests run side by side on a small shared machine, where
    // whisper.cpp's per-operation thread barriers make two threads per
    // slot far slower than one.
    c.threads_per_slot = 1;
    c.prompt = "Borgerservice. Pas, kørekort, sundhedskort, affald.".into();
    c
}

/// `text` spoken by espeak-ng's Danish voice, resampled to `rate`.
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

pub(crate) fn danish_clip(text: &str) -> AudioClip {
    AudioClip::new(danish(text, asr::SAMPLE_RATE))
}

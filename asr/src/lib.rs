//! Speech recognition for Vejviser.
//!
//! This crate owns turning telephone audio into Danish text: the audio
//! types, end-of-utterance detection and the Whisper transcriber, which runs
//! on its own bounded pool of threads (never on an async runtime worker).
//! It never scrubs, stores or logs what it recognises: its output goes
//! straight to the caller as a raw utterance.
//!
//! Today it holds the audio type and the error contract; the recogniser
//! itself arrives with the voice front end.

/// The sample rate every recogniser in this crate takes.
pub const SAMPLE_RATE: u32 = 16_000;

/// Mono 16-bit PCM audio at [`SAMPLE_RATE`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AudioClip {
    samples: Vec<i16>,
}

impl std::fmt::Debug for AudioClip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AudioClip({} ms)", self.duration_ms())
    }
}

impl AudioClip {
    pub fn new(samples: Vec<i16>) -> Self {
        AudioClip { samples }
    }

    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(SAMPLE_RATE)
    }
}

/// What can go wrong when recognising speech; callers branch on these.
#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    /// Every recognition slot is busy: fall back (DTMF menu or handover).
    #[error("all recognition slots are busy")]
    Overloaded,
    /// The audio is longer than an utterance may be.
    #[error("utterance of {ms} ms is longer than the limit of {limit_ms} ms")]
    TooLong { ms: u64, limit_ms: u64 },
    /// The model file could not be loaded.
    #[error("cannot load the speech model: {reason}")]
    Model { reason: String },
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
}

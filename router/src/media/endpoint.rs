//! A small energy-based endpointer for barge-in and for cutting
//! utterances out of 8 kHz telephone audio.
//!
//! Written here because the front end needs only "the caller started
//! talking" and "the caller stopped" within one 20 ms frame of delay; the
//! asr crate's endpointer replaces the utterance cutting when it is
//! merged, this stays for barge-in. The threshold follows the line's noise
//! floor (a slow average of quiet frames) so steady line hiss does not
//! count as speech.
//!
//! The silence that ends an utterance is the flow's `end_of_speech_ms`: it
//! is waited out before recognition can start, so it counts in full
//! against the time to the answer.

use std::time::Duration;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;

/// What a frame changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Nothing new.
    None,
    /// Speech began (enough loud frames in a row).
    Started,
    /// Speech ended: the utterance's samples at 8 kHz.
    Ended(Vec<i16>),
}

/// Per-call endpointer state.
#[derive(Debug)]
pub struct Endpointer {
    /// Quiet frames that end an utterance.
    end_frames: u32,
    noise_db: f32,
    loud_run: u32,
    quiet_run: u32,
    in_speech: bool,
    /// The last few frames before speech was confirmed, and then the utterance.
    samples: Vec<i16>,
}

/// Frames above the threshold before speech counts as started (60 ms).
const START_FRAMES: u32 = 3;
/// Silence that ends an utterance when none is given (the flow's
/// `end_of_speech_ms` default).
pub const DEFAULT_END_OF_SPEECH: Duration = Duration::from_millis(600);
/// The shortest end-of-speech silence taken: a breath between two words
/// must not end the utterance.
const MIN_END_FRAMES: u32 = 10;
/// The longest utterance kept (15 s); longer speech is cut there.
const MAX_SAMPLES: usize = 15 * 8000;
/// Speech must be this far above the noise floor, in dB.
const MARGIN_DB: f32 = 12.0;
/// And never quieter than this, in dBFS.
const MIN_SPEECH_DB: f32 = -42.0;
/// Quiet frames kept at the end of an utterance (200 ms), so the last
/// word's soft ending is not cut.
const KEPT_TAIL_FRAMES: u32 = 10;
/// Frames kept from before speech was confirmed.
const PRE_ROLL_FRAMES: usize = 10;

impl Default for Endpointer {
    fn default() -> Self {
        Endpointer::new(DEFAULT_END_OF_SPEECH)
    }
}

impl Endpointer {
    /// An endpointer that ends an utterance after `end_of_speech` of
    /// silence (rounded to whole 20 ms frames, at least 200 ms).
    pub fn new(end_of_speech: Duration) -> Self {
        let frames = end_of_speech.as_millis().div_ceil(20);
        Endpointer {
            end_frames: u32::try_from(frames)
                .unwrap_or(u32::MAX)
                .max(MIN_END_FRAMES),
            noise_db: -60.0,
            loud_run: 0,
            quiet_run: 0,
            in_speech: false,
            samples: Vec::new(),
        }
    }
}

/// The frame's level in dB relative to full scale.
pub fn level_db(frame: &[i16]) -> f32 {
    if frame.is_empty() {
        return -100.0;
    }
    let energy: f64 = frame
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / frame.len() as f64;
    let rms = energy.sqrt() / 32768.0;
    (20.0 * rms.max(1e-5).log10()) as f32
}

impl Endpointer {
    /// Feeds one frame of 8 kHz samples.
    pub fn push(&mut self, frame: &[i16]) -> Endpoint {
        let db = level_db(frame);
        let threshold = (self.noise_db + MARGIN_DB).max(MIN_SPEECH_DB);
        let loud = db > threshold;
        self.samples.extend_from_slice(frame);
        if !self.in_speech {
            if loud {
                self.loud_run += 1;
            } else {
                self.loud_run = 0;
                // Only quiet frames move the noise floor, slowly.
                self.noise_db = 0.95 * self.noise_db + 0.05 * db;
            }
            if self.loud_run >= START_FRAMES {
                self.in_speech = true;
                self.quiet_run = 0;
                let keep = (PRE_ROLL_FRAMES + START_FRAMES as usize) * FRAME;
                let cut = self.samples.len().saturating_sub(keep);
                self.samples.drain(..cut);
                return Endpoint::Started;
            }
            let cut = self.samples.len().saturating_sub(PRE_ROLL_FRAMES * FRAME);
            self.samples.drain(..cut);
            return Endpoint::None;
        }
        if loud {
            self.quiet_run = 0;
        } else {
            self.quiet_run += 1;
        }
        if self.quiet_run >= self.end_frames || self.samples.len() >= MAX_SAMPLES {
            self.in_speech = false;
            self.loud_run = 0;
            // The silence that ended the utterance is not sent on: the
            // recogniser's work grows with the clip's length.
            let tail = self.quiet_run.saturating_sub(KEPT_TAIL_FRAMES) as usize * FRAME;
            let mut clip = std::mem::take(&mut self.samples);
            clip.truncate(clip.len().saturating_sub(tail));
            self.quiet_run = 0;
            return Endpoint::Ended(clip);
        }
        Endpoint::None
    }

    /// Whether the caller is talking now.
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(amplitude: f32) -> Vec<i16> {
        (0..FRAME)
            .map(|i| (amplitude * (i as f32 * 0.3).sin()) as i16)
            .collect()
    }

    #[test]
    fn speech_after_hiss_starts_and_ends_an_utterance() {
        let mut e = Endpointer::default();
        for _ in 0..50 {
            assert_eq!(e.push(&tone(100.0)), Endpoint::None);
        }
        let mut started = false;
        for _ in 0..50 {
            started |= e.push(&tone(8000.0)) == Endpoint::Started;
        }
        assert!(started);
        let mut clip = None;
        for _ in 0..30 {
            if let Endpoint::Ended(c) = e.push(&tone(100.0)) {
                clip = Some(c);
            }
        }
        let clip = clip.expect("utterance ended");
        // The 8 quiet frames of the pre-roll (10 frames, the last 2 of
        // them loud), 50 loud frames and 200 ms of the closing silence.
        assert_eq!(clip.len(), (8 + 50 + KEPT_TAIL_FRAMES as usize) * FRAME);
    }

    #[test]
    fn the_end_of_speech_silence_is_configurable() {
        for (ms, frames) in [(400u64, 20usize), (1000, 50)] {
            let mut e = Endpointer::new(Duration::from_millis(ms));
            for _ in 0..20 {
                e.push(&tone(8000.0));
            }
            let ended_at = (1..=60).find(|_| matches!(e.push(&tone(0.0)), Endpoint::Ended(_)));
            assert_eq!(ended_at, Some(frames), "{ms} ms");
        }
    }

    #[test]
    fn steady_hiss_is_not_speech() {
        let mut e = Endpointer::default();
        for _ in 0..500 {
            assert_eq!(e.push(&tone(300.0)), Endpoint::None);
        }
    }
}

//! Voice activity and end-of-utterance detection for telephone audio.
//!
//! whisper.cpp's own VAD needs a model that is not available here, so this
//! is an energy detector in 20 ms frames, written for 8 kHz G.711 lines:
//!
//! - The noise floor adapts: it follows the frame energy down at once and
//!   up slowly (a few dB per second) while nobody speaks, so steady line
//!   noise or a hum raises the floor instead of being taken for speech.
//! - A frame is voiced when its energy is a margin above the floor and above
//!   an absolute minimum (digital silence must not make dither "speech").
//! - Speech starts after a few voiced frames in a row (clicks are ignored);
//!   a short pre-roll before the onset is kept so the first consonant is
//!   not cut.
//! - The utterance ends after a hangover of unvoiced frames; one shorter
//!   than the minimum speech length is dropped as noise, one that reaches
//!   the maximum length is cut there.
//! - With no speech at all within the no-input timeout, the detector says
//!   so once.
//!
//! The detector is sans-I/O and reads no clock: time is the count of
//! samples pushed.

use std::collections::VecDeque;

/// Settings of the [`Endpointer`]; the defaults suit 8 kHz telephone audio.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointerConfig {
    /// Sample rate of the pushed audio (8000 on a G.711 line).
    pub sample_rate: u32,
    /// How far above the noise floor a frame must be to count as voiced.
    pub margin_db: f32,
    /// Frames below this level (dBFS) are never voiced.
    pub min_level_db: f32,
    /// Voiced frames in a row before speech counts as started.
    pub onset_frames: usize,
    /// Silence after speech that ends the utterance.
    pub hangover_ms: u32,
    /// Utterances with less voiced audio than this are dropped.
    pub min_speech_ms: u32,
    /// Utterances are cut at this length.
    pub max_utterance_ms: u32,
    /// Without any speech for this long, [`EndpointEvent::NoInput`].
    pub no_input_ms: u32,
    /// Audio kept from before the onset.
    pub pre_roll_ms: u32,
}

impl Default for EndpointerConfig {
    fn default() -> Self {
        EndpointerConfig {
            sample_rate: 8_000,
            margin_db: 10.0,
            min_level_db: -50.0,
            onset_frames: 3,
            hangover_ms: 700,
            min_speech_ms: 200,
            max_utterance_ms: 15_000,
            no_input_ms: 6_000,
            pre_roll_ms: 200,
        }
    }
}

/// Why an utterance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The caller stopped speaking (the hangover passed).
    Silence,
    /// The utterance reached the maximum length.
    MaxLength,
}

/// What the detector reports while audio is pushed.
#[derive(Clone, PartialEq, Eq)]
pub enum EndpointEvent {
    /// Speech began (the moment to stop a prompt for barge-in).
    SpeechStarted,
    /// A whole utterance, at the pushed sample rate, pre-roll included.
    Utterance {
        samples: Vec<i16>,
        reason: EndReason,
    },
    /// Nobody spoke within the no-input timeout.
    NoInput,
}

impl std::fmt::Debug for EndpointEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointEvent::SpeechStarted => write!(f, "SpeechStarted"),
            EndpointEvent::Utterance { samples, reason } => {
                write!(f, "Utterance({} samples, {reason:?})", samples.len())
            }
            EndpointEvent::NoInput => write!(f, "NoInput"),
        }
    }
}

/// Energy-based voice activity and end-of-utterance detector.
#[derive(Debug)]
pub struct Endpointer {
    config: EndpointerConfig,
    frame_len: usize,
    pending: Vec<i16>,
    floor_db: Option<f32>,
    pre_roll: VecDeque<i16>,
    onset: Vec<i16>,
    onset_count: usize,
    speech: Option<Speech>,
    silent_frames: u64,
    no_input_reported: bool,
}

#[derive(Debug)]
struct Speech {
    samples: Vec<i16>,
    voiced_frames: u64,
    trailing_silence: u64,
}

const FRAME_MS: u32 = 20;

/// Whole 20 ms frames in `ms`, rounded up.
fn frames(ms: u32) -> u64 {
    u64::from(ms.div_ceil(FRAME_MS))
}

/// Frame energy in dBFS.
fn level_db(frame: &[i16]) -> f32 {
    let sum: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / frame.len().max(1) as f64).sqrt() / 32768.0;
    (20.0 * rms.max(1e-9).log10()) as f32
}

impl Endpointer {
    pub fn new(config: EndpointerConfig) -> Self {
        let frame_len = (config.sample_rate * FRAME_MS / 1000).max(1) as usize;
        Endpointer {
            config,
            frame_len,
            pending: Vec::new(),
            floor_db: None,
            pre_roll: VecDeque::new(),
            onset: Vec::new(),
            onset_count: 0,
            speech: None,
            silent_frames: 0,
            no_input_reported: false,
        }
    }

    /// Starts listening for the next utterance (the no-input timer too);
    /// the noise floor learnt so far is kept.
    pub fn reset(&mut self) {
        self.pending.clear();
        self.pre_roll.clear();
        self.onset.clear();
        self.onset_count = 0;
        self.speech = None;
        self.silent_frames = 0;
        self.no_input_reported = false;
    }

    /// Whether speech is under way.
    pub fn in_speech(&self) -> bool {
        self.speech.is_some()
    }

    /// The current noise floor in dBFS, once one frame was seen.
    pub fn noise_floor_db(&self) -> Option<f32> {
        self.floor_db
    }

    /// Pushes audio of any length; returns what happened in it.
    pub fn push(&mut self, samples: &[i16]) -> Vec<EndpointEvent> {
        let mut events = Vec::new();
        self.pending.extend_from_slice(samples);
        let mut start = 0;
        while self.pending.len() - start >= self.frame_len {
            let frame: Vec<i16> = self.pending[start..start + self.frame_len].to_vec();
            start += self.frame_len;
            self.frame(&frame, &mut events);
        }
        self.pending.drain(..start);
        events
    }

    fn frame(&mut self, frame: &[i16], events: &mut Vec<EndpointEvent>) {
        let level = level_db(frame);
        let floor = *self.floor_db.get_or_insert(level);
        let voiced = level > floor + self.config.margin_db && level > self.config.min_level_db;

        // The floor follows quiet frames down at once and louder ones up
        // slowly; voiced frames move it only very slowly (sustained noise
        // that starts mid-call is learnt within seconds).
        let rate = match (voiced, level < floor) {
            (_, true) => 0.5,
            (false, false) => 0.05,
            (true, false) => 0.002,
        };
        self.floor_db = Some(floor + rate * (level - floor));

        if let Some(speech) = &mut self.speech {
            speech.samples.extend_from_slice(frame);
            if voiced {
                speech.voiced_frames += 1;
                speech.trailing_silence = 0;
            } else {
                speech.trailing_silence += 1;
            }
            let length = speech.samples.len() as u64 * 1000 / u64::from(self.config.sample_rate);
            let ended = speech.trailing_silence >= frames(self.config.hangover_ms);
            let too_long = length >= u64::from(self.config.max_utterance_ms);
            if ended || too_long {
                let enough = speech.voiced_frames >= frames(self.config.min_speech_ms);
                if let Some(speech) = self.speech.take().filter(|_| enough || too_long) {
                    let reason = if too_long && !ended {
                        EndReason::MaxLength
                    } else {
                        EndReason::Silence
                    };
                    events.push(EndpointEvent::Utterance {
                        samples: speech.samples,
                        reason,
                    });
                }
                self.silent_frames = 0;
            }
            return;
        }

        if voiced {
            self.onset.extend_from_slice(frame);
            self.onset_count += 1;
            if self.onset_count >= self.config.onset_frames {
                let mut samples: Vec<i16> = self.pre_roll.drain(..).collect();
                samples.append(&mut self.onset);
                self.speech = Some(Speech {
                    samples,
                    voiced_frames: self.onset_count as u64,
                    trailing_silence: 0,
                });
                self.onset_count = 0;
                events.push(EndpointEvent::SpeechStarted);
            }
            return;
        }

        // An unvoiced frame: a click that did not last goes to the pre-roll.
        let onset = std::mem::take(&mut self.onset);
        self.onset_count = 0;
        let keep = (self.config.sample_rate * self.config.pre_roll_ms / 1000) as usize;
        self.pre_roll
            .extend(onset.iter().chain(frame.iter()).copied());
        while self.pre_roll.len() > keep {
            self.pre_roll.pop_front();
        }
        self.silent_frames += 1;
        if !self.no_input_reported && self.silent_frames >= frames(self.config.no_input_ms) {
            self.no_input_reported = true;
            events.push(EndpointEvent::NoInput);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8_000;

    /// Deterministic white noise (xorshift) at roughly `level` RMS.
    fn noise(ms: u32, level: f32, seed: &mut u32) -> Vec<i16> {
        (0..RATE * ms / 1000)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 17;
                *seed ^= *seed << 5;
                let u = (*seed as f32 / u32::MAX as f32) * 2.0 - 1.0;
                (u * level * 1.73) as i16
            })
            .collect()
    }

    /// A vowel-like signal: a 150 Hz tone with harmonics, amplitude-modulated
    /// at a syllable rate, over the noise.
    fn speechlike(ms: u32, level: f32, seed: &mut u32) -> Vec<i16> {
        let n = noise(ms, 60.0, seed);
        n.iter()
            .enumerate()
            .map(|(i, &z)| {
                let t = i as f32 / RATE as f32;
                let syllable = 0.6 + 0.4 * (t * 4.0 * std::f32::consts::TAU).sin();
                let voice: f32 = [1.0, 0.5, 0.3]
                    .iter()
                    .enumerate()
                    .map(|(k, a)| a * (t * 150.0 * (k + 1) as f32 * std::f32::consts::TAU).sin())
                    .sum();
                (level * syllable * voice / 1.8) as i16 + z
            })
            .collect()
    }

    fn run(ep: &mut Endpointer, audio: &[i16]) -> Vec<EndpointEvent> {
        // Pushed in RTP-sized packets of 160 samples and an odd size, to
        // check the framing.
        audio.chunks(137).flat_map(|c| ep.push(c)).collect()
    }

    fn utterances(events: &[EndpointEvent]) -> Vec<(usize, EndReason)> {
        events
            .iter()
            .filter_map(|e| match e {
                EndpointEvent::Utterance { samples, reason } => Some((samples.len(), *reason)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn speech_between_line_noise_is_one_utterance() {
        let mut seed = 7;
        let mut audio = noise(1000, 300.0, &mut seed);
        audio.extend(speechlike(1500, 8000.0, &mut seed));
        audio.extend(noise(1500, 300.0, &mut seed));
        let mut ep = Endpointer::new(EndpointerConfig::default());
        let events = run(&mut ep, &audio);
        assert_eq!(events.first(), Some(&EndpointEvent::SpeechStarted));
        let u = utterances(&events);
        assert_eq!(u.len(), 1, "{events:?}");
        let (len, reason) = u[0];
        assert_eq!(reason, EndReason::Silence);
        let ms = len as u32 * 1000 / RATE;
        // 1.5 s of speech + pre-roll + hangover, give or take a frame or two.
        assert!((1500..=2500).contains(&ms), "utterance of {ms} ms");
        assert!(!ep.in_speech());
    }

    #[test]
    fn steady_noise_and_hum_are_not_speech() {
        let mut seed = 11;
        let mut audio = noise(2000, 1500.0, &mut seed);
        // A 50 Hz hum that starts later: the floor adapts to it.
        let hum: Vec<i16> = (0..RATE * 3)
            .map(|i| {
                (4000.0 * (i as f32 * 50.0 * std::f32::consts::TAU / RATE as f32).sin()) as i16
            })
            .collect();
        audio.extend(hum);
        let mut ep = Endpointer::new(EndpointerConfig {
            no_input_ms: 60_000,
            ..EndpointerConfig::default()
        });
        let events = run(&mut ep, &audio);
        assert!(utterances(&events).is_empty(), "{events:?}");
        // The floor has risen from the noise (-27 dBFS) to the hum (-21).
        let floor = ep.noise_floor_db().unwrap_or(-100.0);
        assert!((-23.0..=-20.0).contains(&floor), "floor {floor}");
    }

    #[test]
    fn a_click_is_dropped_and_short_bursts_are_too_short() {
        let mut seed = 3;
        let mut audio = noise(500, 200.0, &mut seed);
        audio.extend(std::iter::repeat_n(20_000i16, 80)); // a 10 ms click
        audio.extend(noise(500, 200.0, &mut seed));
        audio.extend(speechlike(100, 8000.0, &mut seed)); // 100 ms burst
        audio.extend(noise(1500, 200.0, &mut seed));
        let mut ep = Endpointer::new(EndpointerConfig::default());
        let events = run(&mut ep, &audio);
        assert!(utterances(&events).is_empty(), "{events:?}");
    }

    #[test]
    fn long_speech_is_cut_at_the_maximum_length() {
        let mut seed = 5;
        let mut audio = noise(500, 200.0, &mut seed);
        audio.extend(speechlike(5000, 8000.0, &mut seed));
        let mut ep = Endpointer::new(EndpointerConfig {
            max_utterance_ms: 2000,
            ..EndpointerConfig::default()
        });
        let u = utterances(&run(&mut ep, &audio));
        assert!(!u.is_empty());
        assert_eq!(u[0].1, EndReason::MaxLength);
        assert!(u[0].0 as u32 * 1000 / RATE <= 2020);
    }

    #[test]
    fn silence_gives_no_input_once() {
        let mut seed = 9;
        let audio = noise(8000, 200.0, &mut seed);
        let mut ep = Endpointer::new(EndpointerConfig {
            no_input_ms: 3000,
            ..EndpointerConfig::default()
        });
        let events = run(&mut ep, &audio);
        assert_eq!(events, vec![EndpointEvent::NoInput]);
        ep.reset();
        let events = run(&mut ep, &noise(3100, 200.0, &mut seed));
        assert_eq!(events, vec![EndpointEvent::NoInput]);
    }

    #[test]
    fn digital_silence_then_speech() {
        let mut seed = 1;
        let mut audio = vec![0i16; 8000];
        audio.extend(speechlike(1000, 6000.0, &mut seed));
        audio.extend(vec![0i16; 8000]);
        let mut ep = Endpointer::new(EndpointerConfig::default());
        assert_eq!(utterances(&run(&mut ep, &audio)).len(), 1);
    }
}

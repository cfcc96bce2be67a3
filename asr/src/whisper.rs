//! The local recogniser: whisper.cpp (through whisper-rs) on a bounded pool
//! of dedicated threads.
//!
//! # Admission
//!
//! The pool has N slots; each is a named OS thread that owns one whisper
//! state (the model weights are loaded once and shared). A request first
//! takes a slot permit, waiting at most `admission_wait`; when none frees
//! up in time the answer is [`AsrError::Overloaded`] (the flow then falls
//! back to a DTMF menu or a handover) rather than a queue that grows while
//! callers wait. Holding a permit guarantees room in the job channel, whose
//! capacity is the slot count. Inference never runs on an async runtime
//! worker: the async API only awaits a oneshot reply.
//!
//! # Decoding
//!
//! Language fixed to Danish, a staff-editable domain prompt, no timestamps,
//! one segment. Short utterances get an encoder audio context cut to their
//! length (Whisper's encoder otherwise always processes 30 s). Repetition
//! loops are guarded by a token cap, whisper.cpp's temperature fallback
//! (entropy and log-probability thresholds) and its no-speech threshold,
//! and any word run repeated more than three times is cut afterwards.

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use crate::{AsrError, AudioClip, Backend, Transcript, SAMPLE_RATE};

/// Settings of the local recogniser.
#[derive(Debug, Clone, PartialEq)]
pub struct WhisperConfig {
    /// A GGML Whisper model file (any size; multilingual).
    pub model: PathBuf,
    /// Utterances recognised at the same time (each holds a whisper state).
    pub slots: usize,
    /// CPU threads per slot. Keep `slots × threads_per_slot` at or below
    /// the cores given to the router: whisper.cpp synchronises its threads
    /// after every operation, so on an oversubscribed CPU two threads are
    /// many times slower than one (measured on the shared 2-core dev box).
    pub threads_per_slot: usize,
    /// How long a request waits for a free slot before `Overloaded`.
    pub admission_wait: Duration,
    /// Domain vocabulary given to the decoder as its prompt.
    pub prompt: String,
    /// Cut the encoder's audio context to the utterance's length.
    pub cut_audio_context: bool,
    /// Longest utterance accepted.
    pub max_utterance_ms: u64,
    /// Most tokens decoded for one utterance.
    pub max_tokens: u32,
    /// Above this no-speech probability whisper.cpp drops a segment.
    pub no_speech_threshold: f32,
    /// Temperature added on each fallback retry when the decoded text looks
    /// unreliable (entropy or log-probability thresholds); 0 turns the
    /// fallback off. Each retry decodes again, so on hard audio it can
    /// multiply the recognition time.
    pub temperature_step: f32,
}

impl WhisperConfig {
    /// Defaults for telephone utterances with the given model.
    pub fn new(model: impl Into<PathBuf>) -> Self {
        WhisperConfig {
            model: model.into(),
            slots: 1,
            threads_per_slot: 2,
            admission_wait: Duration::from_millis(500),
            prompt: String::new(),
            cut_audio_context: true,
            max_utterance_ms: 30_000,
            max_tokens: 96,
            no_speech_threshold: 0.6,
            temperature_step: 0.2,
        }
    }
}

struct Job {
    audio: Vec<f32>,
    audio_ms: u64,
    _permit: OwnedSemaphorePermit,
    reply: oneshot::Sender<Result<Transcript, AsrError>>,
}

/// Whisper on a bounded pool of threads. Cheap to clone; the threads stop
/// when the last clone is dropped.
#[derive(Clone)]
pub struct LocalRecognizer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalRecognizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRecognizer")
            .field("slots", &self.inner.config.slots)
            .field("load_time", &self.inner.load_time)
            .finish()
    }
}

struct Inner {
    jobs: SyncSender<Job>,
    permits: Arc<Semaphore>,
    config: WhisperConfig,
    load_time: Duration,
}

impl LocalRecognizer {
    /// Loads the model once, starts the slot threads and warms each up.
    /// Blocking: call it before serving, not on a runtime worker.
    pub fn start(config: WhisperConfig) -> Result<Self, AsrError> {
        let started = Instant::now();
        if config.slots == 0 || config.threads_per_slot == 0 {
            return Err(AsrError::Config {
                reason: "slots and threads per slot must be at least 1".into(),
            });
        }
        if !config.model.is_file() {
            return Err(AsrError::Model {
                reason: format!(
                    "{} does not exist (scripts/fetch-whisper makes models/ggml-base-q8_0.bin and models/ggml-base.bin)",
                    config.model.display()
                ),
            });
        }
        // Without a logging backend feature this silences whisper.cpp's
        // console output.
        whisper_rs::install_logging_hooks();
        let model = config.model.display().to_string();
        let ctx = WhisperContext::new_with_params(&model, WhisperContextParameters::default())
            .map_err(|e| AsrError::Model {
                reason: format!("{model}: {e}"),
            })?;
        let (jobs, receiver) = sync_channel::<Job>(config.slots);
        let receiver = Arc::new(Mutex::new(receiver));
        let mut ready = Vec::new();
        for slot in 0..config.slots {
            let state = ctx.create_state().map_err(|e| AsrError::Model {
                reason: format!("cannot create a whisper state: {e}"),
            })?;
            let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
            let receiver = Arc::clone(&receiver);
            let slot_config = config.clone();
            std::thread::Builder::new()
                .name(format!("whisper-slot-{slot}"))
                .spawn(move || worker(state, slot_config, receiver, ready_tx))
                .map_err(|e| AsrError::Model {
                    reason: format!("cannot start a recognition thread: {e}"),
                })?;
            ready.push(ready_rx);
        }
        for r in ready {
            r.recv().map_err(|_| AsrError::Model {
                reason: "a recognition thread stopped during warm-up".into(),
            })??;
        }
        Ok(LocalRecognizer {
            inner: Arc::new(Inner {
                jobs,
                permits: Arc::new(Semaphore::new(config.slots)),
                config,
                load_time: started.elapsed(),
            }),
        })
    }

    /// Time spent loading the model and warming up every slot.
    pub fn load_time(&self) -> Duration {
        self.inner.load_time
    }

    pub fn config(&self) -> &WhisperConfig {
        &self.inner.config
    }

    fn check(&self, clip: &AudioClip) -> Result<(), AsrError> {
        let limit_ms = self.inner.config.max_utterance_ms;
        let ms = clip.duration_ms();
        if ms > limit_ms {
            return Err(AsrError::TooLong { ms, limit_ms });
        }
        Ok(())
    }

    fn submit(
        &self,
        clip: &AudioClip,
        permit: OwnedSemaphorePermit,
    ) -> Result<oneshot::Receiver<Result<Transcript, AsrError>>, AsrError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            audio: clip.to_f32(),
            audio_ms: clip.duration_ms(),
            _permit: permit,
            reply,
        };
        // The permit guarantees room; a full channel would be a bug, and
        // answering Overloaded is the safe reading of it.
        self.inner
            .jobs
            .try_send(job)
            .map_err(|_| AsrError::Overloaded)?;
        Ok(rx)
    }

    /// Recognises one utterance; waits at most `admission_wait` for a slot.
    pub async fn transcribe(&self, clip: &AudioClip) -> Result<Transcript, AsrError> {
        self.check(clip)?;
        let permits = Arc::clone(&self.inner.permits);
        let permit =
            tokio::time::timeout(self.inner.config.admission_wait, permits.acquire_owned())
                .await
                .map_err(|_| AsrError::Overloaded)?
                .map_err(|_| AsrError::Stopped)?;
        let rx = self.submit(clip, permit)?;
        rx.await.map_err(|_| AsrError::Stopped)?
    }

    /// The same for threads outside an async runtime (the CLI, benchmarks).
    pub fn transcribe_blocking(&self, clip: &AudioClip) -> Result<Transcript, AsrError> {
        self.check(clip)?;
        // tokio's semaphore has no blocking acquire with a deadline; a
        // short poll keeps one admission rule for both APIs.
        let deadline = Instant::now() + self.inner.config.admission_wait;
        let permit = loop {
            match Arc::clone(&self.inner.permits).try_acquire_owned() {
                Ok(p) => break p,
                Err(tokio::sync::TryAcquireError::Closed) => return Err(AsrError::Stopped),
                Err(tokio::sync::TryAcquireError::NoPermits) if Instant::now() >= deadline => {
                    return Err(AsrError::Overloaded)
                }
                Err(tokio::sync::TryAcquireError::NoPermits) => {
                    std::thread::sleep(Duration::from_millis(2))
                }
            }
        };
        let rx = self.submit(clip, permit)?;
        rx.blocking_recv().map_err(|_| AsrError::Stopped)?
    }
}

fn worker(
    mut state: WhisperState,
    config: WhisperConfig,
    jobs: Arc<Mutex<Receiver<Job>>>,
    ready: SyncSender<Result<(), AsrError>>,
) {
    // Warm-up: one second of quiet noise through the whole pipeline, so the
    // first caller does not pay for first-use allocations.
    let warm: Vec<f32> = (0..SAMPLE_RATE)
        .map(|i| ((i * 7919 % 200) as f32 - 100.0) / 100_000.0)
        .collect();
    let warmed = run(&mut state, &config, &warm).map(|_| ());
    let failed = warmed.is_err();
    let _ = ready.send(warmed);
    if failed {
        return;
    }
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return, // the recogniser was dropped
            }
        };
        let started = Instant::now();
        let result = run(&mut state, &config, &job.audio).map(|text| Transcript {
            text,
            audio_ms: job.audio_ms,
            elapsed: started.elapsed(),
            backend: Backend::Local,
        });
        let _ = job.reply.send(result);
    }
}

/// The encoder context for `samples` of audio: 50 positions per second,
/// plus a margin, within the model's 1500.
fn audio_context(samples: usize) -> i32 {
    let positions = samples.div_ceil(SAMPLE_RATE as usize / 50);
    (positions + 64).min(1500) as i32
}

/// The token cap for `samples` of audio: 16 plus 8 a second (Danish phone
/// speech is rarely above 6 tokens a second), within `max`. A decoder caught
/// in a loop on a short utterance stops early instead of running on to the
/// global cap, which would cost the caller seconds.
fn token_cap(max: u32, samples: usize) -> i32 {
    let seconds = samples.div_ceil(SAMPLE_RATE as usize) as u32;
    i32::try_from(seconds.saturating_mul(8).saturating_add(16).min(max)).unwrap_or(i32::MAX)
}

fn run(
    state: &mut WhisperState,
    config: &WhisperConfig,
    audio: &[f32],
) -> Result<String, AsrError> {
    // whisper.cpp wants at least a second; pad short clips with silence.
    let audio: std::borrow::Cow<'_, [f32]> = if audio.len() < SAMPLE_RATE as usize {
        let mut padded = audio.to_vec();
        padded.resize(SAMPLE_RATE as usize, 0.0);
        padded.into()
    } else {
        audio.into()
    };
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 2 });
    params.set_language(Some("da"));
    params.set_n_threads(config.threads_per_slot as i32);
    params.set_no_context(true);
    params.set_no_timestamps(true);
    params.set_single_segment(true);
    params.set_print_special(false);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_timestamps(false);
    params.set_suppress_blank(true);
    params.set_suppress_nst(true);
    params.set_max_tokens(token_cap(config.max_tokens, audio.len()));
    params.set_temperature(0.0);
    params.set_temperature_inc(config.temperature_step.max(0.0));
    params.set_entropy_thold(2.4);
    params.set_logprob_thold(-1.0);
    params.set_no_speech_thold(config.no_speech_threshold);
    if !config.prompt.trim().is_empty() {
        params.set_initial_prompt(config.prompt.trim());
    }
    if config.cut_audio_context {
        params.set_audio_ctx(audio_context(audio.len()));
    }
    state
        .full(params, &audio)
        .map_err(|e| AsrError::Inference {
            reason: e.to_string(),
        })?;
    let mut text = String::new();
    for i in 0..state.full_n_segments() {
        if let Some(segment) = state.get_segment(i) {
            if let Ok(s) = segment.to_str_lossy() {
                text.push_str(&s);
            }
        }
    }
    Ok(cut_repeats(text.trim()))
}

/// Cuts a word sequence (1 to 4 words) repeated more than three times in a
/// row down to one occurrence: the shape of a decoder caught in a loop.
pub(crate) fn cut_repeats(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    'outer: while i < words.len() {
        for n in 1..=4 {
            let unit = &words[i..(i + n).min(words.len())];
            if unit.len() < n {
                break;
            }
            let mut reps = 1;
            while words.len() >= i + (reps + 1) * n
                && words[i + reps * n..i + (reps + 1) * n] == *unit
            {
                reps += 1;
            }
            if reps > 3 {
                out.extend_from_slice(unit);
                i += reps * n;
                continue 'outer;
            }
        }
        out.push(words[i]);
        i += 1;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_are_cut_and_ordinary_repeats_kept() {
        assert_eq!(cut_repeats("ja ja tak"), "ja ja tak");
        assert_eq!(cut_repeats("pas pas pas pas pas pas"), "pas");
        assert_eq!(
            cut_repeats("jeg vil jeg vil jeg vil jeg vil have et pas"),
            "jeg vil have et pas"
        );
    }

    #[test]
    fn token_cap_follows_length() {
        assert_eq!(token_cap(96, 16_000 * 3), 40);
        assert_eq!(token_cap(96, 16_000 * 20), 96);
        assert_eq!(token_cap(96, 100), 24);
    }

    #[test]
    fn audio_context_follows_length() {
        assert_eq!(audio_context(16_000 * 3), 150 + 64);
        assert_eq!(audio_context(16_000 * 30), 1500);
    }
}

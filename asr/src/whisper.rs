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
//! length (Whisper's encoder otherwise always processes 30 s).
//!
//! The decoding policy guards against repetition loops, and only against
//! them. Each utterance is decoded once, greedily at temperature 0, within
//! a token cap that follows its length. whisper.cpp's own temperature
//! fallback is off: it retries when the result *looks like a loop* (the
//! entropy of the last 32 tokens below 2.4) but also whenever the average
//! log-probability is below -1, that is whenever the model is merely
//! unsure, and each retry decodes again with two sampled decoders, up to
//! five times. Synthetic and telephone speech is often "unsure", and those
//! retries rarely changed the words while they cost a third of the answer
//! time. An unsure transcript is the matcher's and the dialogue's concern
//! (confidence, "Handler det om …?", the key menu), not the decoder's.
//!
//! So the loop check is ours ([`looks_like_loop`]): the decoder ran into
//! the token cap without reaching end-of-text (8 tokens a second is more
//! than Danish speech holds), or, like whisper.cpp's check, more than 32
//! tokens with an entropy below 2.4. Only then is the utterance decoded
//! again, at temperature `temperature_step`, `2 × temperature_step`, …
//! with two sampled decoders, at most `max_fallback_rounds` times; the
//! first result that is not a loop wins, else the last. The log-probability
//! threshold stays at -1 because whisper.cpp also uses it for the
//! no-speech decision (a segment is dropped when its no-speech probability
//! is above the threshold *and* its average log-probability below -1).
//! Finally any word run repeated more than three times is cut.

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
    WhisperTokenId,
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
    /// Temperature added on each fallback round, run only when the decoded
    /// text looks like a repetition loop (see the module documentation); 0
    /// turns the fallback off.
    pub temperature_step: f32,
    /// Most fallback rounds after the first decoding; each decodes the
    /// utterance again, so this bounds the cost of a looping decoder.
    pub max_fallback_rounds: u32,
    /// Also decode again when the model is merely unsure (average
    /// log-probability below -1 while the audio is speech), as whisper.cpp's
    /// own fallback does. Off by default: it costs time on most telephone
    /// utterances and is no guard against loops; a municipality that values
    /// a few more words right over answer time can turn it on.
    pub retry_unsure: bool,
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
            max_fallback_rounds: 2,
            retry_unsure: false,
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
            let eot = ctx.token_eot();
            std::thread::Builder::new()
                .name(format!("whisper-slot-{slot}"))
                .spawn(move || worker(state, slot_config, eot, receiver, ready_tx))
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
    eot: WhisperTokenId,
    jobs: Arc<Mutex<Receiver<Job>>>,
    ready: SyncSender<Result<(), AsrError>>,
) {
    // Warm-up: one second of quiet noise through the whole pipeline, so the
    // first caller does not pay for first-use allocations.
    let warm: Vec<f32> = (0..SAMPLE_RATE)
        .map(|i| ((i * 7919 % 200) as f32 - 100.0) / 100_000.0)
        .collect();
    let warmed = run(&mut state, &config, eot, &warm).map(|_| ());
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
        let result = run(&mut state, &config, eot, &job.audio).map(|(text, decodes)| Transcript {
            text,
            audio_ms: job.audio_ms,
            elapsed: started.elapsed(),
            backend: Backend::Local,
            decodes,
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

/// One decoding's outcome.
struct Decoded {
    text: String,
    /// Text tokens (ids below end-of-text), in order.
    tokens: Vec<WhisperTokenId>,
    /// Whether the decoder reached end-of-text (rather than the token cap).
    /// A segment dropped as no speech counts as ended.
    ended: bool,
    /// Mean log-probability of the decoded tokens (end-of-text included,
    /// as whisper.cpp counts it); 0 when nothing was decoded.
    avg_logprob: f32,
    /// The model's probability that the audio holds no speech.
    no_speech: f32,
}

impl Decoded {
    /// Whether to decode again: a loop always, an unsure result only when
    /// asked to (whisper.cpp's log-probability rule, thresholds as there).
    fn needs_retry(&self, config: &WhisperConfig) -> bool {
        looks_like_loop(&self.tokens, self.ended)
            || (config.retry_unsure
                && self.avg_logprob < -1.0
                && self.no_speech < config.no_speech_threshold)
    }
}

/// The temperatures of the fallback rounds: `step`, `2 × step`, … at most
/// `rounds` of them and none above 1 (whisper.cpp's range); empty when the
/// step is 0.
fn fallback_temperatures(step: f32, rounds: u32) -> Vec<f32> {
    if step <= 0.0 || !step.is_finite() {
        return Vec::new();
    }
    (1..=rounds)
        .map(|k| k as f32 * step)
        .take_while(|t| *t <= 1.0 + 1e-6)
        .collect()
}

/// The shape of a decoder caught in a repetition loop: it ran into the
/// token cap without reaching end-of-text, or, as whisper.cpp judges it,
/// more than 32 tokens whose last 32 have an entropy below 2.4 (a few
/// tokens over and over). A merely unsure transcript is not a loop.
fn looks_like_loop(tokens: &[WhisperTokenId], ended: bool) -> bool {
    const WINDOW: usize = 32;
    const ENTROPY_THRESHOLD: f64 = 2.4;
    if !ended && !tokens.is_empty() {
        return true;
    }
    if tokens.len() <= WINDOW {
        return false;
    }
    let last = &tokens[tokens.len() - WINDOW..];
    let mut counts = std::collections::HashMap::new();
    for t in last {
        *counts.entry(*t).or_insert(0usize) += 1;
    }
    let entropy: f64 = counts
        .values()
        .map(|&c| {
            let p = c as f64 / WINDOW as f64;
            -p * p.ln()
        })
        .sum();
    entropy < ENTROPY_THRESHOLD
}

/// Recognises `audio`: one greedy decoding, and fallback rounds only while
/// the result looks like a loop. Returns the text and the decodings run.
fn run(
    state: &mut WhisperState,
    config: &WhisperConfig,
    eot: WhisperTokenId,
    audio: &[f32],
) -> Result<(String, u32), AsrError> {
    // whisper.cpp wants at least a second; pad short clips with silence.
    let audio: std::borrow::Cow<'_, [f32]> = if audio.len() < SAMPLE_RATE as usize {
        let mut padded = audio.to_vec();
        padded.resize(SAMPLE_RATE as usize, 0.0);
        padded.into()
    } else {
        audio.into()
    };
    let mut decoded = decode(state, config, eot, &audio, 0.0)?;
    let mut decodes = 1;
    for t in fallback_temperatures(config.temperature_step, config.max_fallback_rounds) {
        if !decoded.needs_retry(config) {
            break;
        }
        decoded = decode(state, config, eot, &audio, t)?;
        decodes += 1;
    }
    Ok((cut_repeats(decoded.text.trim()), decodes))
}

/// One decoding at `temperature` (greedy at 0, else the better of two
/// sampled decoders), with whisper.cpp's own fallback off.
fn decode(
    state: &mut WhisperState,
    config: &WhisperConfig,
    eot: WhisperTokenId,
    audio: &[f32],
    temperature: f32,
) -> Result<Decoded, AsrError> {
    // At temperature 0 whisper.cpp runs one greedy decoder whatever
    // best_of says; above it, best_of sampled decoders (batched together).
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
    params.set_temperature(temperature);
    // One temperature: whisper.cpp's fallback (which also retries merely
    // unsure results) never runs; ours in `run` retries loops only.
    params.set_temperature_inc(0.0);
    // Still used by whisper.cpp's no-speech decision (see the module
    // documentation); with one temperature they trigger no retry.
    params.set_entropy_thold(2.4);
    params.set_logprob_thold(-1.0);
    params.set_no_speech_thold(config.no_speech_threshold);
    if !config.prompt.trim().is_empty() {
        params.set_initial_prompt(config.prompt.trim());
    }
    if config.cut_audio_context {
        params.set_audio_ctx(audio_context(audio.len()));
    }
    state.full(params, audio).map_err(|e| AsrError::Inference {
        reason: e.to_string(),
    })?;
    let mut decoded = Decoded {
        text: String::new(),
        tokens: Vec::new(),
        ended: true,
        avg_logprob: 0.0,
        no_speech: 0.0,
    };
    let (mut logprob_sum, mut counted) = (0.0f32, 0u32);
    for i in 0..state.full_n_segments() {
        if let Some(segment) = state.get_segment(i) {
            if let Ok(s) = segment.to_str_lossy() {
                decoded.text.push_str(&s);
            }
            let mut ended = false;
            decoded.no_speech = segment.no_speech_probability();
            for j in 0..segment.n_tokens() {
                if let Some(token) = segment.get_token(j) {
                    let id = token.token_id();
                    logprob_sum += token.token_data().plog;
                    counted += 1;
                    if id == eot {
                        ended = true;
                    } else if id < eot {
                        decoded.tokens.push(id);
                    }
                }
            }
            decoded.ended = ended;
        }
    }
    if counted > 0 {
        decoded.avg_logprob = logprob_sum / counted as f32;
    }
    Ok(decoded)
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
    fn fallback_runs_at_rising_temperatures_within_the_round_cap() {
        assert_eq!(fallback_temperatures(0.2, 2), vec![0.2, 0.4]);
        assert_eq!(fallback_temperatures(0.0, 2), Vec::<f32>::new());
        assert_eq!(fallback_temperatures(0.2, 0), Vec::<f32>::new());
        // Never above whisper.cpp's highest temperature, 1.
        assert_eq!(fallback_temperatures(0.5, 5), vec![0.5, 1.0]);
        let defaults = WhisperConfig::new("m.bin");
        assert_eq!(
            fallback_temperatures(defaults.temperature_step, defaults.max_fallback_rounds).len(),
            2
        );
    }

    #[test]
    fn only_a_loop_is_decoded_again() {
        // An ordinary sentence that reached end-of-text: no retry, however
        // unsure the model was of its words.
        let sentence: Vec<i32> = (100..112).collect();
        assert!(!looks_like_loop(&sentence, true));
        // The token cap reached without end-of-text.
        assert!(looks_like_loop(&sentence, false));
        // Nothing decoded (no speech) is not a loop.
        assert!(!looks_like_loop(&[], false));
        // 40 tokens of a two-token phrase over and over: low entropy even
        // when the decoder stopped by itself.
        let looping: Vec<i32> = (0..40).map(|i| 500 + i % 2).collect();
        assert!(looks_like_loop(&looping, true));
        // 40 varied tokens are fine.
        let varied: Vec<i32> = (0..40).collect();
        assert!(!looks_like_loop(&varied, true));
    }

    #[test]
    fn audio_context_follows_length() {
        assert_eq!(audio_context(16_000 * 3), 150 + 64);
        assert_eq!(audio_context(16_000 * 30), 1500);
    }
}

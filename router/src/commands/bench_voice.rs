//! `vejviser bench voice`: time from the caller's last word (or key
//! press) to the first RTP packet of the bot's answer, at 1 and at 10
//! concurrent calls, with the recogniser's real-time factor, its queueing
//! and memory per call.
//!
//! The server runs in this process on loopback ports, configured as
//! `vejviser sip` configures it (knowledge base with the semantic channel,
//! the flow, espeak-ng prompts cached per text, the Whisper pool). Each
//! simulated caller is a small SIP/RTP client written here: INVITE, ACK,
//! wait for the greeting to end, then either
//!
//! - **dtmf**: press 2 (RFC 4733) for the waste-collection answer, or
//! - **speech**: say a ~3-second Danish question from a labelled file
//!   (`bench/voice-questions.jsonl`), synthesised by `espeak-ng -v da`,
//!   resampled to 8 kHz and sent as PCMU in 20 ms packets at real-time
//!   pace, then digital silence until the answer comes,
//!
//! and BYE. Speech latency runs from the send time of the last packet with
//! speech in it, so it includes the endpointer's end-of-speech silence
//! (the flow's `end_of_speech_ms`), recognition, matching, the answer's
//! synthesis (not cached: each question's answer is synthesised when it is
//! first said) and the wait for the next 20 ms tick.
//!
//! Which answer came is told from its audio: the bench renders what the
//! dialogue says for the question's exact text and for a fallback (no
//! input) with its own synthesiser (espeak-ng is deterministic) and
//! compares the first second of G.711 bytes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use jiff::Timestamp;
use knowledge::Channel;
use router::dialogue::{Action, Dialogue, Event, Say};
use router::media::recognise::Recognition;
use router::media::rtp::{self, Packet, TelephoneEvent};
use router::media::{Law, NoRecogniser, Recognise, RecogniseError};
use router::sip::message::{Message, Start};
use router::sip::{Clock, Server, SipSettings};
use router::tts::{self, Speech, SpeechConfig};
use router::Config;
use tokio::net::UdpSocket;
use transcripts::RawUtterance;

use super::transcribe::AsrOptions;
use crate::paths::Project;

/// A weekday morning, so the answers are not out-of-hours ones.
const BENCH_TIME: &str = "2026-11-24T10:00:00+01:00";
/// Samples per 20 ms packet at 8 kHz.
const FRAME: usize = 160;
/// The bot's silence that tells the caller a prompt has ended.
const PROMPT_GAP: Duration = Duration::from_millis(300);
/// Reply audio compared with the expected answer (one second).
const COMPARED_BYTES: usize = 50 * FRAME;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Key press only (no speech model needed).
    Dtmf,
    /// Spoken questions only.
    Speech,
    /// Both, key press first.
    Both,
}

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct BenchVoiceArgs {
    /// Key-press calls timed per concurrency level.
    #[arg(long, default_value_t = 20)]
    calls: usize,
    /// Spoken-question calls timed per concurrency level.
    #[arg(long, default_value_t = 10)]
    speech_calls: usize,
    /// What the simulated callers do.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    mode: Mode,
    /// Labelled questions the callers say (JSON lines with `text` and
    /// `topic`; default bench/voice-questions.jsonl in the project).
    #[arg(long)]
    questions: Option<PathBuf>,
    /// Utterances recognised at once (Whisper states).
    #[arg(long, default_value_t = 1)]
    slots: usize,
    #[command(flatten)]
    asr: AsrOptions,
}

pub(crate) fn run(project: &Project, args: &BenchVoiceArgs) -> anyhow::Result<ExitCode> {
    let config = project.dialogue_config()?;
    let speech_config =
        SpeechConfig::danish(tts::recordings_dir(&project.root, &project.municipality));
    let (speech, _) = Speech::load(speech_config.clone(), &config.flow.recordings)?;
    let speech = Arc::new(speech);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if matches!(args.mode, Mode::Dtmf | Mode::Both) {
        runtime.block_on(dtmf(Arc::clone(&config), Arc::clone(&speech), args.calls))?;
    }
    if matches!(args.mode, Mode::Speech | Mode::Both) {
        let questions = args
            .questions
            .clone()
            .unwrap_or_else(|| project.root.join("bench/voice-questions.jsonl"));
        let questions = crate::labelled::read_labelled(&questions)?;
        if questions.is_empty() {
            bail!("no questions to say");
        }
        let mut whisper = args.asr.whisper_config(project)?;
        whisper.slots = args.slots;
        println!(
            "\nvoice benchmark, speech: espeak-ng -v da questions as 8 kHz PCMU → {} ({} slot(s) × {} thread(s), audio context cut: {}, decoded again on loops{}: temperature step {}, at most {} rounds), end of speech after {} ms of silence",
            whisper.model.display(),
            whisper.slots,
            whisper.threads_per_slot,
            whisper.cut_audio_context,
            if whisper.retry_unsure { " and unsure results" } else { "" },
            whisper.temperature_step,
            whisper.max_fallback_rounds,
            config.flow.end_of_speech.as_millis()
        );
        let local = asr::LocalRecognizer::start(whisper)?;
        println!(
            "recogniser loaded and warmed up in {:.1} s",
            local.load_time().as_secs_f64()
        );
        let recogniser = Arc::new(asr::Recognizer::new(None, Some(local))?);
        // The references come from a synthesiser of their own, so the
        // server's cache stays cold for each question's first answer.
        let (reference, _) = Speech::load(speech_config, &config.flow.recordings)?;
        let lines: Vec<(String, String)> =
            questions.into_iter().map(|q| (q.text, q.topic)).collect();
        runtime.block_on(spoken(
            config,
            speech,
            reference,
            recogniser,
            lines,
            args.speech_calls,
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q` quantile of sorted durations (nearest rank).
fn pick(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Resident memory of this process, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Starts a SIP server on a loopback port; returns its address.
async fn start_server(
    config: Arc<Config>,
    speech: Arc<Speech>,
    recogniser: Arc<dyn Recognise>,
) -> anyhow::Result<SocketAddr> {
    let settings = SipSettings {
        udp: Some("127.0.0.1:0".parse()?),
        tcp: None,
        advertise: "127.0.0.1".parse()?,
        max_calls: 100,
        tls: None,
    };
    let clock = Clock::starting_at(BENCH_TIME.parse()?);
    let server = Server::bind(config, speech, recogniser, settings, clock).await?;
    let bot = server.udp_addr().context("no udp address")?;
    tokio::spawn(server.run());
    Ok(bot)
}

// ---------------------------------------------------------------- DTMF

async fn dtmf(config: Arc<Config>, speech: Arc<Speech>, calls: usize) -> anyhow::Result<()> {
    let bot = start_server(config, speech, Arc::new(NoRecogniser)).await?;
    println!("voice benchmark, key press: RFC 4733 key to first RTP packet of the answer, loopback, espeak-ng prompts");
    let first = key_call(bot, 0).await?;
    println!(
        "first call (answer synthesised): {:.0} ms",
        ms(first.latency)
    );
    let base_rss = rss_kib();
    for concurrency in [1usize, 10] {
        let mut latencies = Vec::new();
        let mut peak_rss = 0;
        let rounds = calls.div_ceil(concurrency).max(1);
        for round in 0..rounds {
            let mut set = tokio::task::JoinSet::new();
            for i in 0..concurrency {
                set.spawn(key_call(bot, (round * concurrency + i + 1) as u32));
            }
            while let Some(r) = set.join_next().await {
                let r = r??;
                latencies.push(r.latency);
                peak_rss = peak_rss.max(r.rss_kib);
            }
        }
        latencies.sort();
        println!(
            "{concurrency:>2} concurrent: {} calls, median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            latencies.len(),
            ms(pick(&latencies, 0.5)),
            ms(pick(&latencies, 0.95)),
            ms(pick(&latencies, 1.0))
        );
        if concurrency > 1 {
            let per_call = peak_rss.saturating_sub(base_rss) as f64 / concurrency as f64;
            println!(
                "memory: {base_rss} KiB resident between calls, {peak_rss} KiB at {concurrency} calls: about {per_call:.0} KiB per call"
            );
        }
    }
    Ok(())
}

struct KeyResult {
    latency: Duration,
    rss_kib: u64,
}

async fn key_call(bot: SocketAddr, n: u32) -> anyhow::Result<KeyResult> {
    let call = Dialog::dial(bot, n).await?;
    let bot_media = call.greeting_started().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Press 2: a start packet, then the end packet three times.
    let mut out = Vec::new();
    let ssrc = 0x1234_0000 | n;
    let ts = 8000;
    for (i, (end, duration)) in [
        (false, 160u16),
        (false, 320),
        (true, 640),
        (true, 640),
        (true, 640),
    ]
    .into_iter()
    .enumerate()
    {
        let payload = TelephoneEvent::encode('2', end, duration).context("a key")?;
        rtp::write(&mut out, 101, i == 0, i as u16, ts, ssrc, &payload);
        call.media.send_to(&out, bot_media).await?;
    }
    let pressed = Instant::now();
    let mut buf = vec![0u8; 2048];
    let latency = loop {
        let (len, _) =
            tokio::time::timeout(Duration::from_secs(15), call.media.recv_from(&mut buf))
                .await
                .context("no answer audio")??;
        if let Ok(p) = Packet::parse(&buf[..len]) {
            if p.marker {
                break pressed.elapsed();
            }
        }
    };
    let rss_kib = rss_kib();
    call.hang_up().await?;
    Ok(KeyResult { latency, rss_kib })
}

// -------------------------------------------------------------- speech

/// One recognition as the server asked for it.
struct Recognised {
    audio_ms: u64,
    /// Inference time (from taking a slot to the text).
    inference: Option<Duration>,
    /// From the call's request to the answer, slot wait included.
    total: Duration,
    overloaded: bool,
    /// Decodings the local model ran (more than 1: fallback rounds).
    decodes: u32,
    /// The recognised text (the bench's own synthetic questions).
    text: Option<String>,
}

/// The server's recogniser, with each recognition's timing recorded.
struct Measured {
    inner: Arc<asr::Recognizer>,
    log: Arc<Mutex<Vec<Recognised>>>,
}

impl Recognise for Measured {
    fn recognise(&self, clip: Vec<i16>) -> Recognition {
        let inner = Arc::clone(&self.inner);
        let log = Arc::clone(&self.log);
        Box::pin(async move {
            let asked = Instant::now();
            let audio_ms = clip.len() as u64 * 1000 / u64::from(asr::SAMPLE_RATE);
            let result = inner.transcribe(&asr::AudioClip::new(clip)).await;
            let record = Recognised {
                audio_ms,
                inference: result.as_ref().ok().map(|t| t.elapsed),
                total: asked.elapsed(),
                overloaded: matches!(result, Err(asr::AsrError::Overloaded)),
                decodes: result.as_ref().map(|t| t.decodes).unwrap_or(0),
                text: result.as_ref().ok().map(|t| t.text().to_string()),
            };
            if let Ok(mut l) = log.lock() {
                l.push(record);
            }
            match result {
                Ok(t) => Ok(t.into_text()),
                Err(asr::AsrError::Overloaded) => Err(RecogniseError::Overloaded),
                Err(_) => Err(RecogniseError::Failed),
            }
        })
    }
}

/// A question the callers say, with the replies told apart by audio.
struct Question {
    /// 8 kHz PCMU bytes of the spoken question, leading and trailing
    /// silence trimmed.
    ulaw: Vec<u8>,
    /// The first second of what the dialogue answers to the exact text.
    expected: Vec<u8>,
    topic: String,
}

/// What a caller heard after speaking.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// The answer the exact text gets.
    Expected,
    /// The no-input prompt: the recogniser was full (or failed).
    Fallback,
    /// Something else: the recogniser misheard.
    Other,
}

struct SpeechResult {
    latency: Duration,
    reply: Reply,
    /// The bot spoke before the caller had finished (the utterance was cut).
    early: bool,
    rss_kib: u64,
}

async fn spoken(
    config: Arc<Config>,
    speech: Arc<Speech>,
    reference: Speech,
    recogniser: Arc<asr::Recognizer>,
    lines: Vec<(String, String)>,
    calls: usize,
) -> anyhow::Result<()> {
    let now: Timestamp = BENCH_TIME.parse()?;
    let fallback_say = first_say(&config, now, None).context("no no-input prompt")?;
    let fallback = Arc::new(ulaw_prefix(&reference.render(&fallback_say).await?));
    let mut questions = Vec::new();
    let mut synthesis = Vec::new();
    let mut durations = Vec::new();
    for (text, topic) in &lines {
        let say = first_say(&config, now, Some(text))
            .with_context(|| format!("the dialogue says nothing to a question for {topic}"))?;
        let started = Instant::now();
        let audio = reference.render(&say).await?;
        synthesis.push(started.elapsed());
        let ulaw = spoken_question(text)?;
        durations.push(Duration::from_millis(ulaw.len() as u64 / 8));
        questions.push(Arc::new(Question {
            ulaw,
            expected: ulaw_prefix(&audio),
            topic: topic.clone(),
        }));
    }
    synthesis.sort();
    durations.sort();
    println!(
        "{} questions, spoken {:.1}–{:.1} s (median {:.1} s); their answers take espeak-ng median {:.0} ms, max {:.0} ms to synthesise (cold)",
        questions.len(),
        pick(&durations, 0.0).as_secs_f64(),
        pick(&durations, 1.0).as_secs_f64(),
        pick(&durations, 0.5).as_secs_f64(),
        ms(pick(&synthesis, 0.5)),
        ms(pick(&synthesis, 1.0)),
    );
    let log = Arc::new(Mutex::new(Vec::new()));
    let measured = Measured {
        inner: recogniser,
        log: Arc::clone(&log),
    };
    let bot = start_server(Arc::clone(&config), speech, Arc::new(measured)).await?;
    // One call first, untimed: the greeting is synthesised and cached.
    let warm = Arc::clone(&questions[questions.len() - 1]);
    speech_call(bot, 1000, warm, Arc::clone(&fallback)).await?;
    take(&log);
    let base_rss = rss_kib();
    let mut next = 0usize;
    for concurrency in [1usize, 10] {
        let mut results = Vec::new();
        let rounds = calls.div_ceil(concurrency).max(1);
        let mut topics = Vec::new();
        for round in 0..rounds {
            let mut set = tokio::task::JoinSet::new();
            for i in 0..concurrency {
                let q = Arc::clone(&questions[next % questions.len()]);
                next += 1;
                topics.push(q.topic.clone());
                let n = (concurrency * 100 + round * concurrency + i) as u32;
                set.spawn(speech_call(bot, n, q, Arc::clone(&fallback)));
            }
            while let Some(r) = set.join_next().await {
                results.push(r??);
            }
        }
        let recognised = take(&log);
        report(concurrency, &results, &recognised, base_rss);
        // Calls and recognitions are not paired up (the recogniser sees
        // only audio), so the topics are compared as multisets.
        let mut expected = topics;
        let mut right = 0;
        for text in recognised.iter().filter_map(|r| r.text.as_deref()) {
            let topic = config.matcher.find(text, Channel::Voice)?.topic;
            if let Some(i) = expected.iter().position(|t| *t == topic) {
                expected.swap_remove(i);
                right += 1;
            }
        }
        println!(
            "    the matcher puts {right} of the {} recognised texts on a topic a caller asked about",
            recognised.iter().filter(|r| r.text.is_some()).count()
        );
    }
    Ok(())
}

fn take(log: &Mutex<Vec<Recognised>>) -> Vec<Recognised> {
    log.lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default()
}

fn report(concurrency: usize, results: &[SpeechResult], recognised: &[Recognised], base_rss: u64) {
    let mut latencies: Vec<Duration> = results.iter().map(|r| r.latency).collect();
    latencies.sort();
    let count = |reply: Reply| results.iter().filter(|r| r.reply == reply).count();
    let mut answered: Vec<Duration> = results
        .iter()
        .filter(|r| r.reply != Reply::Fallback)
        .map(|r| r.latency)
        .collect();
    answered.sort();
    println!(
        "{concurrency:>2} concurrent: {} calls, end of speech → first answer packet median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        results.len(),
        ms(pick(&latencies, 0.5)),
        ms(pick(&latencies, 0.95)),
        ms(pick(&latencies, 1.0)),
    );
    println!(
        "    replies: {} the expected topic's answer, {} another answer (misheard), {} the fallback prompt; {} cut before the caller finished; recognised calls only: median {:.0} ms, p95 {:.0} ms",
        count(Reply::Expected),
        count(Reply::Other),
        count(Reply::Fallback),
        results.iter().filter(|r| r.early).count(),
        ms(pick(&answered, 0.5)),
        ms(pick(&answered, 0.95)),
    );
    let mut rtf: Vec<f64> = recognised
        .iter()
        .filter_map(|r| Some(r.inference?.as_secs_f64() / (r.audio_ms.max(1) as f64 / 1000.0)))
        .collect();
    rtf.sort_by(f64::total_cmp);
    let mut inference: Vec<Duration> = recognised.iter().filter_map(|r| r.inference).collect();
    inference.sort();
    let mut waits: Vec<Duration> = recognised
        .iter()
        .filter_map(|r| Some(r.total.saturating_sub(r.inference?)))
        .collect();
    waits.sort();
    let mut audio: Vec<u64> = recognised.iter().map(|r| r.audio_ms).collect();
    audio.sort();
    println!(
        "    recogniser: {} utterances (median {:.2} s of audio), inference median {:.0} ms, max {:.0} ms, real-time factor median {:.2}, max {:.2}; slot wait median {:.0} ms, max {:.0} ms; {} refused as overloaded; {} decoded again",
        recognised.len(),
        audio.get(audio.len() / 2).copied().unwrap_or(0) as f64 / 1000.0,
        ms(pick(&inference, 0.5)),
        ms(pick(&inference, 1.0)),
        rtf.get(rtf.len() / 2).copied().unwrap_or(0.0),
        rtf.last().copied().unwrap_or(0.0),
        ms(pick(&waits, 0.5)),
        ms(pick(&waits, 1.0)),
        recognised.iter().filter(|r| r.overloaded).count(),
        recognised.iter().filter(|r| r.decodes > 1).count(),
    );
    let peak = results.iter().map(|r| r.rss_kib).max().unwrap_or(0);
    println!(
        "    memory: {base_rss} KiB resident between calls (model loaded), {peak} KiB at the answer: about {:.0} KiB per call",
        peak.saturating_sub(base_rss) as f64 / concurrency as f64
    );
}

/// The first thing the dialogue says after the greeting to `text`, or to
/// no input when `text` is `None`.
fn first_say(config: &Arc<Config>, now: Timestamp, text: Option<&str>) -> Option<Say> {
    let mut dialogue = Dialogue::new(Arc::clone(config));
    dialogue.step(
        Event::Started {
            channel: Channel::Voice,
        },
        now,
    );
    let turn = match text {
        Some(t) => {
            let raw = RawUtterance::new(t);
            dialogue.step(Event::Utterance(&raw), now)
        }
        None => dialogue.step(Event::NoInput, now),
    };
    turn.actions.into_iter().find_map(|a| match a {
        Action::Say(s) => Some(s),
        _ => None,
    })
}

/// The first second of `audio` as the media task sends it in PCMU.
fn ulaw_prefix(audio: &[i16]) -> Vec<u8> {
    audio
        .iter()
        .take(COMPARED_BYTES)
        .map(|&s| Law::Mu.encode(s))
        .collect()
}

/// `text` spoken by espeak-ng, at 8 kHz in PCMU, without the silence
/// espeak-ng puts before and after it.
fn spoken_question(text: &str) -> anyhow::Result<Vec<u8>> {
    let samples = super::bench_asr::synthesise_8k(text)?;
    let loud = |s: &i16| s.unsigned_abs() > 300;
    let start = samples.iter().position(loud).unwrap_or(0);
    let end = samples.iter().rposition(loud).map_or(0, |e| e + 1);
    Ok(samples
        .get(start..end.max(start))
        .unwrap_or_default()
        .iter()
        .map(|&s| Law::Mu.encode(s))
        .collect())
}

/// Whether `heard` (PCMU) is `reference`: nearly every byte of the part
/// both have is equal, and there is at least 200 ms of it.
fn same_audio(heard: &[u8], reference: &[u8]) -> bool {
    let n = heard.len().min(reference.len());
    if n < 10 * FRAME {
        return false;
    }
    let equal = heard.iter().zip(reference).filter(|(a, b)| a == b).count();
    equal * 10 >= n * 9
}

async fn speech_call(
    bot: SocketAddr,
    n: u32,
    question: Arc<Question>,
    fallback: Arc<Vec<u8>>,
) -> anyhow::Result<SpeechResult> {
    let call = Dialog::dial(bot, n).await?;
    let bot_media = call.greeting_started().await?;
    call.until_quiet().await?;
    // 200 ms of line silence, the question, then silence until the answer.
    let silence = Law::Mu.encode(0);
    let lead = 10 * FRAME;
    let spoken_end = lead + question.ulaw.len().div_ceil(FRAME) * FRAME;
    let ssrc = 0x5eec_0000 | n;
    let mut out = Vec::with_capacity(12 + FRAME);
    let mut buf = vec![0u8; 2048];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut position = 0usize;
    let mut sequence = 0u16;
    let mut last_speech: Option<Instant> = None;
    let mut reply_at: Option<Instant> = None;
    let mut early = false;
    let mut heard: Vec<u8> = Vec::new();
    let mut last_packet = Instant::now();
    let give_up = Instant::now() + Duration::from_secs(90);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if reply_at.is_some()
                    && (heard.len() >= COMPARED_BYTES || last_packet.elapsed() >= PROMPT_GAP)
                {
                    break;
                }
                if Instant::now() > give_up {
                    bail!("call {n}: no answer within 90 s");
                }
                let mut payload = [silence; FRAME];
                if position >= lead && position < spoken_end {
                    let from = position - lead;
                    for (slot, &b) in payload.iter_mut().zip(question.ulaw.iter().skip(from)) {
                        *slot = b;
                    }
                }
                rtp::write(&mut out, 0, sequence == 0, sequence, position as u32, ssrc, &payload);
                call.media.send_to(&out, bot_media).await?;
                position += FRAME;
                sequence = sequence.wrapping_add(1);
                if position == spoken_end {
                    last_speech = Some(Instant::now());
                }
            }
            r = call.media.recv_from(&mut buf) => {
                let (len, _) = r?;
                let Ok(p) = Packet::parse(&buf[..len]) else { continue };
                last_packet = Instant::now();
                if reply_at.is_none() {
                    if last_speech.is_none() {
                        early = true;
                    }
                    reply_at = Some(last_packet);
                }
                if heard.len() < COMPARED_BYTES {
                    heard.extend_from_slice(p.payload);
                }
            }
        }
    }
    let rss_kib = rss_kib();
    let latency = match (reply_at, last_speech) {
        (Some(r), Some(s)) => r.saturating_duration_since(s),
        _ => Duration::ZERO,
    };
    let reply = if same_audio(&heard, &question.expected) {
        Reply::Expected
    } else if same_audio(&heard, &fallback) {
        Reply::Fallback
    } else {
        Reply::Other
    };
    call.hang_up().await?;
    Ok(SpeechResult {
        latency,
        reply,
        early,
        rss_kib,
    })
}

// ------------------------------------------------------------- the call

/// One simulated caller's SIP dialog and media socket.
struct Dialog {
    sip: UdpSocket,
    media: UdpSocket,
    bot: SocketAddr,
    local: SocketAddr,
    call_id: String,
    n: u32,
    to_tag: String,
}

impl Dialog {
    fn request(&self, method: &str, cseq: u32, to_tag: &str) -> String {
        let Dialog {
            bot,
            local,
            call_id,
            n,
            ..
        } = self;
        format!(
            "{method} sip:vejviser@{bot} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{n}{method}\r\n\
             From: <sip:bench@{local}>;tag=b{n}\r\nTo: <sip:vejviser@{bot}>{to_tag}\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\nContact: <sip:bench@{local}>\r\nMax-Forwards: 70\r\n"
        )
    }

    /// INVITE with a PCMU and telephone-event offer, 200 OK, ACK.
    async fn dial(bot: SocketAddr, n: u32) -> anyhow::Result<Dialog> {
        let sip = UdpSocket::bind("127.0.0.1:0").await?;
        let media = UdpSocket::bind("127.0.0.1:0").await?;
        let local = sip.local_addr()?;
        let media_port = media.local_addr()?.port();
        let mut call = Dialog {
            sip,
            media,
            bot,
            local,
            call_id: format!("bench-{n}-{}", std::process::id()),
            n,
            to_tag: String::new(),
        };
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {media_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        );
        let invite = format!(
            "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            call.request("INVITE", 1, ""),
            sdp.len()
        );
        call.sip.send_to(invite.as_bytes(), bot).await?;
        let ok = call
            .recv_sip(|m| matches!(m.start, Start::Response { code } if code >= 200))
            .await?;
        if ok.start != (Start::Response { code: 200 }) {
            bail!("call {n} refused: {:?}", ok.start);
        }
        call.to_tag = format!(";tag={}", ok.tag("to").unwrap_or_default());
        let ack = format!(
            "{}Content-Length: 0\r\n\r\n",
            call.request("ACK", 1, &call.to_tag)
        );
        call.sip.send_to(ack.as_bytes(), bot).await?;
        Ok(call)
    }

    async fn recv_sip(&self, want: impl Fn(&Message) -> bool) -> anyhow::Result<Message> {
        let mut buf = vec![0u8; 65536];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (n, _) = tokio::time::timeout_at(deadline, self.sip.recv_from(&mut buf))
                .await
                .context("no sip answer")??;
            if let Ok(m) = Message::parse(&buf[..n]) {
                if m.call_id() == Some(self.call_id.as_str()) && want(&m) {
                    return Ok(m);
                }
            }
        }
    }

    /// Waits for the greeting's first packet: where the bot's media is.
    async fn greeting_started(&self) -> anyhow::Result<SocketAddr> {
        let mut buf = vec![0u8; 2048];
        let (_, bot_media) =
            tokio::time::timeout(Duration::from_secs(10), self.media.recv_from(&mut buf))
                .await
                .context("no greeting audio")??;
        Ok(bot_media)
    }

    /// Waits until the bot has been quiet for [`PROMPT_GAP`].
    async fn until_quiet(&self) -> anyhow::Result<()> {
        let mut buf = vec![0u8; 2048];
        let give_up = Instant::now() + Duration::from_secs(30);
        while Instant::now() < give_up {
            match tokio::time::timeout(PROMPT_GAP, self.media.recv_from(&mut buf)).await {
                Ok(r) => {
                    r?;
                }
                Err(_) => return Ok(()),
            }
        }
        bail!("call {}: the bot kept talking", self.n)
    }

    /// BYE, and its answer (not waited for beyond a few seconds).
    async fn hang_up(&self) -> anyhow::Result<()> {
        let bye = format!(
            "{}Content-Length: 0\r\n\r\n",
            self.request("BYE", 2, &self.to_tag)
        );
        self.sip.send_to(bye.as_bytes(), self.bot).await?;
        let _ = self
            .recv_sip(|m| m.cseq().is_some_and(|(_, method)| method == "BYE"))
            .await;
        Ok(())
    }
}

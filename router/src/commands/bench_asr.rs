//! `vejviser bench asr`: the local recogniser's real-time factor for a
//! ~3-second Danish utterance, with and without the encoder context cut to
//! the utterance's length, and the model's load time.
//!
//! The utterance is synthesised with `espeak-ng -v da` (or read from
//! `--file`), so the figures need no recorded audio.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{bail, Context};
use asr::{AudioClip, LocalRecognizer};

use super::transcribe::{read_clip, AsrOptions};
use crate::paths::Project;

/// What `bench asr` synthesises when no file is given.
const SENTENCE: &str = "Jeg skal have fornyet mit pas, hvornår har borgerservice åbent?";

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct BenchAsrArgs {
    /// A WAV file to use instead of synthesised speech.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Timed runs per setting (after one untimed run).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Instead: say each question of this labelled file (JSON lines with
    /// `text` and `topic`, e.g. bench/voice-questions.jsonl) with espeak-ng
    /// through an 8 kHz G.711 line, and report word error rate and topic
    /// accuracy through the matcher.
    #[arg(long)]
    quality: Option<PathBuf>,
    /// With --quality: also run the questions with the full 30-second
    /// audio context.
    #[arg(long)]
    full_context_too: bool,
    #[command(flatten)]
    asr: AsrOptions,
}

/// Danish speech from espeak-ng as a 16 kHz clip.
pub(crate) fn synthesise(text: &str) -> anyhow::Result<AudioClip> {
    let audio = espeak(text)?;
    let samples = asr::resample(&audio.samples, audio.rate, asr::SAMPLE_RATE)?;
    Ok(AudioClip::new(samples))
}

/// Danish speech from espeak-ng at the telephone rate, 8 kHz.
pub(crate) fn synthesise_8k(text: &str) -> anyhow::Result<Vec<i16>> {
    let audio = espeak(text)?;
    Ok(asr::resample(&audio.samples, audio.rate, 8000)?)
}

fn espeak(text: &str) -> anyhow::Result<asr::WavAudio> {
    let dir = tempfile::tempdir()?;
    let wav = dir.path().join("speech.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "da", "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .context("running espeak-ng (scripts/setup installs it)")?;
    if !status.success() {
        bail!("espeak-ng failed: {status}");
    }
    Ok(asr::decode_wav(&std::fs::read(&wav)?)?)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// This process's CPU time so far (user + system), from /proc on Linux.
/// On a shared machine wall time depends on the neighbours; with one
/// thread per slot, CPU time is what the run would take on an idle core.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the parenthesised command name; utime and stime are
    // the 14th and 15th of the whole line, in clock ticks (100 Hz).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

struct Figures {
    wall: Duration,
    cpu: Option<Duration>,
    text: String,
}

fn measure(local: &LocalRecognizer, clip: &AudioClip, runs: usize) -> anyhow::Result<Figures> {
    let first = local.transcribe_blocking(clip)?;
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..runs.max(1) {
        let before = cpu_time();
        times.push(local.transcribe_blocking(clip)?.elapsed);
        if let (Some(a), Some(b)) = (before, cpu_time()) {
            cpus.push(b.saturating_sub(a));
        }
    }
    Ok(Figures {
        wall: median(times),
        cpu: (!cpus.is_empty()).then(|| median(cpus)),
        text: first.into_text(),
    })
}

pub(crate) fn run(project: &Project, args: &BenchAsrArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.quality {
        return quality(project, args, file);
    }
    let clip = match &args.file {
        Some(f) => read_clip(Path::new(f))?,
        None => synthesise(SENTENCE)?,
    };
    let audio_s = clip.duration_ms() as f64 / 1000.0;
    let mut config = args.asr.whisper_config(project)?;
    println!(
        "asr benchmark: {} ({}), {:.2} s utterance, {} threads, {} timed runs",
        config.model.display(),
        if args.file.is_some() {
            "file"
        } else {
            "espeak-ng -v da"
        },
        audio_s,
        config.threads_per_slot,
        args.runs
    );
    for cut in [true, false] {
        config.cut_audio_context = cut;
        let local = LocalRecognizer::start(config.clone())?;
        let f = measure(&local, &clip, args.runs)?;
        let cpu = f.cpu.map_or("-".to_string(), |c| {
            format!(
                "{:.3} s (RTF {:.3})",
                c.as_secs_f64(),
                c.as_secs_f64() / audio_s
            )
        });
        println!(
            "audio context {:<14} load+warm-up {:>6.2} s   median wall {:>6.3} s (RTF {:.3})   median CPU {cpu}",
            if cut { "cut to length" } else { "full 30 s" },
            local.load_time().as_secs_f64(),
            f.wall.as_secs_f64(),
            f.wall.as_secs_f64() / audio_s
        );
        // Synthetic speech, not a citizen's: printing it shows the quality.
        println!("  heard: {}", f.text);
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` as the words a word error rate counts: lowercase, punctuation
/// dropped (hyphens and apostrophes inside words kept).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .map(|w| w.trim_matches(|c| c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Word-level edit distance (substitutions, insertions, deletions). A few
/// lines of dynamic programming; no crate is needed for it.
fn word_errors(reference: &[String], heard: &[String]) -> usize {
    let mut row: Vec<usize> = (0..=heard.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, h) in heard.iter().enumerate() {
            let substitution = diagonal + usize::from(r != h);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[heard.len()]
}

/// A 16 kHz clip as it arrives from a G.711 µ-law telephone line: 8 kHz,
/// 8-bit companded, back to 16 kHz.
fn through_telephone(samples_8k: &[i16]) -> anyhow::Result<AudioClip> {
    let line: Vec<i16> = samples_8k
        .iter()
        .map(|&s| asr::ulaw_to_linear(asr::linear_to_ulaw(s)))
        .collect();
    Ok(AudioClip::new(asr::resample(
        &line,
        8000,
        asr::SAMPLE_RATE,
    )?))
}

fn quality(project: &Project, args: &BenchAsrArgs, file: &Path) -> anyhow::Result<ExitCode> {
    let lines = crate::labelled::read_labelled(file)?;
    let matcher = project.matcher()?;
    let mut clips = Vec::new();
    for l in &lines {
        clips.push(through_telephone(&synthesise_8k(&l.text)?)?);
    }
    let audio_s: f64 = clips.iter().map(|c| c.duration_ms() as f64 / 1000.0).sum();
    let mut text_right = 0;
    for l in &lines {
        if matcher.find(&l.text, l.channel)?.topic == l.topic {
            text_right += 1;
        }
    }
    let mut config = args.asr.whisper_config(project)?;
    println!(
        "recognition quality: {} questions from {} spoken by espeak-ng -v da (synthetic speech, not callers), 8 kHz µ-law line, {} ({} threads, fallback on loops{}: temperature step {}, at most {} rounds)",
        lines.len(),
        file.display(),
        config.model.display(),
        config.threads_per_slot,
        if config.retry_unsure { " and unsure results" } else { "" },
        config.temperature_step,
        config.max_fallback_rounds
    );
    println!(
        "matcher on the exact texts: {text_right}/{} topics right",
        lines.len()
    );
    let settings: &[bool] = if args.full_context_too {
        &[true, false]
    } else {
        &[true]
    };
    for &cut in settings {
        config.cut_audio_context = cut;
        let local = LocalRecognizer::start(config.clone())?;
        let (mut errors, mut reference_words, mut topics_right) = (0, 0, 0);
        let mut busy = Duration::ZERO;
        let mut retried = 0;
        println!(
            "audio context {}:",
            if cut { "cut to length" } else { "full 30 s" }
        );
        for (l, clip) in lines.iter().zip(&clips) {
            let t = local.transcribe_blocking(clip)?;
            busy += t.elapsed;
            retried += usize::from(t.decodes > 1);
            let reference = words(&l.text);
            let e = word_errors(&reference, &words(t.text()));
            errors += e;
            reference_words += reference.len();
            let m = matcher.find(t.text(), l.channel)?;
            let right = m.topic == l.topic;
            topics_right += usize::from(right);
            // Synthetic questions, not a citizen's words: printing them
            // shows what the recogniser makes of Danish.
            println!(
                "  {:<6} {:>2}/{:<2} words wrong  {} {:<22} heard: {}",
                l.id,
                e,
                reference.len(),
                if right { "ok " } else { "XX " },
                m.topic,
                t.text()
            );
        }
        println!(
            "  word error rate {:.1} % ({errors}/{reference_words}), topic right {topics_right}/{} ({:.0} %), real-time factor {:.2} over {:.0} s of audio, {retried} decoded again",
            100.0 * errors as f64 / reference_words.max(1) as f64,
            lines.len(),
            100.0 * topics_right as f64 / lines.len().max(1) as f64,
            busy.as_secs_f64() / audio_s.max(0.001),
            audio_s
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_errors_count_edits() {
        let r = words("Jeg skal have et nyt pas.");
        assert_eq!(word_errors(&r, &words("jeg skal have et nyt pas")), 0);
        assert_eq!(word_errors(&r, &words("jeg skal have nyt pas")), 1);
        assert_eq!(word_errors(&r, &words("jeg skal ha et nyt pas i dag")), 3);
        assert_eq!(word_errors(&r, &[]), 6);
    }
}

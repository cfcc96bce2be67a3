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
    #[command(flatten)]
    asr: AsrOptions,
}

/// Danish speech from espeak-ng as a 16 kHz clip.
pub(crate) fn synthesise(text: &str) -> anyhow::Result<AudioClip> {
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
    let audio = asr::decode_wav(&std::fs::read(&wav)?)?;
    let samples = asr::resample(&audio.samples, audio.rate, asr::SAMPLE_RATE)?;
    Ok(AudioClip::new(samples))
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

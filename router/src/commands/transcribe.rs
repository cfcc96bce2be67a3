//! `vejviser transcribe FILE.wav`: prints what the speech recogniser hears.
//!
//! Also the shared recogniser options and their loading (model path,
//! domain prompt from `flows/asr-prompt.txt`, remote server), used by
//! `vejviser bench asr`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use asr::{
    AudioClip, LocalRecognizer, Recognizer, RemoteConfig, RemoteRecognizer, Transcript,
    WhisperConfig,
};

use crate::paths::Project;

/// The Whisper model used without `--model`: Q8_0 weights recognise the
/// benchmark's Danish questions as well as f16 ones (word error rate 82.7 %
/// against 85.0 %) and about 15 % faster on two threads.
const DEFAULT_MODEL: &str = "models/ggml-base-q8_0.bin";

/// Options of the speech recogniser.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct AsrOptions {
    /// GGML Whisper model (default: models/ggml-base-q8_0.bin in the
    /// project, the base model with 8-bit weights; scripts/fetch-whisper
    /// makes it and the f16 models/ggml-base.bin).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Domain prompt file (default: flows/asr-prompt.txt in the project).
    #[arg(long)]
    prompt: Option<PathBuf>,
    /// CPU threads used for one utterance.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Temperature step of the fallback decoding, run only when a result
    /// looks like a repetition loop (token cap reached, or a few tokens
    /// over and over); 0 decodes once.
    #[arg(long, default_value_t = 0.2)]
    temperature_step: f32,
    /// Most fallback decodings after the first one.
    #[arg(long, default_value_t = 2)]
    fallback_rounds: u32,
    /// Also decode again when a result is merely unsure (whisper.cpp's
    /// log-probability rule); slower on most telephone speech.
    #[arg(long)]
    retry_unsure: bool,
    /// An OpenAI-compatible transcription server (base URL); the local
    /// model is the fallback when it fails or is slow.
    #[arg(long)]
    remote: Option<String>,
    /// How long to wait for the remote server.
    #[arg(long, default_value_t = 3000)]
    remote_timeout_ms: u64,
}

impl AsrOptions {
    pub(crate) fn whisper_config(&self, project: &Project) -> anyhow::Result<WhisperConfig> {
        let model = self
            .model
            .clone()
            .unwrap_or_else(|| project.root.join(DEFAULT_MODEL));
        let mut config = WhisperConfig::new(model);
        config.threads_per_slot = self.threads;
        config.temperature_step = self.temperature_step;
        config.max_fallback_rounds = self.fallback_rounds;
        config.retry_unsure = self.retry_unsure;
        config.prompt = self.prompt_text(project)?;
        Ok(config)
    }

    fn prompt_text(&self, project: &Project) -> anyhow::Result<String> {
        let (path, required) = match &self.prompt {
            Some(p) => (p.clone(), true),
            None => (project.root.join("flows/asr-prompt.txt"), false),
        };
        if !required && !path.is_file() {
            return Ok(String::new());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the recogniser prompt {}", path.display()))?;
        Ok(prompt_from_file(&text))
    }
}

/// The prompt file's text: `#` lines dropped, the rest joined by spaces.
pub(crate) fn prompt_from_file(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a WAV file into a clip, with the file named in any error.
pub(crate) fn read_clip(file: &Path) -> anyhow::Result<AudioClip> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    AudioClip::from_wav(&bytes).with_context(|| format!("{}", file.display()))
}

pub(crate) fn run(
    project: &Project,
    file: &Path,
    options: &AsrOptions,
) -> anyhow::Result<ExitCode> {
    let clip = read_clip(file)?;
    let transcript = recognise(project, options, &clip)?;
    // Printing the transcript is this command's purpose; it is the
    // operator's own file, not a logged citizen utterance.
    println!("{}", transcript.text());
    Ok(ExitCode::SUCCESS)
}

impl AsrOptions {
    /// The recogniser these options describe: the local model, with the
    /// remote server first when `--remote` is given. Blocking (loads the
    /// model); call it outside an async runtime.
    pub(crate) fn recognizer(&self, project: &Project) -> anyhow::Result<Recognizer> {
        let local = LocalRecognizer::start(self.whisper_config(project)?)?;
        let remote = match &self.remote {
            None => None,
            Some(url) => {
                let mut remote = RemoteConfig::new(url.clone());
                remote.timeout = Duration::from_millis(self.remote_timeout_ms);
                remote.prompt = local.config().prompt.clone();
                Some(RemoteRecognizer::new(remote)?)
            }
        };
        Ok(Recognizer::new(remote, Some(local))?)
    }
}

/// Recognises one clip once, outside any server (the CLI commands).
pub(crate) fn recognise(
    project: &Project,
    options: &AsrOptions,
    clip: &AudioClip,
) -> anyhow::Result<Transcript> {
    let recognizer = options.recognizer(project)?;
    match (&options.remote, recognizer.local()) {
        (None, Some(local)) => Ok(local.transcribe_blocking(clip)?),
        _ => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            Ok(runtime.block_on(recognizer.transcribe(clip))?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_file_comments_are_dropped() {
        let text = "# staff note\nBorgerservice, pas.\n\n  kørekort  \n#x\n";
        assert_eq!(prompt_from_file(text), "Borgerservice, pas. kørekort");
    }
}

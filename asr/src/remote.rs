//! The remote recogniser: any server speaking the OpenAI-compatible
//! `POST /v1/audio/transcriptions` (whisper.cpp's server, faster-whisper
//! servers, vLLM, a municipality's GPU box running a bigger Danish model).
//!
//! One multipart request per utterance (`file` as 16 kHz WAV, `model`,
//! `language=da`, `prompt`, `response_format=json`), a hard timeout, and an
//! error that never carries the recognised or sent text.

use std::time::{Duration, Instant};

use crate::{AsrError, AudioClip, Backend, Transcript};

/// Where and how to reach the remote recogniser.
#[derive(Clone, PartialEq)]
pub struct RemoteConfig {
    /// Base URL, e.g. `http://asr.internal:8080` (the path is appended).
    pub url: String,
    /// The `model` field sent (servers that serve one model ignore it).
    pub model: String,
    /// Whole-request timeout, after which the local model takes over.
    pub timeout: Duration,
    /// Sent as a bearer token when set.
    pub api_key: Option<String>,
    /// Domain vocabulary sent as the `prompt` field.
    pub prompt: String,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl RemoteConfig {
    pub fn new(url: impl Into<String>) -> Self {
        RemoteConfig {
            url: url.into(),
            model: "whisper-1".into(),
            timeout: Duration::from_secs(3),
            api_key: None,
            prompt: String::new(),
        }
    }
}

/// A client for one remote recogniser.
#[derive(Debug, Clone)]
pub struct RemoteRecognizer {
    client: reqwest::Client,
    endpoint: String,
    config: RemoteConfig,
}

#[derive(serde::Deserialize)]
struct Response {
    text: String,
}

fn remote_err(reason: impl Into<String>) -> AsrError {
    AsrError::Remote {
        reason: reason.into(),
    }
}

impl RemoteRecognizer {
    pub fn new(config: RemoteConfig) -> Result<Self, AsrError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| AsrError::Config {
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        let endpoint = format!(
            "{}/v1/audio/transcriptions",
            config.url.trim_end_matches('/')
        );
        Ok(RemoteRecognizer {
            client,
            endpoint,
            config,
        })
    }

    /// Sends one utterance; errors (including the timeout) are
    /// [`AsrError::Remote`].
    pub async fn transcribe(&self, clip: &AudioClip) -> Result<Transcript, AsrError> {
        let started = Instant::now();
        let wav = clip.to_wav()?;
        let file = reqwest::multipart::Part::bytes(wav)
            .file_name("utterance.wav")
            .mime_str("audio/wav")
            .map_err(|e| remote_err(format!("cannot build the request: {e}")))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", self.config.model.clone())
            .text("language", "da")
            .text("response_format", "json")
            .text("temperature", "0");
        if !self.config.prompt.trim().is_empty() {
            form = form.text("prompt", self.config.prompt.trim().to_string());
        }
        let mut request = self.client.post(&self.endpoint).multipart(form);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                remote_err(format!(
                    "no answer within {} ms",
                    self.config.timeout.as_millis()
                ))
            } else {
                remote_err(format!("request failed: {}", e.without_url()))
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(remote_err(format!("the server answered {status}")));
        }
        let body: Response = response.json().await.map_err(|e| {
            if e.is_timeout() {
                remote_err(format!(
                    "no answer within {} ms",
                    self.config.timeout.as_millis()
                ))
            } else {
                remote_err("the answer is not a JSON object with a text field")
            }
        })?;
        Ok(Transcript {
            text: body.text.trim().to_string(),
            audio_ms: clip.duration_ms(),
            elapsed: started.elapsed(),
            backend: Backend::Remote,
            decodes: 0,
        })
    }
}

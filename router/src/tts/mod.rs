//! Speech output: the audio a call plays for a [`Say`], as 8 kHz samples.
//!
//! Recorded prompts (`municipalities/<id>/recordings/<name>.wav`: PCM
//! WAV of any common rate, 8–32-bit or float, mono or stereo) are
//! converted once at load time. Other texts
//! are synthesised by the `espeak-ng` program with the Danish voice: it is
//! run as a separate process (its library is GPL-3.0; calling the program
//! keeps it out of this binary), text on stdin so no text is ever read as
//! an option, WAV on stdout. Synthesised prompts are cached per text, so
//! the greeting and the menus are synthesised once per process.
//!
//! With a remote voice configured ([`HttpVoice`]: an OpenAI-compatible
//! `POST /v1/audio/speech` returning WAV, such as a municipality's neural
//! Danish voice), texts go there first; when it fails or is slow the
//! prompt is synthesised by espeak-ng instead, so a call never goes silent.
//!
//! Texts are never logged; errors name the prompt by its length only.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::dialogue::Say;
use crate::media::resample::{resample, ResampleError};

/// The telephone rate every prompt is stored at.
pub const RATE: u32 = 8000;
/// Synthesised texts kept; past this the cache starts over.
const CACHE_ENTRIES: usize = 1024;
/// The longest a synthesis may take.
const SYNTH_TIMEOUT: Duration = Duration::from_secs(10);
/// The most WAV bytes read from the synthesiser (about a minute of audio).
const MAX_WAV_BYTES: usize = 4 * 1024 * 1024;

/// How speech is synthesised.
#[derive(Debug, Clone)]
pub struct SpeechConfig {
    /// The espeak-ng program.
    pub espeak: PathBuf,
    /// The espeak-ng voice.
    pub voice: String,
    /// Words per minute.
    pub speed: u32,
    /// The directory of recorded prompts, `<name>.wav`.
    pub recordings_dir: PathBuf,
    /// A remote synthesiser tried before espeak-ng.
    pub http: Option<HttpVoice>,
}

/// An OpenAI-compatible speech endpoint.
#[derive(Clone)]
pub struct HttpVoice {
    /// The full URL, e.g. `http://tts.local:8000/v1/audio/speech`.
    pub url: String,
    pub model: String,
    pub voice: String,
    /// Sent as `Authorization: Bearer …`; never printed.
    pub api_key: Option<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for HttpVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpVoice")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("voice", &self.voice)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl SpeechConfig {
    /// espeak-ng's Danish voice at a calm pace, recordings from `dir`.
    pub fn danish(recordings_dir: PathBuf) -> SpeechConfig {
        SpeechConfig {
            espeak: PathBuf::from("espeak-ng"),
            voice: "da".into(),
            speed: 160,
            recordings_dir,
            http: None,
        }
    }
}

/// Why there is no audio for a prompt.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the synthesiser failed ({status}) on a text of {chars} characters")]
    Synthesis { status: String, chars: usize },
    #[error("the synthesiser took longer than {SYNTH_TIMEOUT:?}")]
    Timeout,
    #[error("cannot read recording {path}: {reason}")]
    Recording { path: PathBuf, reason: String },
    #[error("the speech service failed: {0}")]
    Http(String),
    #[error("the synthesiser's output is not a usable wav: {0}")]
    Wav(String),
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// Prompts as 8 kHz audio.
pub struct Speech {
    config: SpeechConfig,
    client: Option<reqwest::Client>,
    recordings: HashMap<String, Arc<[i16]>>,
    cache: Mutex<HashMap<String, Arc<[i16]>>>,
}

impl Speech {
    /// Loads and converts the recordings the flow names (`prompt → file
    /// name` without `.wav`). A missing recording is reported and its
    /// prompt synthesised instead; a broken one is an error.
    pub fn load(
        config: SpeechConfig,
        recordings: &BTreeMap<String, String>,
    ) -> Result<(Speech, Vec<PathBuf>), TtsError> {
        let mut loaded = HashMap::new();
        let mut missing = Vec::new();
        for name in recordings.values() {
            let path = config.recordings_dir.join(format!("{name}.wav"));
            if !path.is_file() {
                missing.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| TtsError::Recording {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let audio = wav_to_8k(&bytes).map_err(|e| TtsError::Recording {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            loaded.insert(name.clone(), Arc::from(audio));
        }
        let client = match &config.http {
            Some(h) => Some(
                reqwest::Client::builder()
                    .timeout(h.timeout)
                    .build()
                    .map_err(|e| TtsError::Http(e.to_string()))?,
            ),
            None => None,
        };
        Ok((
            Speech {
                config,
                client,
                recordings: loaded,
                cache: Mutex::new(HashMap::new()),
            },
            missing,
        ))
    }

    /// The audio for `say`: its recording if loaded, else the cached or
    /// freshly synthesised text.
    pub async fn render(&self, say: &Say) -> Result<Arc<[i16]>, TtsError> {
        if let Some(a) = say.recording.as_ref().and_then(|r| self.recordings.get(r)) {
            return Ok(Arc::clone(a));
        }
        self.synthesise(&say.text).await
    }

    /// The synthesised audio of `text`, from the cache when it is there.
    pub async fn synthesise(&self, text: &str) -> Result<Arc<[i16]>, TtsError> {
        if let Some(a) = self.cached(text) {
            return Ok(a);
        }
        let remote = match self.remote(text).await {
            Some(Ok(wav)) => wav_to_8k(&wav).map_err(|e| {
                tracing::warn!(error = %e, "speech service answer unusable; espeak-ng instead");
            }),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "speech service failed; espeak-ng instead");
                Err(())
            }
            None => Err(()),
        };
        let audio: Arc<[i16]> = match remote {
            Ok(a) => Arc::from(a),
            Err(()) => Arc::from(wav_to_8k(&self.espeak(text).await?)?),
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(text.to_string(), Arc::clone(&audio));
        }
        Ok(audio)
    }

    fn cached(&self, text: &str) -> Option<Arc<[i16]>> {
        self.cache.lock().ok()?.get(text).cloned()
    }

    /// The WAV of `text` from the speech service, when one is configured.
    async fn remote(&self, text: &str) -> Option<Result<Vec<u8>, TtsError>> {
        let (h, client) = (self.config.http.as_ref()?, self.client.as_ref()?);
        let body = serde_json::json!({
            "model": h.model,
            "voice": h.voice,
            "input": text,
            "response_format": "wav",
        });
        let mut req = client.post(&h.url).json(&body);
        if let Some(key) = &h.api_key {
            req = req.bearer_auth(key);
        }
        let result = async {
            let resp = req
                .send()
                .await
                .map_err(|e| TtsError::Http(e.without_url().to_string()))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(TtsError::Http(format!("status {status}")));
            }
            if resp
                .content_length()
                .is_some_and(|l| l > MAX_WAV_BYTES as u64)
            {
                return Err(TtsError::Http("answer too large".into()));
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| TtsError::Http(e.without_url().to_string()))?;
            if bytes.len() > MAX_WAV_BYTES {
                return Err(TtsError::Http("answer too large".into()));
            }
            Ok(bytes.to_vec())
        };
        Some(result.await)
    }

    async fn espeak(&self, text: &str) -> Result<Vec<u8>, TtsError> {
        let spawn_err = |source| TtsError::Spawn {
            program: self.config.espeak.clone(),
            source,
        };
        let mut child = tokio::process::Command::new(&self.config.espeak)
            .args([
                "-v",
                &self.config.voice,
                "-s",
                &self.config.speed.to_string(),
                "--stdout",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_err)?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| spawn_err(std::io::Error::other("no stdin pipe")))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| spawn_err(std::io::Error::other("no stdout pipe")))?;
        let input = text.replace(['\r', '\n'], " ");
        let work = async {
            stdin.write_all(input.as_bytes()).await.map_err(spawn_err)?;
            drop(stdin);
            let mut wav = Vec::new();
            (&mut stdout)
                .take(MAX_WAV_BYTES as u64)
                .read_to_end(&mut wav)
                .await
                .map_err(spawn_err)?;
            let status = child.wait().await.map_err(spawn_err)?;
            if !status.success() {
                return Err(TtsError::Synthesis {
                    status: status.to_string(),
                    chars: text.chars().count(),
                });
            }
            Ok(wav)
        };
        tokio::time::timeout(SYNTH_TIMEOUT, work)
            .await
            .map_err(|_| TtsError::Timeout)?
    }
}

/// Reads a WAV file (the whole of it, even when its header claims a
/// length it does not have, as espeak-ng writes to a pipe) as 8 kHz mono.
pub fn wav_to_8k(bytes: &[u8]) -> Result<Vec<i16>, TtsError> {
    let reader =
        hound::WavReader::new(Cursor::new(bytes)).map_err(|e| TtsError::Wav(e.to_string()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let samples: Vec<i16> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => {
            reader.into_samples::<i16>().map_while(Result::ok).collect()
        }
        (hound::SampleFormat::Int, 8) => reader
            .into_samples::<i8>()
            .map_while(Result::ok)
            .map(|s| i16::from(s) << 8)
            .collect(),
        (hound::SampleFormat::Int, 24 | 32) => {
            let shift = spec.bits_per_sample - 16;
            reader
                .into_samples::<i32>()
                .map_while(Result::ok)
                .map(|s| (s >> shift) as i16)
                .collect()
        }
        (hound::SampleFormat::Float, _) => reader
            .into_samples::<f32>()
            .map_while(Result::ok)
            .map(|s| (s * 32767.0).clamp(-32768.0, 32767.0) as i16)
            .collect(),
        (format, bits) => {
            return Err(TtsError::Wav(format!(
                "unsupported {format:?} {bits}-bit samples"
            )))
        }
    };
    let mono: Vec<i16> = if channels == 1 {
        samples
    } else {
        samples
            .chunks(channels)
            .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / c.len() as i32) as i16)
            .collect()
    };
    Ok(resample(&mono, spec.sample_rate, RATE)?)
}

/// The directory of a municipality's recorded prompts.
pub fn recordings_dir(root: &Path, municipality: &str) -> PathBuf {
    root.join("municipalities")
        .join(municipality)
        .join("recordings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn wav_16k_tone(seconds: f32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut out, spec).expect("writer");
        for i in 0..(16000.0 * seconds) as usize {
            w.write_sample((5000.0 * (i as f32 * 0.2).sin()) as i16)
                .expect("sample");
        }
        w.finalize().expect("finalise");
        out.into_inner()
    }

    /// A one-request HTTP server answering `status` with `body`; returns
    /// its URL and the request it received.
    async fn serve_once(status: u16, body: Vec<u8>) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!(
            "http://{}/v1/audio/speech",
            listener.local_addr().expect("addr")
        );
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accepts");
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then the Content-Length body.
            loop {
                let n = s.read(&mut buf).await.expect("reads");
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if req.len() >= i + 4 + len || n == 0 {
                        break;
                    }
                }
            }
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await.expect("writes");
            s.write_all(&body).await.expect("writes");
            String::from_utf8_lossy(&req).to_string()
        });
        (url, task)
    }

    fn speech(http: Option<HttpVoice>) -> Speech {
        let mut config = SpeechConfig::danish(PathBuf::from("/nonexistent"));
        config.http = http;
        Speech::load(config, &BTreeMap::new()).expect("loads").0
    }

    fn voice(url: String) -> HttpVoice {
        HttpVoice {
            url,
            model: "tts-1".into(),
            voice: "da".into(),
            api_key: Some("secret".into()),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn remote_voice_is_used_and_resampled_to_8k() {
        let (url, server) = serve_once(200, wav_16k_tone(0.5)).await;
        let s = speech(Some(voice(url)));
        let audio = s.synthesise("Velkommen").await.expect("audio");
        assert_eq!(audio.len(), 4000);
        let request = server.await.expect("server");
        assert!(request.contains("\"input\":\"Velkommen\""), "{request}");
        assert!(request.contains("\"response_format\":\"wav\""), "{request}");
        assert!(request
            .to_ascii_lowercase()
            .contains("authorization: bearer secret"));
        // Cached: the same audio without a second request.
        let again = s.synthesise("Velkommen").await.expect("audio");
        assert!(Arc::ptr_eq(&audio, &again));
    }

    #[tokio::test]
    async fn failing_remote_voice_falls_back_to_espeak() {
        let (url, _server) = serve_once(500, b"no".to_vec()).await;
        let s = speech(Some(voice(url)));
        let audio = s
            .synthesise("Tryk et for pas")
            .await
            .expect("espeak-ng audio");
        // espeak-ng says it in about a second: well over a quarter.
        assert!(audio.len() > 2000, "{}", audio.len());
    }

    #[test]
    fn debug_of_a_voice_hides_the_key() {
        let v = voice("http://x".into());
        assert!(!format!("{v:?}").contains("secret"));
    }
}

//! The voice webhook: for PBXs and telephony platforms that keep the media
//! themselves (jambonz-like). The platform posts call events and recorded
//! utterances; each answer is `{"call", "actions": [verbs], "ended"}` with
//! the verbs of [`router::verbs`]. The wire format is `docs/webhook.md`.
//!
//! - `POST /api/voice/calls` — `{"from"?: "+45…"}`; starts a call and
//!   returns the greeting.
//! - `POST /api/voice/calls/{id}/utterance` — a WAV file
//!   (`Content-Type: audio/wav`, 16-bit PCM or G.711, mono, any rate).
//! - `POST /api/voice/calls/{id}/dtmf` — `{"digit": "2"}`.
//! - `POST /api/voice/calls/{id}/no-input` — the gather timed out.
//! - `POST /api/voice/calls/{id}/sms-result` — `{"sent": false}` when the
//!   platform could not send an `sms` verb.
//! - `POST /api/voice/calls/{id}/end` — the caller hung up.
//!
//! Every request is signed: `X-Vejviser-Timestamp` (Unix seconds, at most
//! five minutes off) and `X-Vejviser-Signature: sha256=<hex HMAC-SHA256 of
//! "<timestamp>." followed by the raw body>` with the secret named in
//! `municipalities/<id>/webhook.yaml`.
//!
//! Recognition runs on the asr crate's thread pool (this module only
//! awaits it); a full pool is answered 503 with Retry-After. The turn
//! itself (scrub, step, store) runs on a blocking thread like a chat turn,
//! stored through [`super::record`]. The caller's number, when the
//! platform sends `from`, lives in memory with the call and is only put
//! into an `sms` verb's `to`; it is never stored or logged.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use knowledge::Channel;
use router::dialogue::{Dialogue, Event};
use router::sip::Clock;
use router::verbs::Verb;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sms_gateway::{MobileNumber, Secret};
use transcripts::{self as store, ConversationId, NewConversation, RawUtterance};

use super::chat::new_session_id;
use super::{record, App};
use router::record::to_time;

/// Largest request body (a WAV file), in bytes.
pub(crate) const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Longest utterance accepted.
const MAX_UTTERANCE: Duration = Duration::from_secs(30);
/// Calls open at once; more are refused with 503.
const MAX_CALLS: usize = 1000;
/// A call with no request for this long is closed as abandoned.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// How far the signed timestamp may be from this server's clock.
const MAX_SKEW_SECS: i64 = 5 * 60;
/// Told to the platform with a 503.
const RETRY_AFTER_SECS: u64 = 2;

/// The request header with the signature.
pub(crate) const SIGNATURE_HEADER: &str = "x-vejviser-signature";
/// The request header with the signing time (Unix seconds).
pub(crate) const TIMESTAMP_HEADER: &str = "x-vejviser-timestamp";

/// `municipalities/<id>/webhook.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookFile {
    /// Format version; always 1.
    version: u32,
    /// The environment variable holding the shared secret.
    #[serde(default)]
    secret_env: Option<String>,
    /// Or a file holding it.
    #[serde(default)]
    secret_file: Option<std::path::PathBuf>,
}

/// Reads the shared secret named in `webhook.yaml`.
pub(crate) fn read_secret(path: &Path) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (the voice webhook needs it for its secret)",
            path.display()
        )
    })?;
    let file: WebhookFile = knowledge::yaml::parse_yaml(path, &text).map_err(|p| anyhow!("{p}"))?;
    if file.version != 1 {
        bail!("{}: version must be 1", path.display());
    }
    let secret = match (&file.secret_env, &file.secret_file) {
        (Some(name), None) => std::env::var(name).map_err(|_| {
            anyhow!(
                "the environment variable {name} (named in {}) is not set",
                path.display()
            )
        })?,
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("reading the secret file {}", file.display()))?,
        _ => bail!(
            "{}: give exactly one of secret_env and secret_file",
            path.display()
        ),
    };
    let secret = Secret::new(secret);
    if secret.expose().len() < 16 {
        bail!("the voice webhook's secret is shorter than 16 characters; use a long random one");
    }
    Ok(secret)
}

/// The webhook's shared state.
pub(crate) struct Voice {
    app: Arc<App>,
    secret: Secret,
    /// `None` when the server runs without speech recognition.
    recognizer: Option<Arc<asr::Recognizer>>,
    /// The dialogue's clock (a fixed start in tests of opening hours).
    clock: Clock,
    calls: Mutex<HashMap<String, Arc<Mutex<VoiceCall>>>>,
}

struct VoiceCall {
    dialogue: Dialogue,
    conversation: ConversationId,
    /// The caller's number, for `sms` verbs only.
    caller: Option<MobileNumber>,
    last_seen: Instant,
    ended: bool,
}

/// The routes, and the task that closes idle calls.
pub(crate) fn routes(
    app: Arc<App>,
    secret: Secret,
    recognizer: Option<Arc<asr::Recognizer>>,
    clock: Clock,
) -> Router {
    let voice = Arc::new(Voice {
        app,
        secret,
        recognizer,
        clock,
        calls: Mutex::new(HashMap::new()),
    });
    tokio::spawn(sweep(voice.clone()));
    Router::new()
        .route("/api/voice/calls", post(start))
        .route("/api/voice/calls/{id}/utterance", post(utterance))
        .route("/api/voice/calls/{id}/dtmf", post(dtmf))
        .route("/api/voice/calls/{id}/sms-result", post(sms_result))
        // no-input, transfer-failed, end: events without a body.
        .route("/api/voice/calls/{id}/{event}", post(signal))
        // The body is read with its own limit (413 with a reason below).
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(voice)
}

/// What every endpoint answers.
#[derive(Debug, Serialize)]
struct Reply {
    call: String,
    actions: Vec<Verb>,
    /// The call is over (hung up or transferred); later events get no actions.
    ended: bool,
}

/// A refusal: a status and a `{code, message}` body.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "code": self.code, "message": self.message }));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            return (
                self.status,
                [(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())],
                body,
            )
                .into_response();
        }
        (self.status, body).into_response()
    }
}

fn internal() -> Refusal {
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the turn could not be completed",
    )
}

/// The body, at most [`MAX_BODY_BYTES`].
async fn read_body(body: Body) -> Result<Bytes, Refusal> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            )
        })
}

/// The signature header value for `body` signed at `timestamp`.
#[cfg(test)]
fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let mac = mac(secret, timestamp, body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &Secret, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = match Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// Checks the timestamp and the signature.
fn verify(secret: &Secret, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let unauthorized = |why: &str| refuse(StatusCode::UNAUTHORIZED, "unauthorized", why);
    let timestamp: i64 = headers
        .get(TIMESTAMP_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| unauthorized("missing or unreadable X-Vejviser-Timestamp"))?;
    let skew = (jiff::Timestamp::now().as_second() - timestamp).abs();
    if skew > MAX_SKEW_SECS {
        return Err(unauthorized(
            "X-Vejviser-Timestamp is more than five minutes off",
        ));
    }
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .and_then(|hex_sig| hex::decode(hex_sig).ok())
        .ok_or_else(|| unauthorized("missing or unreadable X-Vejviser-Signature"))?;
    // verify_slice compares in constant time.
    mac(secret, timestamp, body)
        .verify_slice(&signature)
        .map_err(|_| unauthorized("wrong signature"))
}

/// Reads and authenticates a request's body.
async fn authenticated(voice: &Voice, headers: &HeaderMap, body: Body) -> Result<Bytes, Refusal> {
    let body = read_body(body).await?;
    verify(&voice.secret, headers, &body)?;
    Ok(body)
}

fn json_body<T: for<'de> Deserialize<'de>>(body: &[u8], example: &str) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            "bad-body",
            format!("the body must be JSON like {example}: {e}"),
        )
    })
}

fn call_of(voice: &Voice, id: &str) -> Result<Arc<Mutex<VoiceCall>>, Refusal> {
    voice
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(id)
        .cloned()
        .ok_or_else(|| {
            refuse(
                StatusCode::NOT_FOUND,
                "unknown-call",
                "unknown call: it has ended or expired",
            )
        })
}

/// `POST /api/voice/calls`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    /// The caller's number, used only for `sms` verbs.
    #[serde(default)]
    from: Option<String>,
    /// The number called (ignored; accepted because platforms send it).
    #[serde(default)]
    to: Option<String>,
}

async fn start(
    State(voice): State<Arc<Voice>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Reply>, Refusal> {
    let body = authenticated(&voice, &headers, body).await?;
    let start: StartBody = if body.iter().all(u8::is_ascii_whitespace) {
        StartBody::default()
    } else {
        json_body(&body, r#"{"from": "+4512345678"}"#)?
    };
    drop(start.to);
    // A number that is no Danish mobile number is simply not used.
    let caller = start.from.and_then(|f| MobileNumber::parse(&f).ok());
    if voice.calls.lock().unwrap_or_else(|e| e.into_inner()).len() >= MAX_CALLS {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many calls are open",
        ));
    }
    let worker = voice.clone();
    let reply = tokio::task::spawn_blocking(move || open(&worker, caller))
        .await
        .map_err(|_| internal())??;
    Ok(Json(reply))
}

fn open(voice: &Voice, caller: Option<MobileNumber>) -> Result<Reply, Refusal> {
    let app = &voice.app;
    let now = voice.clock.now();
    let mut dialogue = Dialogue::new(app.config());
    let turn = dialogue.step(
        Event::Started {
            channel: Channel::Voice,
        },
        now,
    );
    let conversation = app
        .store
        .start_conversation(&NewConversation {
            channel: store::Channel::Voice,
            municipality: &app.municipality,
            started_at: to_time(now),
            out_of_hours: turn.out_of_hours,
        })
        .map_err(|e| {
            tracing::error!(error = %e, "storing a new webhook call failed");
            internal()
        })?;
    let id = new_session_id();
    let mut call = VoiceCall {
        dialogue,
        conversation,
        caller,
        last_seen: Instant::now(),
        ended: false,
    };
    let reply = finish(voice, &mut call, &id, &turn.actions, &turn.outcome, now)?;
    voice
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, Arc::new(Mutex::new(call)));
    Ok(reply)
}

/// What the platform reported.
enum Reported {
    Utterance(RawUtterance),
    Key(char),
    NoInput,
    SmsResult(bool),
    TransferFailed,
    Hangup,
}

/// Runs one event of call `id` on a blocking thread.
async fn run_turn(voice: Arc<Voice>, id: String, input: Reported) -> Result<Json<Reply>, Refusal> {
    let call = call_of(&voice, &id)?;
    let started = Instant::now();
    let worker = voice.clone();
    let reply = tokio::task::spawn_blocking(move || {
        let mut call = call.lock().unwrap_or_else(|e| e.into_inner());
        turn(&worker, &mut call, &id, input, started)
    })
    .await
    .map_err(|_| internal())??;
    Ok(Json(reply))
}

fn turn(
    voice: &Voice,
    call: &mut VoiceCall,
    id: &str,
    input: Reported,
    started: Instant,
) -> Result<Reply, Refusal> {
    let app = &voice.app;
    call.last_seen = Instant::now();
    let now = voice.clock.now();
    if let Reported::Hangup = input {
        voice
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        close(app, call, now);
        return Ok(Reply {
            call: id.to_string(),
            actions: Vec::new(),
            ended: true,
        });
    }
    if call.ended {
        return Ok(Reply {
            call: id.to_string(),
            actions: Vec::new(),
            ended: true,
        });
    }
    let (turn, said) = match &input {
        Reported::Utterance(raw) => (
            call.dialogue.step(Event::Utterance(raw), now),
            Some(app.scrubber.scrub(raw)),
        ),
        Reported::Key(key) => (
            call.dialogue.step(Event::Dtmf(*key), now),
            Some(
                app.scrubber
                    .scrub(&RawUtterance::new(format!("[tast {key}]"))),
            ),
        ),
        Reported::NoInput => (call.dialogue.step(Event::NoInput, now), None),
        Reported::SmsResult(sent) => (
            call.dialogue.step(Event::SmsResult { sent: *sent }, now),
            None,
        ),
        Reported::TransferFailed => (call.dialogue.step(Event::TransferFailed, now), None),
        Reported::Hangup => return Err(internal()),
    };
    drop(input);
    if let Some(said) = said {
        let latency = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        record::citizen_turn(app, call.conversation, now, &said, &turn, latency).map_err(|e| {
            tracing::error!(error = %e, "storing a webhook turn failed");
            internal()
        })?;
    }
    finish(voice, call, id, &turn.actions, &turn.outcome, now)
}

/// Renders the actions as verbs, stores what the bot said, and records
/// the end when the call is over.
fn finish(
    voice: &Voice,
    call: &mut VoiceCall,
    id: &str,
    actions: &[router::dialogue::Action],
    outcome: &router::dialogue::Outcome,
    now: jiff::Timestamp,
) -> Result<Reply, Refusal> {
    let app = &voice.app;
    let config = app.config();
    let mut verbs = Verb::from_actions(actions, &config.departments);
    for verb in &mut verbs {
        if let Verb::Sms { to, .. } = verb {
            *to = call
                .caller
                .as_ref()
                .map(|n| format!("+{}", n.e164_digits()));
        }
    }
    let said: Vec<&str> = verbs
        .iter()
        .filter_map(|v| match v {
            Verb::Say { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    record::bot_turn(app, call.conversation, now, &said).map_err(|e| {
        tracing::error!(error = %e, "storing the bot's webhook turn failed");
        internal()
    })?;
    let ended = verbs.iter().any(Verb::ends_call);
    if ended && !call.ended {
        call.ended = true;
        record::end(app, call.conversation, now, outcome).map_err(|e| {
            tracing::error!(error = %e, "storing the end of a webhook call failed");
            internal()
        })?;
    }
    Ok(Reply {
        call: id.to_string(),
        actions: verbs,
        ended: call.ended,
    })
}

/// Records the end of a call once (hung up, or idle too long).
fn close(app: &App, call: &mut VoiceCall, now: jiff::Timestamp) {
    call.caller = None;
    if call.ended {
        return;
    }
    call.ended = true;
    let turn = call.dialogue.step(Event::Ended, now);
    if let Err(e) = record::end(app, call.conversation, now, &turn.outcome) {
        tracing::error!(error = %e, "storing the end of a webhook call failed");
    }
}

/// Closes calls idle for longer than [`IDLE`].
async fn sweep(voice: Arc<Voice>) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let idle: Vec<Arc<Mutex<VoiceCall>>> = {
            let mut calls = voice.calls.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let ids: Vec<String> = calls
                .iter()
                .filter(|(_, c)| {
                    c.lock()
                        .map(|c| now.duration_since(c.last_seen) > IDLE)
                        .unwrap_or(true)
                })
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| calls.remove(id)).collect()
        };
        if idle.is_empty() {
            continue;
        }
        let worker = voice.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let now = worker.clock.now();
            for call in idle {
                close(
                    &worker.app,
                    &mut call.lock().unwrap_or_else(|e| e.into_inner()),
                    now,
                );
            }
        })
        .await;
    }
}

/// `POST /api/voice/calls/{id}/utterance`.
async fn utterance(
    State(voice): State<Arc<Voice>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Reply>, Refusal> {
    let body = authenticated(&voice, &headers, body).await?;
    call_of(&voice, &id)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let is_wav_type = ["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"]
        .iter()
        .any(|t| mime.eq_ignore_ascii_case(t));
    if !is_wav_type {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-wav",
            "send the utterance as Content-Type: audio/wav",
        ));
    }
    if body.len() < 12 || &body[0..4] != b"RIFF" || &body[8..12] != b"WAVE" {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-wav",
            "the body is not a WAV file (no RIFF/WAVE header)",
        ));
    }
    // Decoding and resampling are short and bounded (30 s of audio at most).
    let clip = tokio::task::spawn_blocking(move || decode(&body))
        .await
        .map_err(|_| internal())??;
    let Some(recognizer) = voice.recognizer.clone() else {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "no-asr",
            "this server runs without speech recognition; send DTMF",
        ));
    };
    let heard = match recognizer.transcribe(&clip).await {
        Ok(t) => t.into_text(),
        Err(asr::AsrError::Overloaded) => {
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "speech recognition is busy; try again or fall back to DTMF",
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "recognition failed");
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "asr-failed",
                "speech recognition failed",
            ));
        }
    };
    let heard = heard.trim();
    let input = if heard.is_empty() {
        Reported::NoInput
    } else {
        Reported::Utterance(RawUtterance::new(heard))
    };
    run_turn(voice, id, input).await
}

/// A WAV body as a 16 kHz clip, or why not.
fn decode(body: &[u8]) -> Result<asr::AudioClip, Refusal> {
    let wav = asr::decode_wav(body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            "bad-wav",
            format!("the WAV file cannot be used: {e}"),
        )
    })?;
    if wav.rate < 4_000 || wav.rate > 192_000 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "bad-wav",
            format!("sample rate {} Hz is not audio", wav.rate),
        ));
    }
    let seconds = wav.samples.len() as u64 / u64::from(wav.rate);
    if seconds > MAX_UTTERANCE.as_secs() {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-long",
            format!(
                "the utterance is {seconds} s long; at most {} s",
                MAX_UTTERANCE.as_secs()
            ),
        ));
    }
    if wav.samples.is_empty() {
        return Ok(asr::AudioClip::default());
    }
    let samples = if wav.rate == asr::SAMPLE_RATE {
        wav.samples
    } else {
        asr::resample(&wav.samples, wav.rate, asr::SAMPLE_RATE).map_err(|e| {
            refuse(
                StatusCode::BAD_REQUEST,
                "bad-wav",
                format!("the WAV file cannot be used: {e}"),
            )
        })?
    };
    Ok(asr::AudioClip::new(samples))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DtmfBody {
    digit: String,
}

/// `POST /api/voice/calls/{id}/dtmf`.
async fn dtmf(
    State(voice): State<Arc<Voice>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Reply>, Refusal> {
    let body = authenticated(&voice, &headers, body).await?;
    let key: DtmfBody = json_body(&body, r#"{"digit": "2"}"#)?;
    let mut chars = key.digit.chars();
    let key = match (chars.next(), chars.next()) {
        (Some(c @ ('0'..='9' | '*' | '#')), None) => c,
        _ => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "bad-digit",
                "digit must be one of 0-9, * and #",
            ))
        }
    };
    run_turn(voice, id, Reported::Key(key)).await
}

/// `POST /api/voice/calls/{id}/no-input`, `…/transfer-failed` (the
/// platform could not carry out a `transfer` verb) and `…/end`.
async fn signal(
    State(voice): State<Arc<Voice>>,
    UrlPath((id, event)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Reply>, Refusal> {
    let reported =
        match event.as_str() {
            "no-input" => Reported::NoInput,
            "transfer-failed" => Reported::TransferFailed,
            "end" => Reported::Hangup,
            _ => return Err(refuse(
                StatusCode::NOT_FOUND,
                "unknown-event",
                "no such call event (utterance, dtmf, no-input, sms-result, transfer-failed, end)",
            )),
        };
    authenticated(&voice, &headers, body).await?;
    run_turn(voice, id, reported).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsResultBody {
    sent: bool,
}

/// `POST /api/voice/calls/{id}/sms-result`.
async fn sms_result(
    State(voice): State<Arc<Voice>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Reply>, Refusal> {
    let body = authenticated(&voice, &headers, body).await?;
    let result: SmsResultBody = json_body(&body, r#"{"sent": false}"#)?;
    run_turn(voice, id, Reported::SmsResult(result.sent)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(timestamp: i64, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            TIMESTAMP_HEADER,
            timestamp.to_string().parse().expect("header"),
        );
        h.insert(SIGNATURE_HEADER, signature.parse().expect("header"));
        h
    }

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let secret = Secret::new("a-long-shared-secret-for-tests");
        let now = jiff::Timestamp::now().as_second();
        let body = br#"{"digit":"3"}"#;
        let good = sign(&secret, now, body);
        assert!(verify(&secret, &headers(now, &good), body).is_ok());
        // Another body, another time, another secret, an old time.
        assert!(verify(&secret, &headers(now, &good), b"{}").is_err());
        assert!(verify(&secret, &headers(now + 1, &good), body).is_err());
        let other = Secret::new("another-long-shared-secret!!");
        assert!(verify(&other, &headers(now, &good), body).is_err());
        let old = now - 6 * 60;
        let stale = sign(&secret, old, body);
        let refused = verify(&secret, &headers(old, &stale), body).expect_err("too old");
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(verify(&secret, &HeaderMap::new(), body).is_err());
    }

    #[test]
    fn wav_bodies_are_checked() {
        let stereo = {
            let mut w = asr::encode_wav(&[0; 320], 16_000, asr::WavEncoding::Pcm16);
            w[22] = 2;
            w
        };
        let refused = decode(&stereo).expect_err("stereo");
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused.message.contains("2 channels"),
            "{}",
            refused.message
        );
        let long = asr::encode_wav(&vec![0; 8_000 * 31], 8_000, asr::WavEncoding::MuLaw);
        assert_eq!(
            decode(&long).expect_err("too long").status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let cd = asr::encode_wav(&vec![0; 44_100], 44_100, asr::WavEncoding::Pcm16);
        let clip = decode(&cd).expect("any rate is resampled");
        assert_eq!(clip.duration_ms(), 1000);
    }
}

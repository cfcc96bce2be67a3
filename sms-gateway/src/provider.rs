//! The providers that hand a message to the phone network, behind one
//! trait: a GatewayAPI-style REST API, a generic JSON webhook, and a file
//! writer for local runs.
//!
//! A provider only classifies: accepted, [`SendError::Transient`] (try
//! again: timeouts, connection errors, 5xx, 429 with its Retry-After) or
//! [`SendError::Rejected`] (any other 4xx: trying again cannot help). The
//! worker owns retries. Every request carries the outbox's idempotency key
//! (`Idempotency-Key` header, `userref` for GatewayAPI), so a provider
//! that deduplicates makes a resend after a crash harmless.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::number::MobileNumber;
use crate::secret::Secret;

/// One message to send.
#[derive(Debug, Clone)]
pub struct OutgoingSms {
    /// Stable per conversation and link; sent to the provider as the
    /// idempotency key and the user reference.
    pub key: String,
    pub sender: String,
    pub text: String,
    pub recipient: MobileNumber,
}

/// The provider took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The provider's message id, used by delivery-status callbacks.
    pub provider_id: Option<String>,
}

/// Why a send did not succeed; what the worker branches on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later (after `retry_after` if the provider said so).
    #[error("transient failure ({reason})")]
    Transient {
        reason: TransientReason,
        retry_after: Option<Duration>,
    },
    /// The provider refused the message; trying again cannot help.
    #[error("rejected by the provider (status {status})")]
    Rejected { status: u16 },
}

/// What went wrong, for the outbox's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransientReason {
    Timeout,
    Connect,
    /// A 5xx or 429.
    Status(u16),
    /// Any other I/O trouble (a broken body, a full disk).
    Io,
}

impl std::fmt::Display for TransientReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransientReason::Timeout => f.write_str("timeout"),
            TransientReason::Connect => f.write_str("connection error"),
            TransientReason::Status(s) => write!(f, "status {s}"),
            TransientReason::Io => f.write_str("i/o error"),
        }
    }
}

/// Something that sends an SMS. Implementations must be cheap to share:
/// the worker calls `send` from several tasks at once.
pub trait Provider: Send + Sync + 'static {
    fn send(&self, sms: &OutgoingSms) -> impl Future<Output = Result<Accepted, SendError>> + Send;
}

/// A GatewayAPI-style REST API: `POST url` with `Authorization: Token …`
/// and `{"sender", "message", "recipients": [{"msisdn"}], "userref"}`;
/// the reply is `{"ids": [id]}`.
#[derive(Debug, Clone)]
pub struct GatewayApiProvider {
    client: reqwest::Client,
    url: String,
    token: Secret,
}

impl GatewayApiProvider {
    pub fn new(url: String, token: Secret, timeout: Duration) -> Result<Self, ProviderSetupError> {
        Ok(GatewayApiProvider {
            client: client(timeout)?,
            url,
            token,
        })
    }
}

/// A generic JSON webhook: `POST url` with `{"id", "to", "from", "text"}`
/// and, when a token is configured, `Authorization: Bearer …`; any 2xx
/// accepts, and an `{"id": …}` reply is kept as the provider id.
#[derive(Debug, Clone)]
pub struct WebhookProvider {
    client: reqwest::Client,
    url: String,
    token: Option<Secret>,
}

impl WebhookProvider {
    pub fn new(
        url: String,
        token: Option<Secret>,
        timeout: Duration,
    ) -> Result<Self, ProviderSetupError> {
        Ok(WebhookProvider {
            client: client(timeout)?,
            url,
            token,
        })
    }
}

/// The HTTP client could not be built (TLS set-up).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct ProviderSetupError(#[source] reqwest::Error);

fn client(timeout: Duration) -> Result<reqwest::Client, ProviderSetupError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .build()
        .map_err(ProviderSetupError)
}

#[derive(Deserialize)]
struct GatewayApiReply {
    #[serde(default)]
    ids: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct WebhookReply {
    #[serde(default)]
    id: Option<serde_json::Value>,
}

fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Provider for GatewayApiProvider {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        // The recipient goes as a number, as GatewayAPI documents it.
        let msisdn: u64 = sms.recipient.e164_digits().parse().unwrap_or_default();
        let body = serde_json::json!({
            "sender": sms.sender,
            "message": sms.text,
            "recipients": [{ "msisdn": msisdn }],
            "userref": sms.key,
        });
        let response = self
            .client
            .post(&self.url)
            .header("Authorization", format!("Token {}", self.token.expose()))
            .header("Idempotency-Key", &sms.key)
            .json(&body)
            .send()
            .await
            .map_err(classify_error)?;
        check_status(&response)?;
        let reply: Option<GatewayApiReply> = response.json().await.ok();
        Ok(Accepted {
            provider_id: reply.and_then(|r| r.ids.first().and_then(id_text)),
        })
    }
}

impl Provider for WebhookProvider {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let body = serde_json::json!({
            "id": sms.key,
            "to": format!("+{}", sms.recipient.e164_digits()),
            "from": sms.sender,
            "text": sms.text,
        });
        let mut request = self
            .client
            .post(&self.url)
            .header("Idempotency-Key", &sms.key)
            .json(&body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let response = request.send().await.map_err(classify_error)?;
        check_status(&response)?;
        let reply: Option<WebhookReply> = response.json().await.ok();
        Ok(Accepted {
            provider_id: reply.and_then(|r| r.id.as_ref().and_then(id_text)),
        })
    }
}

fn classify_error(e: reqwest::Error) -> SendError {
    let reason = if e.is_timeout() {
        TransientReason::Timeout
    } else if e.is_connect() {
        TransientReason::Connect
    } else {
        TransientReason::Io
    };
    SendError::Transient {
        reason,
        retry_after: None,
    }
}

fn check_status(response: &reqwest::Response) -> Result<(), SendError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let code = status.as_u16();
    if code == 429 || status.is_server_error() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        return Err(SendError::Transient {
            reason: TransientReason::Status(code),
            retry_after,
        });
    }
    Err(SendError::Rejected { status: code })
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Writes each message as a JSON line to a file in the data directory, for
/// local runs and set-up checks. The recipient is written masked
/// (`+45******78`): the file is for reading what would have been sent.
#[derive(Debug, Clone)]
pub struct FileProvider {
    path: PathBuf,
    lock: std::sync::Arc<std::sync::Mutex<()>>,
}

impl FileProvider {
    pub fn new(path: PathBuf) -> FileProvider {
        FileProvider {
            path,
            lock: Default::default(),
        }
    }
}

impl Provider for FileProvider {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let digits = sms.recipient.e164_digits();
        let line = serde_json::json!({
            "key": sms.key,
            "to": format!("+45******{}", &digits[digits.len() - 2..]),
            "from": sms.sender,
            "text": sms.text,
        });
        let io = SendError::Transient {
            reason: TransientReason::Io,
            retry_after: None,
        };
        // A short append under a lock; not worth a blocking-pool hop.
        let _guard = self.lock.lock().map_err(|_| io.clone())?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|_| io.clone())?;
        writeln!(file, "{line}").map_err(|_| io.clone())?;
        Ok(Accepted {
            provider_id: Some(sms.key.clone()),
        })
    }
}

/// The provider chosen in the settings, as one type the worker can hold.
#[derive(Debug, Clone)]
pub enum AnyProvider {
    GatewayApi(GatewayApiProvider),
    Webhook(WebhookProvider),
    File(FileProvider),
}

impl Provider for AnyProvider {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        match self {
            AnyProvider::GatewayApi(p) => p.send(sms).await,
            AnyProvider::Webhook(p) => p.send(sms).await,
            AnyProvider::File(p) => p.send(sms).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}

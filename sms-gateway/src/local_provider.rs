//! A GatewayAPI-style provider on localhost, for tests and benchmarks.
//!
//! It is a real HTTP server (axum on a loopback port) that the real
//! [`GatewayApiProvider`](crate::GatewayApiProvider) talks to. A script
//! decides each reply from how many times the same message (idempotency
//! key) was seen before, so "500 then 200" or "429 with Retry-After" are
//! one closure. It counts what it accepted per key, which is how tests
//! check that every message is sent exactly once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

/// What the local provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// 200 with `{"ids": [n]}`.
    Accept,
    /// This status with an error body.
    Status(u16),
    /// 429 (or another status) with `Retry-After: secs`.
    RetryAfter(u16, u64),
    /// Waits this long, then accepts (a client with a shorter timeout
    /// sees a timeout).
    Stall(Duration),
}

/// One request the provider received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `userref` (the outbox's idempotency key).
    pub key: String,
    pub sender: String,
    pub message: String,
    /// The recipient's digits, e.g. 4522334455.
    pub msisdn: u64,
    /// When the reply was decided.
    pub at: Instant,
    pub status: u16,
    /// A repeat of a key already accepted, answered with the first id
    /// and not sent again (the provider deduplicates on the key).
    pub duplicate: bool,
}

type Script = Box<dyn Fn(usize) -> Reply + Send + Sync>;

struct Shared {
    token: String,
    script: Script,
    seen: Mutex<HashMap<String, usize>>,
    accepted: Mutex<HashMap<String, u64>>,
    log: Mutex<Vec<Received>>,
    next_id: AtomicU64,
}

/// The running local provider; it stops when dropped.
pub struct LocalProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LocalProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Deserialize)]
struct Body {
    sender: String,
    message: String,
    recipients: Vec<Recipient>,
    #[serde(default)]
    userref: String,
}

#[derive(Deserialize)]
struct Recipient {
    msisdn: u64,
}

impl LocalProvider {
    /// Starts on a free loopback port. `token` is the API token it
    /// requires; `script(n)` is the reply to the n-th request (from 0) for
    /// one idempotency key.
    pub async fn start(
        token: &str,
        script: impl Fn(usize) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<LocalProvider> {
        let shared = Arc::new(Shared {
            token: token.to_string(),
            script: Box::new(script),
            seen: Mutex::default(),
            accepted: Mutex::default(),
            log: Mutex::default(),
            next_id: AtomicU64::new(1000),
        });
        let app = Router::new()
            .route("/rest/mtsms", post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(LocalProvider { addr, shared, task })
    }

    /// Requests repeating a key that was already accepted.
    pub fn duplicates(&self) -> usize {
        self.received().iter().filter(|r| r.duplicate).count()
    }

    /// The URL to configure the provider with.
    pub fn url(&self) -> String {
        format!("http://{}/rest/mtsms", self.addr)
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// How many messages were sent per key: accepted (200) and not a
    /// duplicate of an earlier acceptance.
    pub fn accepted_per_key(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for r in self
            .received()
            .iter()
            .filter(|r| r.status == 200 && !r.duplicate)
        {
            *out.entry(r.key.clone()).or_insert(0) += 1;
        }
        out
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let expected = format!("Token {}", shared.token);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, "bad token").into_response();
    }
    let Ok(body) = serde_json::from_slice::<Body>(&body) else {
        return (StatusCode::BAD_REQUEST, "bad body").into_response();
    };
    let n = {
        let Ok(mut seen) = shared.seen.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let count = seen.entry(body.userref.clone()).or_insert(0);
        *count += 1;
        *count - 1
    };
    let earlier = shared
        .accepted
        .lock()
        .ok()
        .and_then(|a| a.get(&body.userref).copied());
    if let Some(id) = earlier {
        if let Ok(mut log) = shared.log.lock() {
            log.push(Received {
                key: body.userref.clone(),
                sender: body.sender,
                message: body.message,
                msisdn: body.recipients.first().map_or(0, |r| r.msisdn),
                at: Instant::now(),
                status: 200,
                duplicate: true,
            });
        }
        return (StatusCode::OK, Json(serde_json::json!({ "ids": [id] }))).into_response();
    }
    let reply = (shared.script)(n);
    if let Reply::Stall(d) = reply {
        tokio::time::sleep(d).await;
    }
    let status = match reply {
        Reply::Accept | Reply::Stall(_) => 200,
        Reply::Status(s) | Reply::RetryAfter(s, _) => s,
    };
    if let Ok(mut log) = shared.log.lock() {
        log.push(Received {
            key: body.userref.clone(),
            sender: body.sender,
            message: body.message,
            msisdn: body.recipients.first().map_or(0, |r| r.msisdn),
            at: Instant::now(),
            status,
            duplicate: false,
        });
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply {
        Reply::Accept | Reply::Stall(_) => {
            let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut a) = shared.accepted.lock() {
                a.insert(body.userref.clone(), id);
            }
            (StatusCode::OK, Json(serde_json::json!({ "ids": [id] }))).into_response()
        }
        Reply::Status(_) => (
            code,
            Json(serde_json::json!({ "code": "test", "message": "scripted" })),
        )
            .into_response(),
        Reply::RetryAfter(_, secs) => {
            let mut r = (code, "slow down").into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
    }
}

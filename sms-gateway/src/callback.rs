//! The delivery-status endpoint the provider calls back.
//!
//! `POST /sms/status` with a JSON body in GatewayAPI's shape
//! (`{"id": 123, "status": "DELIVERED", "userref": "…", …}`; other fields
//! are ignored, among them the recipient's number, which is never read
//! into a log or the store). A request is authenticated either by
//! `X-Vejviser-Signature: sha256=<hex HMAC-SHA256 of the body>` or by
//! `Authorization: Bearer <secret>`, both with the configured secret.
//! Answers: 204 applied, 202 a status that changes nothing (en route,
//! buffered), 401 bad or missing authentication, 400 unreadable body, 404
//! unknown message; errors carry a `{code, message}` body.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::outbox::Outbox;
use crate::secret::Secret;

/// The header carrying the body's HMAC.
pub const SIGNATURE_HEADER: &str = "x-vejviser-signature";

#[derive(Clone)]
struct CallbackState {
    outbox: Outbox,
    secret: Secret,
}

/// The router to mount in the HTTP server: `POST /sms/status`.
pub fn delivery_status_router(outbox: Outbox, secret: Secret) -> Router {
    Router::new()
        .route("/sms/status", post(status))
        .with_state(CallbackState { outbox, secret })
}

/// The signature header value for `body`, for providers and tests.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

fn mac(secret: &Secret, body: &[u8]) -> Hmac<Sha256> {
    let mut m = match Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    m.update(body);
    m
}

fn authenticated(headers: &HeaderMap, secret: &Secret, body: &[u8]) -> bool {
    if let Some(sig) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) {
        let Some(hex_sig) = sig.strip_prefix("sha256=") else {
            return false;
        };
        let Ok(bytes) = hex::decode(hex_sig) else {
            return false;
        };
        // verify_slice compares in constant time.
        return mac(secret, body).verify_slice(&bytes).is_ok();
    }
    if let Some(auth) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(token) = auth.strip_prefix("Bearer ") {
            // Comparing digests keeps the time independent of where the
            // strings differ.
            return Sha256::digest(token.trim().as_bytes())
                == Sha256::digest(secret.expose().as_bytes());
        }
    }
    false
}

#[derive(Deserialize)]
struct StatusReport {
    #[serde(default)]
    id: Option<serde_json::Value>,
    status: String,
    #[serde(default)]
    userref: Option<String>,
}

fn error(status: StatusCode, code: &'static str, message: &'static str) -> Response {
    (
        status,
        Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
}

async fn status(State(state): State<CallbackState>, headers: HeaderMap, body: Bytes) -> Response {
    if !authenticated(&headers, &state.secret, &body) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong signature",
        );
    }
    let Ok(report) = serde_json::from_slice::<StatusReport>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad-body",
            "expected a JSON delivery report",
        );
    };
    let delivered = match report.status.to_ascii_uppercase().as_str() {
        "DELIVERED" => true,
        "UNDELIVERED" | "REJECTED" | "EXPIRED" | "SKIPPED" | "FAILED" => false,
        _ => return StatusCode::ACCEPTED.into_response(),
    };
    let provider_id = report.id.as_ref().and_then(|v| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let outbox = state.outbox.clone();
    let found = tokio::task::spawn_blocking(move || {
        outbox.record_delivery(provider_id.as_deref(), report.userref.as_deref(), delivered)
    })
    .await;
    match found {
        Ok(Ok(true)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(false)) => error(
            StatusCode::NOT_FOUND,
            "unknown-message",
            "no sent message has this id",
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot record a delivery report");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the report could not be stored",
            )
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the report could not be stored",
        ),
    }
}

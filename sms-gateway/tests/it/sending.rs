//! The worker and the real HTTP provider against the local provider.

use std::time::Duration;

use sms_gateway::local_provider::Reply;
use sms_gateway::State;

use crate::{enqueue, finished, options, rig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_message_is_sent_once_and_number_erased() {
    let r = rig(|_| Reply::Accept, Duration::from_secs(5), options()).await;
    let id = enqueue(&r.outbox, "c1");
    let s = finished(&r.outbox, id).await;
    assert_eq!(s.state, State::Sent);
    assert_eq!(s.attempts, 1);
    assert!(!s.has_number);
    assert!(s.provider_id.is_some());
    let got = r.provider.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].msisdn, 4522334455);
    assert_eq!(got[0].sender, "Eksempel");
    assert_eq!(got[0].message, "Se videoen: https://video.eksempel.dk/pas");
    let c = r.outbox.counts().unwrap();
    assert_eq!((c.pending, c.sent, c.failed), (0, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_retried_after_500_then_sent() {
    let r = rig(
        |n| {
            if n == 0 {
                Reply::Status(500)
            } else {
                Reply::Accept
            }
        },
        Duration::from_secs(5),
        options(),
    )
    .await;
    let id = enqueue(&r.outbox, "c1");
    let s = finished(&r.outbox, id).await;
    assert_eq!(s.state, State::Sent);
    assert_eq!(s.attempts, 2);
    let statuses: Vec<u16> = r.provider.received().iter().map(|x| x.status).collect();
    assert_eq!(statuses, vec![500, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_retried_after_timeout() {
    let r = rig(
        |n| {
            if n == 0 {
                Reply::Stall(Duration::from_millis(1500))
            } else {
                Reply::Accept
            }
        },
        Duration::from_millis(300),
        options(),
    )
    .await;
    let id = enqueue(&r.outbox, "c1");
    let s = finished(&r.outbox, id).await;
    assert_eq!(s.state, State::Sent);
    assert_eq!(s.attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_retried_after_429_honours_retry_after() {
    let r = rig(
        |n| {
            if n == 0 {
                Reply::RetryAfter(429, 1)
            } else {
                Reply::Accept
            }
        },
        Duration::from_secs(5),
        options(),
    )
    .await;
    let id = enqueue(&r.outbox, "c1");
    let s = finished(&r.outbox, id).await;
    assert_eq!(s.state, State::Sent);
    let got = r.provider.received();
    assert_eq!(
        got.iter().map(|x| x.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
    // The backoff alone would have tried again after 10–20 ms.
    let gap = got[1].at.duration_since(got[0].at);
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_rejected_with_400_is_failed_without_retry() {
    let r = rig(|_| Reply::Status(400), Duration::from_secs(5), options()).await;
    let id = enqueue(&r.outbox, "c1");
    let s = finished(&r.outbox, id).await;
    assert_eq!(s.state, State::Failed);
    assert_eq!(s.attempts, 1);
    assert_eq!(s.last_error.as_deref(), Some("rejected: status 400"));
    assert!(!s.has_number);
    assert_eq!(r.provider.received().len(), 1);
    assert_eq!(r.outbox.counts().unwrap().failed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_failed_after_last_try() {
    let r = rig(|_| Reply::Status(503), Duration::from_secs(5), options()).await;
    let id = enqueue(&r.outbox, "c1");
    let s = finished(&r.outbox, id).await;
    assert_eq!(s.state, State::Failed);
    assert_eq!(s.attempts, 3);
    assert_eq!(s.last_error.as_deref(), Some("transient: status 503"));
    assert_eq!(r.provider.received().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_transient() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let outbox = crate::open(dir.path());
    let http = sms_gateway::GatewayApiProvider::new(
        format!("http://127.0.0.1:{port}/rest/mtsms"),
        sms_gateway::Secret::new("x"),
        Duration::from_secs(2),
    )
    .unwrap();
    let worker = sms_gateway::Worker::new(outbox.clone(), http, options()).spawn();
    let id = enqueue(&outbox, "c1");
    let s = finished(&outbox, id).await;
    worker.shutdown().await;
    assert_eq!(s.state, State::Failed);
    assert_eq!(s.attempts, 3);
    assert_eq!(s.last_error.as_deref(), Some("transient: connection error"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_each_sent_exactly_once_and_no_digits_left_in_files() {
    let mut r = rig(
        |n| {
            if n == 0 {
                Reply::Status(502)
            } else {
                Reply::Accept
            }
        },
        Duration::from_secs(5),
        options(),
    )
    .await;
    let ids: Vec<_> = (0..40)
        .map(|i| {
            let n = sms_gateway::MobileNumber::parse(&format!("2233{:04}", 4000 + i)).unwrap();
            match r
                .outbox
                .enqueue(&format!("c{i}"), "l", &n, "t {url}")
                .unwrap()
            {
                sms_gateway::Enqueued::Queued(id) => id,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    for id in &ids {
        assert_eq!(finished(&r.outbox, *id).await.state, State::Sent);
    }
    let accepted = r.provider.accepted_per_key();
    assert_eq!(accepted.len(), 40);
    assert!(accepted.values().all(|&n| n == 1));
    if let Some(w) = r.worker.take() {
        // Let the idle worker checkpoint, then stop it.
        tokio::time::sleep(Duration::from_millis(600)).await;
        w.shutdown().await;
    }
    let mut bytes = std::fs::read(r._dir.path().join("outbox.sqlite3")).unwrap();
    bytes.extend(std::fs::read(r._dir.path().join("outbox.sqlite3-wal")).unwrap_or_default());
    for i in 0..40 {
        let digits = format!("452233{:04}", 4000 + i);
        assert!(
            !bytes.windows(10).any(|w| w == digits.as_bytes()),
            "{digits} still in the files"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_provider_posts_json_with_bearer_token_and_key() {
    use std::sync::{Arc, Mutex};

    use axum::http::HeaderMap;
    use sms_gateway::{OutgoingSms, Provider, Secret, WebhookProvider};

    type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>, serde_json::Value)>>>;
    let seen: Seen = Arc::default();
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: HeaderMap, body: axum::Json<serde_json::Value>| {
                let store = store.clone();
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .map(String::from)
                    };
                    store
                        .lock()
                        .unwrap()
                        .push((h("authorization"), h("idempotency-key"), body.0));
                    axum::Json(serde_json::json!({ "id": "hook-1" }))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let provider = WebhookProvider::new(
        url,
        Some(Secret::new("hook-secret")),
        Duration::from_secs(5),
    )
    .unwrap();
    let sms = OutgoingSms {
        key: "k1".into(),
        sender: "Eksempel".into(),
        text: "Se https://x.dk".into(),
        recipient: crate::number(),
    };
    let accepted = provider.send(&sms).await.unwrap();
    assert_eq!(accepted.provider_id.as_deref(), Some("hook-1"));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (auth, key, body) = &seen[0];
    assert_eq!(auth.as_deref(), Some("Bearer hook-secret"));
    assert_eq!(key.as_deref(), Some("k1"));
    assert_eq!(
        body,
        &serde_json::json!({"id": "k1", "to": "+4522334455", "from": "Eksempel", "text": "Se https://x.dk"})
    );
}

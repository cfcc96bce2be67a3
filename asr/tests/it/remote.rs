//! The remote backend against a local axum server that plays an
//! OpenAI-compatible `/v1/audio/transcriptions` endpoint.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use asr::{AsrError, Backend, LocalRecognizer, Recognizer, RemoteConfig, RemoteRecognizer};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use crate::speech::{config, danish_clip};

#[derive(Default, Clone)]
struct Seen {
    fields: Arc<Mutex<Vec<(String, usize, String)>>>,
}

enum Behaviour {
    Answer(&'static str),
    Slow,
    Fail,
}

async fn serve(behaviour: Behaviour) -> (String, Seen) {
    let seen = Seen::default();
    let behaviour = Arc::new(behaviour);
    let app = Router::new()
        .route(
            "/v1/audio/transcriptions",
            post(move |State(seen): State<Seen>, mut form: Multipart| {
                let behaviour = Arc::clone(&behaviour);
                async move {
                    while let Ok(Some(field)) = form.next_field().await {
                        let name = field.name().unwrap_or_default().to_string();
                        let bytes = field.bytes().await.unwrap_or_default();
                        let text = if name == "file" {
                            String::from_utf8_lossy(&bytes[..12.min(bytes.len())]).into_owned()
                        } else {
                            String::from_utf8_lossy(&bytes).into_owned()
                        };
                        seen.fields
                            .lock()
                            .expect("lock")
                            .push((name, bytes.len(), text));
                    }
                    match *behaviour {
                        Behaviour::Answer(text) => {
                            Ok(Json(serde_json::json!({ "text": format!(" {text} ") })))
                        }
                        Behaviour::Slow => {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            Ok(Json(serde_json::json!({ "text": "too late" })))
                        }
                        Behaviour::Fail => Err(StatusCode::INTERNAL_SERVER_ERROR),
                    }
                }
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn remote(url: &str, timeout_ms: u64) -> RemoteRecognizer {
    let mut c = RemoteConfig::new(url);
    c.timeout = Duration::from_millis(timeout_ms);
    c.prompt = "Borgerservice, pas.".into();
    RemoteRecognizer::new(c).expect("client")
}

#[tokio::test]
async fn remote_server_gets_a_danish_multipart_request() {
    let (url, seen) = serve(Behaviour::Answer("jeg skal have nyt pas")).await;
    let recognizer = Recognizer::new(Some(remote(&url, 2000)), None).unwrap();
    let clip = asr::AudioClip::new(vec![100; 16_000]);
    let t = recognizer.transcribe(&clip).await.unwrap();
    assert_eq!(t.backend, Backend::Remote);
    assert_eq!(t.text(), "jeg skal have nyt pas");
    let fields = seen.fields.lock().unwrap().clone();
    let get = |n: &str| fields.iter().find(|f| f.0 == n).cloned();
    let file = get("file").expect("a file field");
    assert_eq!(file.1, 44 + 32_000, "one second of 16-bit 16 kHz WAV");
    assert!(file.2.starts_with("RIFF"));
    assert_eq!(get("language").map(|f| f.2), Some("da".into()));
    assert_eq!(
        get("prompt").map(|f| f.2),
        Some("Borgerservice, pas.".into())
    );
    assert_eq!(get("response_format").map(|f| f.2), Some("json".into()));
}

#[tokio::test]
async fn remote_errors_without_fallback_are_remote_errors() {
    let (url, _) = serve(Behaviour::Fail).await;
    let recognizer = Recognizer::new(Some(remote(&url, 2000)), None).unwrap();
    let err = recognizer
        .transcribe(&asr::AudioClip::new(vec![0; 16_000]))
        .await;
    match err {
        Err(AsrError::Remote { reason }) => assert!(reason.contains("500"), "{reason}"),
        other => panic!("expected a remote error, got {other:?}"),
    }
    // Nothing listens on this port: a connection error, also Remote.
    let dead = Recognizer::new(Some(remote("http://127.0.0.1:9", 500)), None).unwrap();
    let err = dead.transcribe(&asr::AudioClip::new(vec![0; 16_000])).await;
    assert!(matches!(err, Err(AsrError::Remote { .. })), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_remote_falls_back_to_the_local_model() {
    let (url, _) = serve(Behaviour::Slow).await;
    let local = tokio::task::spawn_blocking(|| LocalRecognizer::start(config()))
        .await
        .unwrap()
        .unwrap();
    let recognizer = Recognizer::new(Some(remote(&url, 300)), Some(local)).unwrap();
    let clip = danish_clip("jeg vil gerne bestille et nyt kørekort");
    let t = recognizer.transcribe(&clip).await.unwrap();
    assert_eq!(t.backend, Backend::Local);
    assert!(
        t.text().to_lowercase().contains("kørekort"),
        "heard {:?}",
        t.text()
    );
}

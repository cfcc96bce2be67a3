//! Integration tests: the real HTTP provider, outbox and worker against a
//! local HTTP server playing the provider.

// Test helpers fail the test by panicking; that is what unwrap is for here.
#![allow(clippy::unwrap_used)]

mod callback;
mod sending;

use std::path::Path;
use std::time::{Duration, Instant};

use sms_gateway::local_provider::{LocalProvider, Reply};
use sms_gateway::{
    Enqueued, GatewayApiProvider, MessageId, MessageStatus, MobileNumber, Outbox, OutboxOptions,
    Secret, State, Worker, WorkerHandle, WorkerOptions,
};

pub(crate) const TOKEN: &str = "test-token";

pub(crate) struct Rig {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) outbox: Outbox,
    pub(crate) provider: LocalProvider,
    pub(crate) worker: Option<WorkerHandle>,
}

pub(crate) fn options() -> WorkerOptions {
    WorkerOptions {
        max_attempts: 3,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_secs(5),
        concurrency: 4,
        idle_poll: Duration::from_millis(200),
    }
}

pub(crate) fn open(path: &Path) -> Outbox {
    Outbox::open(
        &path.join("outbox.sqlite3"),
        OutboxOptions {
            sender: "Eksempel".into(),
            per_number_per_day: 5,
        },
    )
    .unwrap()
}

pub(crate) async fn rig(
    script: impl Fn(usize) -> Reply + Send + Sync + 'static,
    timeout: Duration,
    options: WorkerOptions,
) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let provider = LocalProvider::start(TOKEN, script).await.unwrap();
    let http = GatewayApiProvider::new(provider.url(), Secret::new(TOKEN), timeout).unwrap();
    let worker = Worker::new(outbox.clone(), http, options).spawn();
    Rig {
        _dir: dir,
        outbox,
        provider,
        worker: Some(worker),
    }
}

pub(crate) fn number() -> MobileNumber {
    MobileNumber::parse("+45 22 33 44 55").unwrap()
}

pub(crate) fn enqueue(outbox: &Outbox, conversation: &str) -> MessageId {
    match outbox
        .enqueue(
            conversation,
            "https://video.eksempel.dk/pas",
            &number(),
            "Se videoen: https://video.eksempel.dk/pas",
        )
        .unwrap()
    {
        Enqueued::Queued(id) => id,
        other => panic!("not queued: {other:?}"),
    }
}

/// Polls until the message leaves `pending` (at most 20 s).
pub(crate) async fn finished(outbox: &Outbox, id: MessageId) -> MessageStatus {
    let start = Instant::now();
    loop {
        let s = outbox.status(id).unwrap().unwrap();
        if s.state != State::Pending {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "still pending: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

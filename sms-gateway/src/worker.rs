//! The worker that drains the outbox through a provider.
//!
//! One tokio task picks due messages and runs at most `concurrency` sends
//! at once (a semaphore, so the work in flight is bounded). A transient
//! failure (timeout, connection error, 5xx, 429) is tried again after an
//! exponential backoff with jitter, or after the provider's Retry-After
//! when it gave one; a rejection (other 4xx) or the last try marks the
//! message failed. SQLite work runs on the blocking pool.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::config::OutboxSettings;
use crate::outbox::{now_ms, Due, MessageId, Outbox, OutboxError};
use crate::provider::{OutgoingSms, Provider, SendError};

/// Retry and concurrency settings of a [`Worker`].
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Tries before a message is marked failed.
    pub max_attempts: u32,
    /// Backoff before the second try; doubled for each further try.
    pub backoff_base: Duration,
    /// The longest backoff (and the longest Retry-After honoured).
    pub backoff_max: Duration,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// How often the outbox is looked at when nothing wakes the worker
    /// (messages enqueued by another process).
    pub idle_poll: Duration,
}

impl From<&OutboxSettings> for WorkerOptions {
    fn from(s: &OutboxSettings) -> Self {
        WorkerOptions {
            max_attempts: s.max_attempts,
            backoff_base: s.backoff_base,
            backoff_max: s.backoff_max,
            concurrency: s.concurrency,
            idle_poll: Duration::from_secs(1),
        }
    }
}

/// Sends the outbox's messages. Create it with a provider, then
/// [`Worker::spawn`] it on a tokio runtime. Run one worker per outbox.
pub struct Worker<P> {
    outbox: Outbox,
    provider: Arc<P>,
    options: WorkerOptions,
}

/// The running worker; [`WorkerHandle::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops picking new messages and waits for the sends in flight.
    pub async fn shutdown(self) {
        self.stop.notify_one();
        if self.task.await.is_err() {
            tracing::error!("the sms worker task panicked");
        }
    }
}

impl<P: Provider> Worker<P> {
    pub fn new(outbox: Outbox, provider: P, options: WorkerOptions) -> Worker<P> {
        Worker {
            outbox,
            provider: Arc::new(provider),
            options,
        }
    }

    /// Starts the worker task on the current tokio runtime.
    pub fn spawn(self) -> WorkerHandle {
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(self.run(stop.clone()));
        WorkerHandle { stop, task }
    }

    async fn run(self, stop: Arc<Notify>) {
        let options = Arc::new(self.options);
        let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let busy: Arc<Mutex<HashSet<MessageId>>> = Arc::default();
        let mut sends = JoinSet::new();
        let mut finished_since_checkpoint = 0usize;
        loop {
            while sends.try_join_next().is_some() {
                finished_since_checkpoint += 1;
            }
            let free = slots.available_permits();
            let snapshot = busy.lock().map(|b| b.clone()).unwrap_or_default();
            let outbox = self.outbox.clone();
            let picked = blocking(move || {
                let due = if free > 0 {
                    outbox.due(now_ms(), free, &snapshot)?
                } else {
                    Vec::new()
                };
                let mut all_busy = snapshot;
                all_busy.extend(due.iter().map(|d| d.id));
                let next = outbox.next_due(&all_busy)?;
                Ok((due, next))
            })
            .await;
            let (due, next) = match picked {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(error = %e, "sms outbox unreadable; retrying");
                    (Vec::new(), Some(now_ms() + 1000))
                }
            };
            for message in due {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                if let Ok(mut b) = busy.lock() {
                    b.insert(message.id);
                }
                let (outbox, provider, options, busy) = (
                    self.outbox.clone(),
                    self.provider.clone(),
                    options.clone(),
                    busy.clone(),
                );
                sends.spawn(async move {
                    let id = message.id;
                    send_one(&outbox, &*provider, &options, message).await;
                    if let Ok(mut b) = busy.lock() {
                        b.remove(&id);
                    }
                    drop(permit);
                });
            }
            if sends.is_empty() && next.is_none() && finished_since_checkpoint > 0 {
                let outbox = self.outbox.clone();
                if let Err(e) = blocking(move || outbox.checkpoint()).await {
                    tracing::warn!(error = %e, "sms outbox checkpoint failed");
                }
                finished_since_checkpoint = 0;
            }
            let wait = match next {
                Some(at) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)),
                None => options.idle_poll,
            }
            .min(options.idle_poll);
            tokio::select! {
                _ = stop.notified() => break,
                _ = self.outbox.woken() => {}
                _ = tokio::time::sleep(wait) => {}
                Some(_) = sends.join_next(), if !sends.is_empty() => finished_since_checkpoint += 1,
            }
        }
        while sends.join_next().await.is_some() {}
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OutboxError> + Send + 'static,
) -> Result<T, OutboxError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(_) => Err(OutboxError::Poisoned),
    }
}

async fn send_one<P: Provider>(
    outbox: &Outbox,
    provider: &P,
    options: &WorkerOptions,
    message: Due,
) {
    let id = message.id;
    let attempts = message.attempts + 1;
    let Some(recipient) = message.number else {
        // Cannot happen for a pending row; fail it rather than loop.
        let o = outbox.clone();
        let _ = blocking(move || o.mark_failed(id, attempts, "number missing")).await;
        tracing::error!(message = id.0, "pending sms has no number; marked failed");
        return;
    };
    let sms = OutgoingSms {
        key: message.key,
        sender: message.sender,
        text: message.text,
        recipient,
    };
    let result = provider.send(&sms).await;
    let o = outbox.clone();
    let recorded = match result {
        Ok(accepted) => {
            tracing::info!(message = id.0, attempts, "sms accepted by the provider");
            blocking(move || o.mark_sent(id, attempts, accepted.provider_id.as_deref())).await
        }
        Err(SendError::Rejected { status }) => {
            tracing::warn!(
                message = id.0,
                attempts,
                status,
                "sms rejected by the provider"
            );
            blocking(move || o.mark_failed(id, attempts, &format!("rejected: status {status}")))
                .await
        }
        Err(SendError::Transient {
            reason,
            retry_after,
        }) => {
            let error = format!("transient: {reason}");
            if attempts >= options.max_attempts {
                tracing::warn!(message = id.0, attempts, %reason, "sms failed after the last try");
                blocking(move || o.mark_failed(id, attempts, &error)).await
            } else {
                let delay = retry_after
                    .map(|d| d.min(options.backoff_max))
                    .unwrap_or_else(|| backoff(options, attempts));
                tracing::debug!(message = id.0, attempts, %reason, delay_ms = delay.as_millis() as u64, "sms will be tried again");
                let next = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                blocking(move || o.mark_retry(id, attempts, next, &error)).await
            }
        }
    };
    if let Err(e) = recorded {
        tracing::error!(message = id.0, error = %e, "cannot record the sms result; it may be sent again");
    }
}

/// Exponential backoff with "equal jitter": half the doubled delay fixed,
/// half random, so retries after a provider outage spread out.
fn backoff(options: &WorkerOptions, attempts_done: u32) -> Duration {
    let exp = options
        .backoff_base
        .saturating_mul(1u32 << attempts_done.saturating_sub(1).min(20))
        .min(options.backoff_max);
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let o = WorkerOptions {
            max_attempts: 10,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            concurrency: 1,
            idle_poll: Duration::from_secs(1),
        };
        for (attempt, full) in [(1, 2), (2, 4), (3, 8), (9, 60)] {
            let d = backoff(&o, attempt);
            let full = Duration::from_secs(full);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }
}

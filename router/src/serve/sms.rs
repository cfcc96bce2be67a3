//! The chat's share of the SMS gateway: the municipality's `sms.yaml`, the
//! outbox in the data directory, and the worker that sends from it.
//!
//! The chat stores a message with [`Outbox::enqueue`] before it tells the
//! citizen the SMS is on its way; one worker task (bounded concurrency, set
//! in `sms.yaml`) sends it through the configured provider (by default the
//! file provider, `data/sms-sent.jsonl`).

use std::path::Path;

use sms_gateway::{
    Enqueued, LinkRef, MobileNumber, Outbox, SmsConfig, Worker, WorkerHandle, WorkerOptions,
};

use crate::commands::sms as sms_files;
use crate::paths::Project;

/// What the chat needs to queue a link.
pub(crate) struct ChatSms {
    config: SmsConfig,
    outbox: Outbox,
}

/// Loads `sms.yaml`, opens the outbox and starts its worker. `None` when
/// the municipality has no `sms.yaml` (the chat then says the SMS could not
/// be sent).
pub(crate) fn start(
    project: &Project,
    data: &Path,
    settings: &knowledge::Settings,
) -> anyhow::Result<Option<(ChatSms, WorkerHandle)>> {
    let path = sms_files::default_config_path(project);
    if !path.exists() {
        tracing::warn!(path = %path.display(), "no sms.yaml: the chat cannot send links by SMS");
        return Ok(None);
    }
    let config = sms_files::load_sms(&path, settings)?;
    let outbox = sms_files::open_outbox(data, &config)?;
    let provider = sms_files::provider(&config, data)?;
    let worker = Worker::new(
        outbox.clone(),
        provider,
        WorkerOptions::from(&config.outbox),
    )
    .spawn();
    Ok(Some((ChatSms { config, outbox }, worker)))
}

/// Why a link could not be queued.
pub(crate) enum QueueError {
    /// `sms.yaml` has no template for the link.
    NoTemplate,
    Outbox(sms_gateway::OutboxError),
}

impl ChatSms {
    /// The same outbox and templates for the phone front end in this
    /// process, so that one worker sends for both.
    pub(crate) fn sending(&self) -> router::sip::SmsSending {
        router::sip::SmsSending::new(self.outbox.clone(), self.config.clone())
    }

    /// Renders the link's template and stores the message; returns after
    /// the commit. The idempotency key is made from `conversation` and
    /// the link's URL.
    pub(crate) fn queue(
        &self,
        conversation: &str,
        link: &knowledge::Link,
        number: &MobileNumber,
    ) -> Result<Enqueued, QueueError> {
        let rendered = self
            .config
            .render(LinkRef {
                kind: link.kind.as_str(),
                url: &link.url,
                title: &link.title,
            })
            .ok_or(QueueError::NoTemplate)?;
        self.outbox
            .enqueue(conversation, &link.url, number, &rendered.text)
            .map_err(QueueError::Outbox)
    }
}

//! The phone's SMS: what a caller who said yes gets, handed to the
//! durable outbox before the caller is told it is on its way.
//!
//! The text: when the answer's link is in the engine's text and
//! `sms.yaml` has a template for it (by URL or kind), the template;
//! otherwise the engine's own text (a per-topic SMS from the flow, or a
//! department's number after a failed transfer). The idempotency key is
//! the conversation and the link's URL (or a digest of the text when
//! there is no link), so the same link goes out once per call.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use sms_gateway::{Enqueued, LinkRef, MobileNumber, Outbox, SmsConfig};

use crate::config::Config;

/// The outbox and the templates a SIP server sends through.
#[derive(Clone)]
pub struct SmsSending {
    pub(crate) outbox: Outbox,
    pub(crate) config: Arc<SmsConfig>,
}

impl SmsSending {
    pub fn new(outbox: Outbox, config: SmsConfig) -> SmsSending {
        SmsSending {
            outbox,
            config: Arc::new(config),
        }
    }

    /// The link id and text for the SMS the engine asked for.
    pub(crate) fn message(
        &self,
        config: &Config,
        answer_id: Option<&str>,
        text: &str,
    ) -> (String, String) {
        let link = answer_id
            .and_then(|id| config.matcher.answer(id))
            .and_then(|a| a.links.first())
            .filter(|l| text.contains(l.url.as_str()));
        if let Some(l) = link {
            let rendered = self.config.render(LinkRef {
                kind: l.kind.as_str(),
                url: &l.url,
                title: &l.title,
            });
            let text = rendered.map_or_else(|| text.to_string(), |r| r.text);
            return (l.url.clone(), text);
        }
        // `DefaultHasher::new` has fixed keys: the same text gives the
        // same digest within this process, which is all an idempotency
        // key for one call needs.
        let mut h = std::hash::DefaultHasher::new();
        text.hash(&mut h);
        (format!("text-{:016x}", h.finish()), text.to_string())
    }

    /// Stores the message in the outbox (blocking: run it off the runtime).
    pub(crate) fn enqueue(
        &self,
        conversation: &str,
        link_id: &str,
        number: &MobileNumber,
        text: &str,
    ) -> Result<Enqueued, sms_gateway::OutboxError> {
        self.outbox.enqueue(conversation, link_id, number, text)
    }
}

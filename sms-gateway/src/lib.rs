//! SMS with links for Vejviser.
//!
//! This crate owns sending a link to a citizen's mobile phone: accepting
//! only Danish mobile numbers ([`MobileNumber`], typed or spoken), the
//! message templates and their GSM-7/UCS-2 length checks ([`SmsConfig`]),
//! the providers behind one trait ([`Provider`]: GatewayAPI-style REST, a
//! JSON webhook, a file for local runs), the durable SQLite [`Outbox`]
//! with its sending [`Worker`], and the delivery-status endpoint
//! ([`delivery_status_router`]).
//!
//! It never parses YAML (the binary does, into the `Raw*` structs), never
//! reads environment variables (secrets arrive as [`Secret`]), never logs
//! a phone number or a message text, and keeps a number only until its
//! message is accepted or has failed for good.
//!
//! Typical use: `Outbox::open` once, `Worker::new(outbox.clone(),
//! provider, options).spawn()`, then `outbox.enqueue(conversation, link,
//! &number, &text)` after the citizen's yes; tell the citizen the SMS is on
//! its way only on [`Enqueued::Queued`].

mod callback;
mod config;
mod gsm;
pub mod local_provider;
mod number;
mod outbox;
mod provider;
mod secret;
mod worker;

pub use callback::{delivery_status_router, sign, SIGNATURE_HEADER};
pub use config::{
    ConfigProblem, LinkRef, OutboxSettings, ProviderKind, ProviderSettings, RawCallback, RawOutbox,
    RawProvider, RawSmsFile, RawTemplate, Rendered, SecretSource, SmsConfig, Validated,
};
pub use gsm::{measure, Encoding, SmsLength};
pub use number::{MobileNumber, NumberError};
pub use outbox::{
    idempotency_key, Counts, Enqueued, MessageId, MessageStatus, Outbox, OutboxError,
    OutboxOptions, State,
};
pub use provider::{
    Accepted, AnyProvider, FileProvider, GatewayApiProvider, OutgoingSms, Provider,
    ProviderSetupError, SendError, TransientReason, WebhookProvider,
};
pub use secret::Secret;
pub use worker::{Worker, WorkerHandle, WorkerOptions};

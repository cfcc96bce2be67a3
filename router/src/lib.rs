//! The dialogue side of Vejviser: the talk-flows staff edit, the
//! departments directory with Danish holidays, and the sans-I/O dialogue
//! engine every front end (SIP, webhook, web chat) feeds.
//!
//! It owns no sockets, audio or clock: [`dialogue::Dialogue::step`] takes
//! an event and the time and returns actions. [`config::load`] builds one
//! immutable [`config::Config`] snapshot (knowledge base, matcher, flow,
//! departments) that a server can swap whole when files change.
//!
//! Main types: [`config::Config`], [`dialogue::Dialogue`],
//! [`dialogue::Event`], [`dialogue::Action`], [`flows::Flow`],
//! [`departments::Directory`].

pub mod config;
pub mod departments;
pub mod dialogue;
pub mod flows;
pub mod holidays;
mod locate;
pub mod media;
pub mod record;
pub mod sip;
pub mod text;
pub mod tts;
pub mod verbs;

pub use config::{load, Config, ConfigError};

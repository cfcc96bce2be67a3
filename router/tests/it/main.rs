//! End-to-end tests of the `vejviser` binary: its command-line contracts,
//! the server over HTTP, and the chat in a real browser.

mod browser;
mod cli;
mod flows;
mod scrub;
mod server;
mod sms;
mod store_cli;
mod trace;

use std::path::{Path, PathBuf};

/// The checkout the binary was built from.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
mod sip;
mod transcribe;

//! End-to-end tests of the `vejviser` binary: its command-line contracts,
//! the server over HTTP, and the chat in a real browser.

mod browser;
mod call;
mod cli;
mod flows;
mod scrub;
mod server;
mod sms;
mod store_cli;
mod trace;
mod webhook;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The checkout the binary was built from.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
mod sip;
mod transcribe;

/// Runs the binary over the checkout with `stdin`, and waits.
pub(crate) fn vejviser(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vejviser"))
        .args(["--root", repo().to_str().expect("utf-8 path")])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writes");
    child.wait_with_output().expect("runs")
}

/// Each stdout line as JSON.
pub(crate) fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

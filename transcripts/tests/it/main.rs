//! Integration tests of the transcript store and the analysts' views: real
//! SQLite files, a real HTTP server on loopback, a real child process and
//! real headless Chromium.

// Helpers outside #[test] functions set up fixtures; a failure there is a
// test failure, so they unwrap like the tests do.
#![allow(clippy::unwrap_used)]

mod browser;
mod crash;
mod support;
mod web;

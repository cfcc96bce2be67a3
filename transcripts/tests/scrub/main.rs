//! The scrubber measured on the project's own golden set, and the guard
//! that raw text never reaches a log line.

mod answers;
mod golden;
mod logging;

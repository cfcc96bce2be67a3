//! One module per subcommand.

pub(crate) mod bench;
pub(crate) mod bench_asr;
pub(crate) mod bench_voice;
pub(crate) mod call;
pub(crate) mod callbacks;
pub(crate) mod eval;
pub(crate) mod flows;
pub(crate) mod knowledge;
pub(crate) mod match_jsonl;
pub(crate) mod repl;
pub(crate) mod report;
pub(crate) mod scrub;
pub(crate) mod sip;
pub(crate) mod sms;
pub(crate) mod transcribe;
pub(crate) mod users;

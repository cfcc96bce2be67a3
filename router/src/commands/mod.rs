//! One module per subcommand.

pub(crate) mod bench;
pub(crate) mod bench_asr;
pub(crate) mod eval;
pub(crate) mod knowledge;
pub(crate) mod match_jsonl;
pub(crate) mod repl;
pub(crate) mod transcribe;

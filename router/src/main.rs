//! `vejviser`: the command-line entry point.
//!
//! A thin shell over the library crates: it finds the configuration,
//! loads it once, and hands typed values to the crate that does the work.

mod commands;
mod labelled;
mod paths;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vejviser",
    version,
    about = "Voice- and chatbot router for Danish municipalities"
)]
struct Cli {
    /// The project directory holding knowledge/, answers/ and municipalities/
    /// (default: found from the current directory upwards).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Which municipality's settings to use.
    #[arg(long, global = true, default_value = "eksempel")]
    municipality: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the knowledge index and answer questions typed at a prompt.
    Run,
    /// Match utterances read as JSON lines on stdin; one JSON line out per line in.
    Match {
        /// Read `{"id", "text", "channel"}` lines (the only mode).
        #[arg(long, required = true)]
        jsonl: bool,
    },
    /// Scrub personal data from utterances read as JSON lines on stdin.
    Scrub {
        /// Read `{"id", "text", "channel"}` lines, write `{"id", "redacted"}` lines.
        #[arg(long, required = true)]
        jsonl: bool,
    },
    /// Topic accuracy on a labelled JSON-lines file.
    Eval {
        file: PathBuf,
        /// Also list every wrong line.
        #[arg(long)]
        verbose: bool,
    },
    /// Answer phone calls: the SIP/RTP voice front end.
    Sip(Box<commands::sip::SipArgs>),
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        what: commands::bench::BenchWhat,
    },
    /// Check and tune the knowledge base.
    Knowledge {
        #[command(subcommand)]
        what: commands::knowledge::KnowledgeCommand,
    },
    /// Check and test the talk-flows and departments.
    Flows {
        #[command(subcommand)]
        what: commands::flows::FlowsCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();

    let result =
        paths::Project::find(cli.root.as_deref(), &cli.municipality).and_then(|project| match cli
            .command
        {
            Command::Run => commands::repl::run(&project),
            Command::Match { jsonl: _ } => commands::match_jsonl::run(&project),
            Command::Scrub { jsonl: _ } => commands::scrub::run(),
            Command::Eval { file, verbose } => commands::eval::run(&project, &file, verbose),
            Command::Sip(args) => commands::sip::run(&project, *args),
            Command::Bench { what } => commands::bench::run(&project, what),
            Command::Knowledge { what } => commands::knowledge::run(&project, what),
            Command::Flows { what } => commands::flows::run(&project, what),
        });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vejviser: {e:#}");
            ExitCode::from(2)
        }
    }
}

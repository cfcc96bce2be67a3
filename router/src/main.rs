//! `vejviser`: the command-line entry point.
//!
//! A thin shell over the library crates: it finds the configuration,
//! loads it once, and hands typed values to the crate that does the work.

mod callbacks;
mod commands;
mod labelled;
mod paths;
mod serve;

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
    /// Serve the citizen chat, its widget and API, and the analysts' views.
    Serve(serve::ServeArgs),
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
    /// Print what the speech recogniser hears in a WAV file (16-bit PCM or
    /// G.711, mono, 8 or 16 kHz).
    Transcribe {
        file: PathBuf,
        #[command(flatten)]
        asr: commands::transcribe::AsrOptions,
    },
    /// One whole voice turn offline: recognise a WAV file, scrub, match,
    /// and print what the dialogue engine does (`--json`: one JSON object).
    Call(Box<commands::call::CallArgs>),
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
    /// The SMS set-up: send a test message, check templates, run the outbox worker.
    Sms {
        #[command(subcommand)]
        what: commands::sms::SmsCommand,
    },
    /// Key figures from the transcript store since a date.
    Report {
        /// First day, YYYY-MM-DD (a Danish day).
        #[arg(long)]
        since: String,
        /// Last day, inclusive (default: up to now).
        #[arg(long)]
        until: Option<String>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
        /// The data directory (default: data/ in the project directory).
        #[arg(long = "data")]
        data_dir: Option<PathBuf>,
    },
    /// Callback requests booked in the web chat: list them, mark one done.
    Callbacks {
        /// The data directory (default: data/ in the project directory).
        #[arg(long = "data", global = true)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        what: commands::callbacks::CallbacksCommand,
    },
    /// Manage staff accounts for the analysts' views.
    Users {
        /// The data directory (default: data/ in the project directory).
        #[arg(long = "data", global = true)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        what: commands::users::UsersCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();

    let result =
        paths::Project::find(cli.root.as_deref(), &cli.municipality).and_then(|project| match cli
            .command
        {
            Command::Run => commands::repl::run(&project),
            Command::Serve(args) => serve::run(&project, args),
            Command::Match { jsonl: _ } => commands::match_jsonl::run(&project),
            Command::Scrub { jsonl: _ } => commands::scrub::run(),
            Command::Eval { file, verbose } => commands::eval::run(&project, &file, verbose),
            Command::Transcribe { file, asr } => commands::transcribe::run(&project, &file, &asr),
            Command::Call(args) => commands::call::run(&project, &args),
            Command::Sip(args) => commands::sip::run(&project, *args),
            Command::Bench { what } => commands::bench::run(&project, what),
            Command::Knowledge { what } => commands::knowledge::run(&project, what),
            Command::Flows { what } => commands::flows::run(&project, what),
            Command::Sms { what } => commands::sms::run(&project, what),
            Command::Report {
                since,
                until,
                json,
                data_dir,
            } => commands::report::run(&project, data_dir, &since, until.as_deref(), json),
            Command::Users { data_dir, what } => commands::users::run(&project, data_dir, what),
            Command::Callbacks { data_dir, what } => {
                commands::callbacks::run(&project, data_dir, what)
            }
        });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vejviser: {e:#}");
            ExitCode::from(2)
        }
    }
}

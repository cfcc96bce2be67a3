//! `vejviser callbacks list|done ID`: the callback requests citizens booked
//! in the web chat, for the staff who call back.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::callbacks::Callbacks;
use crate::paths::Project;

#[derive(Subcommand)]
pub(crate) enum CallbacksCommand {
    /// Print the open requests: id, department, day and window, number.
    List {
        /// Print them as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Mark a request done (called back); its phone number is erased.
    Done { id: i64 },
}

pub(crate) fn run(
    project: &Project,
    data_dir: Option<PathBuf>,
    what: CallbacksCommand,
) -> anyhow::Result<ExitCode> {
    let data_dir = data_dir.unwrap_or_else(|| project.data_dir());
    let store = Callbacks::open_in(&data_dir)
        .with_context(|| format!("opening the callback requests in {}", data_dir.display()))?;
    match what {
        CallbacksCommand::List { json } => {
            let open = store.open_requests()?;
            for c in &open {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "id": c.id, "department": c.department, "day": c.date,
                            "from": c.from, "to": c.to, "number": c.number,
                            "created_at": c.created_at,
                        })
                    );
                } else {
                    println!(
                        "{:>5}  {:<16} {} {}-{}  {}",
                        c.id, c.department, c.date, c.from, c.to, c.number
                    );
                }
            }
            if !json {
                eprintln!(
                    "{} open request(s); `vejviser callbacks done ID` when called back",
                    open.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CallbacksCommand::Done { id } => {
            if store.done(id, jiff::Timestamp::now())? {
                println!("callback {id} done; the number is erased");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("vejviser: no open callback request with id {id}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

//! `vejviser users add NAME --role ROLE` and `vejviser users remove NAME`:
//! staff accounts for the analysts' views. The password is read from a
//! prompt (twice, not echoed) or, when stdin is not a terminal, from its
//! first line; it is never a command-line argument.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use time::OffsetDateTime;
use transcripts::{Role, Store};

use crate::paths::Project;

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user; the password is asked for (or read from stdin's first line).
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Remove a user and end their sessions.
    Remove { name: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    Analyst,
    Editor,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Analyst => Role::Analyst,
            RoleArg::Editor => Role::Editor,
            RoleArg::Admin => Role::Admin,
        }
    }
}

pub(crate) fn run(
    project: &Project,
    data_dir: Option<PathBuf>,
    what: UsersCommand,
) -> anyhow::Result<ExitCode> {
    let data_dir = data_dir.unwrap_or_else(|| project.data_dir());
    let store = Store::open_in(&data_dir)
        .with_context(|| format!("opening the transcript store in {}", data_dir.display()))?;
    match what {
        UsersCommand::Add { name, role } => {
            let password = read_password()?;
            store.add_user(&name, role.into(), &password, OffsetDateTime::now_utc())?;
            eprintln!("added {name}");
        }
        UsersCommand::Remove { name } => {
            store.remove_user(&name)?;
            eprintln!("removed {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Adgangskode: ")?;
        let again = rpassword::prompt_password("Gentag adgangskode: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let password = line.trim_end_matches(['\n', '\r']).to_string();
        if password.is_empty() {
            bail!("no password on stdin");
        }
        Ok(password)
    }
}

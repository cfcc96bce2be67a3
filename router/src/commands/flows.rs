//! `vejviser flows …`: check the talk-flows, run their scripted tests,
//! and write their JSON Schemas.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use router::config::{self, ConfigError};

use crate::paths::Project;

#[derive(Subcommand)]
pub(crate) enum FlowsCommand {
    /// Validate the flow, the departments and the answers together; exit code 1 on problems.
    Check {
        /// The flows directory (default: flows/ of the project).
        dir: Option<PathBuf>,
    },
    /// Run the scripted conversations in DIR/tests/*.yaml; exit code 1 on failures.
    Test {
        /// The flows directory (default: flows/ of the project).
        dir: Option<PathBuf>,
    },
    /// Write the JSON Schemas of the flow files to flows/schema/.
    Schema,
}

pub(crate) fn run(project: &Project, what: FlowsCommand) -> anyhow::Result<ExitCode> {
    match what {
        FlowsCommand::Check { dir } => check(project, &flows_dir(project, dir)),
        FlowsCommand::Test { dir } => test(project, &flows_dir(project, dir)),
        FlowsCommand::Schema => schema(project),
    }
}

fn flows_dir(project: &Project, dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| project.root.join("flows"))
}

/// Loads everything; prints the problems and returns `None` when invalid.
fn load(project: &Project, dir: &Path) -> anyhow::Result<Option<config::Config>> {
    match project.config(dir)? {
        Ok(c) => Ok(Some(c)),
        Err(ConfigError::Invalid(problems)) => {
            for p in &problems {
                println!("{p}");
            }
            println!("{} problem(s)", problems.len());
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn check(project: &Project, dir: &Path) -> anyhow::Result<ExitCode> {
    let Some(c) = load(project, dir)? else {
        return Ok(ExitCode::from(1));
    };
    println!(
        "ok: flow with {} menus and {} overrides, {} departments, {} answers",
        c.flow.menus.len(),
        c.flow.overrides.len(),
        c.departments.iter().count(),
        c.knowledge.answers().len()
    );
    Ok(ExitCode::SUCCESS)
}

fn test(project: &Project, dir: &Path) -> anyhow::Result<ExitCode> {
    let Some(c) = load(project, dir)? else {
        return Ok(ExitCode::from(1));
    };
    let c = Arc::new(c);
    let tests_dir = dir.join("tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&tests_dir)
        .with_context(|| format!("reading {}", tests_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let (mut passed, mut failed) = (0, 0);
    for f in &files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let report = router::flows::scripted::run_file(&c, f, &text);
        passed += report.passed;
        failed += report.failed.len();
        for p in &report.failed {
            println!("FAIL {p}");
        }
    }
    println!("flow tests: {passed} passed, {failed} failed");
    Ok(if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn schema(project: &Project) -> anyhow::Result<ExitCode> {
    let dir = project.root.join("flows/schema");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in router::flows::schemas() {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

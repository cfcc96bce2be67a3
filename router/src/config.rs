//! One snapshot of everything a conversation needs: the knowledge base,
//! its matcher, the talk-flow and the departments directory.
//!
//! Built by a single [`load`] so a server can swap an `Arc<Config>` when
//! files change; a load that fails returns every problem and leaves the
//! caller's old snapshot in place.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use knowledge::{BuildOptions, KnowledgeBase, KnowledgeError, KnowledgePaths, Matcher, Problem};

use crate::departments::{DepartmentsFile, Directory};
use crate::flows::{Flow, FlowFile};

/// The file of the talk-flow inside a flows directory.
pub const FLOW_FILE: &str = "flow.yaml";
/// The file of the departments directory inside a flows directory.
pub const DEPARTMENTS_FILE: &str = "departments.yaml";
/// The time zone every opening hour is written in.
pub const TIME_ZONE: &str = "Europe/Copenhagen";

/// A loaded, validated configuration.
pub struct Config {
    pub knowledge: KnowledgeBase,
    pub matcher: Matcher,
    pub flow: Flow,
    pub departments: Directory,
    pub time_zone: TimeZone,
}

impl Config {
    /// The confidence thresholds in force: the flow's, else those fitted
    /// for the confidence model the matcher uses (with or without the
    /// semantic channel).
    pub fn thresholds(&self) -> knowledge::Thresholds {
        self.flow.thresholds.unwrap_or_else(|| {
            self.matcher
                .calibration()
                .model(self.matcher.has_semantic())
                .thresholds
        })
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Validation problems in any of the files, all of them.
    #[error("{} problem(s) in the configuration", .0.len())]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Knowledge(KnowledgeError),
    #[error("time zone {TIME_ZONE} is unknown: {0}")]
    TimeZone(#[from] jiff::Error),
}

impl ConfigError {
    /// The located problems behind this error; empty for other kinds.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(p) => p,
            ConfigError::Knowledge(k) => k.problems(),
            _ => &[],
        }
    }
}

/// Loads the municipality's configuration from the checkout at `root`,
/// with the flows in `root/flows`.
pub fn load(root: &Path, municipality: &str) -> Result<Config, ConfigError> {
    load_with_flows(root, municipality, &root.join("flows"))
}

/// Like [`load`] with the flows read from `flows_dir`.
pub fn load_with_flows(
    root: &Path,
    municipality: &str,
    flows_dir: &Path,
) -> Result<Config, ConfigError> {
    load_with(root, municipality, flows_dir, &BuildOptions::default())
}

/// Like [`load_with_flows`], with the matcher built with `build` (the
/// semantic model and its embedding cache, when the caller has them).
pub fn load_with(
    root: &Path,
    municipality: &str,
    flows_dir: &Path,
    build: &BuildOptions<'_>,
) -> Result<Config, ConfigError> {
    let paths = KnowledgePaths::in_repository(root, municipality);
    let knowledge = KnowledgeBase::load(&paths).map_err(|e| match e {
        KnowledgeError::Invalid(p) => ConfigError::Invalid(p),
        other => ConfigError::Knowledge(other),
    })?;
    let (flow, departments) = load_flows(flows_dir, &knowledge)?;
    let matcher = Matcher::build_with(&knowledge, build).map_err(ConfigError::Knowledge)?;
    Ok(Config {
        knowledge,
        matcher,
        flow,
        departments,
        time_zone: TimeZone::get(TIME_ZONE)?,
    })
}

/// Reads and validates the flow and departments of `dir` against `kb`.
pub fn load_flows(dir: &Path, kb: &KnowledgeBase) -> Result<(Flow, Directory), ConfigError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path)
            .map(|text| (path.clone(), text))
            .map_err(|source| ConfigError::Io { path, source })
    };
    let (dept_path, dept_text) = read(DEPARTMENTS_FILE)?;
    let (flow_path, flow_text) = read(FLOW_FILE)?;
    let mut problems = Vec::new();
    let departments = knowledge::yaml::parse_yaml::<DepartmentsFile>(&dept_path, &dept_text)
        .map_err(|p| vec![p])
        .and_then(|f| Directory::validate(f, &dept_path, &dept_text, kb.taxonomy(), kb.settings()))
        .map_err(|p| problems.extend(p))
        .ok();
    // Every department an answer can transfer to needs an entry (checked
    // only when the directory itself is valid, and once per department).
    let mut missing = std::collections::BTreeSet::new();
    for a in kb.answers() {
        if let (Some(d), Some(dir)) = (&a.department, &departments) {
            if dir.get(d).is_none() && missing.insert(d.clone()) {
                problems.push(Problem {
                    location: knowledge::Location {
                        file: dept_path.clone(),
                        line: 1,
                        column: 1,
                    },
                    code: "missing-department",
                    message: format!(
                        "answer `{}` names department `{d}`, which has no entry here",
                        a.id
                    ),
                });
            }
        }
    }
    let flow = knowledge::yaml::parse_yaml::<FlowFile>(&flow_path, &flow_text)
        .map_err(|p| vec![p])
        .and_then(|f| Flow::validate(f, &flow_path, &flow_text, kb, departments.as_ref()));
    match (flow, departments) {
        (Ok(flow), Some(departments)) if problems.is_empty() => Ok((flow, departments)),
        (Ok(_), _) => Err(ConfigError::Invalid(problems)),
        (Err(p), _) => {
            problems.extend(p);
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// The configuration a running server uses, swapped whole on reload.
///
/// Conversations hold the `Arc<Config>` they started with; a reload
/// affects only conversations started after it. A reload that fails
/// leaves the working configuration in place.
pub struct LiveConfig {
    current: std::sync::RwLock<std::sync::Arc<Config>>,
}

impl LiveConfig {
    pub fn new(config: Config) -> LiveConfig {
        LiveConfig {
            current: std::sync::RwLock::new(std::sync::Arc::new(config)),
        }
    }

    /// The configuration in use now.
    pub fn current(&self) -> std::sync::Arc<Config> {
        // A poisoned lock still holds a whole Arc: swapping is one store.
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        std::sync::Arc::clone(&guard)
    }

    /// Builds a new configuration with `load`; swaps it in on success,
    /// keeps the old one and returns the error otherwise.
    pub fn reload(
        &self,
        load: impl FnOnce() -> Result<Config, ConfigError>,
    ) -> Result<(), ConfigError> {
        let fresh = std::sync::Arc::new(load()?);
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        *guard = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// Servers share one snapshot across tasks and move dialogues between
    /// threads; this fails to compile if either stops being possible.
    #[test]
    fn config_is_shareable_and_dialogue_movable() {
        fn shareable<T: Send + Sync>() {}
        fn movable<T: Send>() {}
        shareable::<super::Config>();
        shareable::<super::LiveConfig>();
        movable::<crate::dialogue::Dialogue>();
    }
}

//! The one error type of the crate.

use std::path::PathBuf;

/// Where in a staff-edited file a problem is: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A problem found while loading or validating knowledge files.
///
/// `code` is stable (e.g. `unknown-topic`), so tools and tests can branch on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: Location,
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} [{}]", self.location, self.message, self.code)
    }
}

/// Errors of the knowledge crate.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more files are invalid; every problem found is listed.
    #[error("{} problem(s) in the knowledge files:\n{}", .0.len(), render(.0))]
    Invalid(Vec<Problem>),
    /// The semantic model file is not one the matcher can read.
    #[error("model {path}: {message}")]
    Model { path: PathBuf, message: String },
    /// The search index could not be built or queried.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl KnowledgeError {
    /// The problems behind an `Invalid` error; empty for other kinds.
    pub fn problems(&self) -> &[Problem] {
        match self {
            KnowledgeError::Invalid(p) => p,
            _ => &[],
        }
    }
}

//! The knowledge base of answers and the Danish intent matcher.
//!
//! This crate owns the staff-edited answer files (`answers/*.yaml`), the
//! topic contract (`topics.yaml`), the municipality settings that fill in
//! local facts, and the tantivy index the [`Matcher`] searches. It never
//! talks to a network, never reads environment variables, and never logs
//! the text it matches: callers pass raw utterances in and get topics,
//! answer ids and a confidence back.
//!
//! Main types: [`KnowledgeBase`] (loaded, validated files), [`Matcher`]
//! (index and query), [`Match`] (the result with its [`Decision`]).

mod analysis;
mod calibration;
mod classifier;
mod error;
mod fingerprint;
mod index;
mod load;
mod matcher;
mod model;
pub mod quality;
mod semantic;
pub mod yaml;

use std::path::PathBuf;

pub use analysis::{words, Analyzer, Term};
pub use calibration::{Calibration, ConfidenceModel, OutOfScopeModel, N_FEATURES};
pub use error::{KnowledgeError, Location, Problem};
pub use fingerprint::Fingerprint;
pub use load::{KnowledgePaths, MAX_SPOKEN_SENTENCES, MAX_SPOKEN_WORDS};
pub use matcher::{
    BuildOptions, Candidate, Channel, Decision, Features, Match, Matcher, QueryEmbedding,
    Thresholds,
};
pub use model::{
    Answer, Link, LinkKind, SettingValue, Settings, Taxonomy, Topic, Unit, TOPIC_EMERGENCY,
    TOPIC_HUMAN, TOPIC_NONE,
};
pub use semantic::{cosine, Embedder};

/// A loaded and validated knowledge base.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    loaded: load::Loaded,
    calibration: Calibration,
}

impl KnowledgeBase {
    /// Loads and validates every file; all problems are reported at once.
    pub fn load(paths: &KnowledgePaths) -> Result<KnowledgeBase, KnowledgeError> {
        let loaded = load::load(paths)?;
        let calibration = calibration::load_calibration(&paths.calibration)?;
        Ok(KnowledgeBase {
            loaded,
            calibration,
        })
    }

    /// A knowledge base from answers already in memory (benchmarks, tests).
    pub fn from_parts(
        taxonomy: Taxonomy,
        settings: Settings,
        answers: Vec<Answer>,
        out_of_scope: Vec<String>,
        calibration: Calibration,
    ) -> KnowledgeBase {
        KnowledgeBase {
            loaded: load::Loaded {
                taxonomy,
                settings,
                answers,
                out_of_scope,
                locations: Default::default(),
            },
            calibration,
        }
    }

    pub fn answers(&self) -> &[Answer] {
        &self.loaded.answers
    }

    /// Where the answer with `id` is written (its override, when the
    /// municipality overrides it); `None` for answers built in memory.
    pub fn location(&self, id: &str) -> Option<&Location> {
        self.loaded.locations.get(id)
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.loaded.taxonomy
    }

    pub fn settings(&self) -> &Settings {
        &self.loaded.settings
    }

    pub fn out_of_scope(&self) -> &[String] {
        &self.loaded.out_of_scope
    }

    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// The same knowledge with another calibration.
    pub fn with_calibration(mut self, calibration: Calibration) -> KnowledgeBase {
        self.calibration = calibration;
        self
    }
}

/// The topic contract alone (for tools that need no answers).
pub fn load_taxonomy(path: &std::path::Path) -> Result<Taxonomy, KnowledgeError> {
    load::load_taxonomy(path)
}

/// Where the calibration of a checkout lives.
pub fn default_calibration_path(root: &std::path::Path) -> PathBuf {
    root.join("knowledge/calibration.yaml")
}

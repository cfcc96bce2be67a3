//! Integration tests of the knowledge crate: loading, matching, decisions.

mod decisions;
mod loader;
mod overrides;
mod quality;
mod real_base;
mod semantic;

use std::path::{Path, PathBuf};

use knowledge::KnowledgePaths;

/// A scratch knowledge directory with the real topic list and settings
/// and the given answer file.
pub(crate) struct Scratch {
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Scratch {
    pub(crate) fn with_answers(answers_yaml: &str) -> Scratch {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("knowledge")).expect("mkdir");
        std::fs::create_dir_all(root.join("answers")).expect("mkdir");
        std::fs::create_dir_all(root.join("municipalities/eksempel")).expect("mkdir");
        for f in [
            "knowledge/topics.yaml",
            "knowledge/calibration.yaml",
            "municipalities/eksempel/settings.yaml",
        ] {
            std::fs::copy(repo().join(f), root.join(f)).expect("copy");
        }
        std::fs::write(
            root.join("knowledge/out-of-scope.yaml"),
            "version: 1\nexamples:\n  - hvordan bliver vejret i morgen\n  - hvem vandt fodboldkampen\n",
        )
        .expect("write");
        std::fs::write(root.join("answers/test.yaml"), answers_yaml).expect("write");
        Scratch { dir }
    }

    pub(crate) fn paths(&self) -> KnowledgePaths {
        KnowledgePaths::in_repository(self.dir.path(), "eksempel")
    }
}

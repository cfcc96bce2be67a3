//! Where the project's files are.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use knowledge::{KnowledgeBase, KnowledgePaths, Matcher};

/// A located project directory and the chosen municipality.
pub(crate) struct Project {
    pub(crate) root: PathBuf,
    pub(crate) knowledge: KnowledgePaths,
    pub(crate) municipality: String,
}

impl Project {
    pub(crate) fn find(root: Option<&Path>, municipality: &str) -> anyhow::Result<Project> {
        let root = match root {
            Some(r) => r.to_path_buf(),
            None => discover()?,
        };
        if !root.join("knowledge/topics.yaml").is_file() {
            bail!(
                "{} has no knowledge/topics.yaml; pass --root",
                root.display()
            );
        }
        let knowledge = KnowledgePaths::in_repository(&root, municipality);
        if !knowledge.settings.is_file() {
            bail!(
                "no settings for municipality `{municipality}`: {} is missing",
                knowledge.settings.display()
            );
        }
        Ok(Project {
            root,
            knowledge,
            municipality: municipality.to_string(),
        })
    }

    /// The default data directory: `data/` in the project directory.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub(crate) fn load(&self) -> anyhow::Result<KnowledgeBase> {
        Ok(KnowledgeBase::load(&self.knowledge)?)
    }

    pub(crate) fn matcher(&self) -> anyhow::Result<Matcher> {
        let kb = self.load()?;
        Matcher::build(&kb).context("building the knowledge index")
    }
}

/// The nearest directory upwards from the current one that holds
/// `knowledge/topics.yaml`, else the checkout this binary was built from.
fn discover() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    for dir in cwd.ancestors() {
        if dir.join("knowledge/topics.yaml").is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if built_from.join("knowledge/topics.yaml").is_file() {
        return Ok(built_from);
    }
    bail!("cannot find the project directory (knowledge/topics.yaml); pass --root")
}

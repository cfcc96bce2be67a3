//! Where the project's files are.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use std::sync::{Arc, OnceLock};

use knowledge::{BuildOptions, Embedder, KnowledgeBase, KnowledgePaths, Matcher};
use router::config::{Config, ConfigError};

/// A located project directory and the chosen municipality.
pub(crate) struct Project {
    pub(crate) root: PathBuf,
    pub(crate) knowledge: KnowledgePaths,
    pub(crate) municipality: String,
    /// The semantic model, loaded on first use; `None` when absent.
    embedder: OnceLock<Option<Arc<Embedder>>>,
}

/// Where `scripts/fetch-e5` puts the semantic model.
pub(crate) const MODEL_FILE: &str = "models/e5-small-q4.bin";
/// The embedding cache (rebuilt texts only are embedded again).
const EMBEDDING_CACHE: &str = "data/cache/e5-embeddings.bin";

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
            embedder: OnceLock::new(),
        })
    }

    /// The default data directory: `data/` in the project directory.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub(crate) fn load(&self) -> anyhow::Result<KnowledgeBase> {
        Ok(KnowledgeBase::load(&self.knowledge)?)
    }

    /// The matcher and the flow's own emergency words, for commands that
    /// report what the product makes of an utterance (`match`, `eval`).
    pub(crate) fn understanding(&self) -> anyhow::Result<(Matcher, Vec<String>)> {
        let kb = self.load()?;
        let matcher = self.matcher_for(&kb)?;
        let words = match router::config::load_flows(&self.root.join("flows"), &kb) {
            Ok((flow, _)) => flow.emergency_words,
            Err(e) => {
                eprintln!("warning: the flow could not be read ({e}); only the built-in emergency cues apply");
                Vec::new()
            }
        };
        Ok((matcher, words))
    }

    pub(crate) fn matcher(&self) -> anyhow::Result<Matcher> {
        let kb = self.load()?;
        self.matcher_for(&kb)
    }

    /// The embedding cache file.
    pub(crate) fn embedding_cache(&self) -> PathBuf {
        self.root.join(EMBEDDING_CACHE)
    }

    /// The matcher for `kb` with every channel whose model is present.
    pub(crate) fn matcher_for(&self, kb: &KnowledgeBase) -> anyhow::Result<Matcher> {
        let cache = self.embedding_cache();
        Matcher::build_with(
            kb,
            &BuildOptions {
                embedder: self.embedder()?,
                cache: Some(&cache),
                ..BuildOptions::default()
            },
        )
        .context("building the knowledge index")
    }

    /// The project's own dialogue configuration (`flows/`), or an error
    /// that lists every problem with its file, line and column.
    pub(crate) fn dialogue_config(&self) -> anyhow::Result<Arc<Config>> {
        let config = self.config(&self.root.join("flows"))?.map_err(|e| {
            let problems: Vec<String> = e.problems().iter().map(ToString::to_string).collect();
            anyhow::anyhow!("the configuration has problems:\n{}", problems.join("\n"))
        })?;
        Ok(Arc::new(config))
    }

    /// The dialogue configuration (knowledge, matcher with every channel
    /// whose model is present, flow, departments) with the flows of `flows_dir`.
    pub(crate) fn config(&self, flows_dir: &Path) -> anyhow::Result<Result<Config, ConfigError>> {
        let cache = self.embedding_cache();
        let build = BuildOptions {
            embedder: self.embedder()?,
            cache: Some(&cache),
            ..BuildOptions::default()
        };
        Ok(router::config::load_with(
            &self.root,
            &self.municipality,
            flows_dir,
            &build,
        ))
    }

    /// The semantic model, or `None` (said once on stderr) when the file is
    /// missing; a file that is present but unreadable is an error.
    pub(crate) fn embedder(&self) -> anyhow::Result<Option<Arc<Embedder>>> {
        if let Some(e) = self.embedder.get() {
            return Ok(e.clone());
        }
        let path = self.root.join(MODEL_FILE);
        let loaded = if path.is_file() {
            Some(Arc::new(
                Embedder::load(&path).context("loading the semantic model")?,
            ))
        } else {
            eprintln!(
                "semantic channel off: {} is missing (scripts/fetch-e5 fetches it); matching is lexical only",
                path.display()
            );
            None
        };
        Ok(self.embedder.get_or_init(|| loaded).clone())
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

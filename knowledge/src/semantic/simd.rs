//! The semantic channel's hot loops, with the instruction set chosen at
//! run time.
//!
//! One binary runs on any x86-64 and compiles everywhere: where the CPU has
//! AVX2 and FMA (asked once, then cached, through `pulp`, whose safe
//! wrappers of the intrinsics need a token that proves the features are
//! present, so this crate keeps `unsafe_code = forbid`), the loops use
//! 256-bit registers; elsewhere they are plain loops. The integer dot
//! products are exact either way, so both paths give bit-identical results;
//! the f32 dot product differs only in the order of its additions. The
//! encoder's matrix product, with its own weight layout and AVX-512 paths,
//! is in `matmul.rs`.

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
    values.clear();
    scales.clear();
    values.resize(x.len() / cols * cols, 0);
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        simd.vectorize(|| quantise_rows_plain(x, cols, level, values, scales));
        return;
    }
    quantise_rows_plain(x, cols, level, values, scales);
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
        // The largest magnitude as the largest bit pattern without the
        // sign (equal for finite values), a reduction that vectorises.
        let max_bits = row
            .iter()
            .fold(0u32, |m, v| m.max(v.to_bits() & 0x7fff_ffff));
        let max = f32::from_bits(max_bits);
        let scale = if max > 0.0 { max / level } else { 1.0 };
        let inverse = 1.0 / scale;
        scales.push(scale);
        for (o, v) in out.iter_mut().zip(row) {
            let y = v * inverse;
            // Half away from zero by truncation: `f32::round` is a call
            // on the baseline target.
            *o = small_int((y + 0.5f32.copysign(y)).trunc()) as i8;
        }
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
    y.clear();
    y.resize(sums.len(), 0.0);
    let mut run = || {
        for ((out, sums), &xs) in y
            .chunks_exact_mut(rows.max(1))
            .zip(sums.chunks_exact(rows.max(1)))
            .zip(token_scales)
        {
            for (((o, &d), &ws), &b) in out.iter_mut().zip(sums).zip(row_scales).zip(bias) {
                *o = b + ws * xs * d as f32;
            }
        }
    };
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(run);
    }
    run();
}

/// `x = layernorm(x + y)` row by row (rows of `w.len()` values), with
/// weights `w`, biases `b` and `eps` under the square root.
///
/// The sums run in eight lanes, so that they vectorise without
/// reordering that the compiler may not do on its own.
pub(crate) fn add_norm(x: &mut [f32], y: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32) {
    let mut run = || add_norm_plain(x, y, w, b, eps);
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(run);
    }
    run();
}

#[inline(always)]
fn add_norm_plain(x: &mut [f32], y: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32) {
    let width = w.len();
    if width == 0 {
        return;
    }
    for (t, row) in x.chunks_exact_mut(width).enumerate() {
        if let Some(y) = y {
            for (r, v) in row.iter_mut().zip(&y[t * width..(t + 1) * width]) {
                *r += v;
            }
        }
        let mean = lane_sum(row, |v| v) / width as f32;
        let var = lane_sum(row, |v| (v - mean) * (v - mean)) / width as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((r, w), b) in row.iter_mut().zip(w).zip(b) {
            *r = (*r - mean) * inv * w + b;
        }
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
/// so that a sum stays inside `i32`; the caller scales the sums.
pub(crate) fn dot_rows(q: &[i16], rows: &[i8], sums: &mut Vec<i32>) {
    let dim = q.len();
    sums.clear();
    if dim == 0 {
        return;
    }
    sums.resize(rows.len() / dim, 0);
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
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
/// scale) · v`. `prob` is scratch space (`n²` values).
///
/// One call for the whole layer, so that the dispatch happens once rather
/// than once per pair of tokens and head. The softmax's `exp` is the
/// branch-free one GELU uses (relative error below 2e-7), which
/// vectorises; libm's scalar `expf` took half the attention's time.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    n: usize,
    heads: usize,
    scale: f32,
    prob: &mut Vec<f32>,
    ctx: &mut [f32],
) {
    prob.clear();
    prob.resize(n * n, 0.0);
    let shape = Shape { n, heads, scale };
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        let run = Attention {
            simd,
            q,
            k,
            v,
            shape,
            prob,
            ctx,
        };
        return simd.vectorize(run);
    }
    attention_with(
        |a, b| a.iter().zip(b).map(|(x, y)| x * y).sum(),
        q,
        k,
        v,
        shape,
        prob,
        ctx,
    );
}

#[derive(Clone, Copy)]
struct Shape {
    n: usize,
    heads: usize,
    scale: f32,
}

/// [`attention`]'s arguments, run with an always-inlined `call` so that
/// the loops are compiled for the dispatched features (a closure may be
/// left out of line, without them).
#[cfg(target_arch = "x86_64")]
struct Attention<'a> {
    simd: pulp::x86::V3,
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    shape: Shape,
    prob: &'a mut [f32],
    ctx: &'a mut [f32],
}

#[cfg(target_arch = "x86_64")]
impl pulp::NullaryFnOnce for Attention<'_> {
    type Output = ();

    #[inline(always)]
    fn call(self) {
        let simd = self.simd;
        attention_with(
            |a, b| x86::dot_f32(simd, a, b),
            self.q,
            self.k,
            self.v,
            self.shape,
            self.prob,
            self.ctx,
        );
    }
}

#[inline(always)]
fn attention_with(
    dot: impl Fn(&[f32], &[f32]) -> f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    Shape { n, heads, scale }: Shape,
    prob: &mut [f32],
    ctx: &mut [f32],
) {
    let h = q.len() / n.max(1);
    let hd = h / heads.max(1);
    // All of a head's scores first (row `t`: token `t` against every
    // token), then `exp` over all of them in one loop that vectorises.
    for head in 0..heads {
        let off = head * hd;
        for (t, row) in prob.chunks_exact_mut(n.max(1)).enumerate() {
            let qh = &q[t * h + off..t * h + off + hd];
            let mut max = f32::NEG_INFINITY;
            for (s, p) in row.iter_mut().enumerate() {
                let d = dot(qh, &k[s * h + off..s * h + off + hd]) * scale;
                *p = d;
                max = max.max(d);
            }
            for p in row.iter_mut() {
                *p -= max;
            }
        }
        // Below −87 a weight is under 2e-38 of the row's largest: 0.
        prob.iter_mut()
            .for_each(|p| *p = exp_non_positive(p.max(-87.0)));
        for (t, row) in prob.chunks_exact(n.max(1)).enumerate() {
            let mut sum = 0.0;
            for p in row {
                sum += *p;
            }
            let inv = 1.0 / sum;
            let out = &mut ctx[t * h + off..t * h + off + hd];
            out.fill(0.0);
            for (s, p) in row.iter().enumerate() {
                let vh = &v[s * h + off..s * h + off + hd];
                let p = p * inv;
                for (o, vv) in out.iter_mut().zip(vh) {
                    *o += p * vv;
                }
            }
        }
    }
}

/// GELU (the exact form, `x/2 · (1 + erf(x/√2))`) of every value, in place.
///
/// `erf` is the Abramowitz–Stegun rational approximation 7.1.26 (absolute
/// error below 1.5e-7) with `exp` by range reduction and a Taylor
/// polynomial, written branch-free so the loop vectorises; libm's scalar
/// `erff` took a fifth of a query's time. The error is a small fraction
/// of the 12-bit step the values are rounded to next, so embeddings move
/// by rounding only (see the test against libm below).
pub(crate) fn gelu_in_place(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V4::try_new() {
        simd.vectorize(|| xs.iter_mut().for_each(|x| *x = gelu(*x)));
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        simd.vectorize(|| xs.iter_mut().for_each(|x| *x = gelu(*x)));
        return;
    }
    xs.iter_mut().for_each(|x| *x = gelu(*x));
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[inline(always)]
fn erf(x: f32) -> f32 {
    // Beyond 5, 1 − erf is below f32's resolution at 1.
    let a = x.abs().min(5.0);
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    (1.0 - poly * exp_non_positive(-a * a)).copysign(x)
}

/// `e^y` for `-87 < y ≤ 0`: `y = n·ln 2 + r` with `|r| ≤ ln 2 / 2`
/// (`ln 2` split in two so `r` is exact), `e^r` by its Taylor series to
/// the 6th power (relative error below 2e-7), `2^n` built in the exponent bits.
#[inline(always)]
fn exp_non_positive(y: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let n = (y * std::f32::consts::LOG2_E).round_ties_even().max(-126.0);
    let r = (y - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let two_n = f32::from_bits(((small_int(n) + 127) as u32) << 23);
    p * two_n
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
        let mut sums = Vec::new();
        dot_rows(&q, &rows, &mut sums);
        let plain: Vec<i32> = rows
            .chunks_exact(dim)
            .map(|row| {
                q.iter()
                    .zip(row)
                    .map(|(&a, &b)| i32::from(a) * i32::from(b))
                    .sum()
            })
            .collect();
        assert_eq!(sums, plain);
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
        let (n, heads, hd) = (5, 3, 32);
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
        attention(&q, &k, &v, n, heads, scale, &mut Vec::new(), &mut ctx);
        for t in 0..n {
            for head in 0..heads {
                let off = head * hd;
                let scores: Vec<f64> = (0..n)
                    .map(|s| {
                        (0..hd)
                            .map(|i| f64::from(q[t * h + off + i]) * f64::from(k[s * h + off + i]))
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
                        "token {t} head {head}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn gelu_is_within_rounding_of_libm() {
        let mut worst = 0.0f32;
        for i in -200_000..=200_000 {
            let x = i as f32 / 10_000.0;
            let exact = 0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2));
            let mut fast = [x];
            gelu_in_place(&mut fast);
            worst = worst.max((fast[0] - exact).abs() / x.abs().max(1.0));
        }
        assert!(worst < 5e-7, "worst error {worst}");
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

//! The encoder's integer matrix product, with the instruction set chosen
//! at run time.
//!
//! Weights are signed bytes with one scale per row, activations signed
//! bytes (at most 127 in magnitude) with one scale per token. The weights
//! are stored packed for the product rather than row by row: sixteen rows
//! side by side, so that one 512-bit register holds the weights of 16
//! outputs for a few columns and one multiply-add against a token's
//! activations broadcast to all lanes adds to 16 outputs at once. The sums
//! then never need a horizontal reduction, which cost a quarter of the
//! row-by-row kernel's time at a query's dozen tokens.
//!
//! Paths, best first (all exact integer arithmetic, so all give the same
//! sums; a test checks each available one against the textbook product):
//! - AVX-512 with VNNI on 8-bit values (`vpdpbusd`, 64 multiply-adds per
//!   instruction): four columns per 64-byte group, the weights stored
//!   plus 128 as unsigned bytes (the instruction multiplies unsigned by
//!   signed bytes), and `128 · Σ x` taken off each token's sums after.
//!   pulp has no wrapper for this instruction; `archmage`'s `#[arcane]`
//!   compiles the kernel for its "x86-64-v4x" token (AVX-512 with VNNI,
//!   VBMI2, GFNI and the rest of Ice Lake / Zen 4) and keeps this crate
//!   free of `unsafe`;
//! - the 16-bit kernels, two columns per 32-byte group, on the same 8-bit
//!   values widened: AVX-512 with VNNI (`vpdpwssd`, the token type declared
//!   with `pulp::simd_type!`), AVX-512 F+BW (`pulp::x86::V4`), AVX2
//!   (`pulp::x86::V3`, each 16-row group as two 256-bit halves);
//! - a plain loop elsewhere (aarch64 included).

/// Rows side by side in one packed group.
const GROUP: usize = 16;
/// Bytes of one group for one pair of columns.
const PAIR_BYTES: usize = 2 * GROUP;
/// Bytes of one group for four columns.
const QUAD_BYTES: usize = 4 * GROUP;

/// A weight matrix `[rows][cols]` of signed bytes, packed for the path
/// it will run on.
///
/// For the 16-bit paths, group `g` (rows `16g..16g+16`, zero rows past the
/// end) and column pair `p` (columns `2p, 2p+1`, a zero column past the
/// end) hold `w[16g + i][2p + j]` at byte `(g · pairs + p) · 32 + 2i + j`
/// of `data`. For [`Path::Vnni8`], column quad `q` holds `w[16g + i][4q +
/// j] + 128` at byte `(g · quads + q) · 64 + 4i + j` of `data8`.
pub(crate) struct PackedMatrix {
    rows: usize,
    cols: usize,
    pairs: usize,
    groups: usize,
    data: Vec<[i8; PAIR_BYTES]>,
    quads: usize,
    data8: Vec<[u8; QUAD_BYTES]>,
    path: Path,
}

impl PackedMatrix {
    /// Packs `w`, `rows` rows of `cols` values one row after the other,
    /// for the best path this CPU has.
    pub(crate) fn new(w: &[i8], rows: usize, cols: usize) -> PackedMatrix {
        PackedMatrix::for_path(Path::best(), w, rows, cols)
    }

    /// Packs `w` for `path`.
    pub(crate) fn for_path(path: Path, w: &[i8], rows: usize, cols: usize) -> PackedMatrix {
        let pairs = cols.div_ceil(2);
        let quads = cols.div_ceil(4);
        let groups = rows.div_ceil(GROUP);
        let (mut data, mut data8) = (Vec::new(), Vec::new());
        if path.quads() {
            data8 = vec![[128u8; QUAD_BYTES]; groups * quads];
        } else {
            data = vec![[0i8; PAIR_BYTES]; groups * pairs];
        }
        for (r, row) in w.chunks_exact(cols.max(1)).take(rows).enumerate() {
            let (g, i) = (r / GROUP, r % GROUP);
            for (c, &v) in row.iter().enumerate() {
                if path.quads() {
                    data8[g * quads + c / 4][4 * i + c % 4] = (i16::from(v) + 128) as u8;
                } else {
                    data[g * pairs + c / 2][2 * i + c % 2] = v;
                }
            }
        }
        PackedMatrix {
            rows,
            cols,
            pairs,
            groups,
            data,
            quads,
            data8,
            path,
        }
    }
}

/// Which kernel [`int_matmul_with`] runs; [`Path::available`] lists the
/// ones this CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    #[cfg(target_arch = "x86_64")]
    Vnni8,
    #[cfg(target_arch = "x86_64")]
    Vnni,
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Plain,
}

#[cfg(target_arch = "x86_64")]
pulp::simd_type! {
    /// AVX-512 F+BW with VNNI: Ice Lake and later Intel, Zen 4 and later AMD.
    struct V4Vnni {
        sse: "sse",
        sse2: "sse2",
        fxsr: "fxsr",
        sse3: "sse3",
        ssse3: "ssse3",
        sse4_1: "sse4.1",
        sse4_2: "sse4.2",
        popcnt: "popcnt",
        avx: "avx",
        avx2: "avx2",
        bmi1: "bmi1",
        bmi2: "bmi2",
        fma: "fma",
        lzcnt: "lzcnt",
        avx512f: "avx512f",
        avx512bw: "avx512bw",
        avx512cd: "avx512cd",
        avx512dq: "avx512dq",
        avx512vl: "avx512vl",
        avx512vnni: "avx512vnni",
    }
}

impl Path {
    /// The kernels this CPU can run, best first; `Plain` always.
    pub(crate) fn available() -> Vec<Path> {
        let mut out = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            use archmage::SimdToken;
            if archmage::X64V4xToken::summon().is_some() {
                out.push(Path::Vnni8);
            }
            if pulp::x86::V4::try_new().is_some() && V4Vnni::try_new().is_some() {
                out.push(Path::Vnni);
            }
            if pulp::x86::V4::try_new().is_some() {
                out.push(Path::Avx512);
            }
            if pulp::x86::V3::try_new().is_some() {
                out.push(Path::Avx2);
            }
        }
        out.push(Path::Plain);
        out
    }

    /// Whether the path's weights are packed four columns at a time.
    fn quads(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self == Path::Vnni8 {
            return true;
        }
        false
    }

    /// The best kernel this CPU has (asked once, then cached).
    fn best() -> Path {
        static BEST: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Path::available()[0])
    }
}

/// The buffers of [`int_matmul`], kept from one product to the next.
///
/// They only ever grow: products of different sizes share them without
/// filling them with zeros again for each (which had cost 3% of an
/// encoding), and every product overwrites the part it uses.
#[derive(Default)]
pub(crate) struct Products {
    sums: Vec<i32>,
    /// The 8-bit kernel's activations, column quad by column quad.
    across: Vec<[i8; 4]>,
    /// `128 · Σ x` per token (the 8-bit weights are stored plus 128).
    offsets: Vec<i32>,
}

/// `sums[t * rows + r] = Σ_c w[r][c] · x[t * cols + c]` for every token
/// row of `x` (rows of `w`'s width), on the path `w` was packed for.
pub(crate) fn int_matmul<'a>(w: &PackedMatrix, x: &[i8], buffers: &'a mut Products) -> &'a [i32] {
    if w.path.quads() {
        return int_matmul8(w, x, buffers, true);
    }
    // The 16-bit kernels on the values widened (a copy per product, on
    // CPUs without the 8-bit kernel only).
    let wide: Vec<i16> = x.iter().map(|&v| i16::from(v)).collect();
    int_matmul_with(w.path, w, &wide, &mut buffers.sums)
}

/// The first `len` elements of `buf`, grown to hold them if it is
/// shorter; the contents are whatever was there (every caller writes all
/// of them).
fn front<T: Copy + Default>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    if buf.len() < len {
        buf.resize(len, T::default());
    }
    &mut buf[..len]
}

/// The product on a matrix packed four columns at a time, with the VNNI
/// kernel where `vnni` is set and the CPU has it, else the plain loop.
fn int_matmul8<'a>(w: &PackedMatrix, x: &[i8], buffers: &'a mut Products, vnni: bool) -> &'a [i32] {
    let Some((x, tokens)) = token_rows(w, x, 4 * w.quads) else {
        return &[];
    };
    let acc = front(&mut buffers.sums, tokens * w.rows);
    let quads: &[[i8; 4]] = pulp::as_arrays::<4, i8>(&x).0;
    #[cfg(target_arch = "x86_64")]
    {
        use archmage::SimdToken;
        if let Some(token) = archmage::X64V4xToken::summon().filter(|_| vnni) {
            let Products {
                offsets, across, ..
            } = buffers;
            vnni8::int_matmul(token, w, quads, offsets, across, acc);
            return acc;
        }
    }
    offsets(quads, w.quads, &mut buffers.offsets);
    plain8(w, quads, &buffers.offsets, acc);
    acc
}

/// The weights are stored plus 128, so each token's sums are `128 · Σ x`
/// too large: `offsets[t]` is that amount for token `t` (rows of `quads`).
/// Inlined, so that it is vectorised for the kernel's instruction set.
#[inline(always)]
fn offsets(x: &[[i8; 4]], quads: usize, offsets: &mut Vec<i32>) {
    offsets.clear();
    offsets.extend(x.chunks_exact(quads.max(1)).map(|row| {
        128 * row
            .as_flattened()
            .iter()
            .map(|&v| i32::from(v))
            .sum::<i32>()
    }));
}

/// The token rows of `x` for a product with `w`, each widened with zero
/// columns to `width` (the packed weights' width: whole column pairs or
/// quads), and how many there are; `None` when there is nothing to
/// multiply.
fn token_rows<'a, T: Copy + Default>(
    w: &PackedMatrix,
    x: &'a [T],
    width: usize,
) -> Option<(std::borrow::Cow<'a, [T]>, usize)> {
    let cols = w.cols;
    if cols == 0 || x.len() < cols {
        return None;
    }
    let tokens = x.len() / cols;
    let rows = if width > cols {
        x.chunks_exact(cols)
            .flat_map(|row| {
                row.iter()
                    .copied()
                    .chain(std::iter::repeat_n(T::default(), width - cols))
            })
            .collect()
    } else {
        std::borrow::Cow::Borrowed(&x[..tokens * cols])
    };
    Some((rows, tokens))
}

/// The portable loop over the four-column packing.
fn plain8(w: &PackedMatrix, x: &[[i8; 4]], offsets: &[i32], acc: &mut [i32]) {
    let quads = w.quads;
    for ((t, xt), &offset) in x.chunks_exact(quads).enumerate().zip(offsets) {
        let out = &mut acc[t * w.rows..(t + 1) * w.rows];
        for (g, wg) in w.data8.chunks_exact(quads).enumerate() {
            let mut sums = [-offset; GROUP];
            for (wq, xq) in wg.iter().zip(xt) {
                for (i, s) in sums.iter_mut().enumerate() {
                    for j in 0..4 {
                        *s += i32::from(wq[4 * i + j]) * i32::from(xq[j]);
                    }
                }
            }
            store(out, g, &sums);
        }
    }
}

/// The 16-bit product (values of at most 12 bits, so that the sums stay
/// inside `i32` for any width the model has) on the given path; a path the
/// CPU lacks runs the plain loop.
fn int_matmul_with<'a>(
    path: Path,
    w: &PackedMatrix,
    x: &[i16],
    acc: &'a mut Vec<i32>,
) -> &'a [i32] {
    let Some((x, tokens)) = token_rows(w, x, 2 * w.pairs) else {
        return &[];
    };
    let acc = front(acc, tokens * w.rows);
    let pairs: &[[i16; 2]] = pulp::as_arrays::<2, i16>(&x).0;
    match path {
        #[cfg(target_arch = "x86_64")]
        Path::Vnni => {
            if let (Some(simd), Some(vnni)) = (pulp::x86::V4::try_new(), V4Vnni::try_new()) {
                vnni.vectorize(x86::Run::new(simd, w, pairs, acc));
                return acc;
            }
        }
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => {
            if let Some(simd) = pulp::x86::V4::try_new() {
                simd.vectorize(x86::Run::new(simd, w, pairs, acc));
                return acc;
            }
        }
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => {
            if let Some(simd) = pulp::x86::V3::try_new() {
                simd.vectorize(x86::Run::new(simd, w, pairs, acc));
                return acc;
            }
        }
        #[cfg(target_arch = "x86_64")]
        Path::Vnni8 => {}
        Path::Plain => {}
    }
    plain(w, pairs, acc);
    acc
}

/// The portable loop: one group of 16 rows against one token at a time.
fn plain(w: &PackedMatrix, x: &[[i16; 2]], acc: &mut [i32]) {
    let pairs = w.pairs;
    for (t, xt) in x.chunks_exact(pairs).enumerate() {
        let out = &mut acc[t * w.rows..(t + 1) * w.rows];
        for (g, wg) in w.data.chunks_exact(pairs).enumerate() {
            let mut sums = [0i32; GROUP];
            for (wp, &[x0, x1]) in wg.iter().zip(xt) {
                let (x0, x1) = (i32::from(x0), i32::from(x1));
                for (i, s) in sums.iter_mut().enumerate() {
                    *s += i32::from(wp[2 * i]) * x0 + i32::from(wp[2 * i + 1]) * x1;
                }
            }
            store(out, g, &sums);
        }
    }
}

/// Writes group `g`'s sums into a token's outputs, less the padding rows.
#[inline(always)]
fn store(out: &mut [i32], g: usize, sums: &[i32; GROUP]) {
    let start = g * GROUP;
    // A whole group is a copy of fixed size (vector moves); the general
    // case is a call to `memmove`, which cost 4% of an encoding.
    if let Some(whole) = out.get_mut(start..start + GROUP) {
        whole.copy_from_slice(sums);
        return;
    }
    let end = out.len();
    if start < end {
        out[start..end].copy_from_slice(&sums[..end - start]);
    }
}

/// Splits `tokens` into runs of at most `max`, as even as can be, so that
/// 13 tokens run as 4 + 4 + 5 rather than 6 + 6 + 1.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn runs(tokens: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = tokens.div_ceil(max).max(1);
    (0..count).map(move |i| {
        let start = tokens * i / count;
        let end = tokens * (i + 1) / count;
        (start, end - start)
    })
}

/// The 8-bit kernel: one group (16 rows) × up to 24 tokens of
/// accumulators (24 of the 32 registers), so that a query of up to 24
/// tokens streams each weight from memory once per product. The weights
/// (21 MB for the twelve layers) do not fit in L2, and streaming them
/// twice for a 13-token query cost more than all the multiply-adds.
#[cfg(target_arch = "x86_64")]
mod vnni8 {
    use super::{runs, store, PackedMatrix, GROUP, QUAD_BYTES};
    use archmage::prelude::*;

    const TOKENS: usize = 24;
    /// How far ahead of the weights in use they are asked for: the
    /// hardware's own prefetch ran out at a dozen tokens, where each
    /// 64-byte load feeds a dozen multiply-adds and the first of them
    /// then waited on memory (a software prefetch 3 KB ahead made the
    /// product about a fifth faster from 12 tokens up).
    const PREFETCH_AHEAD: usize = 3072;
    /// Below this many tokens a block is short enough for the hardware's
    /// prefetch, and the extra instruction costs more than it saves.
    const PREFETCH_MIN_TOKENS: usize = 8;

    #[arcane]
    pub(super) fn int_matmul(
        token: X64V4xToken,
        w: &PackedMatrix,
        x: &[[i8; 4]],
        offsets: &mut Vec<i32>,
        across: &mut Vec<[i8; 4]>,
        acc: &mut [i32],
    ) {
        let quads = w.quads;
        let tokens = x.len() / quads;
        super::offsets(x, quads, offsets);
        for (t0, n) in runs(tokens, TOKENS) {
            let xs = &x[t0 * quads..(t0 + n) * quads];
            // The run's activations column quad by column quad (all of
            // its tokens' quad `q` side by side), so that the kernel's
            // loop walks both operands in step without a bounds check per
            // token.
            let across = super::front(across, quads * n);
            for (q, column) in across.chunks_exact_mut(n).enumerate() {
                for (t, v) in column.iter_mut().enumerate() {
                    *v = xs[t * quads + q];
                }
            }
            let off = &offsets[t0..t0 + n];
            let out = &mut acc[t0 * w.rows..(t0 + n) * w.rows];
            for g in 0..w.groups {
                let wg = &w.data8[g * quads..(g + 1) * quads];
                macro_rules! dispatch {
                    ($($t:literal)*) => {
                        match n {
                            $($t => block::<$t>(
                                token,
                                wg,
                                pulp::as_arrays::<$t, [i8; 4]>(across).0,
                                off,
                                g,
                                w.rows,
                                out,
                            ),)*
                            _ => {}
                        }
                    };
                }
                dispatch!(24 23 22 21 20 19 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1);
            }
        }
    }

    /// Group `g` (weights `w`) against `T` tokens (`x`: for each column
    /// quad, the tokens' four activations).
    #[rite(import_intrinsics)]
    fn block<const T: usize>(
        _token: X64V4xToken,
        w: &[[u8; QUAD_BYTES]],
        x: &[[[i8; 4]; T]],
        offsets: &[i32],
        g: usize,
        rows: usize,
        out: &mut [i32],
    ) {
        // Each token's sums start at minus its offset (which also keeps
        // LLVM from zeroing the array with a call to `memset` first).
        let mut sums: [_; T] =
            core::array::from_fn(|t| _mm512_set1_epi32(-offsets.get(t).copied().unwrap_or(0)));
        for (wq, xq) in w.iter().zip(x) {
            if T >= PREFETCH_MIN_TOKENS {
                // A prefetch never faults, so an address past the end of
                // the weights (the last groups') is harmless.
                let ahead = wq.as_ptr().wrapping_add(PREFETCH_AHEAD);
                _mm_prefetch::<_MM_HINT_T0>(ahead.cast::<i8>());
            }
            let wv = _mm512_loadu_si512(wq);
            for t in 0..T {
                let xv = _mm512_set1_epi32(i32::from_le_bytes(xq[t].map(|b| b as u8)));
                sums[t] = _mm512_dpbusd_epi32(sums[t], wv, xv);
            }
        }
        for (t, s) in sums.iter().enumerate() {
            let mut lanes = [0i32; GROUP];
            _mm512_storeu_si512(&mut lanes, *s);
            store(&mut out[t * rows..(t + 1) * rows], g, &lanes);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{runs, store, PackedMatrix, GROUP, PAIR_BYTES};

    /// One product to run inside `vectorize`. A struct with an
    /// always-inlined `call` rather than a closure: a closure is a function
    /// of its own that LLVM may leave out of line, without the target
    /// features, and then not one intrinsic inside it is inlined.
    pub(super) struct Run<'a, S> {
        simd: S,
        w: &'a PackedMatrix,
        x: &'a [[i16; 2]],
        acc: &'a mut [i32],
    }

    impl<'a, S> Run<'a, S> {
        pub(super) fn new(
            simd: S,
            w: &'a PackedMatrix,
            x: &'a [[i16; 2]],
            acc: &'a mut [i32],
        ) -> Self {
            Run { simd, w, x, acc }
        }
    }

    impl pulp::NullaryFnOnce for Run<'_, pulp::x86::V4> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            v4::int_matmul(self.simd, self.w, self.x, self.acc);
        }
    }

    impl pulp::NullaryFnOnce for Run<'_, pulp::x86::V3> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            v3::int_matmul(self.simd, self.w, self.x, self.acc);
        }
    }

    /// 512-bit registers: 4 groups (64 rows) × up to 6 tokens of
    /// accumulators (24 of the 32 registers), the weights of each group and
    /// pair widened once for all the tokens.
    pub(super) mod v4 {
        use super::*;
        use core::arch::x86_64::{__m256i, __m512i};
        use pulp::x86::V4;

        const GROUPS: usize = 4;
        const TOKENS: usize = 6;

        #[inline(always)]
        pub(in super::super) fn int_matmul(
            simd: V4,
            w: &PackedMatrix,
            x: &[[i16; 2]],
            acc: &mut [i32],
        ) {
            let pairs = w.pairs;
            let tokens = x.len() / pairs;
            for (t0, n) in runs(tokens, TOKENS) {
                let xs = &x[t0 * pairs..(t0 + n) * pairs];
                let out = &mut acc[t0 * w.rows..(t0 + n) * w.rows];
                let mut g = 0;
                while g < w.groups {
                    let step = if g + GROUPS <= w.groups { GROUPS } else { 1 };
                    let wg = &w.data[g * pairs..(g + step) * pairs];
                    match (step, n) {
                        (GROUPS, 6) => block::<GROUPS, 6>(simd, wg, xs, pairs, g, out, w.rows),
                        (GROUPS, 5) => block::<GROUPS, 5>(simd, wg, xs, pairs, g, out, w.rows),
                        (GROUPS, 4) => block::<GROUPS, 4>(simd, wg, xs, pairs, g, out, w.rows),
                        (GROUPS, 3) => block::<GROUPS, 3>(simd, wg, xs, pairs, g, out, w.rows),
                        (GROUPS, 2) => block::<GROUPS, 2>(simd, wg, xs, pairs, g, out, w.rows),
                        (GROUPS, _) => block::<GROUPS, 1>(simd, wg, xs, pairs, g, out, w.rows),
                        (_, 6) => block::<1, 6>(simd, wg, xs, pairs, g, out, w.rows),
                        (_, 5) => block::<1, 5>(simd, wg, xs, pairs, g, out, w.rows),
                        (_, 4) => block::<1, 4>(simd, wg, xs, pairs, g, out, w.rows),
                        (_, 3) => block::<1, 3>(simd, wg, xs, pairs, g, out, w.rows),
                        (_, 2) => block::<1, 2>(simd, wg, xs, pairs, g, out, w.rows),
                        (_, _) => block::<1, 1>(simd, wg, xs, pairs, g, out, w.rows),
                    }
                    g += step;
                }
            }
        }

        /// `G` groups from group `g0` on against `T` tokens.
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        fn block<const G: usize, const T: usize>(
            simd: V4,
            w: &[[i8; PAIR_BYTES]],
            x: &[[i16; 2]],
            pairs: usize,
            g0: usize,
            out: &mut [i32],
            rows: usize,
        ) {
            let wr: [&[[i8; PAIR_BYTES]]; G] =
                core::array::from_fn(|i| &w[i * pairs..(i + 1) * pairs]);
            let xr: [&[[i16; 2]]; T] = core::array::from_fn(|t| &x[t * pairs..(t + 1) * pairs]);
            let zero = simd.avx512f._mm512_setzero_si512();
            let mut sums = [[zero; T]; G];
            for p in 0..pairs {
                let wv: [__m512i; G] = core::array::from_fn(|i| {
                    simd.avx512bw
                        ._mm512_cvtepi8_epi16(pulp::cast::<_, __m256i>(wr[i][p]))
                });
                for t in 0..T {
                    let xv = simd
                        .avx512f
                        ._mm512_set1_epi32(pulp::cast::<[i16; 2], i32>(xr[t][p]));
                    for i in 0..G {
                        let prod = simd.avx512bw._mm512_madd_epi16(wv[i], xv);
                        sums[i][t] = simd.avx512f._mm512_add_epi32(sums[i][t], prod);
                    }
                }
            }
            for t in 0..T {
                let out_t = &mut out[t * rows..(t + 1) * rows];
                for (i, s) in sums.iter().enumerate() {
                    store(out_t, g0 + i, &pulp::cast::<__m512i, [i32; GROUP]>(s[t]));
                }
            }
        }
    }

    /// 256-bit registers: one group as two halves of 8 rows × up to 5
    /// tokens of accumulators (10 of the 16 registers).
    pub(super) mod v3 {
        use super::*;
        use core::arch::x86_64::{__m128i, __m256i};
        use pulp::x86::V3;

        const TOKENS: usize = 5;

        #[inline(always)]
        pub(in super::super) fn int_matmul(
            simd: V3,
            w: &PackedMatrix,
            x: &[[i16; 2]],
            acc: &mut [i32],
        ) {
            let pairs = w.pairs;
            let tokens = x.len() / pairs;
            for (t0, n) in runs(tokens, TOKENS) {
                let xs = &x[t0 * pairs..(t0 + n) * pairs];
                let out = &mut acc[t0 * w.rows..(t0 + n) * w.rows];
                for g in 0..w.groups {
                    let wg = &w.data[g * pairs..(g + 1) * pairs];
                    match n {
                        5 => block::<5>(simd, wg, xs, pairs, g, out, w.rows),
                        4 => block::<4>(simd, wg, xs, pairs, g, out, w.rows),
                        3 => block::<3>(simd, wg, xs, pairs, g, out, w.rows),
                        2 => block::<2>(simd, wg, xs, pairs, g, out, w.rows),
                        _ => block::<1>(simd, wg, xs, pairs, g, out, w.rows),
                    }
                }
            }
        }

        #[inline(always)]
        fn block<const T: usize>(
            simd: V3,
            w: &[[i8; PAIR_BYTES]],
            x: &[[i16; 2]],
            pairs: usize,
            g: usize,
            out: &mut [i32],
            rows: usize,
        ) {
            let w = &w[..pairs];
            let xr: [&[[i16; 2]]; T] = core::array::from_fn(|t| &x[t * pairs..(t + 1) * pairs]);
            let zero = simd.avx._mm256_setzero_si256();
            let mut sums = [[zero; T]; 2];
            for p in 0..pairs {
                let halves: [[i8; 16]; 2] = pulp::cast(w[p]);
                let wv: [__m256i; 2] = core::array::from_fn(|h| {
                    simd.avx2
                        ._mm256_cvtepi8_epi16(pulp::cast::<_, __m128i>(halves[h]))
                });
                for t in 0..T {
                    let xv = simd
                        .avx
                        ._mm256_set1_epi32(pulp::cast::<[i16; 2], i32>(xr[t][p]));
                    for h in 0..2 {
                        let prod = simd.avx2._mm256_madd_epi16(wv[h], xv);
                        sums[h][t] = simd.avx2._mm256_add_epi32(sums[h][t], prod);
                    }
                }
            }
            for t in 0..T {
                let lo: [i32; 8] = pulp::cast(sums[0][t]);
                let hi: [i32; 8] = pulp::cast(sums[1][t]);
                let mut all = [0i32; GROUP];
                all[..8].copy_from_slice(&lo);
                all[8..].copy_from_slice(&hi);
                store(&mut out[t * rows..(t + 1) * rows], g, &all);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantic::simd::tests::values;

    /// Every path this CPU has, on shapes with and without padding and
    /// every token count up to 50 (more than two runs of the widest
    /// kernel), against the textbook sums.
    #[test]
    fn every_path_equals_the_textbook_product() {
        let paths = Path::available();
        assert_eq!(paths.last(), Some(&Path::Plain));
        for (rows, cols) in [
            (384, 384),
            (1536, 384),
            (384, 1536),
            (7, 48),
            (70, 33),
            (17, 1),
        ] {
            // One buffer for every product, so that each product finds
            // another's sums in it and must overwrite all of them.
            let mut buffers = Products::default();
            let w: Vec<i8> = values(rows * cols, 1, 127)
                .into_iter()
                .map(|v| v as i8)
                .collect();
            let packed: Vec<PackedMatrix> = paths
                .iter()
                .map(|&path| PackedMatrix::for_path(path, &w, rows, cols))
                .collect();
            #[cfg(target_arch = "x86_64")]
            let quads = PackedMatrix::for_path(Path::Vnni8, &w, rows, cols);
            for tokens in 1..=50 {
                let x: Vec<i8> = values(tokens * cols, tokens as u64, 127)
                    .into_iter()
                    .map(|v| v as i8)
                    .collect();
                let textbook: Vec<i32> = x
                    .chunks_exact(cols)
                    .flat_map(|xt| {
                        w.chunks_exact(cols).map(move |wr| {
                            wr.iter()
                                .zip(xt)
                                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                                .sum::<i32>()
                        })
                    })
                    .collect();
                for (path, packed) in paths.iter().zip(&packed) {
                    let sums = int_matmul(packed, &x, &mut buffers);
                    assert_eq!(sums, textbook, "{path:?}: {rows}×{cols}, {tokens} tokens");
                }
                // The four-column packing's plain loop, which runs where
                // the CPU lacks the kernel it was packed for.
                #[cfg(target_arch = "x86_64")]
                {
                    let sums = int_matmul8(&quads, &x, &mut buffers, false);
                    assert_eq!(
                        sums, textbook,
                        "plain 8-bit: {rows}×{cols}, {tokens} tokens"
                    );
                }
            }
        }
    }

    #[test]
    fn runs_cover_the_tokens_evenly() {
        let split: Vec<_> = runs(13, 6).collect();
        assert_eq!(split, [(0, 4), (4, 4), (8, 5)]);
        let split: Vec<_> = runs(12, 6).collect();
        assert_eq!(split, [(0, 6), (6, 6)]);
        assert_eq!(runs(1, 6).collect::<Vec<_>>(), [(0, 1)]);
    }
}

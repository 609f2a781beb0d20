//! Host kernels on `f32` slices, split over threads with rayon. The element-wise loops are
//! compiled three times on x86-64 (AVX-512, AVX2+FMA, baseline) and the best one the CPU has is
//! picked at run time ([multiversion]); elsewhere they are compiled once for the target.

use rayon::prelude::*;

/// Defines `pub fn $name(args)` that runs the `#[inline(always)]` function `$body(args)`
/// compiled for the best instruction set available at run time. (The loop must be inlined into
/// a `#[target_feature]` function to be vectorised for it, so closures are not used.)
macro_rules! multiversion {
    ($(#[$doc:meta])* $name:ident => $body:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn v4($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn v3($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has every feature `v4` is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has every feature `v3` is compiled for.
                    return unsafe { v3($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

/// Elements per rayon task (large enough to amortise scheduling, small enough to balance).
const CHUNK: usize = 1 << 14;

/// `erf(x)` as a rational function of `x` clamped to `[-4, 4]` (beyond it `erf` is ±1 in
/// `f32`): an odd degree-13 numerator over an even degree-8 denominator, branch-free so it
/// vectorises. Absolute error below 1e-6 (checked against a double-precision series in the
/// tests).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142_3e-10, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906_3e-4);
    p = x2.mul_add(p, -2.954_600_1e-3);
    p = x2.mul_add(p, -1.609_603_3e-2);
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_6e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    x * p / q
}

/// Exact (erf) GELU of one value: `x/2 · (1 + erf(x/√2))`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `out[i] = gelu(input[i])`, in parallel.
///
/// # Panics
///
/// Panics if the slices differ in length.
pub fn gelu_into(input: &[f32], out: &mut [f32]) {
    assert_eq!(input.len(), out.len(), "gelu_into: length mismatch");
    out.par_chunks_mut(CHUNK)
        .zip(input.par_chunks(CHUNK))
        .for_each(|(o, i)| gelu_chunk_into(i, o));
}

#[inline(always)]
fn gelu_chunk_into_body(input: &[f32], out: &mut [f32]) {
    for (o, &i) in out.iter_mut().zip(input) {
        *o = gelu(i);
    }
}

#[inline(always)]
fn gelu_chunk_body(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = gelu(*v);
    }
}

multiversion!(
    /// `out[i] = gelu(input[i])` on one thread.
    gelu_chunk_into => gelu_chunk_into_body(input: &[f32], out: &mut [f32])
);
multiversion!(
    /// `x[i] = gelu(x[i])` on one thread.
    gelu_chunk => gelu_chunk_body(x: &mut [f32])
);

/// `x[i] = gelu(x[i])`, in parallel.
pub fn gelu_inplace(x: &mut [f32]) {
    x.par_chunks_mut(CHUNK).for_each(gelu_chunk);
}

/// `silu(g) · u = g / (1 + e^-g) · u` for one pair.
#[inline(always)]
pub fn silu_mul(g: f32, u: f32) -> f32 {
    g / (1.0 + exp(-g)) * u
}

#[inline(always)]
fn silu_mul_chunk_body(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu_mul(*g, u);
    }
}

#[inline(always)]
fn silu_mul_chunk_into_body(gate: &[f32], up: &[f32], out: &mut [f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = silu_mul(g, u);
    }
}

multiversion!(
    /// `gate[i] = silu(gate[i]) · up[i]` on one thread.
    silu_mul_chunk => silu_mul_chunk_body(gate: &mut [f32], up: &[f32])
);
multiversion!(
    /// `out[i] = silu(gate[i]) · up[i]` on one thread.
    silu_mul_chunk_into => silu_mul_chunk_into_body(gate: &[f32], up: &[f32], out: &mut [f32])
);

/// `gate[i] = silu(gate[i]) · up[i]`, in parallel.
///
/// # Panics
///
/// Panics if the slices differ in length.
pub fn silu_mul_inplace(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul_inplace: length mismatch");
    gate.par_chunks_mut(CHUNK)
        .zip(up.par_chunks(CHUNK))
        .for_each(|(g, u)| silu_mul_chunk(g, u));
}

/// `out[i] = silu(gate[i]) · up[i]`, in parallel.
///
/// # Panics
///
/// Panics if the slices differ in length.
pub fn silu_mul_into(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(
        gate.len() == up.len() && up.len() == out.len(),
        "silu_mul_into: length mismatch"
    );
    out.par_chunks_mut(CHUNK)
        .zip(gate.par_chunks(CHUNK).zip(up.par_chunks(CHUNK)))
        .for_each(|(o, (g, u))| silu_mul_chunk_into(g, u, o));
}

/// `e^x`, branch-free so it vectorises: `x = n·ln2 + r` with `|r| ≤ ln2/2`, a degree-7
/// polynomial for `e^r` (Cephes' coefficients), `2^n` built in the exponent bits. Inputs are
/// clamped to `[-87.3, 88.7]` (so `-inf` gives ~1e-38, not 0); relative error below 2e-7.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    // Round to nearest by adding 1.5·2^23 (exact for |x·log2 e| < 2^22): `t`'s low mantissa
    // bits then hold `n` as an integer, so `2^n` needs no float-to-int conversion (Rust's
    // saturating `as i32` does not vectorise).
    let t = x.mul_add(std::f32::consts::LOG2_E, 12_582_912.0);
    let n = t - 12_582_912.0;
    let r = n.mul_add(-0.693_359_4, x);
    let r = n.mul_add(2.121_944_4e-4, r);
    let mut p = r.mul_add(1.987_569_1e-4, 1.398_2e-3);
    p = r.mul_add(p, 8.333_452e-3);
    p = r.mul_add(p, 4.166_579_6e-2);
    p = r.mul_add(p, 1.666_666_5e-1);
    p = r.mul_add(p, 0.5);
    let y = (r * r).mul_add(p, r) + 1.0;
    let biased = t.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127);
    y * f32::from_bits(biased << 23)
}

/// Lanes of the independent partial maxima / sums in [softmax_numerators] (one AVX-512
/// register): a float reduction in one accumulator is sequential and does not vectorise.
const LANES: usize = 16;

/// `row[i] = exp(row[i] - max(row))`; returns their sum.
#[inline(always)]
fn softmax_numerators(row: &mut [f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m = if x > *m { x } else { *m };
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    let mut sums = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (s, x) in sums.iter_mut().zip(c) {
            *x = exp(*x - max);
            *s += *x;
        }
    }
    let mut sum: f32 = sums.iter().sum();
    for x in chunks.into_remainder() {
        *x = exp(*x - max);
        sum += *x;
    }
    sum
}

/// Row `r` of the `[rows, len]` score tile keeps its first `valid(r)` entries (all of them,
/// or `first_valid + r` when `causal`) and they become their softmax numerators, the rest 0;
/// `inv_sums[r]` gets `1 / Σ`.
#[inline(always)]
fn softmax_tile_body(
    scores: &mut [f32],
    len: usize,
    first_valid: usize,
    causal: bool,
    inv_sums: &mut [f32; TILE_Q],
) {
    for (r, (row, inv)) in scores
        .chunks_exact_mut(len)
        .zip(inv_sums.iter_mut())
        .enumerate()
    {
        let valid = if causal {
            (first_valid + r).min(len)
        } else {
            len
        };
        let (kept, masked) = row.split_at_mut(valid);
        *inv = 1.0 / softmax_numerators(kept);
        masked.fill(0.0);
    }
}

multiversion!(
    /// Softmax numerators and inverse sums of the rows of an attention score tile.
    softmax_tile => softmax_tile_body(
        scores: &mut [f32],
        len: usize,
        first_valid: usize,
        causal: bool,
        inv_sums: &mut [f32; TILE_Q]
    )
);

/// Query rows per attention tile: the score tile `[TILE_Q, keys]` stays in L2.
const TILE_Q: usize = 64;

/// Sizes of one [attention] call; buffers are contiguous `[heads, len, dim]` with batch and
/// heads flattened.
#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    /// Query heads (batch × heads).
    pub heads: usize,
    /// Query heads per key/value head (grouped-query attention; 1 = plain).
    pub group: usize,
    /// Query positions.
    pub len_q: usize,
    /// Key/value positions (`>= len_q` when causal).
    pub len_k: usize,
    /// Head width.
    pub dim: usize,
}

/// Scaled dot-product attention, `softmax(q·kᵀ·scale)·v`. Query head `h` reads key/value head
/// `h / group`. With `causal`, query `i` sees keys `0..=i + len_k - len_q` (the queries are
/// the last `len_q` positions, as with a KV cache). Heads run in parallel, each in tiles of 64
/// query rows whose scores go through `gemm`, a vectorised softmax, and `gemm` again; a causal
/// tile only computes the keys its last row can see.
///
/// # Panics
///
/// Panics if the buffer lengths disagree with the shape, `group` does not divide `heads`,
/// there are no keys, or `causal` with fewer keys than queries.
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    shape: AttentionShape,
    scale: f32,
    causal: bool,
) {
    let AttentionShape {
        heads,
        group,
        len_q,
        len_k,
        dim,
    } = shape;
    assert!(
        group > 0 && heads % group == 0,
        "attention: group must divide heads"
    );
    let kv_heads = heads / group;
    assert_eq!(q.len(), heads * len_q * dim, "attention: q length");
    assert_eq!(k.len(), kv_heads * len_k * dim, "attention: k length");
    assert_eq!(v.len(), kv_heads * len_k * dim, "attention: v length");
    assert_eq!(out.len(), heads * len_q * dim, "attention: out length");
    if out.is_empty() {
        return;
    }
    assert!(len_k > 0, "attention: no keys");
    assert!(
        !causal || len_k >= len_q,
        "attention: causal with fewer keys than queries"
    );
    let offset = len_k - len_q.min(len_k); // keys before the first query (causal)
    let head = |(h, out): (usize, &mut [f32])| {
        let kv = h / group;
        let (q, k, v) = (
            &q[h * len_q * dim..(h + 1) * len_q * dim],
            &k[kv * len_k * dim..(kv + 1) * len_k * dim],
            &v[kv * len_k * dim..(kv + 1) * len_k * dim],
        );
        let mut scores = vec![0.0f32; TILE_Q.min(len_q) * len_k];
        for start in (0..len_q).step_by(TILE_Q) {
            let rows = TILE_Q.min(len_q - start);
            // Keys any row of this tile can see.
            let keys = if causal {
                (offset + start + rows).min(len_k)
            } else {
                len_k
            };
            let s = &mut scores[..rows * keys];
            // SAFETY: s is [rows, keys], q rows [start, start + rows) of [len_q, dim], the
            // first `keys` rows of k ([len_k, dim]) read as their transpose; all in bounds
            // by the asserts.
            unsafe {
                gemm::gemm(
                    rows,
                    keys,
                    dim,
                    s.as_mut_ptr(),
                    1,
                    keys as isize,
                    false,
                    q.as_ptr().add(start * dim),
                    1,
                    dim as isize,
                    k.as_ptr(),
                    dim as isize,
                    1,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            let mut inv_sums = [0.0f32; TILE_Q];
            softmax_tile(s, keys, offset + start + 1, causal, &mut inv_sums);
            let o = &mut out[start * dim..(start + rows) * dim];
            // SAFETY: o is [rows, dim], s is [rows, keys], v's first `keys` rows [keys, dim].
            unsafe {
                gemm::gemm(
                    rows,
                    dim,
                    keys,
                    o.as_mut_ptr(),
                    1,
                    dim as isize,
                    false,
                    s.as_ptr(),
                    1,
                    keys as isize,
                    v.as_ptr(),
                    1,
                    dim as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            for (row, inv) in o.chunks_exact_mut(dim).zip(inv_sums) {
                row.iter_mut().for_each(|x| *x *= inv);
            }
        }
    };
    out.par_chunks_mut(len_q * dim).enumerate().for_each(head);
}

/// `out[c] = Σ_r x[r] · w[first + r·row_stride + c]` (one column tile of a one-row product
/// over contiguous rows), four rows per pass over `out`.
#[inline(always)]
fn row_tile_body(x: &[f32], w: &[f32], first: usize, row_stride: usize, out: &mut [f32]) {
    let width = out.len();
    out.fill(0.0);
    let row = |r: usize| &w[first + r * row_stride..first + r * row_stride + width];
    let mut quads = x.chunks_exact(4);
    let mut r = 0;
    for a in &mut quads {
        let (w0, w1, w2, w3) = (row(r), row(r + 1), row(r + 2), row(r + 3));
        for ((((o, &b0), &b1), &b2), &b3) in out.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
            *o = b3.mul_add(
                a[3],
                b2.mul_add(a[2], b1.mul_add(a[1], b0.mul_add(a[0], *o))),
            );
        }
        r += 4;
    }
    for &a in quads.remainder() {
        for (o, &b) in out.iter_mut().zip(row(r)) {
            *o = b.mul_add(a, *o);
        }
        r += 1;
    }
}

multiversion!(
    /// One column tile of a one-row product over contiguous rows.
    row_tile => row_tile_body(x: &[f32], w: &[f32], first: usize, row_stride: usize, out: &mut [f32])
);

/// A strided `[K, N]` matrix in a flat buffer: element `(r, c)` is at
/// `offset + r * row_stride + c * col_stride`.
#[derive(Debug, Clone, Copy)]
pub struct StridedMatrix<'a> {
    /// The whole buffer.
    pub data: &'a [f32],
    /// Index of element `(0, 0)`.
    pub offset: usize,
    /// Rows (`K`).
    pub rows: usize,
    /// Columns (`N`).
    pub cols: usize,
    /// Distance between rows (> 0).
    pub row_stride: usize,
    /// Distance between columns (> 0).
    pub col_stride: usize,
}

/// `out = x · w` for one row `x` (`[K]`) and a strided `[K, N]` matrix, the columns split over
/// the rayon threads. A matrix-vector product reads every weight once and is bound by memory
/// bandwidth; one thread cannot saturate it, and a single `gemm` call runs it on one. Contiguous
/// rows (`col_stride == 1`, Burn's `[d_in, d_out]` weights) are streamed by [row_tile]
/// (~28 GB/s on the 2-core benchmark machine, 15–20 % above `gemm`'s matrix-vector kernel);
/// other layouts (e.g. a transposed view) go through `gemm` per column chunk.
///
/// # Panics
///
/// Panics if the shapes disagree or the strides reach past the buffer.
pub fn vec_matmul(x: &[f32], w: StridedMatrix<'_>, out: &mut [f32]) {
    let (k, n) = (w.rows, w.cols);
    assert!(k > 0 && n > 0, "vec_matmul: empty matrix");
    assert_eq!(
        x.len(),
        k,
        "vec_matmul: x has {} values, w has {k} rows",
        x.len()
    );
    assert_eq!(
        out.len(),
        n,
        "vec_matmul: out has {} values, w has {n} columns",
        out.len()
    );
    assert!(
        w.row_stride > 0 && w.col_stride > 0,
        "vec_matmul: strides must be positive"
    );
    let last = w.offset + (k - 1) * w.row_stride + (n - 1) * w.col_stride;
    assert!(
        last < w.data.len(),
        "vec_matmul: strides reach past the buffer"
    );
    if w.col_stride == 1 {
        // Rows contiguous: stream them in column tiles whose accumulators stay in L1.
        let tasks = (2 * rayon::current_num_threads()).max(1);
        let chunk = n.div_ceil(tasks).next_multiple_of(16).clamp(64, 2048);
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, o)| row_tile(x, w.data, w.offset + i * chunk, w.row_stride, o));
        return;
    }
    // At least 64 columns per task; about two tasks per thread for balance.
    let tasks = (2 * rayon::current_num_threads()).max(1);
    let chunk = n.div_ceil(tasks).next_multiple_of(16).max(64);
    out.par_chunks_mut(chunk).enumerate().for_each(|(i, o)| {
        let first = w.offset + i * chunk * w.col_stride;
        // SAFETY: `o` has `o.len()` columns starting at column `i * chunk`; every element read
        // is at most `last` (checked above) and `x` holds `k` values.
        unsafe {
            gemm::gemm(
                1,
                o.len(),
                k,
                o.as_mut_ptr(),
                1,
                o.len() as isize,
                false,
                x.as_ptr(),
                1,
                k as isize,
                w.data.as_ptr().add(first),
                w.col_stride as isize,
                w.row_stride as isize,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate_over_the_float_range() {
        let mut worst: f64 = 0.0;
        for i in -87_000..=88_000 {
            let x = i as f32 / 1000.0;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64) - want).abs() / want);
        }
        assert!(worst < 2e-7, "max relative exp error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NEG_INFINITY) < 1e-37);
    }

    #[test]
    fn attention_matches_a_direct_softmax() {
        // 70 queries: a full tile and a partial one; 4 query heads on 2 key/value heads.
        let wave = |n: usize, seed: f32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i as f32 + seed) * 0.7).sin() * 2.0)
                .collect()
        };
        for (heads, group, len_q, len_k, causal) in [
            (3, 1, 70, 50, false),
            (4, 2, 70, 50, false),
            (4, 2, 70, 90, true),
            (2, 1, 1, 9, true),
        ] {
            let dim = 8;
            let kv_heads = heads / group;
            let (q, k, v) = (
                wave(heads * len_q * dim, 0.1),
                wave(kv_heads * len_k * dim, 0.2),
                wave(kv_heads * len_k * dim, 0.3),
            );
            let scale = 1.0 / (dim as f32).sqrt();
            let mut out = vec![0.0; heads * len_q * dim];
            let shape = AttentionShape {
                heads,
                group,
                len_q,
                len_k,
                dim,
            };
            attention(&q, &k, &v, &mut out, shape, scale, causal);
            for h in 0..heads {
                let kv = h / group;
                for i in 0..len_q {
                    let seen = if causal { len_k - len_q + i + 1 } else { len_k };
                    let s: Vec<f64> = (0..seen)
                        .map(|j| {
                            (0..dim)
                                .map(|d| {
                                    q[(h * len_q + i) * dim + d] as f64
                                        * k[(kv * len_k + j) * dim + d] as f64
                                })
                                .sum::<f64>()
                                * scale as f64
                        })
                        .collect();
                    let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
                    let total: f64 = e.iter().sum();
                    for d in 0..dim {
                        let want: f64 = (0..seen)
                            .map(|j| e[j] / total * v[(kv * len_k + j) * dim + d] as f64)
                            .sum();
                        let got = out[(h * len_q + i) * dim + d] as f64;
                        assert!(
                            (got - want).abs() < 1e-5,
                            "{heads}/{group} causal {causal}: head {h} row {i} dim {d}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn vec_matmul_matches_a_plain_loop_for_both_layouts() {
        let (k, n) = (37, 1000);
        let x: Vec<f32> = (0..k).map(|i| (i as f32 * 0.37).sin()).collect();
        let buf: Vec<f32> = (0..k * n + 5).map(|i| (i as f32 * 0.011).cos()).collect();
        // Row-major [K, N] at offset 5, and the same buffer read as the transpose of [N, K].
        for (row_stride, col_stride) in [(n, 1), (1, k)] {
            let w = StridedMatrix {
                data: &buf,
                offset: 5,
                rows: k,
                cols: n,
                row_stride,
                col_stride,
            };
            let mut out = vec![0.0; n];
            vec_matmul(&x, w, &mut out);
            for (c, &got) in out.iter().enumerate() {
                let want: f32 = (0..k)
                    .map(|r| x[r] * buf[5 + r * row_stride + c * col_stride])
                    .sum();
                assert!((got - want).abs() < 1e-4, "column {c}: {got} vs {want}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "past the buffer")]
    fn vec_matmul_rejects_strides_past_the_buffer() {
        let w = StridedMatrix {
            data: &[0.0; 10],
            offset: 0,
            rows: 2,
            cols: 6,
            row_stride: 6,
            col_stride: 1,
        };
        vec_matmul(&[1.0, 1.0], w, &mut [0.0; 6]);
    }

    /// `erf` in double precision: its Maclaurin series for |x| ≤ 3 (terms up to e^9, so
    /// ~1e-12 accurate), the asymptotic expansion of `erfc` beyond (error < 1e-8 at x = 3).
    fn erf_f64(x: f64) -> f64 {
        let a = x.abs();
        if a > 3.0 {
            let x2 = a * a;
            let series = 1.0 - 1.0 / (2.0 * x2) + 3.0 / (4.0 * x2 * x2)
                - 15.0 / (8.0 * x2 * x2 * x2)
                + 105.0 / (16.0 * x2 * x2 * x2 * x2);
            let erfc = (-x2).exp() / (a * std::f64::consts::PI.sqrt()) * series;
            return x.signum() * (1.0 - erfc);
        }
        let mut term = x; // x^(2n+1) (-1)^n / n!
        let mut sum = x;
        for n in 1..100 {
            term *= -x * x / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_accurate_everywhere() {
        let mut worst: f64 = 0.0;
        for i in -6000..=6000 {
            let x = i as f64 / 1000.0;
            let err = (erf(x as f32) as f64 - erf_f64(x)).abs();
            worst = worst.max(err);
        }
        assert!(worst < 1e-6, "max |erf error| {worst:e}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(10.0), erf(4.0));
        assert!((erf(4.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn silu_mul_slices_match_the_formula() {
        let gate: Vec<f32> = (0..70_000)
            .map(|i| (i as f32 - 35_000.0) / 1_000.0)
            .collect();
        let up: Vec<f32> = (0..gate.len())
            .map(|i| (i as f32 * 0.013).sin() * 3.0)
            .collect();
        let mut out = vec![0.0; gate.len()];
        silu_mul_into(&gate, &up, &mut out);
        let mut inplace = gate.clone();
        silu_mul_inplace(&mut inplace, &up);
        assert_eq!(out, inplace);
        for ((&g, &u), &y) in gate.iter().zip(&up).zip(&out) {
            let want = g as f64 / (1.0 + (-g as f64).exp()) * u as f64;
            assert!(
                (y as f64 - want).abs() < 1e-6 * (1.0 + want.abs()),
                "silu({g}) * {u} = {y}, want {want}"
            );
        }
    }

    #[test]
    fn gelu_slices_match_the_scalar_formula() {
        let input: Vec<f32> = (0..100_000)
            .map(|i| (i as f32 - 50_000.0) / 5_000.0)
            .collect();
        let mut out = vec![0.0; input.len()];
        gelu_into(&input, &mut out);
        let mut inplace = input.clone();
        gelu_inplace(&mut inplace);
        assert_eq!(out, inplace);
        for (&x, &y) in input.iter().zip(&out) {
            let want = 0.5 * x as f64 * (1.0 + erf_f64(x as f64 / 2f64.sqrt()));
            assert!(
                (y as f64 - want).abs() < 1e-5 * (1.0 + want.abs()),
                "gelu({x}) = {y}, want {want}"
            );
        }
    }
}

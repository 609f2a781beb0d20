//! Attention on the host: a tiled `softmax(q·kᵀ·scale)·v` per head whose products go through
//! `gemm`, grouped-query heads read without copies, optionally causal.

use rayon::prelude::*;

use super::exp;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}

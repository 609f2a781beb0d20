//! One row through a weight matrix (`[1, K] × [K, N]`, any strides), columns split over the
//! threads: the matrix-vector products of token-by-token decoding.

use rayon::prelude::*;

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
/// rows (`col_stride == 1`, Burn's `[d_in, d_out]` weights) are streamed by `row_tile`
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
}

//! The reference rasteriser: depth-sorted front-to-back compositing of every Gaussian at every
//! pixel, in plain Burn tensor ops (every backend; autodiff by Burn; the oracle for the fast
//! path).
//!
//! With `a = 1 − exp(−o·w)`, the transmittance in front of Gaussian `k` is
//! `Π_{i<k} (1 − a_i) = exp(−Σ_{i<k} o_i w_i)`, so compositing is an exclusive cumulative sum
//! along the depth order. Pixels are processed in row chunks to bound memory.

use burn::tensor::{Int, Tensor};

use crate::render::splat::{Splats, finite_or_zero};

/// Upper bound on `F · N · pixels` elements per chunk.
const CHUNK_ELEMENTS: usize = 1 << 23;

/// Sorts every frame's splats by depth, front to back.
pub fn sort_by_depth(s: Splats) -> Splats {
    let [f, n] = s.depth.dims();
    let (depth, idx) = s.depth.sort_with_indices(1); // [F, N]
    let idx3 = |c: usize| -> Tensor<3, Int> { idx.clone().unsqueeze_dim::<3>(2).expand([f, n, c]) };
    Splats {
        means2d: s.means2d.gather(1, idx3(2)),
        conics: s.conics.gather(1, idx3(3)),
        colors: s.colors.gather(1, idx3(3)),
        opacity: s.opacity.gather(1, idx),
        depth,
    }
}

/// Composites depth-sorted splats over a black background: frames `[F, S, S, 3]` in [0, 1].
///
/// Pixel `(x, y)` sits at integer coordinates (no half-pixel offset), matching the authors.
pub fn rasterize_reference(splats: Splats, size: usize) -> Tensor<4> {
    let s = sort_by_depth(splats);
    let [f, n, _] = s.means2d.dims();
    let device = s.depth.device();
    let rows = (CHUNK_ELEMENTS / (f * n.max(1) * size).max(1)).clamp(1, size);
    let u = s.means2d.clone().narrow(2, 0, 1); // [F, N, 1]
    let v = s.means2d.narrow(2, 1, 1);
    let (q0, q1, q2) = (
        s.conics.clone().narrow(2, 0, 1),
        s.conics.clone().narrow(2, 1, 1),
        s.conics.narrow(2, 2, 1),
    );
    let o = s.opacity.unsqueeze_dim::<3>(2); // [F, N, 1]
    let mut chunks = Vec::new();
    let mut y0 = 0;
    while y0 < size {
        let h = rows.min(size - y0);
        let px = h * size;
        let xs: Vec<f32> = (0..px).map(|i| (i % size) as f32).collect();
        let ys: Vec<f32> = (0..px).map(|i| (y0 + i / size) as f32).collect();
        let xs = Tensor::<1>::from_floats(xs.as_slice(), &device).reshape([1, 1, px]);
        let ys = Tensor::<1>::from_floats(ys.as_slice(), &device).reshape([1, 1, px]);
        let dx = xs - u.clone(); // [F, N, px]
        let dy = ys - v.clone();
        let q = q0.clone() * dx.clone().square()
            + q1.clone() * dx * dy.clone()
            + q2.clone() * dy.square();
        let w = q.mul_scalar(-0.5).exp().clamp(0.0, 1.0);
        let ow = o.clone() * w; // [F, N, px]
        let before = ow.clone().cumsum(1) - ow.clone(); // exclusive
        let contrib = before.neg().exp() * ow.neg().exp().neg().add_scalar(1.0); // T · a
        let rgb = contrib.swap_dims(1, 2).matmul(s.colors.clone()); // [F, px, 3]
        chunks.push(rgb);
        y0 += h;
    }
    let img = Tensor::cat(chunks, 1).reshape([f, size, size, 3]);
    finite_or_zero(img).clamp(0.0, 1.0)
}

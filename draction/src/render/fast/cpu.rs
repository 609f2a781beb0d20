//! The tile-binned rasteriser on the host (rayon): forward and its exact backward.
//!
//! Per frame, every Gaussian gets a screen-space bounding box out to where its contribution
//! `1 − exp(−o·w)` falls below [`CUTOFF`]; 16×16 tiles list the Gaussians that reach them, in
//! depth order. A pixel composites its tile's list front to back and stops once the
//! transmittance drops below [`T_MIN`]. The backward pass replays the same loop, so forward and
//! backward see exactly the same Gaussians.

// Index loops over channels and Gaussians mirror the maths; iterators would hide it.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

/// Tile side in pixels.
pub const TILE: usize = 16;
/// Contributions below this are skipped (the reference never skips; the difference is bounded
/// by this times the number of overlapping Gaussians).
pub const CUTOFF: f32 = 1e-5;
/// Compositing stops once the transmittance is below this.
pub const T_MIN: f32 = 1e-4;

/// Depth-sorted splats of `frames` frames, `n` per frame, row-major host arrays.
#[derive(Debug, Clone, Copy)]
pub struct HostSplats<'a> {
    /// Frames.
    pub frames: usize,
    /// Gaussians per frame.
    pub n: usize,
    /// `[F, N, 2]` pixel centres.
    pub means2d: &'a [f32],
    /// `[F, N, 3]` conics `(Q00, Q01 + Q10, Q11)`.
    pub conics: &'a [f32],
    /// `[F, N, 3]` colours.
    pub colors: &'a [f32],
    /// `[F, N]` opacities.
    pub opacity: &'a [f32],
}

/// Per-frame tile lists: for each tile, the Gaussians (indices within the frame) that reach it,
/// front to back, and each Gaussian's cut-off on `q`.
pub(crate) struct Bins {
    /// Tiles per image row.
    pub(crate) tiles_x: usize,
    /// Per tile (row-major), the Gaussians reaching it, front to back.
    pub(crate) lists: Vec<Vec<u32>>,
    /// Per Gaussian, the largest `q` still above the contribution cut-off.
    pub(crate) qcut: Vec<f32>,
}

/// Bins frame `f`'s Gaussians into tiles (reads means, conics and opacities, not colours).
pub(crate) fn bin_frame(s: &HostSplats, f: usize, size: usize) -> Bins {
    let tiles_x = size.div_ceil(TILE);
    let mut lists = vec![Vec::new(); tiles_x * tiles_x];
    let mut qcut = vec![0.0f32; s.n];
    for k in 0..s.n {
        let g = f * s.n + k;
        let o = s.opacity[g];
        let (u, v) = (s.means2d[g * 2], s.means2d[g * 2 + 1]);
        let (q0, q1, q2) = (s.conics[g * 3], s.conics[g * 3 + 1], s.conics[g * 3 + 2]);
        if o.is_nan() || o <= CUTOFF || ![u, v, q0, q1, q2].iter().all(|x| x.is_finite()) {
            continue;
        }
        // 1 − exp(−o w) < CUTOFF  ⇔  w < −ln(1 − CUTOFF) / o  ⇔  q > 2 ln(o / −ln(1 − CUTOFF)).
        let wmin = -(1.0 - CUTOFF as f64).ln();
        let qc = (2.0 * (o as f64 / wmin).ln()) as f32;
        qcut[k] = qc;
        // Extent: the 2-D covariance is the inverse of Q; its largest eigenvalue bounds the
        // ellipse q = qc by a circle of radius sqrt(qc · λmax).
        let det = q0 * q2 - 0.25 * q1 * q1;
        if det.is_nan() || det <= 0.0 {
            continue;
        }
        let (a, b, c) = (q2 / det, -0.5 * q1 / det, q0 / det);
        let mid = 0.5 * (a + c);
        let lam = mid + (0.25 * (a - c) * (a - c) + b * b).sqrt();
        let r = (qc * lam).sqrt();
        let (x0, x1) = ((u - r).floor(), (u + r).ceil());
        let (y0, y1) = ((v - r).floor(), (v + r).ceil());
        if x1 < 0.0 || y1 < 0.0 || x0 > (size - 1) as f32 || y0 > (size - 1) as f32 {
            continue;
        }
        let tx0 = (x0.max(0.0) as usize) / TILE;
        let tx1 = (x1.min((size - 1) as f32) as usize) / TILE;
        let ty0 = (y0.max(0.0) as usize) / TILE;
        let ty1 = (y1.min((size - 1) as f32) as usize) / TILE;
        for ty in ty0..=ty1 {
            for tx in tx0..=tx1 {
                lists[ty * tiles_x + tx].push(k as u32);
            }
        }
    }
    Bins {
        tiles_x,
        lists,
        qcut,
    }
}

/// One Gaussian's weight at a pixel: `(w, q, dx, dy)`, or `None` beyond the cut-off.
#[inline]
fn weight(s: &HostSplats, g: usize, qcut: f32, x: f32, y: f32) -> Option<(f32, f32, f32, f32)> {
    let dx = x - s.means2d[g * 2];
    let dy = y - s.means2d[g * 2 + 1];
    let q =
        s.conics[g * 3] * dx * dx + s.conics[g * 3 + 1] * dx * dy + s.conics[g * 3 + 2] * dy * dy;
    if q > qcut {
        return None;
    }
    Some(((-0.5 * q).exp().clamp(0.0, 1.0), q, dx, dy))
}

/// Tile origin and extent.
fn tile_rect(tile: usize, tiles_x: usize, size: usize) -> (usize, usize, usize, usize) {
    let (tx, ty) = (tile % tiles_x, tile / tiles_x);
    let (x0, y0) = (tx * TILE, ty * TILE);
    (x0, y0, TILE.min(size - x0), TILE.min(size - y0))
}

/// Composites every frame: `[F, S, S, 3]`, unclamped.
pub fn forward(s: &HostSplats, size: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; s.frames * size * size * 3];
    out.par_chunks_mut(size * size * 3)
        .enumerate()
        .for_each(|(f, img)| {
            let bins = bin_frame(s, f, size);
            let tiles: Vec<(usize, Vec<f32>)> = (0..bins.lists.len())
                .into_par_iter()
                .map(|tile| {
                    let (x0, y0, w, h) = tile_rect(tile, bins.tiles_x, size);
                    let mut buf = vec![0.0f32; w * h * 3];
                    for py in 0..h {
                        for px in 0..w {
                            let (x, y) = ((x0 + px) as f32, (y0 + py) as f32);
                            let mut t = 1.0f32;
                            let mut c = [0.0f32; 3];
                            for &k in &bins.lists[tile] {
                                let g = f * s.n + k as usize;
                                let Some((wt, ..)) = weight(s, g, bins.qcut[k as usize], x, y)
                                else {
                                    continue;
                                };
                                let a = 1.0 - (-s.opacity[g] * wt).exp();
                                for ch in 0..3 {
                                    c[ch] += t * a * s.colors[g * 3 + ch];
                                }
                                t *= 1.0 - a;
                                if t < T_MIN {
                                    break;
                                }
                            }
                            buf[(py * w + px) * 3..(py * w + px) * 3 + 3].copy_from_slice(&c);
                        }
                    }
                    (tile, buf)
                })
                .collect();
            for (tile, buf) in tiles {
                let (x0, y0, w, h) = tile_rect(tile, bins.tiles_x, size);
                for py in 0..h {
                    let dst = ((y0 + py) * size + x0) * 3;
                    img[dst..dst + w * 3].copy_from_slice(&buf[py * w * 3..(py + 1) * w * 3]);
                }
            }
        });
    out
}

/// Gradients of a scalar loss with respect to the splats, given `image` (the forward output)
/// and `grad` (`∂L/∂image`), both `[F, S, S, 3]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SplatGrads {
    /// `[F, N, 2]`
    pub means2d: Vec<f32>,
    /// `[F, N, 3]`
    pub conics: Vec<f32>,
    /// `[F, N, 3]`
    pub colors: Vec<f32>,
    /// `[F, N]`
    pub opacity: Vec<f32>,
}

/// Backward of [`forward`]: replays each pixel front to back; with `S_k` the colour composited
/// behind Gaussian `k` (`C − Σ_{i≤k} T_i a_i c_i`),
/// `∂L/∂c_k = g T_k a_k` and `∂L/∂(o_k w_k) = g · (T_k c_k (1 − a_k) − S_k)`.
pub fn backward(s: &HostSplats, image: &[f32], grad: &[f32], size: usize) -> SplatGrads {
    const G: usize = 9; // u, v, q0, q1, q2, r, g, b, o
    let per_frame: Vec<Vec<f32>> = (0..s.frames)
        .into_par_iter()
        .map(|f| {
            let bins = bin_frame(s, f, size);
            let partial: Vec<(usize, Vec<f32>)> = (0..bins.lists.len())
                .into_par_iter()
                .filter(|&tile| !bins.lists[tile].is_empty())
                .map(|tile| {
                    let list = &bins.lists[tile];
                    let mut acc = vec![0.0f32; list.len() * G];
                    let (x0, y0, w, h) = tile_rect(tile, bins.tiles_x, size);
                    for py in 0..h {
                        for px in 0..w {
                            let p = (f * size * size + (y0 + py) * size + x0 + px) * 3;
                            let gout = [grad[p], grad[p + 1], grad[p + 2]];
                            if gout == [0.0; 3] {
                                continue;
                            }
                            let ctot = [image[p], image[p + 1], image[p + 2]];
                            let (x, y) = ((x0 + px) as f32, (y0 + py) as f32);
                            let mut t = 1.0f32;
                            let mut prefix = [0.0f32; 3];
                            for (li, &k) in list.iter().enumerate() {
                                let g = f * s.n + k as usize;
                                let Some((wt, q, dx, dy)) =
                                    weight(s, g, bins.qcut[k as usize], x, y)
                                else {
                                    continue;
                                };
                                let o = s.opacity[g];
                                let e = (-o * wt).exp();
                                let a = 1.0 - e;
                                let col = &s.colors[g * 3..g * 3 + 3];
                                let mut d_ow = 0.0f32;
                                for ch in 0..3 {
                                    prefix[ch] += t * a * col[ch];
                                    let behind = ctot[ch] - prefix[ch];
                                    d_ow += gout[ch] * (t * col[ch] * e - behind);
                                    acc[li * G + 5 + ch] += gout[ch] * t * a;
                                }
                                acc[li * G + 8] += d_ow * wt;
                                // w = exp(−q/2) (q ≥ 0 inside the ellipse): ∂w/∂q = −w/2.
                                let d_q = if q >= 0.0 {
                                    d_ow * o * (-0.5 * wt)
                                } else {
                                    0.0
                                };
                                let (q0, q1, q2) =
                                    (s.conics[g * 3], s.conics[g * 3 + 1], s.conics[g * 3 + 2]);
                                acc[li * G] += d_q * -(2.0 * q0 * dx + q1 * dy);
                                acc[li * G + 1] += d_q * -(q1 * dx + 2.0 * q2 * dy);
                                acc[li * G + 2] += d_q * dx * dx;
                                acc[li * G + 3] += d_q * dx * dy;
                                acc[li * G + 4] += d_q * dy * dy;
                                t *= e;
                                if t < T_MIN {
                                    break;
                                }
                            }
                        }
                    }
                    (tile, acc)
                })
                .collect();
            let mut frame = vec![0.0f32; s.n * G];
            for (tile, acc) in partial {
                for (li, &k) in bins.lists[tile].iter().enumerate() {
                    for j in 0..G {
                        frame[k as usize * G + j] += acc[li * G + j];
                    }
                }
            }
            frame
        })
        .collect();
    let total = s.frames * s.n;
    let mut out = SplatGrads {
        means2d: vec![0.0; total * 2],
        conics: vec![0.0; total * 3],
        colors: vec![0.0; total * 3],
        opacity: vec![0.0; total],
    };
    for (f, frame) in per_frame.iter().enumerate() {
        for k in 0..s.n {
            let g = f * s.n + k;
            let a = &frame[k * G..(k + 1) * G];
            out.means2d[g * 2..g * 2 + 2].copy_from_slice(&a[0..2]);
            out.conics[g * 3..g * 3 + 3].copy_from_slice(&a[2..5]);
            out.colors[g * 3..g * 3 + 3].copy_from_slice(&a[5..8]);
            out.opacity[g] = a[8];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few overlapping Gaussians in one or two frames.
    fn scene() -> (usize, usize, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let (f, n) = (2, 5);
        let mut m = Vec::new();
        let mut q = Vec::new();
        let mut c = Vec::new();
        let mut o = Vec::new();
        for fi in 0..f {
            for k in 0..n {
                m.extend_from_slice(&[
                    6.0 + 3.0 * k as f32 + fi as f32,
                    9.0 + 2.0 * (k % 2) as f32,
                ]);
                q.extend_from_slice(&[0.12 + 0.02 * k as f32, 0.03 * (k as f32 - 2.0), 0.1]);
                c.extend_from_slice(&[0.2 * k as f32, 0.9 - 0.1 * k as f32, 0.5]);
                o.push(0.4 + 0.15 * k as f32);
            }
        }
        (f, n, m, q, c, o)
    }

    /// The exact compositing of every Gaussian at every pixel, in f64.
    fn dense(
        f: usize,
        n: usize,
        m: &[f32],
        q: &[f32],
        c: &[f32],
        o: &[f32],
        size: usize,
    ) -> Vec<f64> {
        let mut out = vec![0.0f64; f * size * size * 3];
        for fi in 0..f {
            for y in 0..size {
                for x in 0..size {
                    let mut t = 1.0f64;
                    for k in 0..n {
                        let g = fi * n + k;
                        let dx = x as f64 - m[g * 2] as f64;
                        let dy = y as f64 - m[g * 2 + 1] as f64;
                        let qq = q[g * 3] as f64 * dx * dx
                            + q[g * 3 + 1] as f64 * dx * dy
                            + q[g * 3 + 2] as f64 * dy * dy;
                        let a = 1.0 - (-(o[g] as f64) * (-0.5 * qq).exp().min(1.0)).exp();
                        for ch in 0..3 {
                            out[((fi * size + y) * size + x) * 3 + ch] +=
                                t * a * c[g * 3 + ch] as f64;
                        }
                        t *= 1.0 - a;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn forward_matches_dense_compositing() {
        let (f, n, m, q, c, o) = scene();
        let size = 24; // two tiles a side, with a partial tile
        let s = HostSplats {
            frames: f,
            n,
            means2d: &m,
            conics: &q,
            colors: &c,
            opacity: &o,
        };
        let got = forward(&s, size);
        let want = dense(f, n, &m, &q, &c, &o, size);
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(max < 1e-4, "max abs diff {max}");
        assert!(want.iter().cloned().fold(0.0, f64::max) > 0.3);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let (f, n, m, q, c, o) = scene();
        let size = 24;
        // Loss = Σ image · r with a fixed pseudo-random r.
        let r: Vec<f32> = (0..f * size * size * 3)
            .map(|i| ((i * 7919) % 13) as f32 / 13.0)
            .collect();
        let loss = |m: &[f32], q: &[f32], c: &[f32], o: &[f32]| -> f64 {
            dense(f, n, m, q, c, o, size)
                .iter()
                .zip(&r)
                .map(|(a, b)| a * *b as f64)
                .sum()
        };
        let s = HostSplats {
            frames: f,
            n,
            means2d: &m,
            conics: &q,
            colors: &c,
            opacity: &o,
        };
        let img = forward(&s, size);
        let g = backward(&s, &img, &r, size);
        let check = |name: &str, analytic: &[f32], base: &[f32], which: usize| {
            for i in 0..base.len() {
                let h = 1e-3f32;
                let mut plus = base.to_vec();
                plus[i] += h;
                let mut minus = base.to_vec();
                minus[i] -= h;
                let args = |v: &[f32]| -> f64 {
                    match which {
                        0 => loss(v, &q, &c, &o),
                        1 => loss(&m, v, &c, &o),
                        2 => loss(&m, &q, v, &o),
                        _ => loss(&m, &q, &c, v),
                    }
                };
                let fd = (args(&plus) - args(&minus)) / (2.0 * h as f64);
                let an = analytic[i] as f64;
                let tol = 2e-3 * fd.abs().max(an.abs()).max(1.0);
                assert!(
                    (fd - an).abs() < tol,
                    "{name}[{i}]: analytic {an}, finite difference {fd}"
                );
            }
        };
        check("means2d", &g.means2d, &m, 0);
        check("conics", &g.conics, &q, 1);
        check("colors", &g.colors, &c, 2);
        check("opacity", &g.opacity, &o, 3);
    }
}

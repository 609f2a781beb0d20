//! The CubeCL kernels of the fast rasteriser (wgpu, cuda): forward compositing and its exact
//! backward, one cube per 16×16 tile and one unit per pixel, walking the tile's depth-sorted
//! list built on the host (see [`super::cube`]).
//!
//! Buffers (all row-major, f32 unless said):
//! - `geom` `[F·N, 8]`: `(u, v, q0, q1, q2, o, qcut, 0)` per Gaussian;
//! - `colors` `[F·N, 3]`;
//! - `lists` (u32): `F·T + 1` offsets into this same buffer, then, per tile in
//!   `(frame, ty, tx)` order, the global indices `f·N + k` of the Gaussians reaching it, front
//!   to back (`T` tiles per frame);
//! - `image`, `grad`, `out` `[F, S, S, 3]`;
//! - `partial` `[E, 9]`: per list entry (`E` entries), the tile's summed gradient
//!   `(u, v, q0, q1, q2, r, g, b, o)`;
//! - `inverse` (u32): `F·N + 1` offsets into this same buffer, then per Gaussian the indices
//!   of its list entries.
//!
//! No atomics: the backward sums a Gaussian's gradient over a tile's pixels with a
//! shared-memory tree, and over tiles in [`gather_kernel`].

// Kernel loops index buffers: CubeCL has no iterators over device slices.
#![allow(clippy::needless_range_loop)]

use burn_cubecl::cubecl;
use cubecl::prelude::*;

/// Tile side in pixels (the cube is `TILE × TILE` units).
pub const TILE: u32 = 16;
/// Units per cube.
pub const UNITS: usize = 256;
/// Gradient components per Gaussian: `u, v, q0, q1, q2, r, g, b, o`.
pub const GRADS: usize = 9;
/// f32 values per Gaussian in `geom`.
pub const GEOM: usize = 8;

/// Forward: each unit composites its pixel front to back over its tile's list, skipping
/// contributions below the cut-off (`q > qcut`) and stopping once the transmittance drops below
/// `t_min`; writes the unclamped colour.
#[cube(launch)]
pub fn forward_kernel(
    geom: &[f32],
    colors: &[f32],
    lists: &[u32],
    out: &mut [f32],
    size: u32,
    tiles_x: u32,
    t_min: f32,
) {
    let px = CUBE_POS_X * TILE + UNIT_POS_X;
    let py = CUBE_POS_Y * TILE + UNIT_POS_Y;
    let frame = CUBE_POS_Z;
    if px >= size || py >= size {
        terminate!();
    }
    let tile = (frame * tiles_x * tiles_x + CUBE_POS_Y * tiles_x + CUBE_POS_X) as usize;
    let start = lists[tile] as usize;
    let end = lists[tile + 1] as usize;
    let x = f32::cast_from(px);
    let y = f32::cast_from(py);
    let mut t = 1.0f32;
    let mut r = 0.0f32;
    let mut g = 0.0f32;
    let mut b = 0.0f32;
    for i in start..end {
        let k = lists[i] as usize;
        let base = k * 8;
        let dx = x - geom[base];
        let dy = y - geom[base + 1];
        let q = geom[base + 2] * dx * dx + geom[base + 3] * dx * dy + geom[base + 4] * dy * dy;
        if q <= geom[base + 6] {
            let mut w = (q * -0.5f32).exp();
            if w > 1.0f32 {
                w = 1.0f32;
            }
            let e = (0.0f32 - geom[base + 5] * w).exp();
            let ta = t * (1.0f32 - e);
            r += ta * colors[k * 3];
            g += ta * colors[k * 3 + 1];
            b += ta * colors[k * 3 + 2];
            t *= e;
            if t < t_min {
                break;
            }
        }
    }
    let p = ((frame * size + py) * size + px) as usize * 3;
    out[p] = r;
    out[p + 1] = g;
    out[p + 2] = b;
}

/// Backward, per tile: every unit replays its pixel's forward loop front to back (the same
/// cut-offs and early stop) and, for each list entry, the cube sums the nine gradient
/// components over its pixels in shared memory; unit `j < 9` writes component `j` of the entry
/// to `partial`. With `S_k` the colour composited behind Gaussian `k` (`C − Σ_{i≤k} T_i a_i c_i`):
/// `∂L/∂c_k = g T_k a_k`, `∂L/∂(o_k w_k) = g · (T_k c_k e_k − S_k)` with `e_k = 1 − a_k`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn backward_kernel(
    geom: &[f32],
    colors: &[f32],
    lists: &[u32],
    image: &[f32],
    grad: &[f32],
    partial: &mut [f32],
    size: u32,
    tiles_x: u32,
    entries_base: u32,
    t_min: f32,
) {
    let lane = UNIT_POS as usize;
    let px = CUBE_POS_X * TILE + UNIT_POS_X;
    let py = CUBE_POS_Y * TILE + UNIT_POS_Y;
    let frame = CUBE_POS_Z;
    let tile = (frame * tiles_x * tiles_x + CUBE_POS_Y * tiles_x + CUBE_POS_X) as usize;
    let start = lists[tile] as usize;
    let end = lists[tile + 1] as usize;
    let ebase = entries_base as usize;

    // Units outside the image take part in the reductions with zero gradients.
    let mut active = px < size && py < size;
    let mut g0 = 0.0f32;
    let mut g1 = 0.0f32;
    let mut g2 = 0.0f32;
    let mut c0 = 0.0f32;
    let mut c1 = 0.0f32;
    let mut c2 = 0.0f32;
    if active {
        let p = ((frame * size + py) * size + px) as usize * 3;
        g0 = grad[p];
        g1 = grad[p + 1];
        g2 = grad[p + 2];
        c0 = image[p];
        c1 = image[p + 1];
        c2 = image[p + 2];
    }
    if g0 == 0.0f32 && g1 == 0.0f32 && g2 == 0.0f32 {
        active = false;
    }
    let x = f32::cast_from(px);
    let y = f32::cast_from(py);
    let mut t = 1.0f32;
    let mut s0 = 0.0f32;
    let mut s1 = 0.0f32;
    let mut s2 = 0.0f32;
    let mut shared = Shared::<[f32]>::new_slice(2304usize);

    for i in start..end {
        let k = lists[i] as usize;
        let base = k * 8;
        let mut d_u = 0.0f32;
        let mut d_v = 0.0f32;
        let mut d_q0 = 0.0f32;
        let mut d_q1 = 0.0f32;
        let mut d_q2 = 0.0f32;
        let mut d_r = 0.0f32;
        let mut d_g = 0.0f32;
        let mut d_b = 0.0f32;
        let mut d_o = 0.0f32;
        if active {
            let q0 = geom[base + 2];
            let q1 = geom[base + 3];
            let q2 = geom[base + 4];
            let dx = x - geom[base];
            let dy = y - geom[base + 1];
            let q = q0 * dx * dx + q1 * dx * dy + q2 * dy * dy;
            if q <= geom[base + 6] {
                let o = geom[base + 5];
                let mut w = (q * -0.5f32).exp();
                if w > 1.0f32 {
                    w = 1.0f32;
                }
                let e = (0.0f32 - o * w).exp();
                let a = 1.0f32 - e;
                let cr = colors[k * 3];
                let cg = colors[k * 3 + 1];
                let cb = colors[k * 3 + 2];
                s0 += t * a * cr;
                s1 += t * a * cg;
                s2 += t * a * cb;
                let d_ow = g0 * (t * cr * e - (c0 - s0))
                    + g1 * (t * cg * e - (c1 - s1))
                    + g2 * (t * cb * e - (c2 - s2));
                d_r = g0 * t * a;
                d_g = g1 * t * a;
                d_b = g2 * t * a;
                d_o = d_ow * w;
                // w = exp(−q/2) where q ≥ 0 (clamped to 1 elsewhere): ∂w/∂q = −w/2.
                let mut d_q = 0.0f32;
                if q >= 0.0f32 {
                    d_q = d_ow * o * (w * -0.5f32);
                }
                d_u = d_q * (0.0f32 - (2.0f32 * q0 * dx + q1 * dy));
                d_v = d_q * (0.0f32 - (q1 * dx + 2.0f32 * q2 * dy));
                d_q0 = d_q * dx * dx;
                d_q1 = d_q * dx * dy;
                d_q2 = d_q * dy * dy;
                t *= e;
                if t < t_min {
                    active = false;
                }
            }
        }
        shared[lane] = d_u;
        shared[256 + lane] = d_v;
        shared[512 + lane] = d_q0;
        shared[768 + lane] = d_q1;
        shared[1024 + lane] = d_q2;
        shared[1280 + lane] = d_r;
        shared[1536 + lane] = d_g;
        shared[1792 + lane] = d_b;
        shared[2048 + lane] = d_o;
        sync_cube();
        let mut stride = 128usize;
        while stride > 0 {
            if lane < stride {
                for j in 0..9usize {
                    let at = j * 256 + lane;
                    shared[at] += shared[at + stride];
                }
            }
            sync_cube();
            stride /= 2;
        }
        if lane < 9 {
            partial[(i - ebase) * 9 + lane] = shared[lane * 256];
        }
        sync_cube();
    }
}

/// Backward, per Gaussian: sums its list entries' partial gradients into the four outputs.
#[cube(launch)]
pub fn gather_kernel(
    partial: &[f32],
    inverse: &[u32],
    d_means: &mut [f32],
    d_conics: &mut [f32],
    d_colors: &mut [f32],
    d_opacity: &mut [f32],
    total: u32,
) {
    let k = ABSOLUTE_POS;
    if k >= total as usize {
        terminate!();
    }
    let start = inverse[k] as usize;
    let end = inverse[k + 1] as usize;
    for j in 0..9usize {
        let mut sum = 0.0f32;
        for i in start..end {
            sum += partial[inverse[i] as usize * 9 + j];
        }
        if j < 2 {
            d_means[k * 2 + j] = sum;
        } else if j < 5 {
            d_conics[k * 3 + j - 2] = sum;
        } else if j < 8 {
            d_colors[k * 3 + j - 5] = sum;
        } else {
            d_opacity[k] = sum;
        }
    }
}

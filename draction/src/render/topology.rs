//! Per-body Gaussian tables: the NTU recipe (joints + `samples` points per bone) and the
//! cross-topology path that fits any layout with bone-length-proportional samples.

use crate::layout::{Layout, NTU_BONES_1BASED};

/// Skinning logit of a joint on itself / on every other joint.
pub const LBS_ON: f32 = 10.0;
/// Skinning logit on joints a Gaussian does not follow.
pub const LBS_OFF: f32 = -10.0;
/// Cross-topology: base number of samples on the longest bone.
pub const CROSS_BASE_SAMPLES: usize = 24;
/// Cross-topology: minimum samples per bone.
pub const CROSS_MIN_SAMPLES: usize = 2;
/// Cross-topology: Gaussian std of joints (metres).
pub const CROSS_JOINT_SCALE: f32 = 0.026;
/// Cross-topology: Gaussian std of line samples (metres).
pub const CROSS_LINE_SCALE: f32 = 0.016;

/// Canonical tables built host-side, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tables {
    /// Canonical Gaussian centres `[K, 3]`.
    pub means: Vec<f32>,
    /// Skinning logits `[K, J]`.
    pub lbs_logits: Vec<f32>,
    /// Per-Gaussian isotropic std `[K]`.
    pub scales: Vec<f32>,
    /// The bones sampled, `(a, b, samples)` in order.
    pub bones: Vec<(usize, usize, usize)>,
}

impl Tables {
    /// Number of Gaussians.
    pub fn len(&self) -> usize {
        self.scales.len()
    }

    /// Whether there are no Gaussians.
    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }
}

fn lerp(a: [f32; 3], b: [f32; 3], alpha: f64) -> [f32; 3] {
    let (wa, wb) = ((1.0 - alpha) as f32, alpha as f32);
    [
        wa * a[0] + wb * b[0],
        wa * a[1] + wb * b[1],
        wa * a[2] + wb * b[2],
    ]
}

/// Builds tables for `joints` with `bones` `(a, b, n)`: joint rows first, then `n` samples per
/// bone at `α = s / (n + 1)`.
fn build(
    joints: &[[f32; 3]],
    bones: Vec<(usize, usize, usize)>,
    joint_scale: f32,
    line_scale: f32,
    floor: f64,
) -> Tables {
    let j = joints.len();
    let k = j + bones.iter().map(|b| b.2).sum::<usize>();
    let mut means = Vec::with_capacity(k * 3);
    let mut logits = vec![LBS_OFF; k * j];
    let mut scales = vec![joint_scale; j];
    for (i, p) in joints.iter().enumerate() {
        means.extend_from_slice(p);
        logits[i * j + i] = LBS_ON;
    }
    let mut row = j;
    for &(a, b, n) in &bones {
        for s in 1..=n {
            let alpha = s as f64 / (n + 1) as f64;
            means.extend_from_slice(&lerp(joints[a], joints[b], alpha));
            logits[row * j + a] = ((1.0 - alpha).max(floor).ln() as f32) + LBS_ON;
            logits[row * j + b] = (alpha.max(floor).ln() as f32) + LBS_ON;
            scales.push(line_scale);
            row += 1;
        }
    }
    Tables {
        means,
        lbs_logits: logits,
        scales,
        bones,
    }
}

/// The NTU recipe: 25 joints and `samples` points on each of the authors' 24 bones (α = s/11
/// for 10 samples), std 0.02 m.
///
/// The released checkpoints store these tables (bf16-rounded, with small per-Gaussian offsets);
/// this recipe makes new renderers.
pub fn ntu_canonical(joints: &[[f32; 3]], samples: usize) -> Tables {
    let bones = NTU_BONES_1BASED
        .iter()
        .map(|&(a, b)| (a - 1, b - 1, samples))
        .collect();
    build(joints, bones, 0.02, 0.02, 1e-6)
}

/// Python's `round` (half to even) of a non-negative float.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc() - 0.5).abs() == 0.0 && r % 2.0 != 0.0 {
        r - 1.0
    } else {
        r
    }
}

/// The cross-topology tables for a body of `layout` whose canonical pose is `joints`: for each
/// bone of `layout.bones` whose two ends are `present`, `n = clamp(round(24 · L / Lmax), 2, 24)`
/// samples; joint std 0.026 m, line std 0.016 m.
pub fn cross_topology(layout: &Layout, joints: &[[f32; 3]], present: &[bool]) -> Tables {
    let len = |a: usize, b: usize| -> f32 {
        let d: Vec<f32> = (0..3).map(|c| joints[a][c] - joints[b][c]).collect();
        (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
    };
    let usable: Vec<(usize, usize)> = layout
        .bones
        .iter()
        .copied()
        .filter(|&(a, b)| present[a] && present[b])
        .collect();
    let lmax = usable
        .iter()
        .map(|&(a, b)| len(a, b))
        .fold(0.0f32, f32::max)
        .max(1e-6);
    let bones = usable
        .iter()
        .map(|&(a, b)| {
            let ratio = len(a, b) as f64 / lmax as f64;
            let n = round_half_even(CROSS_BASE_SAMPLES as f64 * ratio) as usize;
            (a, b, n.clamp(CROSS_MIN_SAMPLES, CROSS_BASE_SAMPLES))
        })
        .collect();
    build(joints, bones, CROSS_JOINT_SCALE, CROSS_LINE_SCALE, 1e-6)
}

/// Row-major `[n_out, n_in]` matrix of 1-D linear interpolation with `align_corners = True`
/// (PyTorch's `interpolate(mode="linear")` along rows).
pub fn linear_resample_matrix(n_in: usize, n_out: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; n_out * n_in];
    if n_in == 0 {
        return m;
    }
    let scale = if n_out > 1 {
        (n_in - 1) as f32 / (n_out - 1) as f32
    } else {
        0.0
    };
    for i in 0..n_out {
        let src = scale * i as f32;
        let i0 = (src.floor() as usize).min(n_in - 1);
        let i1 = (i0 + 1).min(n_in - 1);
        let lam = src - i0 as f32;
        m[i * n_in + i0] += 1.0 - lam;
        m[i * n_in + i1] += lam;
    }
    m
}

/// The `[K_new, K_ntu]` matrix mapping the checkpoint's per-Gaussian features to a cross
/// topology's: joints `J_ntu → J`, then the bone samples (flattened, bone-major) `K_ntu − J_ntu
/// → K_new − J`, each by linear interpolation with aligned corners.
pub fn feature_resample_matrix(j_ntu: usize, k_ntu: usize, j: usize, k_new: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; k_new * k_ntu];
    let joints = linear_resample_matrix(j_ntu, j);
    for r in 0..j {
        m[r * k_ntu..r * k_ntu + j_ntu].copy_from_slice(&joints[r * j_ntu..(r + 1) * j_ntu]);
    }
    let (lin_in, lin_out) = (k_ntu - j_ntu, k_new - j);
    let lines = linear_resample_matrix(lin_in, lin_out);
    for r in 0..lin_out {
        let dst = (j + r) * k_ntu + j_ntu;
        m[dst..dst + lin_in].copy_from_slice(&lines[r * lin_in..(r + 1) * lin_in]);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntu_tables_follow_the_recipe() {
        let joints: Vec<[f32; 3]> = (0..25).map(|i| [i as f32 * 0.1, 1.0, 3.0]).collect();
        let t = ntu_canonical(&joints, 10);
        assert_eq!(t.len(), 265);
        // Bone 0 is (1, 2) 1-based: sample s = 1 at α = 1/11 between joints 0 and 1.
        let row = 25;
        assert!((t.means[row * 3] - 0.1 / 11.0).abs() < 1e-7);
        let l = &t.lbs_logits[row * 25..row * 25 + 25];
        assert!((l[0] - ((10.0f64 / 11.0).ln() as f32 + 10.0)).abs() < 1e-6);
        assert!((l[1] - ((1.0f64 / 11.0).ln() as f32 + 10.0)).abs() < 1e-6);
        assert_eq!(l[2], -10.0);
        assert_eq!(t.lbs_logits[24 * 25 + 24], 10.0);
    }

    #[test]
    fn half_even_rounding() {
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(3.4999), 3.0);
        assert_eq!(round_half_even(24.0), 24.0);
    }

    #[test]
    fn cross_samples_are_length_proportional() {
        let layout = Layout::builtin("smpl22").unwrap();
        let joints: Vec<[f32; 3]> = (0..22).map(|i| [0.0, i as f32 * 0.1, 2.5]).collect();
        let t = cross_topology(&layout, &joints, &[true; 22]);
        // Every bone connects joints i and k with length 0.1·|i − k|.
        let longest = t
            .bones
            .iter()
            .map(|&(a, b, _)| a.abs_diff(b))
            .max()
            .unwrap();
        for &(a, b, n) in &t.bones {
            let want =
                round_half_even(24.0 * a.abs_diff(b) as f64 / longest as f64).clamp(2.0, 24.0);
            assert_eq!(n as f64, want, "bone ({a}, {b})");
        }
        assert_eq!(t.len(), 22 + t.bones.iter().map(|b| b.2).sum::<usize>());
        assert_eq!(t.scales[0], 0.026);
        assert_eq!(t.scales[22], 0.016);
        // A missing joint drops the bones that touch it.
        let mut present = [true; 22];
        present[15] = false;
        let t2 = cross_topology(&layout, &joints, &present);
        assert_eq!(t2.bones.len(), t.bones.len() - 1);
    }

    #[test]
    fn resample_matrix_matches_align_corners() {
        let m = linear_resample_matrix(25, 22);
        let x: Vec<f32> = (0..25).map(|i| (i * i) as f32).collect();
        let y: Vec<f32> = (0..22)
            .map(|r| (0..25).map(|c| m[r * 25 + c] * x[c]).sum())
            .collect();
        assert_eq!(y[0], 0.0);
        assert!((y[21] - 576.0).abs() < 1e-3);
        let src = 24.0f32 / 21.0 * 5.0;
        let want = x[5] * (1.0 - (src - 5.0)) + x[6] * (src - 5.0);
        assert!((y[5] - want).abs() < 1e-3);
        for r in 0..22 {
            let s: f32 = m[r * 25..(r + 1) * 25].iter().sum();
            assert!((s - 1.0).abs() < 1e-6);
        }
        let f = feature_resample_matrix(25, 265, 22, 22 + 100);
        assert_eq!(f.len(), 122 * 265);
        assert!((f[(22 + 99) * 265 + 264] - 1.0).abs() < 1e-6);
    }
}

//! From joints to screen-space Gaussians ("splats"): skinning, appearance, NFM, depth colour,
//! pinhole projection and 2-D covariance. Plain Burn tensor ops, so every backend runs it and
//! autodiff reaches every parameter.

use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Bool, Device, Tensor, TensorData};

use crate::render::clip::{Clip, Topology};
use crate::render::model::DrAction;
use crate::render::topology::feature_resample_matrix;

/// Near clamp on camera depth.
pub const NEAR: f32 = 1e-4;
/// Added to the 2-D covariance's diagonal.
pub const COV2D_EPS: f32 = 1e-5;
/// Depth-map normalisation epsilon.
pub const DEPTH_EPS: f32 = 1e-6;

/// Camera and image settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Image side in pixels.
    pub size: usize,
    /// Field of view in degrees (x = y).
    pub fov_deg: f64,
}

impl Camera {
    /// A square camera with the authors' 60° field of view.
    pub fn new(size: usize) -> Camera {
        Camera {
            size,
            fov_deg: 60.0,
        }
    }

    /// Focal length in pixels: `S / (2 tan(fov / 2))` (computed in f64, used as f32).
    pub fn focal(&self) -> f32 {
        (self.size as f64 / (2.0 * (self.fov_deg.to_radians() / 2.0).tan())) as f32
    }
}

/// Screen-space Gaussians of one clip, `N = P · K` per frame (body 0 first).
#[derive(Debug, Clone)]
pub struct Splats {
    /// Pixel centres `(u, v)`, `[F, N, 2]`.
    pub means2d: Tensor<3>,
    /// Inverse 2-D covariances `(Q00, Q01 + Q10, Q11)`, `[F, N, 3]`.
    pub conics: Tensor<3>,
    /// Colours in [0, 1], `[F, N, 3]`.
    pub colors: Tensor<3>,
    /// Opacities (densities) ≥ 0, `[F, N]`.
    pub opacity: Tensor<2>,
    /// Clamped camera depth, `[F, N]`.
    pub depth: Tensor<2>,
}

fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// NaN (and ±inf) → 0.
pub(crate) fn finite_or_zero<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let bad: Tensor<D, Bool> = t.clone().is_finite().bool_not();
    t.mask_fill(bad, 0.0)
}

/// Rotation matrix entries `r[i][j]` of unit quaternions `(w, x, y, z)`, each `[K, 1]`.
fn quat_to_rot(q: Tensor<2>) -> [[Tensor<2>; 3]; 3] {
    let norm = q.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    let q = q / norm;
    let c = |i: usize| q.clone().narrow(1, i, 1);
    let (w, x, y, z) = (c(0), c(1), c(2), c(3));
    let two = |a: Tensor<2>, b: Tensor<2>| (a * b).mul_scalar(2.0);
    let one_minus = |a: Tensor<2>| a.neg().add_scalar(1.0);
    [
        [
            one_minus(two(y.clone(), y.clone()) + two(z.clone(), z.clone())),
            two(x.clone(), y.clone()) - two(w.clone(), z.clone()),
            two(x.clone(), z.clone()) + two(w.clone(), y.clone()),
        ],
        [
            two(x.clone(), y.clone()) + two(w.clone(), z.clone()),
            one_minus(two(x.clone(), x.clone()) + two(z.clone(), z.clone())),
            two(y.clone(), z.clone()) - two(w.clone(), x.clone()),
        ],
        [
            two(x.clone(), z.clone()) - two(w.clone(), y.clone()),
            two(y.clone(), z.clone()) + two(w.clone(), x.clone()),
            one_minus(two(x.clone(), x) + two(y.clone(), y)),
        ],
    ]
}

/// The per-body Gaussian tables of a clip as tensors.
struct BodyTables {
    /// `[K, 3]`
    means: Tensor<2>,
    /// `[J, 3]`
    joints: Tensor<2>,
    /// `[K, J]` skinning weights.
    weights: Tensor<2>,
    /// `[K, 3]`
    scales: Tensor<2>,
    /// `[K, 4]`
    quats: Tensor<2>,
    /// `[K, feature_dim]`
    features: Tensor<2>,
}

impl DrAction {
    fn body_tables(&self, clip: &Clip, device: &Device) -> BodyTables {
        match &clip.topology {
            Topology::Exact => BodyTables {
                means: self.canonical_means.val(),
                joints: self.canonical_joints.val(),
                weights: softmax(self.lbs_weights_logits.val(), 1),
                scales: self.canonical_scales.val(),
                quats: self.canonical_quats.val(),
                features: self.canonical_features.val(),
            },
            Topology::Cross(t) => {
                let (k, j) = (t.len(), clip.joints);
                let means = tensor(t.means.clone(), [k, 3], device);
                let [k_ntu, j_ntu] = self.lbs_weights_logits.dims();
                let resample = tensor(
                    feature_resample_matrix(j_ntu, k_ntu, j, k),
                    [k, k_ntu],
                    device,
                );
                let scales: Vec<f32> = t.scales.iter().flat_map(|&s| [s, s, s]).collect();
                BodyTables {
                    joints: means.clone().narrow(0, 0, j),
                    means,
                    weights: softmax(tensor(t.lbs_logits.clone(), [k, j], device), 1),
                    scales: tensor(scales, [k, 3], device),
                    quats: tensor(
                        (0..k).flat_map(|_| [1.0, 0.0, 0.0, 0.0]).collect(),
                        [k, 4],
                        device,
                    ),
                    features: resample.matmul(self.canonical_features.val()),
                }
            }
        }
    }

    /// Screen-space Gaussians of every sampled frame of `clip`.
    pub fn splats(&self, clip: &Clip, camera: Camera, device: &Device) -> Splats {
        let (f, p, j) = (clip.frames, clip.persons, clip.joints);
        let b = f * p;
        let tables = self.body_tables(clip, device);
        let k = tables.means.dims()[0];
        let x = tensor(clip.positions.clone(), [b, j, 3], device); // [B, J, 3]
        let v = tensor(clip.velocities.clone(), [b, j, 3], device);
        let vis = tensor(
            clip.gaussian_visibility(self.num_gaussians()),
            [b, k, 1],
            device,
        );

        // Skinning (translation only): μ = means + W (x − canonical joints).
        let w = tables.weights.unsqueeze_dim::<3>(0).expand([b, k, j]); // [B, K, J]
        let tau = x.clone() - tables.joints.unsqueeze_dim::<3>(0); // [B, J, 3]
        let mu = tables.means.unsqueeze_dim::<3>(0) + w.clone().matmul(tau); // [B, K, 3]

        // Appearance and neural feature modulation.
        let a_raw = finite_or_zero(self.appearance_head.forward(tables.features)); // [K, 4]
        let base_rgb = sigmoid(a_raw.clone().narrow(1, 0, 3)).unsqueeze_dim::<3>(0); // [1, K, 3]
        let base_a = sigmoid(a_raw.clone().narrow(1, 3, 1)).unsqueeze_dim::<3>(0); // [1, K, 1]
        let (rgb, alpha) = match &self.nfm {
            Some(nfm) => {
                let skx = w.clone().matmul(x); // [B, K, 3]
                let skv = w.matmul(v); // [B, K, 3]
                let a = a_raw.unsqueeze_dim::<3>(0).expand([b, k, 4]);
                let delta = finite_or_zero(nfm.forward(Tensor::cat(vec![skx, skv, a], 2))); // [B, K, 5]
                let rgb = (base_rgb + delta.clone().narrow(2, 0, 3)).clamp(0.0, 1.0);
                let alpha = sigmoid(base_a + delta.clone().narrow(2, 3, 1))
                    * sigmoid(delta.narrow(2, 4, 1));
                (rgb, alpha)
            }
            None => (base_rgb.expand([b, k, 3]), base_a.expand([b, k, 1])),
        };

        // Depth colour, min–max over each body's visible Gaussians.
        let z = mu.clone().narrow(2, 2, 1).clamp_min(NEAR); // [B, K, 1]
        let hidden = vis.clone().lower_elem(0.5);
        let zmin = z
            .clone()
            .mask_fill(hidden.clone(), f32::INFINITY)
            .min_dim(1); // [B, 1, 1]
        let zmax = z.clone().mask_fill(hidden, f32::NEG_INFINITY).max_dim(1);
        let empty = vis.clone().sum_dim(1).lower_elem(0.5); // [B, 1, 1]
        let zmin = zmin.mask_fill(empty.clone(), 0.0);
        let zmax = zmax.mask_fill(empty, 1.0);
        let d = (z.clone() - zmin.clone()) / (zmax - zmin).add_scalar(DEPTH_EPS);
        let mid = (d.clone().sub_scalar(0.5))
            .abs()
            .mul_scalar(-2.0)
            .add_scalar(1.0);
        let depth_rgb =
            Tensor::cat(vec![d.clone(), mid, d.neg().add_scalar(1.0)], 2).clamp(0.0, 1.0);
        let lam = sigmoid(self.depth_mix_logit.val()).reshape([1, 1, 1]);
        let colors = rgb * lam.clone().neg().add_scalar(1.0) + depth_rgb * lam;
        let colors = finite_or_zero(colors).clamp(0.0, 1.0);
        let opacity = finite_or_zero(alpha * vis).clamp_min(0.0);

        // Pinhole projection: camera at the origin looking down +z, image y up = world +y.
        let fl = camera.focal();
        let c = camera.size as f32 / 2.0;
        let xw = mu.clone().narrow(2, 0, 1);
        let yw = mu.narrow(2, 1, 1);
        let inv_z = z.clone().recip();
        let u = (xw.clone() * inv_z.clone()).mul_scalar(fl).add_scalar(c);
        let vv = (yw.clone() * inv_z.clone()).mul_scalar(-fl).add_scalar(c);
        // Jacobian rows: j0 = (fx/Z, 0, −fx X/Z²), j1 = (0, −fy/Z, fy Y/Z²).
        let j00 = inv_z.clone().mul_scalar(fl);
        let j02 = (xw * inv_z.clone().square()).mul_scalar(-fl);
        let j11 = inv_z.clone().mul_scalar(-fl);
        let j12 = (yw * inv_z.square()).mul_scalar(fl);
        // 3-D covariance Σ = R diag(s²) Rᵀ, entries [1, K, 1].
        let r = quat_to_rot(tables.quats);
        let s2 = tables.scales.square();
        let s2c = |m: usize| s2.clone().narrow(1, m, 1);
        let sig = |a: usize, bb: usize| -> Tensor<3> {
            let term = |m: usize| r[a][m].clone() * r[bb][m].clone() * s2c(m);
            (term(0) + term(1) + term(2)).unsqueeze_dim::<3>(0)
        };
        let (sxx, sxy, sxz, syy, syz, szz) = (
            sig(0, 0),
            sig(0, 1),
            sig(0, 2),
            sig(1, 1),
            sig(1, 2),
            sig(2, 2),
        );
        let a00 = j00.clone().square() * sxx
            + (j00.clone() * j02.clone()).mul_scalar(2.0) * sxz.clone()
            + j02.clone().square() * szz.clone();
        let a11 = j11.clone().square() * syy
            + (j11.clone() * j12.clone()).mul_scalar(2.0) * syz.clone()
            + j12.clone().square() * szz.clone();
        let a01 = j00.clone() * j11.clone() * sxy
            + j00 * j12.clone() * sxz
            + j02.clone() * j11 * syz
            + j02 * j12 * szz;
        let a00 = a00.add_scalar(COV2D_EPS);
        let a11 = a11.add_scalar(COV2D_EPS);
        let det = a00.clone() * a11.clone() - a01.clone().square();
        let conics = Tensor::cat(
            vec![
                a11 / det.clone(),
                a01.mul_scalar(-2.0) / det.clone(),
                a00 / det,
            ],
            2,
        );

        let n = p * k;
        Splats {
            means2d: Tensor::cat(vec![u, vv], 2).reshape([f, n, 2]),
            conics: conics.reshape([f, n, 3]),
            colors: colors.reshape([f, n, 3]),
            opacity: opacity.reshape([f, n]),
            depth: z.reshape([f, n]),
        }
    }
}

//! [`DrAction`]: the learnable state of the renderer (per-Gaussian canonical tables of the NTU
//! body, the appearance head, NFM and the depth-colour mix) as a Burn module.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Configuration of [`DrAction`]. The defaults are the authors' NTU setting.
#[derive(Config, Debug)]
pub struct DrActionConfig {
    /// Joints of the body the canonical tables describe (25 for NTU).
    #[config(default = 25)]
    pub num_joints: usize,
    /// Line samples per bone (10 for NTU: `K = J + bones · samples`).
    #[config(default = 10)]
    pub num_line_samples: usize,
    /// Bones of the canonical body (24 for NTU).
    #[config(default = 24)]
    pub num_bones: usize,
    /// Per-Gaussian feature width.
    #[config(default = 3)]
    pub feature_dim: usize,
    /// Hidden width of the appearance head and NFM (`max(64, 2 · feature_dim)`).
    #[config(default = 64)]
    pub hidden: usize,
    /// Whether the velocity-driven neural feature modulation (NFM) is present.
    #[config(default = true)]
    pub enable_nfm: bool,
}

impl DrActionConfig {
    /// Gaussians per body: `J + bones · samples` (265 for NTU).
    pub fn num_gaussians(&self) -> usize {
        self.num_joints + self.num_bones * self.num_line_samples
    }

    /// A renderer with the NTU topology of [`crate::render::topology::ntu_canonical`] around
    /// `canonical_joints` and small random appearance weights.
    ///
    /// # Panics
    /// If `canonical_joints` is not `[num_joints, 3]`.
    pub fn init_with_pose(&self, canonical_joints: &[[f32; 3]], device: &Device) -> DrAction {
        assert_eq!(canonical_joints.len(), self.num_joints, "canonical joints");
        let tables =
            crate::render::topology::ntu_canonical(canonical_joints, self.num_line_samples);
        let k = self.num_gaussians();
        let t2 = |v: Vec<f32>, cols: usize| {
            let rows = v.len() / cols;
            Tensor::<2>::from_data(burn::tensor::TensorData::new(v, [rows, cols]), device)
        };
        let features = Tensor::<2>::random(
            [k, self.feature_dim],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            device,
        );
        DrAction {
            canonical_joints: Param::from_tensor(Tensor::from_data(
                burn::tensor::TensorData::new(canonical_joints.concat(), [self.num_joints, 3]),
                device,
            )),
            canonical_means: Param::from_tensor(t2(tables.means, 3)),
            canonical_scales: Param::from_tensor(Tensor::full([k, 3], 0.02, device)),
            canonical_quats: Param::from_tensor(t2(
                (0..k).flat_map(|_| [1.0, 0.0, 0.0, 0.0]).collect(),
                4,
            )),
            lbs_weights_logits: Param::from_tensor(t2(tables.lbs_logits, self.num_joints)),
            canonical_features: Param::from_tensor(features),
            appearance_head: MlpConfig::new(self.feature_dim, self.hidden, 4).init(device),
            nfm: self
                .enable_nfm
                .then(|| MlpConfig::new(10, self.hidden, 5).init(device)),
            depth_mix_logit: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }
}

/// The DrAction renderer's learnable state. Should be created with [`DrActionConfig`] or
/// loaded with [`crate::checkpoint`].
///
/// Field names are the checkpoint's tensor names.
#[derive(Module, Debug)]
pub struct DrAction {
    /// Canonical joint positions, `[J, 3]`.
    pub canonical_joints: Param<Tensor<2>>,
    /// Canonical Gaussian centres, `[K, 3]` (rows `0..J` are the joints).
    pub canonical_means: Param<Tensor<2>>,
    /// Gaussian standard deviations per axis, `[K, 3]`.
    pub canonical_scales: Param<Tensor<2>>,
    /// Gaussian orientations as quaternions `(w, x, y, z)`, `[K, 4]`.
    pub canonical_quats: Param<Tensor<2>>,
    /// Skinning logits, `[K, J]` (softmax over joints gives the skinning weights).
    pub lbs_weights_logits: Param<Tensor<2>>,
    /// Per-Gaussian learned features, `[K, feature_dim]`.
    pub canonical_features: Param<Tensor<2>>,
    /// Appearance head: features → `(r, g, b, α)` logits.
    pub appearance_head: Mlp,
    /// Neural feature modulation: `[skinned position, skinned velocity, appearance logits]` →
    /// `(δr, δg, δb, δα, gate)`.
    pub nfm: Option<Mlp>,
    /// Logit of the depth-colour mix λ, `[1]`.
    pub depth_mix_logit: Param<Tensor<1>>,
}

impl DrAction {
    /// The configuration this renderer's tensors describe.
    pub fn config(&self) -> DrActionConfig {
        let [k, j] = self.lbs_weights_logits.dims();
        let [_, f] = self.canonical_features.dims();
        let bones = j.saturating_sub(1).max(1);
        DrActionConfig::new()
            .with_num_joints(j)
            .with_num_bones(bones)
            .with_num_line_samples((k - j) / bones)
            .with_feature_dim(f)
            .with_hidden(self.appearance_head.hidden())
            .with_enable_nfm(self.nfm.is_some())
    }

    /// Gaussians per body in the canonical tables.
    pub fn num_gaussians(&self) -> usize {
        self.lbs_weights_logits.dims()[0]
    }
}

/// Configuration of [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Input width.
    pub d_input: usize,
    /// Hidden width.
    pub d_hidden: usize,
    /// Output width.
    pub d_output: usize,
}

impl MlpConfig {
    /// Initialises the two layers.
    pub fn init(&self, device: &Device) -> Mlp {
        Mlp {
            fc1: LinearConfig::new(self.d_input, self.d_hidden).init(device),
            fc2: LinearConfig::new(self.d_hidden, self.d_output).init(device),
        }
    }
}

/// `Linear → ReLU → Linear` (checkpoint names `<name>.0.*` and `<name>.2.*`). Should be created
/// with [`MlpConfig`].
#[derive(Module, Debug)]
pub struct Mlp {
    /// First layer (`.0`).
    pub fc1: Linear,
    /// Second layer (`.2`).
    pub fc2: Linear,
}

impl Mlp {
    /// # Shapes
    /// `x: [..., d_input]` → `[..., d_output]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.fc2.forward(relu(self.fc1.forward(x)))
    }

    /// Hidden width.
    pub fn hidden(&self) -> usize {
        self.fc1.weight.dims()[1]
    }
}

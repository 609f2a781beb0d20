//! # skeletonllm-onnx
//!
//! An alternative InternViT vision tower for SkeletonLLM, imported from an ONNX graph with
//! [burn-onnx](https://crates.io/crates/burn-onnx) instead of being loaded from safetensors.
//!
//! ```text
//! tower.onnx ──(build.rs: burn_onnx::ModelGen)──► $OUT_DIR/model/vision_tower.rs + .bpk
//!   pixel_values [n,3,H,W] ─► OnnxVisionTower::forward ─► vision states [n, 1+patches, C]
//!   ─► InternVl::multi_modal_projector (drop CLS, pixel shuffle, MLP) ─► image features
//! ```
//!
//! At build time, `build.rs` turns the graph into plain Burn code (a `Model` with a typed
//! `forward`) plus a Burnpack weights file that is embedded into the crate, so there is no ONNX
//! runtime and the tower runs on whichever backend `burn` is built with (`flex` by default;
//! `wgpu` / `cuda` features as in `skeletonllm-model`).
//!
//! ## Which graph
//!
//! By default the graph is `tests/fixtures/onnx/tiny_vit.onnx`: the tiny random test InternVL's
//! tower exported by `tests/fixtures/onnx/export_vit.py` (input `[batch, 3, 56, 56]`, output
//! `[batch, 17, 32]`). To import your own tower, export it with the same script and point the
//! `SKELETONLLM_VIT_ONNX` environment variable at it when building:
//!
//! ```text
//! python3 tests/fixtures/onnx/export_vit.py --model /path/to/InternVL3-1B-hf \
//!     --out /tmp/internvit.onnx --expected ''
//! SKELETONLLM_VIT_ONNX=/tmp/internvit.onnx cargo build -p skeletonllm-onnx --release
//! ```
//!
//! The graph must map one rank-4 input (`pixel_values`) to one rank-3 output (the states the
//! projector consumes: CLS first, then the patch grid). Its height and width are fixed at
//! export (the position table is baked in); the batch dimension may be dynamic.
//!
//! ## Example
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use skeletonllm_onnx::OnnxVisionTower;
//!
//! let device = Device::default();
//! let tower = OnnxVisionTower::load(&device);
//! // Sizes of the default (fixture) graph.
//! let states = tower.forward(Tensor::zeros([1, 3, 56, 56], &device));
//! assert_eq!(states.dims(), [1, 17, 32]);
//! ```
//!
//! With an [`InternVl`] loaded by `skeletonllm_model::load_pretrained`, whose projector matches
//! the tower, [`OnnxVisionTower::image_features`] gives the same [`ImageFeatures`] as
//! [`InternVl::get_image_features`].

use burn::tensor::{Bytes, Device, Tensor};
use skeletonllm_model::{ImageFeatures, InternVl};

/// The Burn code burn-onnx generated from the ONNX graph (`Model`, with `new`,
/// `from_embedded`, `from_bytes` and `forward`).
#[allow(
    missing_docs,
    unused,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    rustdoc::all
)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/model/vision_tower.rs"));
}

/// Path of the ONNX graph this crate was built from.
pub const ONNX_SOURCE: &str = env!("SKELETONLLM_VIT_ONNX_SOURCE");

/// The InternViT vision tower imported from ONNX.
pub struct OnnxVisionTower {
    model: generated::Model,
}

impl std::fmt::Debug for OnnxVisionTower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxVisionTower")
            .field("onnx", &ONNX_SOURCE)
            .finish_non_exhaustive()
    }
}

impl OnnxVisionTower {
    /// The tower with the weights embedded at build time, on `device`.
    pub fn load(device: &Device) -> Self {
        Self {
            model: generated::Model::from_embedded(device),
        }
    }

    /// The tower with weights from the bytes of a Burnpack (`.bpk`) file written by burn-onnx
    /// for the same graph.
    ///
    /// # Panics
    ///
    /// Panics if the bytes are not such a file.
    pub fn from_burnpack(bytes: Vec<u8>, device: &Device) -> Self {
        Self {
            model: generated::Model::from_bytes(Bytes::from_bytes_vec(bytes), device),
        }
    }

    /// Wraps an already built generated model.
    pub fn from_model(model: generated::Model) -> Self {
        Self { model }
    }

    /// The generated model.
    pub fn model(&self) -> &generated::Model {
        &self.model
    }

    /// The vision states the projector consumes.
    ///
    /// # Shapes
    ///
    /// - pixel_values: `[images, 3, H, W]`, with the height and width the graph was exported at
    /// - output: `[images, 1 + (H/p) * (W/p), C]`
    pub fn forward(&self, pixel_values: Tensor<4>) -> Tensor<3> {
        self.model.forward(pixel_values)
    }

    /// Vision states through `internvl`'s projector (drop CLS, pixel shuffle, MLP), like
    /// [`InternVl::get_image_features`] with this tower in place of `internvl.vision_tower`.
    ///
    /// # Shapes
    ///
    /// - pixel_values: `[images, 3, H, W]`
    /// - features: `[images, (H/p/factor) * (W/p/factor), D]`
    ///
    /// # Panics
    ///
    /// Panics if the states do not fit the projector (width `C`, square grid divisible by the
    /// shuffle factor).
    pub fn image_features(&self, internvl: &InternVl, pixel_values: Tensor<4>) -> ImageFeatures {
        project(internvl, self.forward(pixel_values))
    }
}

/// Precomputed vision states (CLS first) through `internvl`'s pixel shuffle + MLP projector.
///
/// # Shapes
///
/// - states: `[images, 1 + g*g, C]`
/// - features: `[images, (g/factor)^2, D]`
pub fn project(internvl: &InternVl, states: Tensor<3>) -> ImageFeatures {
    ImageFeatures {
        features: internvl.multi_modal_projector.forward(states.clone()),
        vision_last_hidden_state: states,
    }
}

//! DrAction, the differentiable Gaussian-splat skeleton renderer.
//!
//! [`DrAction`] holds the learnable state; [`Clip::prepare`] turns a [`crate::Skeleton`] into
//! sampled, positioned frames; [`DrAction::splats`] computes screen-space Gaussians and
//! [`reference::rasterize_reference`] composites them into frames `[F, S, S, 3]` in [0, 1].

pub mod clip;
pub mod model;
pub mod reference;
pub mod splat;
pub mod topology;

#[cfg(test)]
pub(crate) mod tests;

use burn::tensor::{Device, Tensor};

pub use clip::{Clip, ClipOptions};
pub use model::{DrAction, DrActionConfig};
pub use splat::{Camera, Splats};

impl DrAction {
    /// Renders a prepared clip: frames `[F, S, S, 3]`, RGB in [0, 1] over black.
    pub fn render(&self, clip: &Clip, camera: Camera, device: &Device) -> Tensor<4> {
        reference::rasterize_reference(self.splats(clip, camera, device), camera.size)
    }
}

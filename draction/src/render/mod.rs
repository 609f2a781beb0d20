//! DrAction, the differentiable Gaussian-splat skeleton renderer.
//!
//! [`DrAction`] holds the learnable state; [`Clip::prepare`] turns a [`crate::Skeleton`] into
//! sampled, positioned frames; [`DrAction::splats`] computes screen-space Gaussians and
//! [`reference::rasterize_reference`] composites them into frames `[F, S, S, 3]` in [0, 1].

pub mod clip;
pub mod fast;
pub mod images;
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

/// Which rasteriser composites the splats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rasterizer {
    /// Tile-binned with culling below 1/100000 and early termination (within 1/255 of the
    /// reference), with a custom backward.
    #[default]
    Fast,
    /// Every Gaussian at every pixel in plain tensor ops (`--exact`): the authors' maths.
    Reference,
}

impl Rasterizer {
    /// The name used in reports (`fast`, `reference`).
    pub fn name(self) -> &'static str {
        match self {
            Rasterizer::Fast => "fast",
            Rasterizer::Reference => "reference",
        }
    }
}

impl DrAction {
    /// Renders a prepared clip with the fast rasteriser: frames `[F, S, S, 3]`, RGB in [0, 1]
    /// over black.
    pub fn render(&self, clip: &Clip, camera: Camera, device: &Device) -> Tensor<4> {
        self.render_with(clip, camera, Rasterizer::Fast, device)
    }

    /// Renders a prepared clip with the chosen rasteriser.
    pub fn render_with(
        &self,
        clip: &Clip,
        camera: Camera,
        raster: Rasterizer,
        device: &Device,
    ) -> Tensor<4> {
        let splats = self.splats(clip, camera, device);
        match raster {
            Rasterizer::Fast => fast::rasterize(splats, camera.size),
            Rasterizer::Reference => reference::rasterize_reference(splats, camera.size),
        }
    }
}

//! [`SkeletonLlm`]: DrAction renders a skeleton clip into frames, InternVL reads them. The
//! frames go to the ViT as they are, in [0, 1] with no mean/std normalisation (as the authors
//! do), so the language model's loss differentiates back into the renderer.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use draction::Skeleton;
use draction::prep::Sampler;
use draction::render::{Camera, Clip, ClipOptions, DrAction, Rasterizer};

use crate::error::Result;
use crate::internvl::{ImageFeatures, InternVl, InternVlInput, InternVlOutput};

/// DrAction + InternVL. Should be created with [`SkeletonLlm::new`] or loaded with
/// [`crate::load_skeleton_llm`].
#[derive(Module, Debug)]
pub struct SkeletonLlm {
    /// The renderer (`_skeleton_renderer_module._renderer.*` in the authors' checkpoints).
    pub renderer: DrAction,
    /// The multimodal LLM.
    pub internvl: InternVl,
}

impl SkeletonLlm {
    /// Pairs a renderer with an InternVL model.
    pub fn new(renderer: DrAction, internvl: InternVl) -> Self {
        Self { renderer, internvl }
    }

    /// Prepares `skel` for this model's renderer: `frames` frames picked by `sampler` (NTU-25
    /// takes the exact path with a 25-joint renderer, every other layout the cross-topology one).
    ///
    /// # Errors
    /// As [`Clip::prepare`]: a skeleton with no frames or no bodies.
    pub fn clip(&self, skel: &Skeleton, frames: usize, sampler: Sampler) -> draction::Result<Clip> {
        let opts = ClipOptions {
            frames,
            indices: None,
            sampler,
        };
        Clip::prepare(skel, self.renderer.config().num_joints, &opts)
    }

    /// Renders `clip` at the ViT's image size: pixel values `[F, 3, S, S]` in [0, 1].
    pub fn pixel_values(&self, clip: &Clip, raster: Rasterizer, device: &Device) -> Tensor<4> {
        let size = self.internvl.config_image_size();
        let frames = self
            .renderer
            .render_with(clip, Camera::new(size), raster, device); // [F, S, S, 3]
        frames.permute([0, 3, 1, 2]) // [F, 3, S, S]
    }

    /// The InternVL input for `input_ids` `[1, L]` whose `<img>` blocks take `clip`'s frames in
    /// order, rendered on `device`. Chain [`InternVlInput::logits_from`] or
    /// [`InternVlInput::attention_mask`] as needed, then call [`SkeletonLlm::forward`]. Training
    /// and the distillation teacher build their input here; the tasks render once with
    /// [`SkeletonLlm::pixel_values`] and reuse the frames for generation and scoring.
    pub fn input(
        &self,
        input_ids: Tensor<2, Int>,
        clip: &Clip,
        raster: Rasterizer,
        device: &Device,
    ) -> InternVlInput {
        InternVlInput::new(input_ids).pixel_values(self.pixel_values(clip, raster, device))
    }

    /// The projected image tokens of `clip`'s frames, `[F, tokens, D]` (what replaces the
    /// `<IMG_CONTEXT>` embeddings).
    pub fn image_features(
        &self,
        clip: &Clip,
        raster: Rasterizer,
        device: &Device,
    ) -> ImageFeatures {
        self.internvl
            .get_image_features(self.pixel_values(clip, raster, device))
    }

    /// The SkeletonLLM forward: the ViT reads the rendered frames, their features replace the
    /// `<IMG_CONTEXT>` embeddings, the language model gives logits.
    ///
    /// # Shapes
    /// - `input.input_ids`: `[1, L]`, with `F` `<img>` blocks of
    ///   [`InternVl::tokens_per_image`] `<IMG_CONTEXT>` ids each;
    /// - `input.pixel_values`: `[F, 3, S, S]` (from [`SkeletonLlm::input`]);
    /// - output logits: `[1, L - logits_from, vocab]`.
    ///
    /// # Errors
    /// [`crate::Error::ImageTokenMismatch`] when the image tokens do not match the frames.
    pub fn forward(&self, input: InternVlInput) -> Result<InternVlOutput> {
        self.internvl.forward(input)
    }
}

//! [`SkeletonLlm`]: DrAction renders a skeleton clip into frames, InternVL reads them. The
//! frames go to the ViT as they are, in [0, 1] with no mean/std normalisation (as the authors
//! do), so the language model's loss differentiates back into the renderer.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use draction::Skeleton;
use draction::checkpoint::{HostTensor, SKELETONLLM_PREFIX};
use draction::prep::Sampler;
use draction::render::{Camera, Clip, ClipOptions, DrAction, Rasterizer};

use crate::error::{Error, Result};
use crate::internvl::{InternVl, InternVlInput, InternVlOutput};

/// DrAction + InternVL. Should be created with [`SkeletonLlm::new`] or loaded with
/// [`load_skeleton_llm`].
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

    /// Language-model forward over `input_ids` `[1, L]` whose `<img>` blocks take the clip's
    /// frames in order.
    ///
    /// # Errors
    /// [`Error::ImageTokenMismatch`] when the image tokens do not match the frames.
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        clip: &Clip,
        raster: Rasterizer,
        device: &Device,
    ) -> Result<InternVlOutput> {
        let mut input =
            InternVlInput::new(input_ids).pixel_values(self.pixel_values(clip, raster, device));
        if let Some(m) = attention_mask {
            input = input.attention_mask(m);
        }
        self.internvl.forward(input)
    }
}

/// The DrAction tensors stored in an InternVL checkpoint directory under
/// [`SKELETONLLM_PREFIX`] (the authors' SkeletonLLM checkpoints), if any.
pub fn renderer_tensors(dir: &Path) -> Result<BTreeMap<String, HostTensor>> {
    let mut out = BTreeMap::new();
    for file in crate::load::safetensors_files(dir)? {
        let (tensors, _) =
            draction::checkpoint::read_safetensors(&file).map_err(|e| Error::Safetensors {
                path: file.clone(),
                msg: e.to_string(),
            })?;
        out.extend(tensors.into_iter().filter_map(|(k, v)| {
            k.strip_prefix(SKELETONLLM_PREFIX)
                .map(|s| (s.to_string(), v))
        }));
    }
    Ok(out)
}

/// Loads a SkeletonLLM checkpoint: the InternVL model of `dir` and the DrAction tensors it
/// carries under [`SKELETONLLM_PREFIX`].
///
/// # Errors
/// As [`crate::load_pretrained`]; [`Error::Config`] when `dir` has no renderer tensors or
/// they do not form a DrAction.
pub fn load_skeleton_llm(dir: &Path, device: &Device) -> Result<SkeletonLlm> {
    let internvl = crate::load_pretrained(dir, device)?;
    let tensors = renderer_tensors(dir)?;
    if tensors.is_empty() {
        return Err(Error::Config {
            path: dir.to_path_buf(),
            msg: format!("no DrAction tensors ({SKELETONLLM_PREFIX}*) in this checkpoint"),
        });
    }
    let renderer =
        draction::checkpoint::from_tensors(dir, &tensors, device).map_err(|e| Error::Config {
            path: dir.to_path_buf(),
            msg: e.to_string(),
        })?;
    Ok(SkeletonLlm::new(renderer, internvl))
}

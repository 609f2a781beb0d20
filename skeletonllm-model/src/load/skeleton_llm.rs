//! Loading a SkeletonLLM checkpoint: an InternVL model directory whose safetensors also carry
//! the DrAction tensors under [`SKELETONLLM_PREFIX`] (the authors' layout).

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;
use draction::checkpoint::{HostTensor, SKELETONLLM_PREFIX};

use crate::error::{Error, Result};
use crate::skeleton_llm::SkeletonLlm;

/// The DrAction tensors stored in an InternVL checkpoint directory under
/// [`SKELETONLLM_PREFIX`] (the authors' SkeletonLLM checkpoints), if any.
pub fn renderer_tensors(dir: &Path) -> Result<BTreeMap<String, HostTensor>> {
    let mut out = BTreeMap::new();
    for file in super::safetensors_files(dir)? {
        let (tensors, _) =
            draction::checkpoint::read_safetensors(&file).map_err(|source| Error::Renderer {
                path: file.clone(),
                source,
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
/// As [`crate::load_pretrained`]; [`Error::Config`] when `dir` has no renderer tensors,
/// [`Error::Renderer`] when they cannot be read or do not form a DrAction.
pub fn load_skeleton_llm(dir: &Path, device: &Device) -> Result<SkeletonLlm> {
    let internvl = super::load_pretrained(dir, device)?;
    let tensors = renderer_tensors(dir)?;
    if tensors.is_empty() {
        return Err(Error::Config {
            path: dir.to_path_buf(),
            msg: format!("no DrAction tensors ({SKELETONLLM_PREFIX}*) in this checkpoint"),
        });
    }
    let renderer = draction::checkpoint::from_tensors(dir, &tensors, device).map_err(|source| {
        Error::Renderer {
            path: dir.to_path_buf(),
            source,
        }
    })?;
    Ok(SkeletonLlm::new(renderer, internvl))
}

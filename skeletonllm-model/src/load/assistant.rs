//! Loading an [`Assistant`] from a model directory: a SkeletonLLM checkpoint (config, safetensors
//! with the DrAction tensors, `tokenizer.json`) or a bundle ([`super::bundle`]).

use std::path::Path;

use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::tasks::{Assistant, TaskOptions};
use crate::text::tokenizer::InternVlTokenizer;

impl Assistant {
    /// Loads a SkeletonLLM checkpoint directory (`config.json`, safetensors with the DrAction
    /// tensors, `tokenizer.json`).
    ///
    /// # Errors
    /// As [`crate::load_skeleton_llm`] and [`InternVlTokenizer::from_model_dir`].
    /// A bundle directory ([`crate::load::bundle`], e.g. the bundled `skeletonllm-tiny`) is loaded with
    /// [`crate::load::bundle::load_bundle`] and its manifest's frames and system message become the
    /// task options; its adapters are merged for inference (off the autodiff graph), so train
    /// from [`Assistant::load_for_training`] instead.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_with(dir, device, crate::load::bundle::load_bundle)
    }

    /// As [`Assistant::load`], but a bundle keeps its LoRA adapters apart from the base weights
    /// ([`crate::load::bundle::load_bundle_for_training`]) so that training goes on from them.
    ///
    /// # Errors
    /// As [`Assistant::load`].
    pub fn load_for_training(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_with(dir, device, crate::load::bundle::load_bundle_for_training)
    }

    fn load_with(
        dir: &Path,
        device: &Device,
        bundle_loader: fn(&Path, &Device) -> Result<crate::load::bundle::Bundle>,
    ) -> Result<Self> {
        if crate::load::bundle::read_manifest(dir)?.is_some() {
            let bundle = bundle_loader(dir, device)?;
            let input_layout = match &bundle.manifest.input_layout {
                Some(name) => Some(draction::Layout::builtin(name).map_err(|e| Error::Config {
                    path: dir.join("config.json"),
                    msg: format!("input_layout: {e}"),
                })?),
                None => None,
            };
            let options = TaskOptions {
                frames: bundle.manifest.frames,
                system: bundle.manifest.system,
                input_layout,
                verify: bundle.manifest.verify,
                ..TaskOptions::default()
            };
            let mut assistant =
                Self::new(bundle.model, bundle.tokenizer, device.clone()).with_options(options);
            assistant.labels = bundle.manifest.labels;
            return Ok(assistant);
        }
        let model = crate::load_skeleton_llm(dir, device)?;
        let tokenizer = InternVlTokenizer::from_model_dir(dir)?;
        let config = crate::CheckpointConfig::from_json_file(&dir.join("config.json"))?;
        let mut assistant = Self::new(model, tokenizer, device.clone());
        for id in crate::load::eos_token_ids(dir, &config)? {
            if !assistant.eos_token_ids.contains(&id) {
                assistant.eos_token_ids.push(id);
            }
        }
        Ok(assistant)
    }
}

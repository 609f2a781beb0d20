//! LoRA adapters on disk, alone: safetensors with PEFT names and layouts
//! (`language_model.model.layers.{i}.self_attn.q_proj.lora_A.weight` `[r, in]`,
//! `….lora_B.weight` `[out, r]`), f32. Attaching and merging live in [`crate::lora`].

use std::path::Path;

use burn::module::Module;

use crate::internvl::InternVl;
use crate::load::{read_safetensors, write_safetensors};
use crate::lora::{Attach, LoraConfig, LoraError, adapters};

/// Writes the adapters alone to `path` (safetensors, f32, PEFT names and layouts:
/// `….lora_A.weight` `[r, in]`, `….lora_B.weight` `[out, r]`). Returns how many weights were
/// adapted.
pub fn save_adapters(model: &InternVl, path: &Path) -> Result<usize, LoraError> {
    let adapters = adapters(model);
    if adapters.is_empty() {
        return Err(LoraError::NoAdapters);
    }
    let mut tensors = Vec::with_capacity(2 * adapters.len());
    for (prefix, adapter) in &adapters {
        let a = adapter.a.val().transpose().into_data();
        let b = adapter.b.val().transpose().into_data();
        tensors.push((format!("{prefix}.lora_A.weight"), a));
        tensors.push((format!("{prefix}.lora_B.weight"), b));
    }
    write_safetensors(path, tensors)?;
    Ok(adapters.len())
}

/// Freezes `model` (a base model without adapters) and attaches the adapters read from `path`
/// (as written by [`save_adapters`] or PEFT with the same names), with `config`'s α, dropout and
/// targets; `config.rank` must match the file. Every missing, unexpected or mis-shaped tensor is
/// named in [`LoraError::Adapters`].
pub fn load_adapters(
    model: InternVl,
    config: &LoraConfig,
    path: &Path,
) -> Result<InternVl, LoraError> {
    let tensors = read_safetensors(path)?;
    let mut attach = Attach::new(config, Some(&tensors));
    let model = model.apply_reparameterization(&mut attach);
    let unexpected: Vec<String> = tensors
        .keys()
        .filter(|k| !attach.used.contains(*k))
        .cloned()
        .collect();
    if !attach.missing.is_empty() || !attach.mismatched.is_empty() || !unexpected.is_empty() {
        return Err(LoraError::Adapters {
            path: path.to_path_buf(),
            missing: attach.missing,
            unexpected,
            mismatched: attach.mismatched,
        });
    }
    Ok(model)
}

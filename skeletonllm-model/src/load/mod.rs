//! Loading checkpoints: `config.json` + `model.safetensors` (or a sharded
//! `model.safetensors.index.json`) in the HF-native or the original OpenGVLab layout.
//!
//! Tensors are read lazily through burn-store ([`SafetensorsStore`], memory-mapped), renamed by
//! the layout's key table ([`hf::KEY_TABLE`], [`original::KEY_TABLE`]) with a `KeyRemapper`,
//! fixed up (the original fused qkv is split), widened to f32 (bf16/f16 checkpoints) and
//! transposed for Burn's `Linear` by `PyTorchToBurnAdapter`, then applied to the model. Every
//! missing, unexpected or mis-shaped tensor is reported by name in [`Error::Weights`].

pub mod adapters;
pub mod assistant;
pub mod bundle;
pub mod config;
pub mod gguf;
pub mod hf;
pub mod original;
pub mod save;
pub mod skeleton_llm;
pub mod tensor_file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{
    FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot, ModuleStore, PathFilter,
    PyTorchToBurnAdapter, SafetensorsStore, bridge,
};
use burn::tensor::{DType, Device, TensorData};

use crate::error::{Error, Result};
use crate::internvl::{InternVl, InternVlConfig};
use crate::load::config::{CheckpointConfig, GenerationConfig};
pub use adapters::{load_adapters, save_adapters};
pub use skeleton_llm::{load_skeleton_llm, renderer_tensors};
pub use tensor_file::{read_inputs, write_safetensors};

/// Which naming scheme a checkpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointLayout {
    /// transformers' `InternVLForConditionalGeneration` names.
    HfNative,
    /// OpenGVLab's `InternVLChatModel` names.
    Original,
}

impl CheckpointLayout {
    /// The layout's `(regex, replacement)` key table.
    pub fn key_table(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::HfNative => hf::KEY_TABLE,
            Self::Original => original::KEY_TABLE,
        }
    }

    /// Regexes of tensors the layout may carry that are not InternVL weights.
    pub fn ignored(self) -> &'static [&'static str] {
        match self {
            Self::HfNative => hf::IGNORED,
            Self::Original => original::IGNORED,
        }
    }

    fn marker(self) -> &'static str {
        match self {
            Self::HfNative => hf::MARKER,
            Self::Original => original::MARKER,
        }
    }
}

/// The layout a config declares, checked against the tensor names.
///
/// # Errors
///
/// [`Error::Config`] when the tensors carry the other layout's vision tower.
pub fn detect_layout(
    config: &CheckpointConfig,
    tensor_names: &[String],
    path: &Path,
) -> Result<CheckpointLayout> {
    let declared = match config {
        CheckpointConfig::Hf(_) => CheckpointLayout::HfNative,
        CheckpointConfig::Original(_) => CheckpointLayout::Original,
    };
    let other = match declared {
        CheckpointLayout::HfNative => CheckpointLayout::Original,
        CheckpointLayout::Original => CheckpointLayout::HfNative,
    };
    let has = |layout: CheckpointLayout| {
        let marker = layout.marker();
        tensor_names.iter().any(|n| {
            n.starts_with(marker)
                || n.strip_prefix("model.")
                    .is_some_and(|n| n.starts_with(marker))
        })
    };
    if !has(declared) && has(other) {
        return Err(Error::Config {
            path: path.to_path_buf(),
            msg: format!(
                "config describes the {declared:?} layout but the tensors are {other:?} ones"
            ),
        });
    }
    Ok(declared)
}

/// The safetensors files of a checkpoint directory: `model.safetensors`, or the shards listed in
/// `model.safetensors.index.json`.
///
/// # Errors
///
/// [`Error::Io`] when neither exists, [`Error::Json`] for a malformed index.
pub fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    let text = std::fs::read_to_string(&index).map_err(|source| Error::Io {
        path: index.clone(),
        source,
    })?;
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: BTreeMap<String, String>,
    }
    let parsed: Index = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: index.clone(),
        source,
    })?;
    let mut files: Vec<PathBuf> = parsed.weight_map.values().map(|f| dir.join(f)).collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Every tensor of the given safetensors files, lazily (nothing is read until applied).
///
/// # Errors
///
/// [`Error::Safetensors`] naming the file that cannot be opened or parsed.
pub fn read_pack_tensors(files: &[PathBuf]) -> Result<Vec<PackTensor>> {
    let mut out = Vec::new();
    for file in files {
        let mut store = SafetensorsStore::from_file(file);
        let tensors = store.get_all_tensors().map_err(|e| Error::Safetensors {
            path: file.clone(),
            msg: e.to_string(),
        })?;
        out.extend(tensors.values().cloned());
    }
    Ok(out)
}

/// All tensors of one safetensors file as [`TensorData`] (for input files such as
/// `input_ids` / `pixel_values`), keeping each tensor's dtype.
///
/// # Errors
///
/// [`Error::Safetensors`] when the file cannot be read.
pub fn read_safetensors(path: &Path) -> Result<BTreeMap<String, TensorData>> {
    let err = |msg: String| Error::Safetensors {
        path: path.to_path_buf(),
        msg,
    };
    let mut out = BTreeMap::new();
    for tensor in read_pack_tensors(&[path.to_path_buf()])? {
        let name = tensor.name.clone();
        let data = bridge::into_data(tensor).map_err(|e| err(format!("{name}: {e}")))?;
        out.insert(name, data);
    }
    Ok(out)
}

/// Rename tensors into the model's names and apply the layout's fixes; returns the tensors and
/// the names matched by the layout's ignore list (dropped).
///
/// # Errors
///
/// Never for the built-in tables (they are valid regexes); [`Error::Config`] otherwise.
pub fn to_model_names(
    tensors: Vec<PackTensor>,
    layout: CheckpointLayout,
) -> Result<(Vec<PackTensor>, Vec<String>)> {
    let remapper =
        KeyRemapper::from_patterns(layout.key_table().to_vec()).map_err(|e| Error::Config {
            path: PathBuf::new(),
            msg: format!("invalid key table: {e}"),
        })?;
    let (tensors, _) = remapper.remap(tensors);
    let ignore = PathFilter::new().with_regexes(layout.ignored().iter().copied());
    let (ignored, kept): (Vec<_>, Vec<_>) =
        tensors.into_iter().partition(|t| ignore.matches(&t.name));
    let kept = match layout {
        CheckpointLayout::HfNative => kept,
        CheckpointLayout::Original => original::split_fused_qkv(kept),
    };
    Ok((kept, ignored.into_iter().map(|t| t.name).collect()))
}

/// Apply renamed tensors to a model: f32 widening + PyTorch→Burn adaptation, then a strict check.
///
/// # Errors
///
/// [`Error::Weights`] listing every missing parameter, unused tensor and shape/dtype mismatch.
pub fn apply_tensors<M: ModuleSnapshot>(
    model: &mut M,
    tensors: Vec<PackTensor>,
    path: &Path,
) -> Result<()> {
    let adapter = FloatCastAdapter::to(DType::F32).chain(PyTorchToBurnAdapter);
    let result = model.apply(tensors, None, Some(adapter.clone_box()), false);
    let missing: Vec<String> = result.missing.iter().map(|(p, _)| p.clone()).collect();
    let mismatched: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
    if missing.is_empty() && result.unused.is_empty() && mismatched.is_empty() {
        return Ok(());
    }
    Err(Error::Weights {
        path: path.to_path_buf(),
        missing,
        unexpected: result.unused.clone(),
        mismatched,
    })
}

/// The `<IMG_CONTEXT>` id from the tokenizer files of an original-layout checkpoint
/// (`added_tokens.json`, as OpenGVLab ships it), if present.
///
/// # Errors
///
/// [`Error::Json`] for a malformed `added_tokens.json`.
pub fn image_token_from_added_tokens(dir: &Path) -> Result<Option<usize>> {
    let path = dir.join("added_tokens.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let map: BTreeMap<String, usize> =
        serde_json::from_str(&text).map_err(|source| Error::Json { path, source })?;
    Ok(map.get("<IMG_CONTEXT>").copied())
}

/// The ids that end a chat answer for a checkpoint directory, sorted and deduplicated: the text
/// config's `eos_token_id`, `generation_config.json`'s `eos_token_id` (if the file exists) and
/// `<|im_end|>` from `tokenizer.json` / `added_tokens.json` (if present; the InternVL chat
/// template ends every turn with it).
///
/// # Errors
///
/// [`Error::Io`]/[`Error::Json`] for a present but unreadable or malformed file.
pub fn eos_token_ids(dir: &Path, config: &CheckpointConfig) -> Result<Vec<i64>> {
    let read = |name: &str| -> Result<Option<serde_json::Value>> {
        let path = dir.join(name);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let value = serde_json::from_str(&text).map_err(|source| Error::Json { path, source })?;
        Ok(Some(value))
    };
    let generation = GenerationConfig::from_dir(dir)?;
    let mut ids: Vec<i64> = [&config.text().eos_token_id, &generation.eos_token_id]
        .into_iter()
        .flatten()
        .flat_map(|e| e.to_vec())
        .collect();
    if let Some(tokenizer) = read("tokenizer.json")? {
        let added = tokenizer.get("added_tokens").and_then(|a| a.as_array());
        ids.extend(added.into_iter().flatten().filter_map(|t| {
            (t.get("content")?.as_str()? == crate::text::tokenizer::IM_END)
                .then(|| t.get("id")?.as_i64())?
        }));
    }
    if let Some(added) = read("added_tokens.json")? {
        ids.extend(
            added
                .get(crate::text::tokenizer::IM_END)
                .and_then(|v| v.as_i64()),
        );
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The model config a checkpoint directory describes, with what only the files can tell:
/// a tied head when the config leaves `tie_word_embeddings` unset and there is no `lm_head`, and
/// the `<IMG_CONTEXT>` id of an original checkpoint from `added_tokens.json`.
///
/// # Errors
///
/// As [`CheckpointConfig::to_internvl`] and [`image_token_from_added_tokens`].
pub fn resolve_config(
    dir: &Path,
    config: &CheckpointConfig,
    model_names: &[String],
) -> Result<InternVlConfig> {
    let path = dir.join("config.json");
    let mut resolved = config.to_internvl(&path)?;
    if config.text().tie_word_embeddings.is_none() {
        let has_head = model_names
            .iter()
            .any(|n| n == "language_model.lm_head.weight");
        resolved.text.tie_word_embeddings = !has_head;
    }
    if let CheckpointConfig::Original(c) = config
        && c.img_context_token_id.is_none()
        && let Some(id) = image_token_from_added_tokens(dir)?
    {
        resolved.image_token_id = id;
    }
    Ok(resolved)
}

/// Load an InternVL checkpoint directory (`config.json` + safetensors, either layout).
///
/// # Errors
///
/// [`Error::Io`]/[`Error::Json`]/[`Error::Config`] for the config, [`Error::Safetensors`] for
/// unreadable weights, [`Error::Weights`] when tensors and model do not match.
pub fn load_pretrained(dir: &Path, device: &Device) -> Result<InternVl> {
    let config = CheckpointConfig::from_json_file(&dir.join("config.json"))?;
    let files = safetensors_files(dir)?;
    let tensors = read_pack_tensors(&files)?;
    let names: Vec<String> = tensors.iter().map(|t| t.name.clone()).collect();
    let layout = detect_layout(&config, &names, dir)?;
    let (tensors, _ignored) = to_model_names(tensors, layout)?;
    let model_names: Vec<String> = tensors.iter().map(|t| t.name.clone()).collect();
    let model_config = resolve_config(dir, &config, &model_names)?;
    let mut model = model_config.init(device);
    apply_tensors(&mut model, tensors, dir)?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str, values: Vec<f32>, shape: Vec<usize>) -> PackTensor {
        bridge::from_data(TensorData::new(values, shape), name.into(), None)
    }

    #[test]
    fn transformers_in_memory_names_map_to_hub_names() {
        let tensors = vec![
            named("lm_head.weight", vec![0.0], vec![1, 1]),
            named("model.language_model.norm.weight", vec![0.0], vec![1]),
            named(
                "model.vision_tower.embeddings.cls_token",
                vec![0.0],
                vec![1, 1, 1],
            ),
            named(
                "model.multi_modal_projector.linear_1.bias",
                vec![0.0],
                vec![1],
            ),
            named(
                "model.language_model.rotary_emb.inv_freq",
                vec![0.0],
                vec![1],
            ),
        ];
        let (kept, ignored) = to_model_names(tensors, CheckpointLayout::HfNative).unwrap();
        let names: Vec<&str> = kept.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "language_model.lm_head.weight",
                "language_model.model.norm.weight",
                "vision_tower.embeddings.cls_token",
                "multi_modal_projector.linear_1.bias",
            ]
        );
        assert_eq!(ignored, ["language_model.model.rotary_emb.inv_freq"]);
    }

    #[test]
    fn original_names_and_fused_qkv_split() {
        let weight: Vec<f32> = (0..12).map(|v| v as f32).collect(); // [3C, C] with C = 2
        let tensors = vec![
            named(
                "vision_model.encoder.layers.3.attn.qkv.weight",
                weight,
                vec![6, 2],
            ),
            named(
                "vision_model.encoder.layers.3.attn.qkv.bias",
                vec![0., 1., 2., 3., 4., 5.],
                vec![6],
            ),
            named("vision_model.encoder.layers.3.ls2", vec![0.0; 2], vec![2]),
            named("mlp1.3.weight", vec![0.0; 4], vec![2, 2]),
            named("_skeleton_renderer_module._renderer.x", vec![0.0], vec![1]),
        ];
        let (kept, ignored) = to_model_names(tensors, CheckpointLayout::Original).unwrap();
        assert_eq!(ignored, ["_skeleton_renderer_module._renderer.x"]);
        let by_name: BTreeMap<String, PackTensor> =
            kept.into_iter().map(|t| (t.name.clone(), t)).collect();
        let prefix = "vision_tower.encoder.layer.3.attention";
        let k = bridge::to_data(&by_name[&format!("{prefix}.k_proj.weight")]).unwrap();
        assert_eq!(k.shape().to_vec(), [2, 2]);
        assert_eq!(k.try_to_vec::<f32>().unwrap(), [4., 5., 6., 7.]);
        let v = bridge::to_data(&by_name[&format!("{prefix}.v_proj.bias")]).unwrap();
        assert_eq!(v.try_to_vec::<f32>().unwrap(), [4., 5.]);
        assert!(by_name.contains_key("vision_tower.encoder.layer.3.lambda_2"));
        assert!(by_name.contains_key("multi_modal_projector.linear_2.weight"));
        assert_eq!(by_name.len(), 8);
    }
}

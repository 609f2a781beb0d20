//! Writing a model directory that [`crate::load_pretrained`], [`crate::load_skeleton_llm`] and
//! the task APIs read back: `config.json` (HF-native `InternVLForConditionalGeneration` style),
//! `model.safetensors` (HF-native names; a SkeletonLLM's DrAction tensors under
//! [`SKELETONLLM_PREFIX`], as in the authors' checkpoints) and optionally `tokenizer.json`.
//! Every file is written to a temporary name and renamed.

use std::path::{Path, PathBuf};

use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::TensorData;
use draction::checkpoint::SKELETONLLM_PREFIX;
use draction::render::DrAction;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::internvl::{InternVl, InternVlConfig};
use crate::lm::qwen2::RopeScaling;
use crate::load::write_safetensors;

/// The HF-native `config.json` of a model built from `config`.
pub fn hf_config_json(config: &InternVlConfig) -> Value {
    let v = &config.vision;
    let t = &config.text;
    let rope = match t.rope_scaling {
        RopeScaling::None => json!({"rope_type": "default", "rope_theta": t.rope_theta}),
        RopeScaling::Linear { factor } => {
            json!({"rope_type": "linear", "factor": factor, "rope_theta": t.rope_theta})
        }
        RopeScaling::Dynamic { factor } => {
            json!({"rope_type": "dynamic", "factor": factor, "rope_theta": t.rope_theta})
        }
    };
    let factor = config.projector.shuffle_factor as f64;
    json!({
        "architectures": ["InternVLForConditionalGeneration"],
        "model_type": "internvl",
        "downsample_ratio": 1.0 / factor,
        "image_token_id": config.image_token_id,
        "image_seq_length": config.tokens_per_image(),
        "projector_hidden_act": "gelu",
        "vision_feature_layer": config.vision_feature_layer,
        "vision_feature_select_strategy": "default",
        "tie_word_embeddings": t.tie_word_embeddings,
        "text_config": {
            "model_type": "qwen2",
            "vocab_size": t.vocab_size,
            "hidden_size": t.hidden_size,
            "intermediate_size": t.intermediate_size,
            "num_hidden_layers": t.num_hidden_layers,
            "num_attention_heads": t.num_attention_heads,
            "num_key_value_heads": t.num_key_value_heads,
            "head_dim": t.head_dim(),
            "rms_norm_eps": t.rms_norm_eps,
            "rope_parameters": rope,
            "max_position_embeddings": t.max_position_embeddings,
            "tie_word_embeddings": t.tie_word_embeddings,
            "attention_bias": t.attention_bias,
            "hidden_act": "silu",
        },
        "vision_config": {
            "model_type": "internvl_vision",
            "hidden_size": v.hidden_size,
            "num_hidden_layers": v.num_hidden_layers,
            "num_attention_heads": v.num_attention_heads,
            "intermediate_size": v.intermediate_size,
            "image_size": [v.image_size, v.image_size],
            "patch_size": [v.patch_size, v.patch_size],
            "num_channels": v.num_channels,
            "attention_bias": v.qkv_bias,
            "layer_norm_eps": v.layer_norm_eps,
            "hidden_act": "gelu",
            "norm_type": "layer_norm",
            "use_qk_norm": false,
            "use_absolute_position_embeddings": true,
            "use_mean_pooling": true,
        },
    })
}

/// Writes `value` as pretty JSON to `path` atomically.
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn write_json_atomic(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, text.as_bytes())
}

/// Writes `bytes` to `path` atomically ([`draction::io::write_file_atomic`]).
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    draction::io::write_file_atomic(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The InternVL tensors of `model` under their HF-native names (PyTorch `Linear` layout), f32.
///
/// # Errors
/// [`Error::Safetensors`] if burn-store fails to serialise the module.
pub fn internvl_tensors(model: &InternVl) -> Result<Vec<(String, TensorData)>> {
    module_tensors(model, "")
}

/// The f32 tensors of any module with PyTorch names and layouts, each name prefixed by `prefix`,
/// sorted by name.
///
/// # Errors
/// [`Error::Safetensors`] if burn-store fails to serialise the module or a tensor is not f32.
pub fn module_tensors<M: ModuleSnapshot>(
    module: &M,
    prefix: &str,
) -> Result<Vec<(String, TensorData)>> {
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
    let st = |e: String| Error::Safetensors {
        path: PathBuf::new(),
        msg: e,
    };
    module
        .save_into(&mut store)
        .map_err(|e| st(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| st(e.to_string()))?;
    let parsed = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| st(e.to_string()))?;
    let mut out = Vec::new();
    for (name, view) in parsed.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(st(format!("{name}: unexpected dtype {:?}", view.dtype())));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        out.push((
            format!("{prefix}{name}"),
            TensorData::new(values, view.shape().to_vec()),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Writes a model directory: `config.json`, `model.safetensors` with the InternVL tensors and,
/// when `renderer` is given, the DrAction tensors under [`SKELETONLLM_PREFIX`]; `tokenizer.json`
/// when given. LoRA adapters, if any, must be merged first ([`crate::merge_lora`]).
///
/// # Errors
/// [`Error::Io`] / [`Error::Safetensors`] naming the file that cannot be written.
pub fn save_pretrained(
    dir: &Path,
    internvl: &InternVl,
    config_json: &Value,
    renderer: Option<&DrAction>,
    tokenizer_json: Option<&Value>,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut tensors = internvl_tensors(internvl)?;
    if let Some(renderer) = renderer {
        for (name, t) in draction::checkpoint::to_tensors(renderer) {
            tensors.push((
                format!("{SKELETONLLM_PREFIX}{name}"),
                TensorData::new(t.data, t.shape),
            ));
        }
    }
    write_safetensors(&dir.join("model.safetensors"), tensors)?;
    write_json_atomic(&dir.join("config.json"), config_json)?;
    if let Some(tok) = tokenizer_json {
        write_json_atomic(&dir.join("tokenizer.json"), tok)?;
    }
    Ok(())
}

/// Reads a model directory's `config.json` as JSON (to copy it into an exported directory).
///
/// # Errors
/// [`Error::Io`] / [`Error::Json`] naming the file.
pub fn read_config_json(dir: &Path) -> Result<Value> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| Error::Json { path, source })
}

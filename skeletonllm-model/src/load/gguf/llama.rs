//! Llama-architecture GGUF files (SmolLM2, Llama, Qwen2) as a [`Qwen2ForCausalLm`]: the config
//! from the `{arch}.*` keys, tensors renamed to the HF names, llama.cpp's Q/K row permutation
//! undone.

use std::path::Path;
use std::sync::Arc;

use burn::store::bridge;
use burn::store::burn_pack::{Error as PackError, Tensor as PackTensor};
use burn::tensor::{DType, Device, Shape, TensorData};

use super::dequant::DequantError;
use super::reader::{GgufError, GgufFile, GgufMetadata};
use crate::lm::qwen2::{Qwen2Config, Qwen2ForCausalLm, RopeScaling};

/// The HF (`LlamaForCausalLM`) name of a GGUF tensor name, `None` for names with no counterpart.
pub fn hf_name(gguf_name: &str) -> Option<String> {
    match gguf_name {
        "token_embd.weight" => return Some("model.embed_tokens.weight".into()),
        "output_norm.weight" => return Some("model.norm.weight".into()),
        "output.weight" => return Some("lm_head.weight".into()),
        _ => {}
    }
    let rest = gguf_name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, param) = rest.rsplit_once('.')?;
    if param != "weight" && param != "bias" {
        return None;
    }
    let hf = match module {
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{param}"))
}

/// Undo llama.cpp's `LlamaModel.permute` on the rows of a `[n_head * head_dim, cols]` matrix
/// (or a `[n_head * head_dim]` bias, `cols = 1`): GGUF row `h*hd + 2j + t` goes back to HF row
/// `h*hd + t*hd/2 + j`, so HF's `rotate_half` RoPE applies.
///
/// Returns `None` when the rows are not `n_head` heads of an even width.
pub fn unpermute_rows(values: &[f32], n_head: usize, cols: usize) -> Option<Vec<f32>> {
    if n_head == 0 || cols == 0 || !values.len().is_multiple_of(cols) {
        return None;
    }
    let rows = values.len() / cols;
    if !rows.is_multiple_of(2 * n_head) {
        return None;
    }
    let hd = rows / n_head;
    let half = hd / 2;
    let mut out = vec![0f32; values.len()];
    for h in 0..n_head {
        for j in 0..half {
            for t in 0..2 {
                let src = (h * hd + 2 * j + t) * cols;
                let dst = (h * hd + t * half + j) * cols;
                out[dst..dst + cols].copy_from_slice(&values[src..src + cols]);
            }
        }
    }
    Some(out)
}

/// Architectures [`load_gguf_llama`] takes; `llama` has permuted Q/K rows, `qwen2` does not.
pub const SUPPORTED_ARCHITECTURES: [&str; 2] = ["llama", "qwen2"];

/// The decoder config a Llama-family GGUF describes (`{arch}.*` keys), checked against the
/// tensor shapes so that a lying header cannot ask for a model larger than the file.
///
/// # Errors
///
/// [`GgufError::Unsupported`] for another architecture or RoPE scaling, partial rotary or
/// unusual head layouts; [`GgufError::Metadata`] for a missing or inconsistent key;
/// [`GgufError::Tensor`] when a tensor the config implies is missing or mis-shaped.
pub fn qwen2_config(file: &GgufFile) -> Result<Qwen2Config, GgufError> {
    let meta = &file.metadata;
    let path = &file.path;
    let arch = meta.architecture().ok_or_else(|| GgufError::Metadata {
        path: path.clone(),
        key: "general.architecture".into(),
        msg: "missing or not a string".into(),
    })?;
    if !SUPPORTED_ARCHITECTURES.contains(&arch) {
        return Err(GgufError::Unsupported {
            path: path.clone(),
            msg: format!("architecture `{arch}` (supported: {SUPPORTED_ARCHITECTURES:?})"),
        });
    }
    let meta_err = |key: &str, msg: String| GgufError::Metadata {
        path: path.clone(),
        key: key.to_string(),
        msg,
    };
    let uint = |name: &str| -> Result<Option<usize>, GgufError> {
        let key = format!("{arch}.{name}");
        match meta.get(&key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .filter(|&v| v > 0)
                .map(Some)
                .ok_or_else(|| meta_err(&key, format!("expected a positive integer, found {v:?}"))),
        }
    };
    let required = |name: &str| -> Result<usize, GgufError> {
        uint(name)?.ok_or_else(|| meta_err(&format!("{arch}.{name}"), "missing".into()))
    };
    let float = |name: &str| -> Result<Option<f64>, GgufError> {
        let key = format!("{arch}.{name}");
        match meta.get(&key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|f| f.is_finite() && *f > 0.0)
                .map(Some)
                .ok_or_else(|| meta_err(&key, format!("expected a positive number, found {v:?}"))),
        }
    };
    let hidden = required("embedding_length")?;
    let layers = required("block_count")?;
    let ffn = required("feed_forward_length")?;
    let heads = required("attention.head_count")?;
    let kv_heads = uint("attention.head_count_kv")?.unwrap_or(heads);
    let context = required("context_length")?;
    let eps = float("attention.layer_norm_rms_epsilon")?.ok_or_else(|| {
        meta_err(
            &format!("{arch}.attention.layer_norm_rms_epsilon"),
            "missing".into(),
        )
    })?;
    let theta = float("rope.freq_base")?.unwrap_or(10000.0);
    let head_dim = uint("attention.key_length")?.unwrap_or(hidden / heads);
    if heads % kv_heads != 0 || head_dim % 2 != 0 {
        return Err(GgufError::Unsupported {
            path: path.clone(),
            msg: format!("{heads} query heads over {kv_heads} key/value heads of width {head_dim}"),
        });
    }
    if let Some(v) = uint("attention.value_length")?
        && v != head_dim
    {
        return Err(GgufError::Unsupported {
            path: path.clone(),
            msg: format!("value heads of width {v} differ from key heads of width {head_dim}"),
        });
    }
    if let Some(rot) = uint("rope.dimension_count")?
        && rot != head_dim
    {
        return Err(GgufError::Unsupported {
            path: path.clone(),
            msg: format!("partial rotary embedding ({rot} of {head_dim} dimensions)"),
        });
    }
    let scaling_key = format!("{arch}.rope.scaling.type");
    let rope_scaling = match meta.get_str(&scaling_key) {
        None | Some("none") => RopeScaling::None,
        Some("linear") => RopeScaling::Linear {
            factor: float("rope.scaling.factor")?.unwrap_or(1.0),
        },
        Some(other) => {
            return Err(GgufError::Unsupported {
                path: path.clone(),
                msg: format!("`{scaling_key}` = `{other}` (supported: none, linear)"),
            });
        }
    };

    // The tensors must agree: this bounds the model `init` allocates by the file's contents.
    let expect = |name: &str, dims: &[usize]| -> Result<(), GgufError> {
        let info = file.info(name)?;
        let want: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
        if info.dims != want {
            return Err(file.tensor_error(
                name,
                format!(
                    "GGML dims {:?}, but the metadata implies {want:?}",
                    info.dims
                ),
            ));
        }
        Ok(())
    };
    let embd = file.info("token_embd.weight")?;
    let vocab = match embd.dims.as_slice() {
        [d, v] if *d == hidden as u64 => *v as usize,
        dims => {
            return Err(file.tensor_error(
                "token_embd.weight",
                format!("GGML dims {dims:?}, expected [{hidden}, vocab]"),
            ));
        }
    };
    if let Some(v) = uint("vocab_size")?
        && v != vocab
    {
        return Err(meta_err(
            &format!("{arch}.vocab_size"),
            format!("{v}, but token_embd.weight has {vocab} rows"),
        ));
    }
    for i in 0..layers {
        expect(
            &format!("blk.{i}.attn_q.weight"),
            &[hidden, heads * head_dim],
        )?;
        expect(
            &format!("blk.{i}.attn_k.weight"),
            &[hidden, kv_heads * head_dim],
        )?;
        expect(&format!("blk.{i}.ffn_up.weight"), &[hidden, ffn])?;
    }
    let tied = file.tensor("output.weight").is_none();
    let attention_bias = file.tensor("blk.0.attn_q.bias").is_some();
    let mlp_bias = file.tensor("blk.0.ffn_up.bias").is_some();
    Ok(
        Qwen2Config::new(vocab, hidden, ffn, layers, heads, kv_heads)
            .with_head_dim(Some(head_dim))
            .with_rms_norm_eps(eps)
            .with_rope_theta(theta)
            .with_rope_scaling(rope_scaling)
            .with_max_position_embeddings(context)
            .with_attention_bias(attention_bias)
            .with_mlp_bias(mlp_bias)
            .with_tie_word_embeddings(tied),
    )
}

/// Every tensor of a Llama-family GGUF as a lazy HF-named f32 tensor for
/// [`crate::load::apply_tensors`]: dequantised and (for `llama`) un-permuted when taken. Tensors with
/// no HF name keep their GGUF name (and are then reported as unexpected).
///
/// # Errors
///
/// [`GgufError::Tensor`] for a tensor of a type [`dequantize`](super::dequantize) does not handle.
pub fn hf_tensors(
    file: &Arc<GgufFile>,
    config: &Qwen2Config,
) -> Result<Vec<PackTensor>, GgufError> {
    let permuted = file.metadata.architecture() == Some("llama");
    let mut out = Vec::with_capacity(file.tensors.len());
    for info in &file.tensors {
        if !info.ggml_type.is_supported() {
            return Err(file.tensor_error(
                &info.name,
                DequantError::Unsupported(info.ggml_type).to_string(),
            ));
        }
        let hf = hf_name(&info.name).unwrap_or_else(|| info.name.clone());
        let shape = info.shape();
        let heads = if !permuted {
            None
        } else if hf.contains(".self_attn.q_proj.") {
            Some(config.num_attention_heads)
        } else if hf.contains(".self_attn.k_proj.") {
            Some(config.num_key_value_heads)
        } else {
            None
        };
        let cols = if shape.len() == 2 { shape[1] } else { 1 };
        let file = Arc::clone(file);
        let gguf_name = info.name.clone();
        let data_shape = shape.clone();
        out.push(bridge::deferred(
            hf,
            DType::F32,
            Shape::from(shape),
            None,
            move || {
                let (_, values) = file
                    .tensor_f32(&gguf_name)
                    .map_err(|e| PackError::ValidationError(e.to_string()))?;
                let values = match heads {
                    None => values,
                    Some(n_head) => unpermute_rows(&values, n_head, cols).ok_or_else(|| {
                        PackError::ValidationError(format!(
                            "{gguf_name}: rows are not {n_head} heads of an even width"
                        ))
                    })?,
                };
                Ok(TensorData::new(values, data_shape.clone()))
            },
        ));
    }
    Ok(out)
}

/// Load a Llama-family GGUF (SmolLM2, Llama 2/3 without rope-freq tensors, Qwen2) into
/// [`Qwen2ForCausalLm`]; also returns the file's metadata (tokenizer, chat template, ...).
///
/// # Errors
///
/// As [`GgufFile::open`], [`qwen2_config`] and [`hf_tensors`]; [`GgufError::Model`] (wrapping
/// [`crate::Error::Weights`]) listing every missing, unexpected or mis-shaped tensor.
pub fn load_gguf_llama(
    path: &Path,
    device: &Device,
) -> Result<(Qwen2ForCausalLm, GgufMetadata), GgufError> {
    let file = Arc::new(GgufFile::open(path)?);
    let config = qwen2_config(&file)?;
    let tensors = hf_tensors(&file, &config)?;
    let mut model = config.init(device);
    crate::load::apply_tensors(&mut model, tensors, path)?;
    Ok((model, file.metadata.clone()))
}

/// Make a tied model's LM head fast for inference: [`Qwen2ForCausalLm::untie_for_inference`]
/// (a contiguous, non-persisted `[D, V]` copy of the embedding matrix, `+V×D` floats). Same
/// logits; on the CPU backend the tied head's matmul against the transposed `[V, D]` embedding
/// is ~10× slower than against a contiguous matrix (SmolLM2: 240 ms vs 25 ms per token). The
/// parameters and their names do not change. Does nothing when the model already has a head.
pub fn untie_head(lm: &mut Qwen2ForCausalLm) {
    lm.untie_for_inference();
}

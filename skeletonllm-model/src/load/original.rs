//! Original OpenGVLab InternVL checkpoints (`InternVLChatModel`, and SkeletonLLM's checkpoints
//! built on it).
//!
//! The vision tower is `vision_model.*` with a fused `attn.qkv` (split by [split_fused_qkv]),
//! `norm1`/`norm2`, `ls1`/`ls2`; the projector is `mlp1.{0,1,3}` (LayerNorm, Linear, GELU,
//! Linear); the language model already has the HF names.

use burn::store::bridge;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::tensor::TensorData;

/// `(regex, replacement)` pairs applied in order, through burn-store's `KeyRemapper`.
pub const KEY_TABLE: &[(&str, &str)] = &[
    (
        r"^vision_model\.embeddings\.class_embedding$",
        "vision_tower.embeddings.cls_token",
    ),
    (
        r"^vision_model\.embeddings\.position_embedding$",
        "vision_tower.embeddings.position_embeddings",
    ),
    (
        r"^vision_model\.embeddings\.patch_embedding\.",
        "vision_tower.embeddings.patch_embeddings.projection.",
    ),
    (
        r"^vision_model\.encoder\.layers\.(\d+)\.attn\.qkv\.",
        "vision_tower.encoder.layer.$1.attention.qkv.",
    ),
    (
        r"^vision_model\.encoder\.layers\.(\d+)\.attn\.proj\.",
        "vision_tower.encoder.layer.$1.attention.projection_layer.",
    ),
    (
        r"^vision_model\.encoder\.layers\.(\d+)\.norm1\.",
        "vision_tower.encoder.layer.$1.layernorm_before.",
    ),
    (
        r"^vision_model\.encoder\.layers\.(\d+)\.norm2\.",
        "vision_tower.encoder.layer.$1.layernorm_after.",
    ),
    (
        r"^vision_model\.encoder\.layers\.(\d+)\.ls1$",
        "vision_tower.encoder.layer.$1.lambda_1",
    ),
    (
        r"^vision_model\.encoder\.layers\.(\d+)\.ls2$",
        "vision_tower.encoder.layer.$1.lambda_2",
    ),
    (
        r"^vision_model\.encoder\.layers\.(\d+)\.mlp\.",
        "vision_tower.encoder.layer.$1.mlp.",
    ),
    (r"^mlp1\.0\.", "multi_modal_projector.layer_norm."),
    (r"^mlp1\.1\.", "multi_modal_projector.linear_1."),
    (r"^mlp1\.3\.", "multi_modal_projector.linear_2."),
];

/// Tensors that may be present and are not InternVL weights (regexes on renamed keys): the
/// DrAction renderer inside SkeletonLLM checkpoints (loaded by `draction`, not here) and rotary
/// buffers.
pub const IGNORED: &[&str] = &[r"^_skeleton_renderer_module\.", r"rotary_emb\.inv_freq$"];

/// A key prefix that only this layout has.
pub const MARKER: &str = "vision_model.";

/// Replace every `….attention.qkv.{weight,bias}` by `q_proj`/`k_proj`/`v_proj` tensors.
///
/// OpenGVLab computes `qkv(x).reshape(b, n, 3, c)`, so the fused weight `[3C, C]` (bias `[3C]`)
/// stacks q, k, v along its first axis. The split is lazy: bytes are read when applied.
pub fn split_fused_qkv(tensors: Vec<PackTensor>) -> Vec<PackTensor> {
    let mut out = Vec::with_capacity(tensors.len() + tensors.len() / 4);
    for tensor in tensors {
        let Some(prefix) = tensor
            .name
            .strip_suffix(".qkv.weight")
            .or_else(|| tensor.name.strip_suffix(".qkv.bias"))
            .map(str::to_owned)
        else {
            out.push(tensor);
            continue;
        };
        let param = tensor
            .name
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let dims = tensor.shape.to_vec();
        if dims.first().is_none_or(|rows| rows % 3 != 0) {
            out.push(tensor); // left for the shape check to report
            continue;
        }
        let rows = dims[0] / 3;
        let mut part_shape = dims.clone();
        part_shape[0] = rows;
        for (i, name) in ["q_proj", "k_proj", "v_proj"].into_iter().enumerate() {
            let shape = part_shape.clone();
            let rows_of = move |data: TensorData| take_rows(data, i * rows, rows);
            out.push(bridge::map_data(
                tensor.clone(),
                format!("{prefix}.{name}.{param}"),
                tensor.dtype,
                shape.into(),
                rows_of,
            ));
        }
    }
    out
}

/// Rows `start..start + count` of a row-major tensor (first axis), any dtype.
fn take_rows(data: TensorData, start: usize, count: usize) -> TensorData {
    let mut shape = data.shape().to_vec();
    let dtype = data.dtype();
    let row_bytes = data.as_bytes().len() / shape[0];
    let bytes = data.as_bytes()[start * row_bytes..(start + count) * row_bytes].to_vec();
    shape[0] = count;
    TensorData::from_bytes_vec(bytes, shape, dtype)
}

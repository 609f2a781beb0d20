//! GGUF (llama.cpp's single-file format, v2/v3): a bounds-checked reader, dequantisation to f32,
//! and loading Llama-architecture files (SmolLM2, Llama) into [`Qwen2ForCausalLm`](crate::Qwen2ForCausalLm).
//!
//! - [`GgufFile::open`] reads the header, every metadata key/value (all value types, nested
//!   arrays included) and the tensor table, and checks that every tensor's data lies inside the
//!   file: a truncated or lying file is a [`GgufError`] naming the file, never a panic or an
//!   allocation larger than the file. Tensor data is read on demand ([`GgufFile::tensor_f32`]).
//! - [`dequantize`]: F32, F16, BF16, Q8_0, Q4_0, Q4_1 (what SmolLM2-135M-Instruct.Q4_1 uses:
//!   Q4_1 projections, a Q8_0 embedding, F32 norms) and the K-quants Q4_K, Q5_K, Q6_K, Q8_K
//!   (the usual `Q4_K_M` / `Q5_K_M` / `Q6_K` files). Other types are listed by the reader and
//!   rejected with [`DequantError::Unsupported`] when their data is needed.
//! - [`load_gguf_llama`]: [`Qwen2Config`](crate::Qwen2Config) from the `{arch}.*` keys ([`qwen2_config`]), tensors
//!   renamed to the HF names ([`hf_name`]), llama.cpp's Q/K row permutation undone
//!   ([`unpermute_rows`]), then applied through [`crate::load::apply_tensors`] (lazily: each tensor
//!   is read and dequantised when the model takes it).
//!
//! - [`tokenizer`]: the tokenizer a GGUF file describes, as a `tokenizers::Tokenizer`.
//!
//! Decoding with the loaded model: [`crate::generate_text`] (the one decode loop of
//! [`crate::generation`]).

pub mod dequant;
pub mod llama;
pub mod reader;
pub mod tokenizer;

pub use dequant::{DequantError, GgmlType, dequantize};
pub use llama::{
    SUPPORTED_ARCHITECTURES, hf_name, hf_tensors, load_gguf_llama, qwen2_config, unpermute_rows,
    untie_head,
};
pub use reader::{DEFAULT_ALIGNMENT, GgufError, GgufFile, GgufMetadata, GgufTensorInfo, GgufValue};
pub use tokenizer::GgufTokenizer;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // 2 heads of width 4, 1 column: HF rows [0..8); llama.cpp's permute interleaves halves.
        let hf: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let permuted = [0., 2., 1., 3., 4., 6., 5., 7.];
        assert_eq!(unpermute_rows(&permuted, 2, 1).unwrap(), hf);
        assert!(unpermute_rows(&permuted, 3, 1).is_none());
    }

    #[test]
    fn hf_names() {
        assert_eq!(
            hf_name("blk.12.attn_k.weight").as_deref(),
            Some("model.layers.12.self_attn.k_proj.weight")
        );
        assert_eq!(
            hf_name("blk.0.ffn_norm.weight").as_deref(),
            Some("model.layers.0.post_attention_layernorm.weight")
        );
        assert_eq!(hf_name("rope_freqs.weight"), None);
    }

    #[test]
    fn q4_1_block() {
        let mut block = Vec::new();
        block.extend(half::f16::from_f32(0.5).to_le_bytes());
        block.extend(half::f16::from_f32(-1.0).to_le_bytes());
        block.extend((0..16u8).map(|i| i | ((15 - i) << 4)));
        let v = dequantize(GgmlType::Q4_1, &block).unwrap();
        assert_eq!(v.len(), 32);
        assert_eq!((v[0], v[15], v[16], v[31]), (-1.0, 6.5, 6.5, -1.0));
        assert!(dequantize(GgmlType::Q4_1, &block[..19]).is_err());
        assert!(dequantize(GgmlType::Q3_K, &[0; 110]).is_err());
        assert_eq!(
            dequantize(GgmlType::Q6_K, &[0; 210]).unwrap(),
            vec![0.0; 256]
        );
    }
}

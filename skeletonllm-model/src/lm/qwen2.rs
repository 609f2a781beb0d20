//! The Llama-family decoder (Qwen2, Qwen2.5, Llama, SmolLM2): one implementation with flags.
//!
//! Top to bottom: rotary embedding -> MLP (SwiGLU) -> attention (GQA) -> decoder layer -> model
//! -> causal LM head. Qwen2 is `attention_bias = true`; Llama/SmolLM2 are `false` (SmolLM2 also
//! ties the head to the embeddings). Field names are the checkpoint keys under
//! `language_model.` (`model.embed_tokens`, `model.layers.N.self_attn.q_proj`, `lm_head`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::kernels::{self, linear};
use crate::lm::cache::{KvCache, LayerKv};
use crate::precision::to_dtype;

/// How RoPE frequencies are scaled (HF `rope_scaling` / `rope_parameters`).
#[derive(Config, Debug, PartialEq)]
pub enum RopeScaling {
    /// Plain RoPE (`rope_type: "default"`).
    None,
    /// Position interpolation: every frequency divided by `factor`.
    Linear {
        /// The scaling factor.
        factor: f64,
    },
    /// Dynamic NTK: when a forward reaches `seq_len > max_position_embeddings` positions, the
    /// base becomes `theta * (factor * seq_len / max_pos - (factor - 1))^(d / (d - 2))`.
    Dynamic {
        /// The scaling factor (2.0 in InternVL3).
        factor: f64,
    },
}

/// Configuration to create a [Qwen2ForCausalLm] with [Qwen2Config::init].
#[derive(Config, Debug)]
pub struct Qwen2Config {
    /// Vocabulary size `V`.
    pub vocab_size: usize,
    /// Model width `D`.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (GQA); equal to the query heads for plain MHA.
    pub num_key_value_heads: usize,
    /// Width of one head; `hidden_size / num_attention_heads` when absent.
    #[config(default = "None")]
    pub head_dim: Option<usize>,
    /// RMSNorm epsilon.
    #[config(default = 1e-6)]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[config(default = 10000.0)]
    pub rope_theta: f64,
    /// RoPE frequency scaling.
    #[config(default = "RopeScaling::None")]
    pub rope_scaling: RopeScaling,
    /// Pretraining context length (the threshold of dynamic NTK scaling).
    #[config(default = 32768)]
    pub max_position_embeddings: usize,
    /// Bias on q/k/v projections (Qwen2: true, Llama: false). `o_proj` never has one.
    #[config(default = true)]
    pub attention_bias: bool,
    /// Bias on the MLP projections (Llama's `mlp_bias`; false for Qwen2).
    #[config(default = false)]
    pub mlp_bias: bool,
    /// Whether the LM head reuses the token embedding matrix (no `lm_head` weights).
    #[config(default = false)]
    pub tie_word_embeddings: bool,
}

impl Qwen2Config {
    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    /// The rotary embedding this config describes.
    pub fn rotary(&self) -> RotaryEmbedding {
        RotaryEmbedding {
            head_dim: self.head_dim(),
            theta: self.rope_theta,
            scaling: self.rope_scaling.clone(),
            max_position_embeddings: self.max_position_embeddings,
        }
    }

    /// Initialize a new [Qwen2ForCausalLm] with random weights (to be overwritten by loading).
    ///
    /// # Panics
    ///
    /// Panics if the query heads are not a multiple of the key/value heads.
    pub fn init(&self, device: &Device) -> Qwen2ForCausalLm {
        let (d, hd) = (self.hidden_size, self.head_dim());
        let (h, kvh) = (self.num_attention_heads, self.num_key_value_heads);
        assert_eq!(
            h % kvh,
            0,
            "num_attention_heads must be a multiple of num_key_value_heads"
        );
        let norm = || {
            RmsNormConfig::new(d)
                .with_epsilon(self.rms_norm_eps)
                .init(device)
        };
        let layers = (0..self.num_hidden_layers)
            .map(|_| DecoderLayer {
                self_attn: Attention {
                    q_proj: LinearConfig::new(d, h * hd)
                        .with_bias(self.attention_bias)
                        .init(device),
                    k_proj: LinearConfig::new(d, kvh * hd)
                        .with_bias(self.attention_bias)
                        .init(device),
                    v_proj: LinearConfig::new(d, kvh * hd)
                        .with_bias(self.attention_bias)
                        .init(device),
                    o_proj: LinearConfig::new(h * hd, d).with_bias(false).init(device),
                    num_heads: h,
                    num_key_value_heads: kvh,
                    head_dim: hd,
                },
                mlp: Mlp {
                    gate_proj: LinearConfig::new(d, self.intermediate_size)
                        .with_bias(self.mlp_bias)
                        .init(device),
                    up_proj: LinearConfig::new(d, self.intermediate_size)
                        .with_bias(self.mlp_bias)
                        .init(device),
                    down_proj: LinearConfig::new(self.intermediate_size, d)
                        .with_bias(self.mlp_bias)
                        .init(device),
                },
                input_layernorm: norm(),
                post_attention_layernorm: norm(),
            })
            .collect();
        let lm_head = (!self.tie_word_embeddings).then(|| {
            LinearConfig::new(d, self.vocab_size)
                .with_bias(false)
                .init(device)
        });
        Qwen2ForCausalLm {
            model: Qwen2Model {
                embed_tokens: EmbeddingConfig::new(self.vocab_size, d).init(device),
                layers,
                norm: norm(),
                rotary: self.rotary(),
            },
            lm_head,
            inference_head: None,
        }
    }
}

/// RoPE in the HF layout (`rotate_half`: the two halves of a head, not interleaved pairs).
///
/// Frequencies are recomputed per forward so that dynamic NTK scaling sees the current length.
#[derive(Clone, Debug)]
pub struct RotaryEmbedding {
    /// Width of one head (rotated in full).
    pub head_dim: usize,
    /// RoPE base.
    pub theta: f64,
    /// Frequency scaling.
    pub scaling: RopeScaling,
    /// Pretraining context length.
    pub max_position_embeddings: usize,
}

impl RotaryEmbedding {
    /// Inverse frequencies `[head_dim / 2]` for a forward that reaches `seq_len` positions
    /// (largest position id + 1), in f32 exactly as transformers computes them.
    pub fn inv_freq(&self, seq_len: usize) -> Vec<f32> {
        let dim = self.head_dim as f32;
        let mut base = self.theta as f32;
        if let RopeScaling::Dynamic { factor } = self.scaling
            && seq_len > self.max_position_embeddings
        {
            let factor = factor as f32;
            let ratio =
                factor * seq_len as f32 / self.max_position_embeddings as f32 - (factor - 1.0);
            base *= ratio.powf((self.head_dim as f64 / (self.head_dim as f64 - 2.0)) as f32);
        }
        let linear = match self.scaling {
            RopeScaling::Linear { factor } => factor as f32,
            _ => 1.0,
        };
        (0..self.head_dim / 2)
            .map(|i| 1.0 / base.powf((2 * i) as f32 / dim) / linear)
            .collect()
    }

    /// Cosines and sines for positions `start..start + len`.
    ///
    /// # Shapes
    ///
    /// - output: two `[len, head_dim]`
    pub fn cos_sin(&self, start: usize, len: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
        let inv_freq = Tensor::<1>::from_data(self.inv_freq(start + len).as_slice(), device)
            .unsqueeze_dim::<2>(0); // [1, hd/2]
        let positions = Tensor::<1, Int>::arange(start as i64..(start + len) as i64, device)
            .float()
            .unsqueeze_dim::<2>(1); // [len, 1]
        let freqs = positions * inv_freq; // [len, hd/2]
        let emb = Tensor::cat(vec![freqs.clone(), freqs], 1); // [len, hd]
        (emb.clone().cos(), emb.sin())
    }

    /// Cosines and sines for explicit per-row position ids (row-major `[batch, len]`); the
    /// frequencies are those of a forward reaching `max(position) + 1` positions (as
    /// transformers' dynamic RoPE does).
    ///
    /// # Shapes
    ///
    /// - output: two `[batch, 1, len, head_dim]`
    ///
    /// # Panics
    ///
    /// Panics if `positions.len() != batch * len`.
    pub fn cos_sin_at(
        &self,
        positions: &[i64],
        batch: usize,
        len: usize,
        device: &Device,
    ) -> (Tensor<4>, Tensor<4>) {
        assert_eq!(positions.len(), batch * len, "cos_sin_at: positions");
        let seq_len = positions
            .iter()
            .copied()
            .max()
            .map_or(0, |m| m.max(0) as usize + 1);
        let inv_freq = Tensor::<1>::from_data(self.inv_freq(seq_len).as_slice(), device).reshape([
            1,
            1,
            self.head_dim / 2,
        ]); // [1, 1, hd/2]
        let pos: Vec<f32> = positions.iter().map(|&p| p as f32).collect();
        let pos = Tensor::<3>::from_data(TensorData::new(pos, [batch, len, 1]), device);
        let freqs = pos * inv_freq; // [b, len, hd/2]
        let emb = Tensor::cat(vec![freqs.clone(), freqs], 2).unsqueeze_dim::<4>(1); // [b, 1, len, hd]
        (emb.clone().cos(), emb.sin())
    }
}

/// Position ids of the last `len` of `t` positions per row from a padding mask (`true` =
/// padding, row-major `[batch, t]`), as transformers' `generate` computes them:
/// `cumsum(attention_mask) - 1`, with padding positions set to 1. Left-padded rows thus start
/// at 0 at their first real token; without padding this is `t - len..t`.
pub fn positions_from_padding(padding: &[bool], batch: usize, t: usize, len: usize) -> Vec<i64> {
    assert_eq!(padding.len(), batch * t, "positions_from_padding: mask");
    assert!(len <= t, "positions_from_padding: len > t");
    let mut out = Vec::with_capacity(batch * len);
    for row in padding.chunks_exact(t.max(1)).take(batch) {
        let mut seen = 0i64;
        for (j, &pad) in row.iter().enumerate() {
            if !pad {
                seen += 1;
            }
            if j >= t - len {
                out.push(if pad { 1 } else { seen - 1 });
            }
        }
    }
    out
}

/// `x * cos + rotate_half(x) * sin`, `rotate_half(x) = [-x2, x1]` for halves `x1, x2`.
///
/// # Shapes
///
/// - x: `[batch, heads, len, head_dim]`
/// - cos, sin: `[1 or batch, 1, len, head_dim]` (per-row positions when `batch`)
/// - output: `[batch, heads, len, head_dim]`
pub fn apply_rotary(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
    let half = x.dims()[3] / 2;
    let x1 = x.clone().narrow(3, 0, half);
    let x2 = x.clone().narrow(3, half, half);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    let dtype = x.dtype();
    x * to_dtype(cos.clone(), dtype) + rotated * to_dtype(sin.clone(), dtype)
}

/// SwiGLU MLP: `down_proj(silu(gate_proj(x)) * up_proj(x))`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `[D, intermediate]`.
    pub gate_proj: Linear,
    /// `[D, intermediate]`.
    pub up_proj: Linear,
    /// `[intermediate, D]`.
    pub down_proj: Linear,
}

impl Mlp {
    /// Apply the MLP.
    ///
    /// # Shapes
    ///
    /// - x: `[batch, len, D]`
    /// - output: `[batch, len, D]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = linear::forward(&self.gate_proj, x.clone());
        let up = linear::forward(&self.up_proj, x);
        linear::forward(&self.down_proj, kernels::silu_mul(gate, up))
    }
}

/// Causal self-attention with grouped key/value heads and RoPE.
#[derive(Module, Debug)]
pub struct Attention {
    /// `[D, heads * head_dim]`.
    pub q_proj: Linear,
    /// `[D, kv_heads * head_dim]`.
    pub k_proj: Linear,
    /// `[D, kv_heads * head_dim]`.
    pub v_proj: Linear,
    /// `[heads * head_dim, D]`, no bias.
    pub o_proj: Linear,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_key_value_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

impl Attention {
    /// Attend from the new positions to the cached ones and themselves (causally).
    ///
    /// # Shapes
    ///
    /// - x: `[batch, len, D]`
    /// - cos, sin: `[1 or batch, 1, len, head_dim]`
    /// - mask: `[batch, heads, len, cached + len]`, `true` = masked out
    /// - output: `[batch, len, D]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        cos: &Tensor<4>,
        sin: &Tensor<4>,
        mask: Option<Tensor<4, Bool>>,
        cache: Option<&mut LayerKv>,
    ) -> Tensor<3> {
        let [b, l, _] = x.dims();
        let (h, kvh, hd) = (self.num_heads, self.num_key_value_heads, self.head_dim);
        let q = linear::forward(&self.q_proj, x.clone())
            .reshape([b, l, h, hd])
            .swap_dims(1, 2); // [b, h, l, hd]
        let k = linear::forward(&self.k_proj, x.clone())
            .reshape([b, l, kvh, hd])
            .swap_dims(1, 2); // [b, kvh, l, hd]
        let v = linear::forward(&self.v_proj, x)
            .reshape([b, l, kvh, hd])
            .swap_dims(1, 2); // [b, kvh, l, hd]
        let q = apply_rotary(q, cos, sin);
        let k = apply_rotary(k, cos, sin);
        let (k, v) = match cache {
            Some(cache) => cache.append(k, v), // [b, kvh, t, hd]
            None => (k, v),
        };
        let y = match mask {
            // Grouped heads read in place, no repeated copies.
            None => kernels::attention(q, k, v, true), // [b, h, l, hd]
            Some(mask) => {
                let k = repeat_kv(k, h / kvh); // [b, h, t, hd]
                let v = repeat_kv(v, h / kvh); // [b, h, t, hd]
                let options = AttentionModuleOptions {
                    is_causal: true,
                    ..Default::default()
                };
                attention(q, k, v, Some(mask), None, options) // [b, h, l, hd]
            }
        };
        linear::forward(&self.o_proj, y.swap_dims(1, 2).reshape([b, l, h * hd]))
    }
}

/// Repeat each key/value head `n_rep` times (HF `repeat_kv`).
///
/// # Shapes
///
/// - x: `[batch, kv_heads, t, head_dim]`
/// - output: `[batch, kv_heads * n_rep, t, head_dim]`
pub fn repeat_kv(x: Tensor<4>, n_rep: usize) -> Tensor<4> {
    if n_rep == 1 {
        return x;
    }
    let [b, kvh, t, hd] = x.dims();
    x.unsqueeze_dim::<5>(2)
        .expand([b, kvh, n_rep, t, hd])
        .reshape([b, kvh * n_rep, t, hd])
}

/// Pre-norm decoder layer.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Self-attention.
    pub self_attn: Attention,
    /// SwiGLU MLP.
    pub mlp: Mlp,
    /// RMSNorm before attention.
    pub input_layernorm: RmsNorm,
    /// RMSNorm before the MLP.
    pub post_attention_layernorm: RmsNorm,
}

impl DecoderLayer {
    /// One pre-norm layer: `x + attn(norm(x))`, then `x + mlp(norm(x))`.
    ///
    /// # Shapes
    ///
    /// - x: `[batch, len, D]`
    /// - cos, sin: `[1 or batch, 1, len, head_dim]`
    /// - output: `[batch, len, D]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        cos: &Tensor<4>,
        sin: &Tensor<4>,
        mask: Option<Tensor<4, Bool>>,
        cache: Option<&mut LayerKv>,
    ) -> Tensor<3> {
        let h = self.self_attn.forward(
            self.input_layernorm.forward(x.clone()),
            cos,
            sin,
            mask,
            cache,
        );
        let x = x + h;
        let h = self
            .mlp
            .forward(self.post_attention_layernorm.forward(x.clone()));
        x + h
    }
}

/// Embeddings, decoder layers and the final norm (HF `Qwen2Model`).
#[derive(Module, Debug)]
pub struct Qwen2Model {
    /// Token embeddings `[V, D]`.
    pub embed_tokens: Embedding,
    /// Decoder layers.
    pub layers: Vec<DecoderLayer>,
    /// Final RMSNorm.
    pub norm: RmsNorm,
    /// RoPE settings (no weights).
    #[module(skip)]
    pub rotary: RotaryEmbedding,
}

impl Qwen2Model {
    /// Run the decoder on input embeddings; positions continue after the cache's.
    ///
    /// Without a padding mask the position ids are `cached..cached + len` for every row. With
    /// one they are [positions_from_padding] (transformers' `generate`: `cumsum(mask) - 1`), so
    /// a left-padded row gets the same positions as the unpadded prompt alone; right padding
    /// and an all-ones mask give `cached..cached + len` for the real tokens as before. Reading
    /// the mask takes it to the host (`[batch, cached + len]` booleans).
    ///
    /// # Shapes
    ///
    /// - embeds: `[batch, len, D]`
    /// - padding_mask: `[batch, cached + len]`, `true` = padding (masked out as a key)
    /// - output: `[batch, len, D]` (after the final norm)
    ///
    /// # Panics
    ///
    /// Panics if the cache was made for another number of layers.
    pub fn forward(
        &self,
        embeds: Tensor<3>,
        padding_mask: Option<Tensor<2, Bool>>,
        mut cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let [b, l, _] = embeds.dims();
        let start = cache.as_ref().map_or(0, |c| c.len());
        if let Some(c) = &cache {
            assert_eq!(
                c.num_layers(),
                self.layers.len(),
                "cache made for another model"
            );
        }
        let device = embeds.device();
        let (cos, sin) = match &padding_mask {
            Some(m) => {
                let t = m.dims()[1];
                let pad: Vec<bool> = m
                    .clone()
                    .int()
                    .into_data()
                    .iter::<i64>()
                    .map(|v| v != 0)
                    .collect();
                let positions = positions_from_padding(&pad, b, t, l);
                self.rotary.cos_sin_at(&positions, b, l, &device) // [b, 1, l, hd]
            }
            None => {
                let (cos, sin) = self.rotary.cos_sin(start, l, &device); // [l, hd]
                (cos.unsqueeze::<4>(), sin.unsqueeze::<4>())
            }
        };
        let heads = self
            .layers
            .first()
            .map_or(1, |layer| layer.self_attn.num_heads);
        let mask = padding_mask.map(|m| {
            let t = m.dims()[1];
            m.reshape([b, 1, 1, t]).expand([b, heads, l, t]) // [b, h, l, t]
        });
        let mut x = embeds;
        for (i, layer) in self.layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| c.layer_mut(i));
            x = layer.forward(x, &cos, &sin, mask.clone(), layer_cache);
        }
        self.norm.forward(x)
    }
}

/// The decoder with its LM head (HF `Qwen2ForCausalLM`, `LlamaForCausalLM`).
#[derive(Module, Debug)]
pub struct Qwen2ForCausalLm {
    /// The decoder.
    pub model: Qwen2Model,
    /// The LM head `[D, V]`; `None` when tied to `model.embed_tokens`.
    pub lm_head: Option<Linear>,
    /// Inference only: a contiguous `[D, V]` copy of the tied embedding matrix, made by
    /// [Qwen2ForCausalLm::untie_for_inference]. Not a parameter: never saved, loaded or
    /// trained, and not kept in sync with `model.embed_tokens` (call
    /// [Qwen2ForCausalLm::retie] before training or changing the embeddings).
    #[module(skip)]
    pub inference_head: Option<Tensor<2>>,
}

impl Qwen2ForCausalLm {
    /// Token embeddings.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, len]`
    /// - output: `[batch, len, D]`
    pub fn embed(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        self.model.embed_tokens.forward(input_ids)
    }

    /// Logits for the next token at every position.
    ///
    /// # Shapes
    ///
    /// - embeds: `[batch, len, D]`
    /// - padding_mask: `[batch, cached + len]`, `true` = padding
    /// - output: `[batch, len, V]`
    pub fn forward_embeds(
        &self,
        embeds: Tensor<3>,
        padding_mask: Option<Tensor<2, Bool>>,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let hidden = self.model.forward(embeds, padding_mask, cache);
        self.head(hidden)
    }

    /// Logits for the next token at the last position only (what generation needs: the head
    /// runs on one position instead of all of them).
    ///
    /// # Shapes
    ///
    /// - embeds: `[batch, len, D]`
    /// - padding_mask: `[batch, cached + len]`, `true` = padding
    /// - output: `[batch, 1, V]`
    pub fn forward_embeds_last(
        &self,
        embeds: Tensor<3>,
        padding_mask: Option<Tensor<2, Bool>>,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let hidden = self.model.forward(embeds, padding_mask, cache); // [b, l, D]
        let l = hidden.dims()[1];
        self.head(hidden.narrow(1, l - 1, 1))
    }

    /// Text-only forward from token ids.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, len]`
    /// - output: `[batch, len, V]`
    pub fn forward(&self, input_ids: Tensor<2, Int>, cache: Option<&mut KvCache>) -> Tensor<3> {
        self.forward_embeds(self.embed(input_ids), None, cache)
    }

    /// The LM head (or the tied embedding matrix).
    ///
    /// # Shapes
    ///
    /// - hidden: `[batch, len, D]`
    /// - output: `[batch, len, V]`
    pub fn head(&self, hidden: Tensor<3>) -> Tensor<3> {
        if let Some(head) = &self.lm_head {
            return linear::forward(head, hidden);
        }
        let embed = self.model.embed_tokens.weight.val(); // [V, D]
        match &self.inference_head {
            // The dims check catches an embedding resized after the copy was made.
            Some(w) if w.dims() == [embed.dims()[1], embed.dims()[0]] => {
                linear::linear(hidden, w.clone(), None)
            }
            _ => linear::linear(hidden, embed.transpose(), None),
        }
    }

    /// For inference: with a tied head, keep a contiguous `[D, V]` copy of the embedding
    /// matrix ([Qwen2ForCausalLm::inference_head], `+V×D` floats) so the head multiplies a
    /// contiguous matrix instead of a transposed view (on the CPU backend ~10× faster: SmolLM2
    /// 240 ms vs 25 ms per token). Same logits; the parameters, their names and what is saved
    /// or loaded do not change, and gradients still flow through the embedding when the copy
    /// is absent. Does nothing when the model has its own `lm_head`.
    pub fn untie_for_inference(&mut self) {
        if self.lm_head.is_some() {
            return;
        }
        let embed = self.model.embed_tokens.weight.val(); // [V, D]
        let device = embed.device();
        self.inference_head = Some(Tensor::<2>::from_data(
            embed.transpose().into_data(),
            &device,
        )); // [D, V]
    }

    /// Drop the copy made by [Qwen2ForCausalLm::untie_for_inference] (before training or
    /// changing the embeddings): the head reads the embedding matrix again.
    pub fn retie(&mut self) {
        self.inference_head = None;
    }

    /// A fresh, empty cache for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.model.layers.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    fn tiny() -> Qwen2Config {
        Qwen2Config::new(50, 16, 24, 2, 4, 2)
            .with_rope_theta(1e6)
            .with_rope_scaling(RopeScaling::Dynamic { factor: 2.0 })
            .with_max_position_embeddings(6)
    }

    #[test]
    fn dynamic_ntk_only_past_max_positions() {
        let rope = tiny().rotary();
        let plain = RotaryEmbedding {
            scaling: RopeScaling::None,
            ..rope.clone()
        };
        assert_eq!(rope.inv_freq(6), plain.inv_freq(6));
        let scaled = rope.inv_freq(9);
        assert_eq!(scaled[0], 1.0);
        assert!(scaled[1] < plain.inv_freq(9)[1]);
    }

    #[test]
    fn cache_matches_full_forward_and_tied_head() {
        let device = Device::default();
        device.seed(0);
        let lm = tiny().with_tie_word_embeddings(true).init(&device);
        assert!(lm.lm_head.is_none());
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(vec![3i64, 7, 1, 9, 4, 2, 8, 5], [1, 8]),
            &device,
        );
        let full = lm.forward(ids.clone(), None); // [1, 8, V]
        let mut cache = lm.new_cache();
        let mut parts = vec![lm.forward(ids.clone().narrow(1, 0, 5), Some(&mut cache))];
        for i in 5..8 {
            parts.push(lm.forward(ids.clone().narrow(1, i, 1), Some(&mut cache)));
        }
        assert_eq!(cache.len(), 8);
        // The 5-token prefill is below max_position_embeddings = 6: no scaling either way.
        let cached = Tensor::cat(parts, 1);
        cached
            .clone()
            .narrow(1, 0, 5)
            .into_data()
            .assert_approx_eq::<f32>(
                &lm.forward(ids.narrow(1, 0, 5), None).into_data(),
                Tolerance::absolute(1e-5),
            );
        // Past max_position_embeddings = 6 dynamic NTK changes the frequencies, and cached keys
        // keep the old ones, exactly as in transformers: the two paths differ there.
        let diff = (cached.narrow(1, 7, 1) - full.narrow(1, 7, 1))
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(
            diff > 1e-4,
            "dynamic NTK should differ between cache and full forward: {diff}"
        );
    }

    #[test]
    fn cache_matches_full_forward_without_scaling() {
        let device = Device::default();
        device.seed(1);
        let lm = tiny().with_rope_scaling(RopeScaling::None).init(&device);
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(vec![3i64, 7, 1, 9, 4, 2, 8, 5], [1, 8]),
            &device,
        );
        let full = lm.forward(ids.clone(), None);
        let mut cache = lm.new_cache();
        let mut parts = vec![lm.forward(ids.clone().narrow(1, 0, 3), Some(&mut cache))];
        for i in 3..8 {
            parts.push(lm.forward(ids.clone().narrow(1, i, 1), Some(&mut cache)));
        }
        Tensor::cat(parts, 1)
            .into_data()
            .assert_approx_eq::<f32>(&full.into_data(), Tolerance::absolute(1e-5));
    }

    #[test]
    fn positions_follow_the_padding_mask() {
        // Row 0 left-padded by two, row 1 unpadded, row 2 right-padded.
        let pad = [
            true, true, false, false, false, //
            false, false, false, false, false, //
            false, false, false, true, true,
        ];
        assert_eq!(
            positions_from_padding(&pad, 3, 5, 5),
            [1, 1, 0, 1, 2, 0, 1, 2, 3, 4, 0, 1, 2, 1, 1]
        );
        assert_eq!(positions_from_padding(&pad, 3, 5, 1), [2, 4, 1]);
    }

    /// A left-padded row gives the logits of the same prompt alone, full and cached.
    #[test]
    fn left_padding_matches_the_unpadded_prompt() {
        let device = Device::default();
        device.seed(2);
        let lm = tiny()
            .with_max_position_embeddings(64)
            .with_tie_word_embeddings(true)
            .init(&device);
        let prompt = [3i64, 7, 1, 9, 4];
        let alone = lm.forward(
            Tensor::from_data(TensorData::new(prompt.to_vec(), [1, 5]), &device),
            None,
        ); // [1, 5, V]
        let mut ids = vec![0i64, 0, 0];
        ids.extend(prompt);
        ids.extend([5i64, 2, 8, 6, 1, 2, 3, 4]);
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [2, 8]), &device);
        let mask = Tensor::<2, Int>::from_data(
            TensorData::new(
                vec![1i64, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                [2, 8],
            ),
            &device,
        )
        .equal_elem(1);
        let padded = lm.forward_embeds(lm.embed(ids.clone()), Some(mask.clone()), None);
        padded
            .clone()
            .narrow(0, 0, 1)
            .narrow(1, 3, 5)
            .into_data()
            .assert_approx_eq::<f32>(&alone.clone().into_data(), Tolerance::absolute(1e-5));
        // Cached: prefill 6 columns, then one at a time.
        let mut cache = lm.new_cache();
        let mut parts = vec![lm.forward_embeds(
            lm.embed(ids.clone().narrow(1, 0, 6)),
            Some(mask.clone().narrow(1, 0, 6)),
            Some(&mut cache),
        )];
        for i in 6..8 {
            parts.push(lm.forward_embeds(
                lm.embed(ids.clone().narrow(1, i, 1)),
                Some(mask.clone().narrow(1, 0, i + 1)),
                Some(&mut cache),
            ));
        }
        Tensor::cat(parts, 1)
            .narrow(1, 3, 5)
            .into_data()
            .assert_approx_eq::<f32>(
                &padded.narrow(1, 3, 5).into_data(),
                Tolerance::absolute(1e-5),
            );
    }

    #[test]
    fn inference_head_gives_the_same_logits_and_is_not_saved() {
        let device = Device::default();
        device.seed(3);
        let mut lm = tiny().with_tie_word_embeddings(true).init(&device);
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, 7, 1, 9], [1, 4]), &device);
        let tied = lm.forward(ids.clone(), None);
        let params = lm.num_params();
        lm.untie_for_inference();
        assert_eq!(lm.inference_head.as_ref().unwrap().dims(), [16, 50]);
        assert!(lm.lm_head.is_none());
        assert_eq!(lm.num_params(), params, "not a parameter");
        let fast = lm.forward(ids.clone(), None);
        // A contiguous and a transposed matrix are summed in different orders by the matrix
        // product: a few ulps on logits up to ~16.
        fast.into_data()
            .assert_approx_eq::<f32>(&tied.clone().into_data(), Tolerance::absolute(1e-5));
        lm.retie();
        assert!(lm.inference_head.is_none());
        lm.forward(ids, None)
            .into_data()
            .assert_approx_eq::<f32>(&tied.into_data(), Tolerance::absolute(0.0));
    }

    #[test]
    fn inference_head_decodes_one_token_like_the_tied_head() {
        // 64 × 32771: big enough that one-row decoding takes the one-row kernel.
        let device = Device::default();
        device.seed(5);
        let mut lm = Qwen2Config::new(32771, 64, 32, 1, 4, 2)
            .with_tie_word_embeddings(true)
            .init(&device);
        let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, 32770], [1, 2]), &device);
        let decode = |lm: &Qwen2ForCausalLm| {
            let mut cache = lm.new_cache();
            lm.forward(ids.clone().narrow(1, 0, 1), Some(&mut cache));
            lm.forward(ids.clone().narrow(1, 1, 1), Some(&mut cache)) // [1, 1, V]
        };
        let tied = decode(&lm);
        lm.untie_for_inference();
        assert_eq!(lm.inference_head.as_ref().unwrap().dims(), [64, 32771]);
        assert!(linear::uses_vec_kernel(1, 64, 32771));
        let fast = decode(&lm);
        assert_eq!(fast.dims(), [1, 1, 32771]);
        fast.into_data()
            .assert_approx_eq::<f32>(&tied.into_data(), Tolerance::rel_abs(1e-5, 1e-5));
    }
}

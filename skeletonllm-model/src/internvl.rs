//! InternVL: vision tower -> pixel shuffle + MLP projector -> image features scattered over the
//! `<IMG_CONTEXT>` token embeddings -> Llama-family decoder (HF `InternVLForConditionalGeneration`).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Bool, DType, Device, Int, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::lm::cache::KvCache;
use crate::lm::qwen2::{Qwen2Config, Qwen2ForCausalLm};
use crate::precision::to_dtype;
use crate::vision::intern_vit::{InternVit, InternVitConfig};
use crate::vision::projector::{MultiModalProjector, MultiModalProjectorConfig};

/// Configuration to create an [InternVl] with [InternVlConfig::init].
///
/// Usually built from a checkpoint's `config.json` by
/// [`CheckpointConfig::to_internvl`](crate::load::config::CheckpointConfig::to_internvl).
#[derive(Config, Debug)]
pub struct InternVlConfig {
    /// The vision tower.
    pub vision: InternVitConfig,
    /// Pixel shuffle + MLP projector.
    pub projector: MultiModalProjectorConfig,
    /// The language model.
    pub text: Qwen2Config,
    /// Id of `<IMG_CONTEXT>`, the placeholder that image features replace.
    #[config(default = 151667)]
    pub image_token_id: usize,
    /// Vision layer feeding the projector, Python-style (-1 = the last layer's output).
    #[config(default = -1)]
    pub vision_feature_layer: i64,
}

/// The InternVL model.
///
/// Should be created with [InternVlConfig] (random weights) or loaded with
/// [`load_pretrained`](crate::load::load_pretrained). Field names are the HF-native checkpoint
/// prefixes.
#[derive(Module, Debug)]
pub struct InternVl {
    /// InternViT.
    pub vision_tower: InternVit,
    /// Pixel shuffle + MLP.
    pub multi_modal_projector: MultiModalProjector,
    /// The decoder with its head.
    pub language_model: Qwen2ForCausalLm,
    /// Id of `<IMG_CONTEXT>`.
    pub image_token_id: usize,
    /// Number of vision layers run before the projector (from `vision_feature_layer`).
    pub vision_layers_used: usize,
}

impl InternVlConfig {
    /// Number of vision encoder layers whose output feeds the projector.
    pub fn vision_layers_used(&self) -> usize {
        let n = self.vision.num_hidden_layers as i64;
        let k = self.vision_feature_layer;
        (if k < 0 { n + 1 + k } else { k }).clamp(0, n) as usize
    }

    /// Image tokens per image at the pretraining size: `(grid / factor)^2` (256 for 448 px).
    pub fn tokens_per_image(&self) -> usize {
        let side = self.vision.grid_size() / self.projector.shuffle_factor;
        side * side
    }

    /// A tiny model for tests and CPU experiments: a 2-layer ViT (32 wide) on 56 px images
    /// (4 image tokens) and a 2-layer decoder (64 wide, 4 heads, 2 KV heads).
    pub fn tiny(vocab_size: usize, image_token_id: usize) -> Self {
        let vision = InternVitConfig::new(32, 2, 2, 64).with_image_size(56);
        let projector = MultiModalProjectorConfig::new(32, 64);
        let text =
            Qwen2Config::new(vocab_size, 64, 128, 2, 4, 2).with_max_position_embeddings(4096);
        Self::new(vision, projector, text).with_image_token_id(image_token_id)
    }

    /// Parameter counts of the model this config builds, per part, without building it (an
    /// InternVL3-8B does not fit in a laptop's memory in f32): what the memory estimates of
    /// [`ParamCounts`] start from.
    pub fn param_counts(&self) -> ParamCounts {
        let v = &self.vision;
        let c = v.hidden_size;
        let grid = v.image_size / v.patch_size;
        let qkv_bias = if v.qkv_bias { 3 * c } else { 0 };
        let vit_layer = 2 * c // layernorm_before
            + 3 * c * c + qkv_bias // q, k, v
            + c * c + c // projection
            + 2 * c // layernorm_after
            + c * v.intermediate_size + v.intermediate_size // fc1
            + v.intermediate_size * c + c // fc2
            + 2 * c; // lambda_1, lambda_2
        let vision = c // cls token
            + (1 + grid * grid) * c // position embeddings
            + v.num_channels * v.patch_size * v.patch_size * c + c // patch conv
            + v.num_hidden_layers * vit_layer;
        let p = &self.projector;
        let merged = p.vision_hidden_size * p.shuffle_factor * p.shuffle_factor;
        let d_text = p.text_hidden_size;
        let projector = 2 * merged + merged * d_text + d_text + d_text * d_text + d_text;
        let t = &self.text;
        let (d, hd) = (t.hidden_size, t.head_dim());
        let (q, kv) = (t.num_attention_heads * hd, t.num_key_value_heads * hd);
        let attn_bias = if t.attention_bias { q + 2 * kv } else { 0 };
        let mlp_bias = if t.mlp_bias {
            2 * t.intermediate_size + d
        } else {
            0
        };
        let lm_layer = 2 * d // input and post-attention norms
            + d * q + 2 * d * kv + attn_bias // q, k, v
            + q * d // o (no bias)
            + 3 * d * t.intermediate_size + mlp_bias; // gate, up, down
        let embed = t.vocab_size * d;
        let head = if t.tie_word_embeddings { 0 } else { embed };
        let language = embed + t.num_hidden_layers * lm_layer + d + head;
        let lora_rank_one = t.num_hidden_layers
            * ((d + q)
                + 2 * (d + kv)
                + (q + d)
                + 2 * (d + t.intermediate_size)
                + (t.intermediate_size + d));
        ParamCounts {
            vision,
            projector,
            language,
            lora_per_rank: lora_rank_one,
        }
    }

    /// Initialize a new [InternVl] with random weights.
    pub fn init(&self, device: &Device) -> InternVl {
        InternVl {
            vision_tower: self.vision.init(device),
            multi_modal_projector: self.projector.init(device),
            language_model: self.text.init(device),
            image_token_id: self.image_token_id,
            vision_layers_used: self.vision_layers_used(),
        }
    }
}

/// Parameter counts of an [InternVlConfig] ([`InternVlConfig::param_counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamCounts {
    /// The vision tower (InternViT).
    pub vision: usize,
    /// The MLP projector.
    pub projector: usize,
    /// The language model, embeddings and head included.
    pub language: usize,
    /// LoRA parameters per unit of rank on the seven decoder projections of every layer
    /// (`q/k/v/o/gate/up/down_proj`: `rank × (in + out)` each); multiply by the rank.
    pub lora_per_rank: usize,
}

impl ParamCounts {
    /// Every base parameter.
    pub fn total(&self) -> usize {
        self.vision + self.projector + self.language
    }
}

/// Inputs of [InternVl::forward]: token ids plus optional mask and images.
#[derive(Debug, Clone)]
pub struct InternVlInput {
    /// Token ids, `[batch, len]`.
    pub input_ids: Tensor<2, Int>,
    /// HF attention mask, `[batch, cached + len]`, 1 = attend, 0 = padding.
    pub attention_mask: Option<Tensor<2, Int>>,
    /// Images, `[images, channels, height, width]`, one per `<img>` block in order.
    pub pixel_values: Option<Tensor<4>>,
    /// First position whose logits are computed (0 = all); training on an answer only needs the
    /// logits from the position before it, which saves most of the LM head's work.
    pub logits_from: usize,
}

impl InternVlInput {
    /// Text-only input.
    pub fn new(input_ids: Tensor<2, Int>) -> Self {
        Self {
            input_ids,
            attention_mask: None,
            pixel_values: None,
            logits_from: 0,
        }
    }

    /// Logits only from position `first` on (`output.logits` is `[batch, len - first, V]`).
    pub fn logits_from(mut self, first: usize) -> Self {
        self.logits_from = first;
        self
    }

    /// With an HF attention mask (1 = attend).
    pub fn attention_mask(mut self, mask: Tensor<2, Int>) -> Self {
        self.attention_mask = Some(mask);
        self
    }

    /// With images.
    pub fn pixel_values(mut self, pixel_values: Tensor<4>) -> Self {
        self.pixel_values = Some(pixel_values);
        self
    }
}

/// Image features and the vision states they came from.
#[derive(Debug, Clone)]
pub struct ImageFeatures {
    /// Projected image tokens, `[images, tokens, D]`.
    pub features: Tensor<3>,
    /// Vision states that fed the projector (the last hidden state for
    /// `vision_feature_layer = -1`), `[images, 1 + patches, C]`.
    pub vision_last_hidden_state: Tensor<3>,
}

/// Outputs of [InternVl::forward].
#[derive(Debug, Clone)]
pub struct InternVlOutput {
    /// Next-token logits, `[batch, len, V]`.
    pub logits: Tensor<3>,
    /// Present when images were given.
    pub image: Option<ImageFeatures>,
}

impl InternVl {
    /// The ViT's pretraining image side in pixels (position-table grid × patch size): the
    /// size skeleton frames are rendered at.
    pub fn config_image_size(&self) -> usize {
        let [_, rows, _] = self.vision_tower.embeddings.position_embeddings.dims();
        let grid = ((rows.saturating_sub(1)) as f64).sqrt().round() as usize;
        let patch = self
            .vision_tower
            .embeddings
            .patch_embeddings
            .projection
            .weight
            .dims()[2];
        grid * patch
    }

    /// Image tokens per image at [InternVl::config_image_size]: `(grid / factor)^2` (256 for
    /// 448 px).
    pub fn tokens_per_image(&self) -> usize {
        let [_, rows, _] = self.vision_tower.embeddings.position_embeddings.dims();
        let grid = ((rows.saturating_sub(1)) as f64).sqrt().round() as usize;
        let side = grid / self.multi_modal_projector.shuffle_factor;
        side * side
    }

    /// Vision tower + projector.
    ///
    /// # Shapes
    ///
    /// - pixel_values: `[images, channels, height, width]`
    /// - features: `[images, (height/p/factor) * (width/p/factor), D]`
    /// - vision_last_hidden_state: `[images, 1 + (height/p) * (width/p), C]`
    ///
    /// # Panics
    ///
    /// Panics if the patch grid is not square or not a multiple of the shuffle factor.
    pub fn get_image_features(&self, pixel_values: Tensor<4>) -> ImageFeatures {
        // Each part runs in its own parameters' dtype (see `precision`).
        let vit_dtype = self
            .vision_tower
            .embeddings
            .position_embeddings
            .base()
            .dtype();
        let projector_dtype = self.multi_modal_projector.layer_norm.gamma.base().dtype();
        let states = self
            .vision_tower
            .forward_layers(to_dtype(pixel_values, vit_dtype), self.vision_layers_used);
        let states = to_dtype(states, projector_dtype);
        ImageFeatures {
            features: self.multi_modal_projector.forward(states.clone()),
            vision_last_hidden_state: states,
        }
    }

    /// Token embeddings with image features scattered over the `<IMG_CONTEXT>` positions, in order
    /// (HF `masked_scatter`). Gradients reach both the embeddings and the features.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, len]`
    /// - features: `[images, tokens, D]`
    /// - output: `[batch, len, D]`
    ///
    /// # Errors
    ///
    /// [`Error::ImageTokenMismatch`] when the number of `<IMG_CONTEXT>` tokens is not
    /// `images * tokens`.
    pub fn embed_with_images(
        &self,
        input_ids: Tensor<2, Int>,
        features: Option<Tensor<3>>,
    ) -> Result<Tensor<3>> {
        let ids: Vec<i64> = input_ids.to_data().iter::<i64>().collect();
        let embeds = self.language_model.embed(input_ids); // [b, l, D]
        let image_id = self.image_token_id as i64;
        let positions: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == image_id).collect();
        let Some(features) = features else {
            return match positions.len() {
                0 => Ok(embeds),
                tokens => Err(Error::ImageTokenMismatch {
                    tokens,
                    features: 0,
                }),
            };
        };
        let features = to_dtype(features, embeds.dtype());
        let [n, t, d] = features.dims();
        if positions.len() != n * t {
            return Err(Error::ImageTokenMismatch {
                tokens: positions.len(),
                features: n * t,
            });
        }
        let [b, l, _] = embeds.dims();
        // Gather from [text embeddings; image features]: row i is itself, or feature k.
        let mut index: Vec<i64> = (0..(b * l) as i64).collect();
        for (k, &p) in positions.iter().enumerate() {
            index[p] = (b * l + k) as i64;
        }
        let device = embeds.device();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [b * l]), &device);
        let table = Tensor::cat(
            vec![embeds.reshape([b * l, d]), features.reshape([n * t, d])],
            0,
        );
        Ok(table.select(0, index).reshape([b, l, d]))
    }

    /// Check user-supplied inputs against the model so that [InternVl::forward] and
    /// [`generate`](crate::generation::generate::generate) cannot panic on them: `input_ids` is
    /// `[batch >= 1, len >= 1]` with every id in `0..vocab_size`, `attention_mask` (if any) has
    /// the same shape, `pixel_values` (if any) is `[images >= 1, channels, side, side]` with the
    /// model's channel count and a patch grid divisible by the shuffle factor, and the number of
    /// `<IMG_CONTEXT>` tokens is `images * tokens_per_image`.
    ///
    /// # Errors
    ///
    /// [`Error::BadInput`] (with an empty path) naming the tensor, or
    /// [`Error::ImageTokenMismatch`].
    pub fn check_input(&self, input: &InternVlInput) -> Result<()> {
        let bad = |name: &str, msg: String| Error::BadInput {
            path: Default::default(),
            name: name.into(),
            msg,
        };
        let [batch, len] = input.input_ids.dims();
        if batch == 0 || len == 0 {
            return Err(bad("input_ids", format!("empty: shape [{batch}, {len}]")));
        }
        let vocab = self.language_model.model.embed_tokens.weight.dims()[0];
        let ids: Vec<i64> = input.input_ids.to_data().iter::<i64>().collect();
        if let Some(&id) = ids.iter().find(|&&id| id < 0 || id as usize >= vocab) {
            return Err(bad(
                "input_ids",
                format!("token id {id} outside the vocabulary 0..{vocab}"),
            ));
        }
        if let Some(mask) = &input.attention_mask
            && mask.dims() != [batch, len]
        {
            return Err(bad(
                "attention_mask",
                format!(
                    "shape {:?} differs from input_ids [{batch}, {len}]",
                    mask.dims()
                ),
            ));
        }
        let image_id = self.image_token_id as i64;
        let tokens = ids.iter().filter(|&&id| id == image_id).count();
        let Some(pixels) = &input.pixel_values else {
            return match tokens {
                0 => Ok(()),
                tokens => Err(Error::ImageTokenMismatch {
                    tokens,
                    features: 0,
                }),
            };
        };
        let [n, c, h, w] = pixels.dims();
        let embeddings = &self.vision_tower.embeddings;
        let channels = embeddings.patch_embeddings.projection.weight.dims()[1];
        let p = embeddings.patch_size;
        let factor = self.multi_modal_projector.shuffle_factor;
        let (gh, gw) = (h / p, w / p);
        if n == 0 || c != channels || gh != gw || gh == 0 || gh % factor != 0 {
            return Err(bad(
                "pixel_values",
                format!(
                    "shape [{n}, {c}, {h}, {w}]: expected [images >= 1, {channels}, side, side] \
                     with side / {p} a positive multiple of {factor}"
                ),
            ));
        }
        let features = n * (gh / factor) * (gw / factor);
        if tokens != features {
            return Err(Error::ImageTokenMismatch { tokens, features });
        }
        Ok(())
    }

    /// Full forward without a cache.
    ///
    /// # Shapes
    ///
    /// - input.input_ids: `[batch, len]`
    /// - input.pixel_values: `[images, channels, height, width]`
    /// - output.logits: `[batch, len, V]`
    ///
    /// # Errors
    ///
    /// [`Error::ImageTokenMismatch`] as in [InternVl::embed_with_images].
    pub fn forward(&self, input: InternVlInput) -> Result<InternVlOutput> {
        self.forward_inner(input, None)
    }

    /// Forward that appends to (and attends over) `cache`; positions continue after it.
    ///
    /// # Shapes
    ///
    /// As [InternVl::forward]; `attention_mask`, if any, covers `cached + len` positions.
    ///
    /// # Errors
    ///
    /// [`Error::ImageTokenMismatch`] as in [InternVl::embed_with_images].
    pub fn forward_cached(
        &self,
        input: InternVlInput,
        cache: &mut KvCache,
    ) -> Result<InternVlOutput> {
        self.forward_inner(input, Some(cache))
    }

    fn forward_inner(
        &self,
        input: InternVlInput,
        cache: Option<&mut KvCache>,
    ) -> Result<InternVlOutput> {
        let image = input.pixel_values.map(|p| self.get_image_features(p));
        let embeds =
            self.embed_with_images(input.input_ids, image.as_ref().map(|i| i.features.clone()))?;
        let lm = &self.language_model;
        let hidden = lm
            .model
            .forward(embeds, input.attention_mask.map(padding_mask), cache);
        let len = hidden.dims()[1];
        let first = input.logits_from.min(len.saturating_sub(1));
        let logits = to_dtype(
            lm.head(if first > 0 {
                hidden.narrow(1, first, len - first)
            } else {
                hidden
            }),
            DType::F32,
        );
        Ok(InternVlOutput { logits, image })
    }
}

/// HF attention mask (1 = attend) to a padding mask (`true` = padding).
pub fn padding_mask(attention_mask: Tensor<2, Int>) -> Tensor<2, Bool> {
    attention_mask.equal_elem(0)
}

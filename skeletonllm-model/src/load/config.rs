//! `config.json` as written by transformers and by OpenGVLab, and its conversion to Burn configs.
//!
//! The serde structs copy the JSON keys (unknown keys are ignored); [`CheckpointConfig::to_internvl`]
//! is the one place where they become an [`InternVlConfig`]. Both RoPE styles are accepted:
//! `rope_theta` + `rope_scaling {type|rope_type, factor}` (transformers 4, OpenGVLab) and
//! `rope_parameters {rope_type, rope_theta, factor}` (transformers 5).

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::internvl::InternVlConfig;
use crate::lm::qwen2::{Qwen2Config, RopeScaling};
use crate::vision::intern_vit::InternVitConfig;
use crate::vision::projector::MultiModalProjectorConfig;

/// `<IMG_CONTEXT>` in the real InternVL3 vocabulary, used when a config does not say.
pub const DEFAULT_IMAGE_TOKEN_ID: usize = 151667;

/// A parsed `config.json` of either checkpoint layout.
#[derive(Debug, Clone)]
pub enum CheckpointConfig {
    /// transformers' `InternVLForConditionalGeneration` (`text_config` + `vision_config`).
    Hf(HfInternVlConfig),
    /// OpenGVLab's `InternVLChatModel` (`llm_config` + `vision_config`).
    Original(OrigInternVlConfig),
}

/// transformers' `InternVLConfig`.
#[derive(Debug, Clone, Deserialize)]
pub struct HfInternVlConfig {
    /// The vision tower.
    pub vision_config: HfVisionConfig,
    /// The language model.
    pub text_config: TextConfig,
    /// Id of `<IMG_CONTEXT>`.
    #[serde(default = "default_image_token_id")]
    pub image_token_id: usize,
    /// Pixel shuffle ratio (0.5).
    #[serde(default = "default_downsample_ratio")]
    pub downsample_ratio: f64,
    /// Projector activation (`gelu`, exact).
    #[serde(default = "default_gelu")]
    pub projector_hidden_act: String,
    /// Which vision layer feeds the projector (-1 = last).
    #[serde(default = "default_feature_layer")]
    pub vision_feature_layer: IntOrList,
    /// `default` drops the CLS token.
    #[serde(default = "default_select_strategy")]
    pub vision_feature_select_strategy: String,
}

/// transformers' `InternVLVisionConfig`.
#[derive(Debug, Clone, Deserialize)]
pub struct HfVisionConfig {
    /// Width.
    pub hidden_size: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Heads.
    pub num_attention_heads: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Bias on q/k/v.
    #[serde(default)]
    pub attention_bias: bool,
    /// RMSNorm on q/k (InternViT-6B); unsupported here.
    #[serde(default)]
    pub use_qk_norm: bool,
    /// MLP activation.
    #[serde(default = "default_gelu")]
    pub hidden_act: String,
    /// `layer_norm` (supported) or `rms_norm`.
    #[serde(default = "default_layer_norm")]
    pub norm_type: String,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps6")]
    pub layer_norm_eps: f64,
    /// Pretraining image size.
    #[serde(default = "default_image_size")]
    pub image_size: SizeOrPair,
    /// Patch size.
    #[serde(default = "default_patch_size")]
    pub patch_size: SizeOrPair,
    /// Input channels.
    #[serde(default = "default_channels")]
    pub num_channels: usize,
    /// `true` = no final LayerNorm (InternVL).
    #[serde(default = "default_true")]
    pub use_mean_pooling: bool,
    /// Absolute position embeddings (always on in InternVL).
    #[serde(default = "default_true")]
    pub use_absolute_position_embeddings: bool,
}

/// OpenGVLab's `InternVLChatConfig`.
#[derive(Debug, Clone, Deserialize)]
pub struct OrigInternVlConfig {
    /// The vision tower.
    pub vision_config: OrigVisionConfig,
    /// The language model.
    pub llm_config: TextConfig,
    /// Pixel shuffle ratio (0.5).
    #[serde(default = "default_downsample_ratio")]
    pub downsample_ratio: f64,
    /// Pixel shuffle version; only `v2` (every InternVL2.5/3 model) is implemented.
    #[serde(default = "default_ps_version")]
    pub ps_version: String,
    /// Which vision layer feeds the projector (-1 = last).
    #[serde(default = "default_select_layer")]
    pub select_layer: i64,
    /// Chat template name (`internvl2_5` for InternVL3).
    #[serde(default)]
    pub template: Option<String>,
    /// `<IMG_CONTEXT>` id. Not an OpenGVLab key (their code takes it from the tokenizer); the
    /// loader fills it from `added_tokens.json` when absent.
    #[serde(default)]
    pub img_context_token_id: Option<usize>,
}

/// OpenGVLab's `InternVisionConfig`.
#[derive(Debug, Clone, Deserialize)]
pub struct OrigVisionConfig {
    /// Width.
    pub hidden_size: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Heads.
    pub num_attention_heads: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Bias on the fused qkv.
    #[serde(default)]
    pub qkv_bias: bool,
    /// RMSNorm on q/k (InternViT-6B); unsupported here.
    #[serde(default)]
    pub qk_normalization: bool,
    /// `layer_norm` (InternViT-300M) or `rms_norm` (the class default, InternViT-6B).
    #[serde(default = "default_rms_norm")]
    pub norm_type: String,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps6")]
    pub layer_norm_eps: f64,
    /// Pretraining image size.
    #[serde(default = "default_orig_image_size")]
    pub image_size: usize,
    /// Patch size.
    #[serde(default = "default_patch")]
    pub patch_size: usize,
    /// Input channels.
    #[serde(default = "default_channels")]
    pub num_channels: usize,
    /// MLP activation.
    #[serde(default = "default_gelu")]
    pub hidden_act: String,
}

/// A Llama-family `config.json` (Qwen2, Llama, SmolLM2): `text_config` / `llm_config`.
#[derive(Debug, Clone, Deserialize)]
pub struct TextConfig {
    /// `qwen2`, `llama`, ...
    #[serde(default)]
    pub model_type: Option<String>,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (defaults to the query heads).
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Head width (defaults to `hidden_size / num_attention_heads`).
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// MLP activation; only `silu` is implemented.
    #[serde(default = "default_silu")]
    pub hidden_act: String,
    /// Pretraining context.
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon.
    #[serde(default = "default_eps6")]
    pub rms_norm_eps: f64,
    /// RoPE base (transformers 4 style).
    #[serde(default)]
    pub rope_theta: Option<f64>,
    /// RoPE scaling (transformers 4 style).
    #[serde(default)]
    pub rope_scaling: Option<RopeParameters>,
    /// RoPE base and scaling (transformers 5 style).
    #[serde(default)]
    pub rope_parameters: Option<RopeParameters>,
    /// Head tied to the embeddings.
    #[serde(default)]
    pub tie_word_embeddings: Option<bool>,
    /// Bias on q/k/v (Llama key; Qwen2 always has it).
    #[serde(default)]
    pub attention_bias: Option<bool>,
    /// Bias on the MLP (Llama key).
    #[serde(default)]
    pub mlp_bias: Option<bool>,
    /// Qwen2 sliding-window attention; unsupported when true.
    #[serde(default)]
    pub use_sliding_window: Option<bool>,
    /// End-of-sequence id(s) (one or a list).
    #[serde(default)]
    pub eos_token_id: Option<IntOrList>,
}

/// `rope_scaling` or `rope_parameters`.
#[derive(Debug, Clone, Deserialize)]
pub struct RopeParameters {
    /// `default`, `linear`, `dynamic`, ...
    #[serde(default)]
    pub rope_type: Option<String>,
    /// Older spelling of `rope_type`.
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// Scaling factor.
    #[serde(default)]
    pub factor: Option<f64>,
    /// RoPE base (transformers 5 puts it here).
    #[serde(default)]
    pub rope_theta: Option<f64>,
}

/// An int or a `[h, w]` pair (HF writes sizes both ways).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum SizeOrPair {
    /// A square size.
    One(usize),
    /// `[height, width]`.
    Pair([usize; 2]),
}

/// An int or a list of ints (HF `vision_feature_layer`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IntOrList {
    /// One layer.
    One(i64),
    /// Several layers (concatenated in HF); unsupported here.
    List(Vec<i64>),
}

/// `generation_config.json`: the generation defaults a checkpoint ships (transformers reads
/// them in `generate`). Only the keys this port uses; all optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GenerationConfig {
    /// Sample (`true`) or decode greedily (`false`, transformers' default).
    #[serde(default)]
    pub do_sample: Option<bool>,
    /// Nucleus mass.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Softmax temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// transformers' repetition penalty.
    #[serde(default)]
    pub repetition_penalty: Option<f32>,
    /// Stop id(s).
    #[serde(default)]
    pub eos_token_id: Option<IntOrList>,
}

impl GenerationConfig {
    /// `dir/generation_config.json`, or the defaults when the file is absent.
    ///
    /// # Errors
    ///
    /// [`Error::Io`]/[`Error::Json`] for a present but unreadable or malformed file.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("generation_config.json");
        if !path.is_file() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| Error::Json { path, source })
    }
}

impl IntOrList {
    /// The value(s) as a list.
    pub fn to_vec(&self) -> Vec<i64> {
        match self {
            IntOrList::One(v) => vec![*v],
            IntOrList::List(v) => v.clone(),
        }
    }
}

fn default_image_token_id() -> usize {
    DEFAULT_IMAGE_TOKEN_ID
}
fn default_downsample_ratio() -> f64 {
    0.5
}
fn default_gelu() -> String {
    "gelu".into()
}
fn default_silu() -> String {
    "silu".into()
}
fn default_feature_layer() -> IntOrList {
    IntOrList::One(-1)
}
fn default_select_layer() -> i64 {
    -1
}
fn default_select_strategy() -> String {
    "default".into()
}
fn default_layer_norm() -> String {
    "layer_norm".into()
}
fn default_rms_norm() -> String {
    "rms_norm".into()
}
fn default_ps_version() -> String {
    "v1".into()
}
fn default_eps6() -> f64 {
    1e-6
}
fn default_image_size() -> SizeOrPair {
    SizeOrPair::One(448)
}
fn default_orig_image_size() -> usize {
    224
}
fn default_patch_size() -> SizeOrPair {
    SizeOrPair::One(14)
}
fn default_patch() -> usize {
    14
}
fn default_channels() -> usize {
    3
}
fn default_true() -> bool {
    true
}
fn default_max_positions() -> usize {
    32768
}

impl SizeOrPair {
    /// The side of a square size.
    fn square(self, key: &str, path: &Path) -> Result<usize> {
        match self {
            SizeOrPair::One(s) => Ok(s),
            SizeOrPair::Pair([h, w]) if h == w => Ok(h),
            SizeOrPair::Pair([h, w]) => Err(config_error(
                path,
                format!("{key} {h}x{w}: only square sizes are implemented"),
            )),
        }
    }
}

fn config_error(path: &Path, msg: String) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        msg,
    }
}

impl CheckpointConfig {
    /// Parse a `config.json`, telling the layouts apart by `llm_config` (original) vs
    /// `text_config` (HF-native).
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Json`], or [`Error::Config`] when neither key is present.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text, path)
    }

    /// Parse `config.json` text (`path` is only used in messages).
    ///
    /// # Errors
    ///
    /// As [`CheckpointConfig::from_json_file`].
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        let json_error = |source| Error::Json {
            path: path.to_path_buf(),
            source,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(json_error)?;
        if value.get("llm_config").is_some() {
            Ok(Self::Original(
                serde_json::from_value(value).map_err(json_error)?,
            ))
        } else if value.get("text_config").is_some() {
            Ok(Self::Hf(serde_json::from_value(value).map_err(json_error)?))
        } else {
            Err(config_error(
                path,
                "neither `text_config` (HF InternVL) nor `llm_config` (OpenGVLab InternVL) found"
                    .into(),
            ))
        }
    }

    /// The language model part.
    pub fn text(&self) -> &TextConfig {
        match self {
            Self::Hf(c) => &c.text_config,
            Self::Original(c) => &c.llm_config,
        }
    }

    /// Convert to the Burn config; `path` names the file in errors.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the key of any option this port does not implement.
    pub fn to_internvl(&self, path: &Path) -> Result<InternVlConfig> {
        let err = |msg: String| config_error(path, msg);
        let (vision, ratio, feature_layer, image_token_id, act) = match self {
            Self::Hf(c) => {
                let v = &c.vision_config;
                if v.use_qk_norm {
                    return Err(err(
                        "vision_config.use_qk_norm = true is not implemented".into()
                    ));
                }
                if v.norm_type != "layer_norm" {
                    return Err(err(format!(
                        "vision_config.norm_type `{}`: only layer_norm is implemented",
                        v.norm_type
                    )));
                }
                if !v.use_mean_pooling || !v.use_absolute_position_embeddings {
                    return Err(err(
                        "vision_config: use_mean_pooling and use_absolute_position_embeddings \
                         must be true (InternVL)"
                            .into(),
                    ));
                }
                if v.hidden_act != "gelu" {
                    return Err(err(format!(
                        "vision_config.hidden_act `{}`: only gelu is implemented",
                        v.hidden_act
                    )));
                }
                if c.vision_feature_select_strategy != "default" {
                    return Err(err(format!(
                        "vision_feature_select_strategy `{}`: only default is implemented",
                        c.vision_feature_select_strategy
                    )));
                }
                let layer = match &c.vision_feature_layer {
                    IntOrList::One(l) => *l,
                    IntOrList::List(_) => {
                        return Err(err(
                            "vision_feature_layer as a list is not implemented".into()
                        ));
                    }
                };
                let vision = InternVitConfig::new(
                    v.hidden_size,
                    v.num_hidden_layers,
                    v.num_attention_heads,
                    v.intermediate_size,
                )
                .with_image_size(v.image_size.square("vision_config.image_size", path)?)
                .with_patch_size(v.patch_size.square("vision_config.patch_size", path)?)
                .with_num_channels(v.num_channels)
                .with_qkv_bias(v.attention_bias)
                .with_layer_norm_eps(v.layer_norm_eps);
                let act = c.projector_hidden_act.as_str();
                (vision, c.downsample_ratio, layer, c.image_token_id, act)
            }
            Self::Original(c) => {
                let v = &c.vision_config;
                if v.qk_normalization {
                    return Err(err(
                        "vision_config.qk_normalization = true is not implemented".into(),
                    ));
                }
                if v.norm_type != "layer_norm" {
                    return Err(err(format!(
                        "vision_config.norm_type `{}`: only layer_norm is implemented",
                        v.norm_type
                    )));
                }
                if v.hidden_act != "gelu" {
                    return Err(err(format!(
                        "vision_config.hidden_act `{}`: only gelu is implemented",
                        v.hidden_act
                    )));
                }
                if c.ps_version != "v2" {
                    return Err(err(format!(
                        "ps_version `{}`: only v2 is implemented",
                        c.ps_version
                    )));
                }
                let vision = InternVitConfig::new(
                    v.hidden_size,
                    v.num_hidden_layers,
                    v.num_attention_heads,
                    v.intermediate_size,
                )
                .with_image_size(v.image_size)
                .with_patch_size(v.patch_size)
                .with_num_channels(v.num_channels)
                .with_qkv_bias(v.qkv_bias)
                .with_layer_norm_eps(v.layer_norm_eps);
                let id = c.img_context_token_id.unwrap_or(DEFAULT_IMAGE_TOKEN_ID);
                (vision, c.downsample_ratio, c.select_layer, id, "gelu")
            }
        };
        if act != "gelu" {
            return Err(err(format!(
                "projector_hidden_act `{act}`: only gelu is implemented"
            )));
        }
        let factor = (1.0 / ratio).round() as usize;
        if factor == 0 || ((1.0 / factor as f64) - ratio).abs() > 1e-9 {
            return Err(err(format!(
                "downsample_ratio {ratio}: must be 1/k for an integer k"
            )));
        }
        let layers = vision.num_hidden_layers as i64;
        if !(-(layers + 1)..=layers).contains(&feature_layer) {
            return Err(err(format!(
                "vision feature layer {feature_layer} out of range for {layers} layers"
            )));
        }
        let text = self.text().to_qwen2(path)?;
        let projector = MultiModalProjectorConfig::new(vision.hidden_size, text.hidden_size)
            .with_shuffle_factor(factor);
        Ok(InternVlConfig::new(vision, projector, text)
            .with_image_token_id(image_token_id)
            .with_vision_feature_layer(feature_layer))
    }
}

impl TextConfig {
    /// The RoPE base and scaling, from either config style.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a RoPE type other than default, linear or dynamic, or a missing factor.
    pub fn rope(&self, path: &Path) -> Result<(f64, RopeScaling)> {
        let params = self.rope_parameters.as_ref().or(self.rope_scaling.as_ref());
        let theta = params
            .and_then(|p| p.rope_theta)
            .or(self.rope_theta)
            .unwrap_or(10000.0);
        let Some(p) = params else {
            return Ok((theta, RopeScaling::None));
        };
        let kind = p
            .rope_type
            .as_deref()
            .or(p.type_.as_deref())
            .unwrap_or("default");
        let factor = || {
            p.factor
                .ok_or_else(|| config_error(path, format!("rope type `{kind}` without a factor")))
        };
        let scaling = match kind {
            "default" => RopeScaling::None,
            "linear" => RopeScaling::Linear { factor: factor()? },
            "dynamic" => RopeScaling::Dynamic { factor: factor()? },
            other => {
                return Err(config_error(
                    path,
                    format!("rope type `{other}` is not implemented (default, linear, dynamic)"),
                ));
            }
        };
        Ok((theta, scaling))
    }

    /// Convert to the Burn decoder config.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an activation other than silu, sliding windows, or bad RoPE settings.
    pub fn to_qwen2(&self, path: &Path) -> Result<Qwen2Config> {
        if self.hidden_act != "silu" {
            return Err(config_error(
                path,
                format!("hidden_act `{}`: only silu is implemented", self.hidden_act),
            ));
        }
        if self.use_sliding_window == Some(true) {
            return Err(config_error(
                path,
                "use_sliding_window = true is not implemented".into(),
            ));
        }
        let (theta, scaling) = self.rope(path)?;
        let qwen = matches!(self.model_type.as_deref(), Some("qwen2"));
        Ok(Qwen2Config::new(
            self.vocab_size,
            self.hidden_size,
            self.intermediate_size,
            self.num_hidden_layers,
            self.num_attention_heads,
            self.num_key_value_heads.unwrap_or(self.num_attention_heads),
        )
        .with_head_dim(self.head_dim)
        .with_rms_norm_eps(self.rms_norm_eps)
        .with_rope_theta(theta)
        .with_rope_scaling(scaling)
        .with_max_position_embeddings(self.max_position_embeddings)
        .with_attention_bias(self.attention_bias.unwrap_or(qwen))
        .with_mlp_bias(self.mlp_bias.unwrap_or(false))
        .with_tie_word_embeddings(self.tie_word_embeddings.unwrap_or(false)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#""vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
        "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1"#;

    fn text(extra: &str) -> TextConfig {
        serde_json::from_str(&format!("{{ {TEXT} {extra} }}")).unwrap()
    }

    #[test]
    fn both_rope_styles() {
        let p = Path::new("config.json");
        let old = text(
            r#", "model_type": "qwen2", "rope_theta": 1000000.0,
            "rope_scaling": {"factor": 2.0, "rope_type": "dynamic", "type": "dynamic"}"#,
        );
        let new = text(
            r#", "model_type": "qwen2",
            "rope_parameters": {"factor": 2.0, "rope_theta": 1000000.0, "rope_type": "dynamic"}"#,
        );
        for c in [old, new] {
            let q = c.to_qwen2(p).unwrap();
            assert_eq!(q.rope_theta, 1e6);
            assert_eq!(q.rope_scaling, RopeScaling::Dynamic { factor: 2.0 });
            assert!(q.attention_bias);
        }
        let llama = text(r#", "model_type": "llama", "rope_theta": 100000.0"#);
        let q = llama.to_qwen2(p).unwrap();
        assert_eq!(q.rope_scaling, RopeScaling::None);
        assert!(!q.attention_bias);
        let yarn = text(r#", "rope_scaling": {"type": "yarn", "factor": 4.0}"#);
        let e = yarn.to_qwen2(p).unwrap_err().to_string();
        assert!(e.contains("yarn") && e.contains("config.json"), "{e}");
    }

    #[test]
    fn layout_detection() {
        let p = Path::new("c.json");
        let e = CheckpointConfig::from_json_str("{}", p).unwrap_err();
        assert!(matches!(e, Error::Config { .. }));
        let e = CheckpointConfig::from_json_str("{", p).unwrap_err();
        assert!(matches!(e, Error::Json { .. }));
    }
}

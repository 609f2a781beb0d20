//! LoRA on the language model's projections, on top of Burn 0.22's built-in reparameterization.
//!
//! Burn 0.22 attaches adapters to parameters instead of swapping layers: a weight `W` `[in, out]`
//! keeps its type (`Linear` stays `Linear`) and its value becomes `W + scale · (A·B)` each time it
//! is read, with `A` `[in, r]` and `B` `[r, out]` trainable parameters of their own (visited by
//! optimizers, records and autodiff like any other). Burn's own [`burn::module::Lora`] has no
//! dropout, so this module attaches its own [`LoraWeight`] (same layout plus input dropout) through
//! the same mechanism ([`burn::module::Module::apply_reparameterization`]).
//!
//! - [`apply_lora`]: freeze every base parameter, attach adapters to the decoder's
//!   `q/k/v/o/gate/up/down_proj` weights (configurable in [`LoraConfig`]); `A` is Kaiming-uniform
//!   (PEFT's default, bound `1/√in`), `B` zeros, so a fresh model computes exactly the base logits.
//! - [`merge_lora`]: fold `scale · A·B` into the base weights; returns a plain model.
//! - [`crate::save_adapters`] / [`crate::load_adapters`] (in [`crate::load::adapters`]): the adapters alone as safetensors with PEFT names,
//!   `language_model.model.layers.{i}.self_attn.q_proj.lora_A.weight` `[r, in]` and
//!   `….lora_B.weight` `[out, r]`; problems are named in [`LoraError::Adapters`].
//!
//! Dropout: the weight-level form cannot drop each token's input independently; instead one
//! inverted-dropout mask over the `in` features (`A`'s rows) is drawn per forward, i.e.
//! `dropout(x)·A` with the mask shared by the tokens of that forward. It is active only while the
//! factors are tracked by autodiff (training); [`burn::module::Module::valid`] (and
//! [`merge_lora`]) turn it off.
//!
//! ```text
//! let model = apply_lora(load_pretrained(dir, &device.autodiff())?, &LoraConfig::default());
//! // … train (the projector can be unfrozen with `unfreeze_group`) …
//! save_adapters(&model, "adapters.safetensors".as_ref())?;
//! let merged = merge_lora(model); // plain InternVl, adapters folded in
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use burn::module::{Module, Param, Reparameterization, Reparameterizer};
use burn::tensor::{Distribution, Tensor, TensorData};

use crate::error::Error;
use crate::internvl::InternVl;

/// The projections adapted by default (the SkeletonLLM authors' choice): attention and MLP.
pub const DEFAULT_TARGET_MODULES: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// LoRA hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// Rank `r` of the factors.
    pub rank: usize,
    /// `α`: the update is scaled by `α / r`.
    pub alpha: f64,
    /// Dropout probability on the adapter's input (see the module docs for its form).
    pub dropout: f64,
    /// Module names (last path component before `.weight`) inside `language_model` to adapt.
    pub target_modules: Vec<String>,
}

impl Default for LoraConfig {
    /// The authors' recipe: r 32, α 64, dropout 0.05, on q/k/v/o and gate/up/down.
    fn default() -> Self {
        Self::new(32, 64.0).with_dropout(0.05)
    }
}

impl LoraConfig {
    /// Rank and α, no dropout, the [`DEFAULT_TARGET_MODULES`].
    pub fn new(rank: usize, alpha: f64) -> Self {
        Self {
            rank,
            alpha,
            dropout: 0.0,
            target_modules: DEFAULT_TARGET_MODULES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// Set the dropout probability (`0 ≤ p < 1`).
    pub fn with_dropout(mut self, dropout: f64) -> Self {
        self.dropout = dropout;
        self
    }

    /// Set the adapted module names.
    pub fn with_target_modules<S: Into<String>>(
        mut self,
        modules: impl IntoIterator<Item = S>,
    ) -> Self {
        self.target_modules = modules.into_iter().map(Into::into).collect();
        self
    }

    /// `α / r`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    /// The PEFT-style prefix (`language_model.….q_proj`) of a Burn parameter path if this config
    /// adapts it, else `None`.
    pub fn target_prefix(&self, param_path: &str) -> Option<String> {
        let prefix = param_path.strip_suffix(".weight")?;
        if !prefix.starts_with("language_model.") {
            return None;
        }
        let module = prefix.rsplit('.').next()?;
        self.target_modules
            .iter()
            .any(|t| t == module)
            .then(|| prefix.to_string())
    }
}

/// One weight's adapter: the effective weight is `base + scale · (dropout(A)·B)`.
#[derive(Debug, Module)]
pub struct LoraWeight {
    /// Down projection, Burn layout `[in, r]` (PEFT's `lora_A.weight` transposed).
    pub a: Param<Tensor<2>>,
    /// Up projection, Burn layout `[r, out]` (PEFT's `lora_B.weight` transposed).
    pub b: Param<Tensor<2>>,
    /// `α / r`.
    pub scale: f64,
    /// Dropout probability on the `in` features, applied only while `A` is tracked by autodiff.
    pub dropout: f64,
}

impl LoraWeight {
    /// `scale · (A·B)` `[in, out]`, without dropout.
    pub fn delta(&self) -> Tensor<2> {
        self.a.val().matmul(self.b.val()).mul_scalar(self.scale)
    }
}

impl Reparameterization for LoraWeight {
    const NAME: &'static str = "lora";

    fn apply<const D: usize>(&self, base: Tensor<D>) -> Tensor<D> {
        let mut a = self.a.val();
        if self.dropout > 0.0 && a.is_autodiff() {
            let keep = 1.0 - self.dropout;
            let [d_in, _] = a.dims();
            let mask = Tensor::<2>::random([d_in, 1], Distribution::Bernoulli(keep), &a.device())
                .div_scalar(keep);
            a = a * mask;
        }
        let delta = a
            .matmul(self.b.val())
            .mul_scalar(self.scale)
            .reshape(base.shape());
        let delta = if delta.dtype() != base.dtype() {
            delta.cast(base.dtype())
        } else {
            delta
        };
        base + delta
    }
}

/// Why adapters could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoraError {
    /// The file could not be read or written.
    #[error(transparent)]
    File(#[from] Error),
    /// The adapter file does not fit the model and config: every problem is named (PEFT names).
    #[error(
        "{}: adapters do not match the model: {} missing {:?}, {} unexpected {:?}, {} mis-shaped {:?}",
        path.display(), missing.len(), missing, unexpected.len(), unexpected,
        mismatched.len(), mismatched
    )]
    Adapters {
        /// The adapter file.
        path: PathBuf,
        /// Tensors the model and config need that the file lacks.
        missing: Vec<String>,
        /// Tensors in the file that no adapted weight takes.
        unexpected: Vec<String>,
        /// Tensors with the wrong shape, with expected and found shapes.
        mismatched: Vec<String>,
    },
    /// The model carries no adapters, so there is nothing to save.
    #[error("the model has no LoRA adapters")]
    NoAdapters,
}

/// Attaches adapters (new ones, or ones read from a file) while freezing every base parameter.
pub(crate) struct Attach<'a> {
    config: &'a LoraConfig,
    source: Option<&'a BTreeMap<String, TensorData>>,
    /// Names of the `source` tensors that were attached.
    pub(crate) used: BTreeSet<String>,
    /// Names the model and config need that `source` lacks.
    pub(crate) missing: Vec<String>,
    /// `source` tensors of the wrong shape, with expected and found shapes.
    pub(crate) mismatched: Vec<String>,
}

impl<'a> Attach<'a> {
    /// Fresh adapters (`source` `None`) or adapters read from `source` (PEFT names).
    pub(crate) fn new(
        config: &'a LoraConfig,
        source: Option<&'a BTreeMap<String, TensorData>>,
    ) -> Self {
        Self {
            config,
            source,
            used: BTreeSet::new(),
            missing: Vec::new(),
            mismatched: Vec::new(),
        }
    }

    fn tensor(&mut self, name: String, shape: [usize; 2]) -> Option<TensorData> {
        let source = self.source?;
        match source.get(&name) {
            None => {
                self.missing.push(name);
                None
            }
            Some(data) => {
                self.used.insert(name.clone());
                if data.shape().as_slice() == shape {
                    Some(data.clone())
                } else {
                    self.mismatched.push(format!(
                        "{name}: expected {shape:?}, found {:?}",
                        data.shape().as_slice()
                    ));
                    None
                }
            }
        }
    }
}

impl Reparameterizer for Attach<'_> {
    type Reparam = LoraWeight;

    fn reparameterize<const D: usize>(
        &mut self,
        path: &str,
        param: Param<Tensor<D>>,
    ) -> (Param<Tensor<D>>, Option<LoraWeight>) {
        let param = param.set_require_grad(false);
        if D != 2 {
            return (param, None);
        }
        let Some(prefix) = self.config.target_prefix(path) else {
            return (param, None);
        };
        let base = param.base();
        let (device, dims) = (base.device(), base.dims());
        let (d_in, d_out, r) = (dims[0], dims[1], self.config.rank);
        let (a, b) = if self.source.is_some() {
            let a = self.tensor(format!("{prefix}.lora_A.weight"), [r, d_in]);
            let b = self.tensor(format!("{prefix}.lora_B.weight"), [d_out, r]);
            let (Some(a), Some(b)) = (a, b) else {
                return (param, None);
            };
            (
                Tensor::<2>::from_data(a, &device).transpose(),
                Tensor::<2>::from_data(b, &device).transpose(),
            )
        } else {
            let bound = 1.0 / (d_in as f64).sqrt();
            (
                Tensor::<2>::random([d_in, r], Distribution::Uniform(-bound, bound), &device),
                Tensor::<2>::zeros([r, d_out], &device),
            )
        };
        let adapter = LoraWeight {
            a: Param::from_tensor(a),
            b: Param::from_tensor(b),
            scale: self.config.scale(),
            dropout: self.config.dropout,
        };
        (param, Some(adapter))
    }
}

impl Reparameterizer for &mut Attach<'_> {
    type Reparam = LoraWeight;

    fn reparameterize<const D: usize>(
        &mut self,
        path: &str,
        param: Param<Tensor<D>>,
    ) -> (Param<Tensor<D>>, Option<LoraWeight>) {
        (**self).reparameterize(path, param)
    }
}

/// Freezes every base parameter of `model` and attaches fresh adapters (`B = 0`) to the targeted
/// `language_model` projections. Unfreeze other parts (e.g. the projector) afterwards with
/// [`Module::unfreeze_group`] if they should train too.
///
/// # Panics
/// If `config.rank` is 0.
pub fn apply_lora(model: InternVl, config: &LoraConfig) -> InternVl {
    assert!(config.rank > 0, "LoRA rank must be positive");
    model.apply_reparameterization(Attach::new(config, None))
}

/// The adapters attached to `model`, keyed by PEFT-style prefix
/// (`language_model.model.layers.{i}.self_attn.q_proj`), in layer order.
pub fn adapters(model: &InternVl) -> Vec<(String, &LoraWeight)> {
    let mut out = Vec::new();
    for (i, layer) in model.language_model.model.layers.iter().enumerate() {
        let attn = &layer.self_attn;
        let mlp = &layer.mlp;
        let weights = [
            ("self_attn.q_proj", &attn.q_proj.weight),
            ("self_attn.k_proj", &attn.k_proj.weight),
            ("self_attn.v_proj", &attn.v_proj.weight),
            ("self_attn.o_proj", &attn.o_proj.weight),
            ("mlp.gate_proj", &mlp.gate_proj.weight),
            ("mlp.up_proj", &mlp.up_proj.weight),
            ("mlp.down_proj", &mlp.down_proj.weight),
        ];
        for (name, weight) in weights {
            if let Some(adapter) = weight.reparameterization::<LoraWeight>() {
                out.push((format!("language_model.model.layers.{i}.{name}"), adapter));
            }
        }
    }
    out
}

/// Folds every adapter into its base weight (`W + scale·A·B`, no dropout) and returns a plain
/// model without adapters, on the inner (non-autodiff) device, base parameters still frozen.
pub fn merge_lora(model: InternVl) -> InternVl {
    model.valid().materialize()
}

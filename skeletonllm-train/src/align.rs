//! Embedding-alignment warm-up for a vision tower trained from scratch under a frozen,
//! pretrained language model: every image token of a clip is pulled toward the LM's own input
//! embedding of the clip's label (mean of the label's token embeddings), by a softmax over the
//! labels' cosine similarities plus a term matching the token's norm to the embeddings'.
//!
//! The LM never runs (its embeddings are constants), so a step costs a render and a ViT forward
//! and backward: thousands of steps fit in minutes on a CPU, where the language-model loss
//! reaches the ViT only through the frozen decoder and learns it slowly. Afterwards the image
//! tokens already "read" as their label to the LM, and the usual answer-token training
//! ([`crate::train::train`]) teaches it to use them in the prompts.

use std::sync::Arc;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use draction::Skeleton;
use draction::prep::Sampler as FrameSampler;
use draction::render::Rasterizer;
use skeletonllm_model::{InternVlTokenizer, LoraConfig, SkeletonLlm};

use crate::data::rng::SplitMix64;
use crate::error::{Result, TrainError};
use crate::train::{Stage, prepare_for_stage};

/// Settings of [`align`].
#[derive(Debug, Clone, PartialEq)]
pub struct AlignConfig {
    /// Optimizer steps.
    pub steps: usize,
    /// Clips per step.
    pub batch_size: usize,
    /// AdamW learning rate (constant).
    pub lr: f64,
    /// Frames rendered per clip (random ones each time).
    pub frames: usize,
    /// Softmax temperature of the cosine similarities.
    pub temperature: f64,
    /// Weight of the norm-matching term.
    pub norm_weight: f64,
    /// Seed of the clip order and frame draws.
    pub seed: u64,
    /// Train DrAction too (off by default: under this loss its Gaussians can collapse).
    pub train_renderer: bool,
    /// Steps per window of the running token accuracy; the model of the best window is
    /// returned.
    pub window: usize,
}

impl Default for AlignConfig {
    fn default() -> Self {
        Self {
            steps: 600,
            batch_size: 8,
            lr: 1e-3,
            frames: 6,
            temperature: 0.1,
            norm_weight: 0.1,
            seed: 7,
            train_renderer: false,
            window: 50,
        }
    }
}

/// The LM's input embedding of each label (mean over its tokens), `[labels, D]`, detached.
///
/// # Errors
/// [`TrainError::Config`] for a label that encodes to no tokens; tokenizer errors.
pub fn label_embeddings<S: AsRef<str>>(
    model: &SkeletonLlm,
    tokenizer: &InternVlTokenizer,
    labels: &[S],
) -> Result<Tensor<2>> {
    let embed = model
        .internvl
        .language_model
        .model
        .embed_tokens
        .weight
        .val()
        .detach();
    let device = embed.device();
    let mut rows = Vec::with_capacity(labels.len());
    for label in labels {
        let ids: Vec<i64> = tokenizer
            .encode(label.as_ref())?
            .into_iter()
            .map(i64::from)
            .collect();
        if ids.is_empty() {
            return Err(TrainError::Config(format!(
                "label {:?} has no tokens",
                label.as_ref()
            )));
        }
        let n = ids.len();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), &device);
        rows.push(embed.clone().select(0, idx).mean_dim(0)); // [1, D]
    }
    Ok(Tensor::cat(rows, 0))
}

/// Rows of `x` scaled to unit length, and their lengths `[n, 1]`.
fn unit_rows(x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let norms = x.clone().powi_scalar(2).sum_dim(1).sqrt();
    (x / norms.clone().add_scalar(1e-6), norms)
}

/// The loss of one clip's image tokens `[tokens, D]` against the unit-length label embeddings
/// `targets` `[labels, D]`, and how many tokens point closest to `label`.
fn token_loss(
    tokens: Tensor<2>,
    targets: &Tensor<2>,
    label: usize,
    target_norm: f64,
    config: &AlignConfig,
) -> (Tensor<1>, usize) {
    let [n, _] = tokens.dims();
    let (unit, norms) = unit_rows(tokens);
    let cosines = unit.matmul(targets.clone().transpose()); // [n, L]
    let nearest: Vec<i64> = cosines
        .clone()
        .detach()
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .collect();
    let hits = nearest.iter().filter(|&&b| b == label as i64).count();
    let lp = log_softmax(cosines / config.temperature, 1);
    let device = lp.device();
    let target =
        Tensor::<2, Int>::from_data(TensorData::new(vec![label as i64; n], [n, 1]), &device);
    let ce = lp.gather(1, target).mean().neg();
    let norm_term = (norms / target_norm).sub_scalar(1.0).powi_scalar(2).mean();
    (ce + norm_term * config.norm_weight, hits)
}

/// Trains the vision tower and the projector of `model` (and DrAction with
/// [`AlignConfig::train_renderer`]; the LM stays frozen) so that the image tokens of each clip
/// align with its label's embedding ([`label_embeddings`]). Returns the model at the end of
/// the window (of [`AlignConfig::window`] steps) with the best token accuracy.
/// `clips` pairs skeletons with label indices; `on_step(step, loss, accuracy)` reports the
/// batch mean loss and the share of tokens whose nearest label is right. `device` must be an
/// autodiff device and the model must live on it.
///
/// # Errors
/// [`TrainError::Config`] for no clips or a label index out of range; rendering errors naming
/// the clip.
pub fn align(
    model: SkeletonLlm,
    clips: &[(Arc<Skeleton>, usize)],
    targets: Tensor<2>,
    config: &AlignConfig,
    device: &Device,
    mut on_step: impl FnMut(usize, f32, f32),
) -> Result<SkeletonLlm> {
    let [num_labels, _] = targets.dims();
    if clips.is_empty() || config.batch_size == 0 {
        return Err(TrainError::Config(
            "alignment needs clips and a batch".into(),
        ));
    }
    if let Some((_, bad)) = clips.iter().find(|(_, l)| *l >= num_labels) {
        return Err(TrainError::Config(format!(
            "label index {bad} but only {num_labels} labels"
        )));
    }
    // Constants: a fresh leaf, whatever graph the caller's tensor came from.
    let targets = Tensor::<2>::from_data(targets.into_data(), device);
    // Renderer, ViT and projector train; the LM is frozen.
    let mut model = prepare_for_stage(model, Stage::Warmup, &LoraConfig::new(1, 1.0), false, true);
    model.renderer = model.renderer.set_require_grad(config.train_renderer);
    let mut best: Option<(f32, SkeletonLlm)> = None;
    let mut window = (0usize, 0usize);
    let (targets, target_norms) = unit_rows(targets);
    let target_norm = target_norms.mean().into_scalar::<f32>() as f64;
    let mut optimizer: ModuleOptimizer = AdamWConfig::new().with_weight_decay(0.0).init();
    let mut rng = SplitMix64::new(config.seed);
    let mut order: Vec<usize> = (0..clips.len()).collect();
    let mut cursor = order.len();
    for step in 1..=config.steps {
        let mut loss_sum = 0.0f32;
        let mut correct = 0usize;
        let mut total = 0usize;
        let mut accumulator = GradientsAccumulator::<SkeletonLlm>::new();
        for _ in 0..config.batch_size {
            if cursor == order.len() {
                rng.shuffle(&mut order);
                cursor = 0;
            }
            let (skel, label) = &clips[order[cursor]];
            cursor += 1;
            let sampler = FrameSampler::Random {
                seed: rng.next_u64(),
            };
            let clip = model.clip(skel, config.frames, sampler).map_err(|e| {
                TrainError::skeleton(format!("alignment clip {}", order[cursor - 1]), e)
            })?;
            let features = model
                .image_features(&clip, Rasterizer::Fast, device)
                .features; // [F, T, D]
            let [f, t, d] = features.dims();
            let tokens = features.reshape([f * t, d]);
            let (loss, hits) = token_loss(tokens, &targets, *label, target_norm, config);
            correct += hits;
            total += t * f;
            loss_sum += loss.clone().into_scalar::<f32>();
            let grads = (loss / config.batch_size as f64).backward();
            accumulator.accumulate(&model, GradientsParams::from_grads(grads, &model));
        }
        if !loss_sum.is_finite() {
            return Err(TrainError::Sample(format!(
                "alignment step {step}: the loss is {loss_sum}"
            )));
        }
        model = optimizer.step(config.lr, model, accumulator.grads());
        window.0 += correct;
        window.1 += total;
        if step.is_multiple_of(config.window.max(1)) || step == config.steps {
            let acc = window.0 as f32 / window.1.max(1) as f32;
            if best.as_ref().is_none_or(|(b, _)| acc > *b) {
                best = Some((acc, model.clone()));
            }
            window = (0, 0);
        }
        on_step(
            step,
            loss_sum / config.batch_size as f32,
            correct as f32 / total.max(1) as f32,
        );
    }
    Ok(best.map_or(model, |(_, m)| m))
}

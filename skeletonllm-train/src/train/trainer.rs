//! The training loop: one stage over a list of samples, AdamW with a cosine schedule and
//! warm-up, gradient accumulation, optional logit distillation and margin losses, atomic
//! checkpoints and exact resumption.
//!
//! Exactness of `resume`: the data order of an epoch is a permutation drawn from
//! `(seed, epoch)`, each sample's frames from `(seed, epoch, sample)`, and the device's RNG (LoRA
//! dropout) is re-seeded from `(seed, step, micro-step)`; the checkpoint stores the trainable
//! parameters with their ids, the optimizer state and the position, so a resumed run performs
//! the same updates as an uninterrupted one.

use std::path::PathBuf;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use draction::prep::Sampler as FrameSampler;
use draction::render::{Clip, Rasterizer};
use skeletonllm_model::{InternVlTokenizer, LoraConfig, SkeletonLlm};

use crate::error::{Result, TrainError};
use crate::train::checkpoint::{self, TrainState};
use crate::train::sample::Sample;
use crate::train::schedule::CosineWarmup;
use crate::train::stage::{Stage, prepare_for_stage};
use crate::train::step;

/// Settings of one training stage (the authors' values as defaults).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainConfig {
    /// The stage (what trains).
    pub stage: Stage,
    /// Passes over the samples.
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Fraction of the optimizer steps spent warming up.
    pub warmup_ratio: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Samples per optimizer step (gradients accumulated over them).
    pub batch_size: usize,
    /// Seed of data order, frame sampling and dropout.
    pub seed: u64,
    /// Write a checkpoint every this many optimizer steps (0 = only at the end).
    pub checkpoint_every: usize,
    /// Stop after this many optimizer steps in total (None = all epochs).
    pub max_steps: Option<usize>,
    /// LoRA settings, for stages that attach adapters.
    #[serde(skip)]
    pub lora: LoraConfig,
    /// Weight of the first-answer-token margin loss (0 = off); needs samples with `contrast`.
    pub margin_weight: f64,
    /// The margin, in log-probability.
    pub margin: f64,
    /// Logit distillation: weight λ of the KL term (CE gets 1 - λ); 0 = off.
    pub distill_weight: f64,
    /// Distillation temperature τ.
    pub distill_temperature: f64,
    /// Rasteriser used while training.
    #[serde(skip)]
    pub raster: Rasterizer,
    /// Draw each sample's frames at random per epoch (else the middle of each segment).
    pub random_frames: bool,
    /// Train every InternVL parameter too (models whose ViT and LM were not pretrained; the
    /// authors' recipe keeps them frozen).
    pub from_scratch: bool,
    /// Train the vision tower too (one trained from scratch under a pretrained language model).
    pub train_vision: bool,
}

impl TrainConfig {
    /// The authors' hyper-parameters for `stage`: AdamW lr 2e-5, 3 % warm-up, weight decay
    /// 0.05, LoRA r 32 / α 64 / dropout 0.05, one epoch (three for stage 4).
    pub fn authors(stage: Stage) -> Self {
        Self {
            stage,
            epochs: if stage == Stage::Refine { 3 } else { 1 },
            lr: 2e-5,
            warmup_ratio: 0.03,
            weight_decay: 0.05,
            batch_size: 1,
            seed: 42,
            checkpoint_every: 100,
            max_steps: None,
            lora: LoraConfig::new(32, 64.0).with_dropout(0.05),
            margin_weight: 0.0,
            margin: 1.0,
            distill_weight: 0.0,
            distill_temperature: 2.0,
            raster: Rasterizer::Fast,
            random_frames: true,
            from_scratch: false,
            train_vision: false,
        }
    }
}

/// What one optimizer step did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepLog {
    /// Optimizer step (1-based, over the whole run).
    pub step: usize,
    /// Of this many.
    pub total_steps: usize,
    /// Epoch (0-based).
    pub epoch: usize,
    /// Mean loss over the step's samples.
    pub loss: f32,
    /// Learning rate used.
    pub lr: f64,
    /// Wall time of the step in seconds.
    pub seconds: f64,
}

/// The outcome of [train].
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainReport {
    /// Loss of every optimizer step of the run (resumed steps included).
    pub losses: Vec<f32>,
    /// Optimizer steps done.
    pub steps: usize,
    /// Whether the run continued from a checkpoint.
    pub resumed: bool,
}

fn mix(a: u64, b: u64) -> u64 {
    // splitmix64 of a combination: independent streams per (seed, epoch, index).
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The order of the samples in `epoch`: a Fisher–Yates permutation from `(seed, epoch)`.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = mix(seed, epoch as u64);
    for i in (1..n).rev() {
        state = mix(state, i as u64);
        let j = (state % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Trains `model` on `samples` for `config.stage`, checkpointing into `run_dir`; with `resume`
/// it continues from the checkpoint there. `teacher` (same tokenizer) is needed for logit
/// distillation. `on_step` sees every optimizer step.
///
/// `device` must be an autodiff device and the model must live on it.
///
/// # Errors
/// [`TrainError::Config`] for an empty sample list or a zero batch; errors of skeletons,
/// encoding and checkpoints, naming their files.
#[allow(clippy::too_many_arguments)]
pub fn train(
    model: SkeletonLlm,
    samples: &[Sample],
    tokenizer: &InternVlTokenizer,
    config: &TrainConfig,
    run_dir: &std::path::Path,
    resume: bool,
    teacher: Option<&SkeletonLlm>,
    device: &Device,
    mut on_step: impl FnMut(&StepLog),
) -> Result<(SkeletonLlm, TrainReport)> {
    if samples.is_empty() || config.batch_size == 0 || config.epochs == 0 {
        return Err(TrainError::Config(
            "need at least one sample, one epoch and a batch size of at least 1".into(),
        ));
    }
    if config.distill_weight > 0.0 && teacher.is_none() {
        return Err(TrainError::Config(
            "logit distillation (distill_weight > 0) needs a teacher model".into(),
        ));
    }
    // The teacher runs without gradients, on the plain device: converted once.
    let teacher = teacher.map(Module::valid);
    std::fs::create_dir_all(run_dir).map_err(|source| TrainError::Io {
        path: run_dir.to_path_buf(),
        source,
    })?;
    let mut model = prepare_for_stage(
        model,
        config.stage,
        &config.lora,
        config.from_scratch,
        config.train_vision,
    );
    let mut optimizer: ModuleOptimizer = AdamWConfig::new()
        .with_weight_decay(config.weight_decay as f32)
        .init();
    let steps_per_epoch = samples.len().div_ceil(config.batch_size);
    let mut total = steps_per_epoch * config.epochs;
    if let Some(max) = config.max_steps {
        total = total.min(max);
    }
    let schedule = CosineWarmup::new(config.lr, config.warmup_ratio, total);
    let mut state = TrainState {
        stage: config.stage,
        epoch: 0,
        step_in_epoch: 0,
        global_step: 0,
        losses: Vec::new(),
        seed: config.seed,
        samples: samples.len(),
    };
    let mut resumed = false;
    if resume && let Some(dir) = checkpoint::latest(run_dir) {
        let (m, o, s) = checkpoint::load(&dir, model, optimizer)?;
        if s.stage != config.stage || s.seed != config.seed || s.samples != samples.len() {
            return Err(TrainError::Checkpoint {
                path: dir.join("state.json"),
                msg: format!(
                    "was written by another run (stage {:?}, seed {}, {} samples)",
                    s.stage, s.seed, s.samples
                ),
            });
        }
        (model, optimizer, state) = (m, o, s);
        resumed = true;
    }
    while state.global_step < total && state.epoch < config.epochs {
        let order = epoch_order(samples.len(), config.seed, state.epoch);
        while state.step_in_epoch < steps_per_epoch && state.global_step < total {
            let started = std::time::Instant::now();
            let lo = state.step_in_epoch * config.batch_size;
            let batch = &order[lo..(lo + config.batch_size).min(order.len())];
            let mut accumulator = GradientsAccumulator::<SkeletonLlm>::new();
            let mut loss_sum = 0.0f32;
            for (k, &index) in batch.iter().enumerate() {
                device.seed(mix(mix(config.seed, state.global_step as u64), k as u64));
                let sample = &samples[index];
                let frame_seed = mix(mix(config.seed, state.epoch as u64), index as u64);
                let clip = prepare_clip(sample, config.random_frames, frame_seed, &model)?;
                let total_loss = step::sample_loss(
                    &model,
                    teacher.as_ref(),
                    sample,
                    &clip,
                    tokenizer,
                    config,
                    device,
                )?;
                let value = total_loss.clone().into_scalar::<f32>();
                if !value.is_finite() {
                    return Err(TrainError::Sample(format!(
                        "sample {}: the loss is {value} at step {}",
                        sample.id,
                        state.global_step + 1
                    )));
                }
                loss_sum += value;
                let grads = (total_loss / batch.len() as f64).backward();
                accumulator.accumulate(&model, GradientsParams::from_grads(grads, &model));
            }
            let lr = schedule.lr(state.global_step);
            model = optimizer.step(lr, model, accumulator.grads());
            state.global_step += 1;
            state.step_in_epoch += 1;
            let mean = loss_sum / batch.len() as f32;
            state.losses.push(mean);
            let epoch = state.epoch;
            let epoch_done = state.step_in_epoch == steps_per_epoch;
            if epoch_done {
                state.epoch += 1;
                state.step_in_epoch = 0;
            }
            on_step(&StepLog {
                step: state.global_step,
                total_steps: total,
                epoch,
                loss: mean,
                lr,
                seconds: started.elapsed().as_secs_f64(),
            });
            let due = config.checkpoint_every > 0
                && state.global_step.is_multiple_of(config.checkpoint_every);
            if due || state.global_step == total {
                checkpoint::save(run_dir, &model, &optimizer, &state)?;
            }
            if epoch_done {
                break; // the next epoch draws its own order
            }
        }
        if state.global_step >= total {
            break;
        }
    }
    let report = TrainReport {
        losses: state.losses.clone(),
        steps: state.global_step,
        resumed,
    };
    Ok((model, report))
}

fn prepare_clip(
    sample: &Sample,
    random_frames: bool,
    seed: u64,
    model: &SkeletonLlm,
) -> Result<Clip> {
    let skel = sample.skeleton.load()?;
    let sampler = if random_frames {
        FrameSampler::Random { seed }
    } else {
        FrameSampler::Middle
    };
    model
        .clip(&skel, sample.frames(), sampler)
        .map_err(|e| TrainError::skeleton(format!("sample {}", sample.id), e))
}

/// Where a finished stage's artefacts go inside a run directory.
pub fn model_dir(run_dir: &std::path::Path) -> PathBuf {
    run_dir.join("model")
}

//! The model as burn-train's `Learner` sees it: [`StageModel`] wraps a [`SkeletonLlm`] and
//! implements `TrainStep` (forward, backward and gradient accumulation over one device's share
//! of an optimizer step) and `InferenceStep` (the same losses without gradients). One step's
//! input is a [`StepBatch`] made by [`crate::train::loader::StepLoader`]; its output, a
//! [`StepOutput`], feeds the metrics of [`crate::train::journal`].

use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Device;
use burn::train::{InferenceStep, Interrupter, ItemLazy, TrainOutput, TrainStep};
use draction::prep::Sampler as FrameSampler;
use draction::render::Clip;
use skeletonllm_model::{InternVlTokenizer, SkeletonLlm};

use crate::error::{Result, TrainError};
use crate::train::sample::Sample;
use crate::train::step::{self, SampleLoss};
use crate::train::trainer::TrainConfig;

/// A [`SkeletonLlm`] under training (a newtype, so burn-train's step traits can be implemented
/// for it here).
#[derive(Module, Debug)]
pub struct StageModel {
    /// The model.
    pub model: SkeletonLlm,
}

/// The first error of a run and the handle that stops it: a step (or a checkpointer) cannot
/// return an error through burn-train, so it keeps it here and stops the run; the caller takes
/// it back when burn-train returns.
pub struct RunFailure {
    first: Mutex<Option<TrainError>>,
    interrupter: Interrupter,
}

impl RunFailure {
    /// No failure yet; `interrupter` is the run's (given to burn-train too).
    pub fn new(interrupter: Interrupter) -> Self {
        Self {
            first: Mutex::new(None),
            interrupter,
        }
    }

    /// Keeps `error` (the first one wins) and stops the run.
    pub fn fail(&self, error: TrainError) {
        let message = error.to_string();
        if let Ok(mut slot) = self.first.lock() {
            slot.get_or_insert(error);
        }
        self.interrupter.stop(Some(&message));
    }

    /// The error that stopped the run, if one did.
    pub fn take(&self) -> Option<TrainError> {
        self.first.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// What every step of a run shares: the samples, the tokenizer, the settings, the teacher and
/// the run's [`RunFailure`].
pub struct StepContext {
    /// The run's samples.
    pub samples: Arc<[Sample]>,
    /// The tokenizer.
    pub tokenizer: InternVlTokenizer,
    /// The run's settings.
    pub config: TrainConfig,
    /// The teacher for logit distillation, without autodiff.
    pub teacher: Option<SkeletonLlm>,
    /// The first error of the run; failing stops it.
    pub failure: RunFailure,
}

impl std::fmt::Debug for StepContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepContext")
            .field("samples", &self.samples.len())
            .field("stage", &self.config.stage)
            .finish_non_exhaustive()
    }
}

/// One sample of an optimizer step: which one, its frame-sampling seed and its dropout seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepSample {
    /// Index into the run's samples.
    pub index: usize,
    /// Seed of the sample's frame draw (from the run seed, the epoch and the index).
    pub frame_seed: u64,
    /// Seed of the device RNG (LoRA dropout) for this sample (from the run seed, the step and
    /// the position in the batch).
    pub dropout_seed: u64,
}

/// One device's share of one optimizer step.
#[derive(Debug, Clone)]
pub struct StepBatch {
    /// The optimizer step (0-based over the run).
    pub step: usize,
    /// The epoch it belongs to (0-based).
    pub epoch: usize,
    /// This share's number and how many shares the step has (one per device).
    pub shard: (usize, usize),
    /// The samples of this share (possibly none when the batch is smaller than the devices).
    pub samples: Vec<StepSample>,
    /// Samples in the whole optimizer step: each loss is divided by it, so the gradients
    /// summed over shares are the batch mean.
    pub batch_len: usize,
    /// The device the share runs on.
    pub device: Device,
    /// The run's shared context.
    pub context: Arc<StepContext>,
}

/// What one share of a step did (plain numbers, read back from the device).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepOutput {
    /// The optimizer step (0-based).
    pub step: usize,
    /// The epoch (0-based).
    pub epoch: usize,
    /// This share's number and the number of shares.
    pub shard: (usize, usize),
    /// Samples in this share.
    pub samples: usize,
    /// Sum of the samples' weighted losses.
    pub loss_sum: f64,
    /// Sum of their cross-entropies.
    pub ce_sum: f64,
    /// Sum of their distillation terms.
    pub kl_sum: f64,
    /// Sum of their margin losses.
    pub margin_sum: f64,
    /// Answer tokens seen.
    pub tokens: usize,
    /// Answer tokens predicted right.
    pub tokens_right: usize,
    /// Wall time of the share in seconds.
    pub seconds: f64,
    /// Whether a sample failed (the run is stopping).
    pub failed: bool,
}

impl StepOutput {
    fn add(&mut self, loss: &SampleLoss, total: f32) {
        self.samples += 1;
        self.loss_sum += f64::from(total);
        self.ce_sum += f64::from(loss.ce);
        self.kl_sum += f64::from(loss.kl);
        self.margin_sum += f64::from(loss.margin);
        self.tokens += loss.tokens;
        self.tokens_right += loss.tokens_right;
    }
}

impl ItemLazy for StepOutput {
    fn sync(self) -> std::result::Result<Self, burn::tensor::ExecutionError> {
        Ok(self)
    }
}

/// The frames of `sample` for `model`: drawn at random from `seed` or the segments' middles.
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

impl StageModel {
    /// Runs the losses of `batch` (backward too when `backward`), accumulating the gradients
    /// (none without `backward`).
    fn run(&self, batch: &StepBatch, backward: bool) -> (StepOutput, GradientsParams) {
        let started = Instant::now();
        let ctx = &batch.context;
        let mut out = StepOutput {
            step: batch.step,
            epoch: batch.epoch,
            shard: batch.shard,
            ..StepOutput::default()
        };
        let mut accumulator = GradientsAccumulator::<StageModel>::new();
        for s in &batch.samples {
            let sample = &ctx.samples[s.index];
            let result = (|| {
                batch.device.seed(s.dropout_seed);
                let clip =
                    prepare_clip(sample, ctx.config.random_frames, s.frame_seed, &self.model)?;
                step::sample_loss(
                    &self.model,
                    ctx.teacher.as_ref(),
                    sample,
                    &clip,
                    &ctx.tokenizer,
                    &ctx.config,
                    &batch.device,
                )
            })();
            let loss = match result {
                Ok(loss) => loss,
                Err(e) => {
                    ctx.failure.fail(e);
                    out.failed = true;
                    break;
                }
            };
            let total = loss.total.clone().into_scalar::<f32>();
            if !total.is_finite() {
                ctx.failure.fail(TrainError::Sample(format!(
                    "sample {}: the loss is {total} at step {}",
                    sample.id,
                    batch.step + 1
                )));
                out.failed = true;
                break;
            }
            out.add(&loss, total);
            if backward {
                let grads = (loss.total / batch.batch_len as f64).backward();
                accumulator.accumulate(self, GradientsParams::from_grads(grads, self));
            }
        }
        out.seconds = started.elapsed().as_secs_f64();
        // A failed share contributes nothing: the run stops before its next checkpoint.
        let grads = if out.failed {
            GradientsParams::new()
        } else {
            accumulator.grads()
        };
        (out, grads)
    }
}

impl TrainStep for StageModel {
    type Input = StepBatch;
    type Output = StepOutput;

    fn step(&self, batch: StepBatch) -> TrainOutput<StepOutput> {
        let (item, grads) = self.run(&batch, true);
        TrainOutput { grads, item }
    }
}

impl InferenceStep for StageModel {
    type Input = StepBatch;
    type Output = StepOutput;

    fn step(&self, batch: StepBatch) -> StepOutput {
        self.run(&batch, false).0
    }
}

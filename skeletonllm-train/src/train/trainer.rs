//! The training loop: one stage over a list of samples, AdamW with a cosine schedule and
//! warm-up, gradient accumulation, optional logit distillation and margin losses, atomic
//! checkpoints and exact resumption.
//!
//! The loop is burn-train's: a `Learner` over [`StageModel`] (whose `TrainStep` runs the losses
//! of [`crate::train::step`]), fed by [`StepLoader`], checkpointed by [`Checkpoints`], reported
//! by [`Journal`], on one device or several.
//!
//! Exactness of `resume`: the data order of an epoch is a permutation drawn from
//! `(seed, epoch)`, each sample's frames from `(seed, epoch, sample)`, and the device's RNG (LoRA
//! dropout) is re-seeded from `(seed, step, micro-step)`; the checkpoint stores the parameters
//! with their ids, the optimizer state and the position, so a resumed run performs the same
//! updates as an uninterrupted one. (With the CPU listed as several devices, the workers share
//! one RNG, so dropout masks then depend on thread timing; exactness there needs dropout 0.)

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use burn::module::Module;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::tensor::{DType, Device};
use burn::train::logger::InMemoryMetricLogger;
use burn::train::metric::LearningRateMetric;
use burn::train::{
    ExecutionStrategy, Interrupter, Learner, LearnerModel, MultiDeviceOptim, SupervisedTraining,
    TrainingStrategy,
};
use draction::render::Rasterizer;
use skeletonllm_model::{
    BaseDtype, DeviceFamily, InternVlTokenizer, LoraConfig, SkeletonLlm, cast_frozen_bases,
};

use crate::error::{Result, TrainError};
use crate::train::checkpoint::{self, Checkpoints, EveryChunk};
pub use crate::train::journal::StepLog;
use crate::train::journal::{Journal, JournalMetric, PartMetric, Quiet};
use crate::train::learner::{RunFailure, StageModel, StepBatch, StepContext};
use crate::train::loader::{NoValidation, RunPlan, StepLoader};
use crate::train::sample::Sample;
use crate::train::schedule::{CosineWarmup, CosineWarmupScheduler};
use crate::train::stage::{Stage, prepare_for_stage};

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
    /// Stop after this many optimizer steps in total (None = all epochs); the schedule
    /// spans only these steps.
    pub max_steps: Option<usize>,
    /// Stop this process after this many optimizer steps, with a checkpoint, as a kill after
    /// it would; the schedule still spans the whole run, which `resume` continues.
    pub halt_after: Option<usize>,
    /// Show burn-train's terminal dashboard when standard output is a terminal.
    pub dashboard: bool,
    /// Without a dashboard and with stderr not a terminal (a log file), print a plain line to
    /// stderr every this many steps (0 = never).
    pub log_every: usize,
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
    /// The dtype of the frozen ViT and LM weights (trainable parts stay f32).
    #[serde(skip)]
    pub base_dtype: BaseDtype,
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
            halt_after: None,
            dashboard: true,
            log_every: 0,
            lora: LoraConfig::new(32, 64.0).with_dropout(0.05),
            margin_weight: 0.0,
            margin: 1.0,
            distill_weight: 0.0,
            distill_temperature: 2.0,
            raster: Rasterizer::Fast,
            random_frames: true,
            from_scratch: false,
            train_vision: false,
            base_dtype: BaseDtype::Auto,
        }
    }
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
    /// Whether the run stopped early at `halt_after`, with a checkpoint to resume from.
    pub halted: bool,
    /// The steps this process ran, as logged to `log.jsonl`.
    pub logs: Vec<StepLog>,
}

/// Trains `model` on `samples` for `config.stage` through burn-train's `Learner`, on
/// `devices` (one: that device; several: data parallel, see [`strategy`]; for Burn's gradient
/// checkpointing, devices made with `Device::gradient_checkpointing` and the model created on
/// the first, as [`crate::train::parse_devices`] does), checkpointing into
/// `run_dir`; with `resume` it continues from the checkpoint there. `teacher` (same tokenizer)
/// is needed for logit distillation.
///
/// Every step is logged to `run_dir/log.jsonl`; burn-train's dashboard shows the metrics when
/// standard output is a terminal, else a progress bar runs on stderr. The frozen ViT and LM
/// weights run in `config.base_dtype`. The returned model has no autodiff (burn-train's
/// `valid()` model) and is f32 throughout.
///
/// # Errors
/// [`TrainError::Config`] for an empty sample list, a zero batch or no device; errors of
/// skeletons, encoding and checkpoints, naming their files; [`TrainError::Interrupted`] when
/// the run was stopped from the dashboard.
#[allow(clippy::too_many_arguments)]
pub fn train(
    model: SkeletonLlm,
    samples: &[Sample],
    tokenizer: &InternVlTokenizer,
    config: &TrainConfig,
    run_dir: &std::path::Path,
    resume: bool,
    teacher: Option<&SkeletonLlm>,
    devices: &[Device],
) -> Result<(SkeletonLlm, TrainReport)> {
    if samples.is_empty() || config.batch_size == 0 || config.epochs == 0 {
        return Err(TrainError::Config(
            "need at least one sample, one epoch and a batch size of at least 1".into(),
        ));
    }
    let Some(main) = devices.first() else {
        return Err(TrainError::Config("need at least one device".into()));
    };
    if config.distill_weight > 0.0 && teacher.is_none() {
        return Err(TrainError::Config(
            "logit distillation (distill_weight > 0) needs a teacher model".into(),
        ));
    }
    let base_dtype = config.base_dtype.resolve(main);
    // The teacher runs without gradients, on the plain device: converted once.
    let teacher = teacher.map(|t| {
        let mut t = t.valid();
        t.internvl = cast_frozen_bases(t.internvl, base_dtype);
        t
    });
    std::fs::create_dir_all(run_dir).map_err(|source| TrainError::Io {
        path: run_dir.to_path_buf(),
        source,
    })?;
    let model = prepare_for_stage(
        model,
        config.stage,
        &config.lora,
        config.from_scratch,
        config.train_vision,
    );
    let mut model = StageModel {
        model: SkeletonLlm {
            internvl: cast_frozen_bases(model.internvl, base_dtype),
            ..model
        },
    };
    let mut optimizer: ModuleOptimizer = AdamWConfig::new()
        .with_weight_decay(config.weight_decay as f32)
        .init();
    let steps_per_epoch = samples.len().div_ceil(config.batch_size);
    let mut total = steps_per_epoch * config.epochs;
    if let Some(max) = config.max_steps {
        total = total.min(max);
    }
    let schedule = CosineWarmup::new(config.lr, config.warmup_ratio, total);
    let (mut start, mut losses, mut resumed) = (0, Vec::new(), false);
    if resume && let Some(dir) = checkpoint::latest(run_dir) {
        let s = checkpoint::read_state(&dir)?;
        if s.stage != config.stage || s.seed != config.seed || s.samples != samples.len() {
            return Err(TrainError::Checkpoint {
                path: dir.join(checkpoint::STATE_FILE),
                msg: format!(
                    "was written by another run (stage {:?}, seed {}, {} samples)",
                    s.stage, s.seed, s.samples
                ),
            });
        }
        model = model
            .try_load_record(checkpoint::read_model(&dir)?)
            .map_err(|e| TrainError::Checkpoint {
                path: dir.join(checkpoint::MODEL_FILE),
                msg: format!("does not fit the model: {e:?}"),
            })?;
        optimizer = optimizer.load_record(checkpoint::read_optimizer(&dir)?);
        (start, losses, resumed) = (s.global_step, s.losses, true);
    }
    let end = config.halt_after.map_or(total, |h| h.min(total)).max(start);
    let plan = Arc::new(RunPlan {
        samples: samples.len(),
        batch_size: config.batch_size,
        steps_per_epoch,
        total,
        start,
        end,
        every: config.checkpoint_every,
        seed: config.seed,
    });
    let report = |mut model: SkeletonLlm, losses: Vec<f32>, logs: Vec<StepLog>| {
        // Back to f32 everywhere (the model has no autodiff now, so every weight is "frozen").
        model.internvl = cast_frozen_bases(model.internvl, DType::F32);
        let steps = losses.len();
        let report = TrainReport {
            losses,
            steps,
            resumed,
            halted: steps < total,
            logs,
        };
        (model, report)
    };
    if start >= end {
        return Ok(report(model.valid().model, losses, Vec::new()));
    }
    let interrupter = Interrupter::new();
    let context = Arc::new(StepContext {
        samples: samples.to_vec().into(),
        tokenizer: tokenizer.clone(),
        config: config.clone(),
        teacher,
        failure: RunFailure::new(interrupter.clone()),
    });
    let dashboard = config.dashboard && std::io::stdout().is_terminal();
    let journal = Journal::new(run_dir, schedule, losses, dashboard, config.log_every)?;
    let checkpoints = Checkpoints::new(
        run_dir,
        plan.clone(),
        config.stage,
        journal.clone(),
        context.clone(),
    );
    let (model_part, optimizer_part, scheduler_part) = checkpoints.parts();
    let loader = StepLoader::new(plan.clone(), context.clone(), devices.len(), main.clone());
    let mut training = SupervisedTraining::new(
        run_dir,
        Arc::new(loader),
        Arc::new(NoValidation::<StepBatch>::default()),
    )
    .with_interrupter(interrupter)
    .with_application_logger(None)
    .with_metric_logger(InMemoryMetricLogger::default())
    .with_custom_checkpointers(model_part, optimizer_part, scheduler_part)
    .with_checkpointing_strategy(EveryChunk)
    .num_epochs(plan.chunk_ends().len())
    .metric_train(JournalMetric::new(journal.clone()))
    .metric_train_numeric(PartMetric::loss())
    .metric_train_numeric(PartMetric::cross_entropy())
    .metric_train_numeric(PartMetric::token_accuracy())
    .metric_train_numeric(LearningRateMetric::new())
    .metric_train_numeric(PartMetric::throughput())
    .with_training_strategy(strategy(devices));
    if config.distill_weight > 0.0 {
        training = training.metric_train_numeric(PartMetric::distillation());
    }
    if config.margin_weight > 0.0 {
        training = training.metric_train_numeric(PartMetric::margin());
    }
    if !dashboard {
        training = training.renderer(Box::new(Quiet));
    }
    let scheduler = CosineWarmupScheduler {
        schedule,
        step: start,
    };
    let result = training.launch(Learner::new(model, optimizer, scheduler));
    journal.finish();
    if let Some(e) = context.failure.take() {
        return Err(e);
    }
    if let Some(e) = journal.take_error() {
        return Err(e);
    }
    if let Some(e) = result.error {
        return Err(TrainError::Training(e.to_string()));
    }
    let losses = journal.losses();
    if losses.len() < end {
        return Err(TrainError::Interrupted {
            step: losses.len(),
            run_dir: run_dir.to_path_buf(),
        });
    }
    Ok(report(result.model.model, losses, journal.logs()))
}

/// burn-train's execution strategy for `devices`: one device as is; several CUDA devices by
/// distributed data parallel (NCCL all-reduce, summed: each loss is already divided by the
/// global batch); several of any other backend (or the CPU listed twice) by burn-train's
/// multi-device strategy with the optimizer state sharded over them.
pub fn strategy<M: LearnerModel>(devices: &[Device]) -> TrainingStrategy<M> {
    match devices {
        [one] => ExecutionStrategy::SingleDevice(one.clone()).into(),
        _ if devices
            .iter()
            .all(|d| DeviceFamily::of(d) == DeviceFamily::Cuda) =>
        {
            ExecutionStrategy::ddp(
                devices.to_vec(),
                DistributedConfig {
                    all_reduce_op: ReduceOperation::Sum,
                },
            )
            .into()
        }
        _ => {
            ExecutionStrategy::MultiDevice(devices.to_vec(), MultiDeviceOptim::OptimSharded).into()
        }
    }
}

/// Where a finished stage's artefacts go inside a run directory.
pub fn model_dir(run_dir: &std::path::Path) -> PathBuf {
    run_dir.join("model")
}

//! Embedding-alignment warm-up for a vision tower trained from scratch under a frozen,
//! pretrained language model: every image token of a clip is pulled toward the LM's own input
//! embedding of the clip's label (mean of the label's token embeddings), by a softmax over the
//! labels' cosine similarities plus a term matching the token's norm to the embeddings'.
//!
//! The LM never runs (its embeddings are constants), so a step costs a render and a ViT forward
//! and backward: thousands of steps fit in minutes on a CPU, where the language-model loss
//! reaches the ViT only through the frozen decoder and learns it slowly. Afterwards the image
//! tokens already "read" as their label to the LM, and the usual answer-token training
//! ([`crate::train::train`]) teaches it to use them in the prompts. Like the stages, it runs
//! through burn-train's `Learner` ([`AlignModel`] is its step).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::module::Module;
use burn::optim::lr_scheduler::constant::ConstantLr;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};
use burn::train::logger::InMemoryMetricLogger;
use burn::train::metric::{Adaptor, Metric, MetricMetadata, MetricName, SerializedEntry};
use burn::train::{
    InferenceStep, Interrupter, ItemLazy, Learner, SupervisedTraining, TrainOutput, TrainStep,
};
use draction::Skeleton;
use draction::prep::Sampler as FrameSampler;
use draction::render::Rasterizer;
use skeletonllm_model::{InternVlTokenizer, LoraConfig, SkeletonLlm};

use crate::data::rng::SplitMix64;
use crate::error::{Result, TrainError};
use crate::train::learner::RunFailure;
use crate::train::loader::NoValidation;
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

/// What [`align`] did: the loss and token accuracy of every step, and the windows'.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AlignReport {
    /// Mean loss of each step's clips.
    pub losses: Vec<f32>,
    /// Share of each step's image tokens whose nearest label is right.
    pub accuracies: Vec<f32>,
    /// Token accuracy of each window of [`AlignConfig::window`] steps.
    pub window_accuracies: Vec<f32>,
    /// The window whose model was returned (0-based).
    pub best_window: usize,
}

/// The model burn-train trains in [`align`] (a newtype for its step traits).
#[derive(Module, Debug)]
pub struct AlignModel {
    /// The model.
    pub model: SkeletonLlm,
}

/// What every alignment step shares.
struct AlignContext {
    clips: Vec<(Arc<Skeleton>, usize)>,
    /// Unit-length label embeddings `[labels, D]`, on the host.
    targets: TensorData,
    target_norm: f64,
    config: AlignConfig,
    failure: RunFailure,
}

/// One alignment step: clip indices with their frame seeds.
pub struct AlignBatch {
    step: usize,
    clips: Vec<(usize, u64)>,
    device: Device,
    context: Arc<AlignContext>,
}

/// What one alignment step did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlignOutput {
    /// The step (0-based).
    pub step: usize,
    /// Sum of the clips' losses.
    pub loss_sum: f64,
    /// Clips.
    pub clips: usize,
    /// Image tokens whose nearest label is right.
    pub hits: usize,
    /// Image tokens.
    pub tokens: usize,
}

impl ItemLazy for AlignOutput {
    fn sync(self) -> std::result::Result<Self, burn::tensor::ExecutionError> {
        Ok(self)
    }
}

impl Adaptor<AlignOutput> for AlignOutput {
    fn adapt(&self) -> AlignOutput {
        self.clone()
    }
}

impl AlignModel {
    fn run(&self, batch: &AlignBatch, backward: bool) -> (AlignOutput, GradientsParams) {
        let ctx = &batch.context;
        let targets = Tensor::<2>::from_data(ctx.targets.clone(), &batch.device);
        let mut out = AlignOutput {
            step: batch.step,
            ..AlignOutput::default()
        };
        let mut accumulator = GradientsAccumulator::<AlignModel>::new();
        for &(index, seed) in &batch.clips {
            let (skel, label) = &ctx.clips[index];
            let sampler = FrameSampler::Random { seed };
            let clip = match self.model.clip(skel, ctx.config.frames, sampler) {
                Ok(clip) => clip,
                Err(e) => {
                    ctx.failure
                        .fail(TrainError::skeleton(format!("alignment clip {index}"), e));
                    return (out, GradientsParams::new());
                }
            };
            let features = self
                .model
                .image_features(&clip, Rasterizer::Fast, &batch.device)
                .features; // [F, T, D]
            let [f, t, d] = features.dims();
            let tokens = features.reshape([f * t, d]);
            let (loss, hits) = token_loss(tokens, &targets, *label, ctx.target_norm, &ctx.config);
            let value = loss.clone().into_scalar::<f32>();
            if !value.is_finite() {
                ctx.failure.fail(TrainError::Sample(format!(
                    "alignment step {}: the loss is {value}",
                    batch.step + 1
                )));
                return (out, GradientsParams::new());
            }
            out.loss_sum += f64::from(value);
            out.clips += 1;
            out.hits += hits;
            out.tokens += f * t;
            if backward {
                let grads = (loss / batch.clips.len() as f64).backward();
                accumulator.accumulate(self, GradientsParams::from_grads(grads, self));
            }
        }
        (out, accumulator.grads())
    }
}

impl TrainStep for AlignModel {
    type Input = AlignBatch;
    type Output = AlignOutput;

    fn step(&self, batch: AlignBatch) -> TrainOutput<AlignOutput> {
        let (item, grads) = self.run(&batch, true);
        TrainOutput { grads, item }
    }
}

impl InferenceStep for AlignModel {
    type Input = AlignBatch;
    type Output = AlignOutput;

    fn step(&self, batch: AlignBatch) -> AlignOutput {
        self.run(&batch, false).0
    }
}

/// The steps of a run, drawn up front from the seed (a shuffled pass over the clips, again
/// and again); burn-train's epochs are the windows.
#[derive(Clone)]
struct AlignLoader {
    steps: Arc<Vec<Vec<(usize, u64)>>>,
    window: usize,
    device: Device,
    context: Arc<AlignContext>,
    cursor: Arc<AtomicUsize>,
}

struct AlignIter<'a> {
    loader: &'a AlignLoader,
    from: usize,
    next: usize,
    to: usize,
}

impl Iterator for AlignIter<'_> {
    type Item = std::result::Result<AlignBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.to {
            return None;
        }
        let step = self.next;
        self.next += 1;
        Some(Ok(AlignBatch {
            step,
            clips: self.loader.steps[step].clone(),
            device: self.loader.device.clone(),
            context: self.loader.context.clone(),
        }))
    }
}

impl DataLoaderIterator<AlignBatch> for AlignIter<'_> {
    fn progress(&self) -> Progress {
        Progress::new(
            self.next - self.from,
            self.to - self.from,
            Some("steps".into()),
        )
    }
}

impl DataLoader<AlignBatch> for AlignLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<AlignBatch> + 'a> {
        let from = self.cursor.load(Ordering::SeqCst);
        let to = (from + self.window).min(self.steps.len());
        self.cursor.store(to, Ordering::SeqCst);
        Box::new(AlignIter {
            loader: self,
            from,
            next: from,
            to,
        })
    }

    fn num_items(&self) -> usize {
        1
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<AlignBatch>> {
        Arc::new(Self {
            device: device.clone(),
            cursor: Arc::new(AtomicUsize::new(self.cursor.load(Ordering::SeqCst))),
            ..self.clone()
        })
    }

    fn slice(&self, _start: usize, _end: usize) -> Arc<dyn DataLoader<AlignBatch>> {
        Arc::new(self.clone())
    }
}

/// The run's record: every step's numbers, the windows' accuracies and the best window's model
/// (kept by the model checkpointer, which burn-train calls after each window).
#[derive(Default)]
struct AlignLog {
    report: AlignReport,
    window: (usize, usize),
    best: Option<(f32, Bytes)>,
}

/// Feeds [`AlignLog`] from the metrics thread; shows the step on the dashboard.
#[derive(Clone)]
struct AlignMetric {
    log: Arc<Mutex<AlignLog>>,
    bar: indicatif::ProgressBar,
    name: MetricName,
}

impl Metric for AlignMetric {
    type Input = AlignOutput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        item: &AlignOutput,
        _metadata: &MetricMetadata,
    ) -> std::result::Result<SerializedEntry, burn::tensor::TensorReadError> {
        let loss = (item.loss_sum / item.clips.max(1) as f64) as f32;
        let accuracy = item.hits as f32 / item.tokens.max(1) as f32;
        if let Ok(mut log) = self.log.lock() {
            log.report.losses.push(loss);
            log.report.accuracies.push(accuracy);
            log.window.0 += item.hits;
            log.window.1 += item.tokens;
        }
        self.bar.set_position(item.step as u64 + 1);
        self.bar.set_message(format!(
            "align loss {loss:.3}, token accuracy {accuracy:.2}"
        ));
        let text = format!("loss {loss:.3}, token accuracy {accuracy:.2}");
        Ok(SerializedEntry::new(text.clone(), text))
    }

    fn compute(&mut self) -> std::result::Result<SerializedEntry, burn::tensor::TensorReadError> {
        Ok(SerializedEntry::new(String::new(), String::new()))
    }

    fn clear(&mut self) {}
}

/// burn-train's checkpointers for [`align`]: the model one keeps the best window's weights
/// in memory; the optimizer and scheduler ones keep nothing (an alignment run is minutes).
struct BestWindow {
    log: Arc<Mutex<AlignLog>>,
    model: bool,
}

impl<R: Checkpoint> Checkpointer<R> for BestWindow {
    fn save(&self, _epoch: usize, record: R) -> std::result::Result<(), CheckpointerError> {
        let Ok(mut log) = self.log.lock() else {
            return Err(CheckpointerError::Unknown(
                "the alignment log panicked".into(),
            ));
        };
        if !self.model {
            return Ok(());
        }
        let accuracy = log.window.0 as f32 / log.window.1.max(1) as f32;
        log.window = (0, 0);
        log.report.window_accuracies.push(accuracy);
        if log.best.as_ref().is_none_or(|(b, _)| accuracy > *b) {
            let bytes = record
                .checkpoint_into_bytes()
                .map_err(CheckpointerError::Record)?;
            log.report.best_window = log.report.window_accuracies.len() - 1;
            log.best = Some((accuracy, bytes));
        }
        Ok(())
    }

    fn delete(&self, _epoch: usize) -> std::result::Result<(), CheckpointerError> {
        Ok(())
    }

    fn restore(&self, _epoch: usize) -> std::result::Result<R, CheckpointerError> {
        Err(CheckpointerError::Unknown(
            "alignment runs are not resumed".into(),
        ))
    }
}

/// Trains the vision tower and the projector of `model` (and DrAction with
/// [`AlignConfig::train_renderer`]; the LM stays frozen) so that the image tokens of each clip
/// align with its label's embedding ([`label_embeddings`]), through burn-train's `Learner`
/// (one [`AlignModel`] step per batch; burn-train's epochs are the windows of
/// [`AlignConfig::window`] steps). Returns the model at the end of the window with the best
/// token accuracy, and the run's numbers. `clips` pairs skeletons with label indices. `device`
/// must be an autodiff device and the model must live on it.
///
/// # Errors
/// [`TrainError::Config`] for no clips or a label index out of range; rendering errors naming
/// the clip; [`TrainError::Training`] when stopped from the dashboard.
pub fn align(
    model: SkeletonLlm,
    clips: &[(Arc<Skeleton>, usize)],
    targets: Tensor<2>,
    config: &AlignConfig,
    device: &Device,
) -> Result<(SkeletonLlm, AlignReport)> {
    let [num_labels, _] = targets.dims();
    if clips.is_empty() || config.batch_size == 0 || config.steps == 0 {
        return Err(TrainError::Config(
            "alignment needs clips, a batch and at least one step".into(),
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
    let (targets, target_norms) = unit_rows(targets);
    let target_norm = target_norms.mean().into_scalar::<f32>() as f64;
    // Every step's clips and frame seeds, drawn as the loop used to draw them.
    let mut rng = SplitMix64::new(config.seed);
    let mut order: Vec<usize> = (0..clips.len()).collect();
    let mut cursor = order.len();
    let steps: Vec<Vec<(usize, u64)>> = (0..config.steps)
        .map(|_| {
            (0..config.batch_size)
                .map(|_| {
                    if cursor == order.len() {
                        rng.shuffle(&mut order);
                        cursor = 0;
                    }
                    cursor += 1;
                    (order[cursor - 1], rng.next_u64())
                })
                .collect()
        })
        .collect();
    let interrupter = Interrupter::new();
    let context = Arc::new(AlignContext {
        clips: clips.to_vec(),
        targets: targets.into_data(),
        target_norm,
        config: config.clone(),
        failure: RunFailure::new(interrupter.clone()),
    });
    let window = config.window.max(1);
    let loader = AlignLoader {
        steps: Arc::new(steps),
        window,
        device: device.clone(),
        context: context.clone(),
        cursor: Arc::new(AtomicUsize::new(0)),
    };
    let dashboard = std::io::stdout().is_terminal();
    let bar = if dashboard {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(config.steps as u64)
    };
    let log = Arc::new(Mutex::new(AlignLog::default()));
    let keeper = |model| BestWindow {
        log: log.clone(),
        model,
    };
    let run_dir = std::env::temp_dir();
    let mut training = SupervisedTraining::new(
        &run_dir,
        Arc::new(loader),
        Arc::new(NoValidation::<AlignBatch>::default()),
    )
    .with_interrupter(interrupter)
    .with_application_logger(None)
    .with_metric_logger(InMemoryMetricLogger::default())
    .with_custom_checkpointers(keeper(true), keeper(false), keeper(false))
    .with_checkpointing_strategy(crate::train::checkpoint::EveryChunk)
    .num_epochs(config.steps.div_ceil(window))
    .metric_train(AlignMetric {
        log: log.clone(),
        bar: bar.clone(),
        name: Arc::new("Alignment".into()),
    })
    .with_training_strategy(crate::train::strategy(std::slice::from_ref(device)));
    if !dashboard {
        training = training.renderer(Box::new(crate::train::journal::Quiet));
    }
    let optimizer: ModuleOptimizer = AdamWConfig::new().with_weight_decay(0.0).init();
    let result = training.launch(Learner::new(
        AlignModel { model },
        optimizer,
        ConstantLr::from(config.lr),
    ));
    bar.finish_and_clear();
    if let Some(e) = context.failure.take() {
        return Err(e);
    }
    if let Some(e) = result.error {
        return Err(TrainError::Training(e.to_string()));
    }
    let mut log = std::mem::take(
        &mut *log
            .lock()
            .map_err(|_| TrainError::Training("the alignment log panicked".into()))?,
    );
    if log.report.losses.len() < config.steps {
        return Err(TrainError::Training(format!(
            "alignment stopped after step {} of {}",
            log.report.losses.len(),
            config.steps
        )));
    }
    let mut model = result.model;
    if let Some((_, bytes)) = log.best.take() {
        let record = ModuleRecord::from_bytes(bytes)
            .map_err(|e| TrainError::Training(format!("the best window's weights: {e:?}")))?;
        model = model
            .try_load_record(record)
            .map_err(|e| TrainError::Training(format!("the best window's weights: {e:?}")))?;
    }
    // burn-train hands back the model in validation mode (no autodiff): back to training mode
    // on the training device, with the caller's parameters trainable again.
    Ok((model.model.train().fork(device), log.report))
}

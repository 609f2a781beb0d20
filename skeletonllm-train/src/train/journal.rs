//! What a run reports, step by step: burn-train metrics over [`StepOutput`] (loss and its
//! parts, token accuracy, samples per second, with burn-train's learning rate beside them) for
//! its dashboard, and the run's [`Journal`]: one JSON line per optimizer step in `log.jsonl`
//! (appended, so a resumed run continues it), the losses the checkpoints keep, and a progress
//! bar on stderr when burn-train's terminal dashboard is not shown.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
};

use crate::error::{Result, TrainError};
use crate::train::learner::StepOutput;
use crate::train::schedule::CosineWarmup;

/// What one optimizer step did (a line of `log.jsonl`).
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
    /// Mean cross-entropy of the answers.
    pub ce: f32,
    /// Mean distillation term (0 when off).
    pub kl: f32,
    /// Mean margin loss (0 when off).
    pub margin: f32,
    /// Share of the answer tokens predicted right.
    pub token_accuracy: f32,
    /// Learning rate used.
    pub lr: f64,
    /// Wall time of the step in seconds (the slowest device's share).
    pub seconds: f64,
    /// Samples of the step per second.
    pub samples_per_second: f64,
}

#[derive(Default)]
struct State {
    /// Loss of every step, by step (steps before this process come from the checkpoint).
    losses: Vec<f32>,
    /// Shares of steps still waiting for their siblings.
    partial: Vec<StepOutput>,
    logs: Vec<StepLog>,
    error: Option<TrainError>,
}

/// The run's journal (see the module docs).
pub struct Journal {
    state: Mutex<State>,
    log: Mutex<std::fs::File>,
    log_path: std::path::PathBuf,
    schedule: CosineWarmup,
    bar: indicatif::ProgressBar,
    /// Plain lines on stderr every this many steps (0: none).
    lines_every: usize,
}

impl Journal {
    /// A journal appending to `run_dir/log.jsonl`, continuing `losses` (from a checkpoint),
    /// with a progress bar over the schedule's steps unless `quiet` (a dashboard is shown); when
    /// stderr is not a terminal, a plain line there every `log_every` steps (0: none).
    ///
    /// # Errors
    /// [`TrainError::Io`] when the log cannot be opened.
    pub fn new(
        run_dir: &Path,
        schedule: CosineWarmup,
        losses: Vec<f32>,
        quiet: bool,
        log_every: usize,
    ) -> Result<Arc<Self>> {
        use std::io::IsTerminal;
        let log_path = run_dir.join("log.jsonl");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| TrainError::Io {
                path: log_path.clone(),
                source,
            })?;
        let bar = if quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(schedule.total_steps as u64)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_position(losses.len() as u64);
        Ok(Arc::new(Self {
            state: Mutex::new(State {
                losses,
                ..State::default()
            }),
            log: Mutex::new(log),
            log_path,
            schedule,
            bar,
            lines_every: if quiet || std::io::stderr().is_terminal() {
                0
            } else {
                log_every
            },
        }))
    }

    /// The losses of steps `0..step` (what a checkpoint at `step` keeps).
    pub fn losses_until(&self, step: usize) -> Vec<f32> {
        self.state
            .lock()
            .map(|s| s.losses[..step.min(s.losses.len())].to_vec())
            .unwrap_or_default()
    }

    /// Every step this process logged, in order.
    pub fn logs(&self) -> Vec<StepLog> {
        self.state
            .lock()
            .map(|s| s.logs.clone())
            .unwrap_or_default()
    }

    /// The loss of every step of the run so far.
    pub fn losses(&self) -> Vec<f32> {
        self.losses_until(usize::MAX)
    }

    /// The first error writing the log, if any.
    pub fn take_error(&self) -> Option<TrainError> {
        self.state.lock().ok().and_then(|mut s| s.error.take())
    }

    /// Hides the progress bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Records one device's share of a step; once every share of the step is in, logs it.
    fn record(&self, share: &StepOutput) -> Option<StepLog> {
        let mut state = self.state.lock().ok()?;
        state.partial.push(share.clone());
        let shares = share.shard.1;
        let parts: Vec<StepOutput> = state
            .partial
            .iter()
            .filter(|p| p.step == share.step)
            .cloned()
            .collect();
        if parts.len() < shares {
            return None;
        }
        state.partial.retain(|p| p.step != share.step);
        let samples: usize = parts.iter().map(|p| p.samples).sum();
        let n = samples.max(1) as f64;
        let sum = |f: fn(&StepOutput) -> f64| parts.iter().map(f).sum::<f64>();
        let tokens: usize = parts.iter().map(|p| p.tokens).sum();
        let right: usize = parts.iter().map(|p| p.tokens_right).sum();
        let seconds = parts.iter().map(|p| p.seconds).fold(0.0, f64::max);
        let log = StepLog {
            step: share.step + 1,
            total_steps: self.schedule.total_steps,
            epoch: share.epoch,
            loss: (sum(|p| p.loss_sum) / n) as f32,
            ce: (sum(|p| p.ce_sum) / n) as f32,
            kl: (sum(|p| p.kl_sum) / n) as f32,
            margin: (sum(|p| p.margin_sum) / n) as f32,
            token_accuracy: right as f32 / tokens.max(1) as f32,
            lr: self.schedule.lr(share.step),
            seconds,
            samples_per_second: samples as f64 / seconds.max(1e-9),
        };
        if state.losses.len() <= share.step {
            state.losses.resize(share.step + 1, f32::NAN);
        }
        state.losses[share.step] = log.loss;
        state.logs.push(log.clone());
        if let Ok(line) = serde_json::to_string(&log)
            && let Ok(mut file) = self.log.lock()
            && let Err(source) = writeln!(file, "{line}")
        {
            state.error.get_or_insert(TrainError::Io {
                path: self.log_path.clone(),
                source,
            });
        }
        self.bar.set_position(log.step as u64);
        if self.lines_every > 0
            && (log.step.is_multiple_of(self.lines_every) || log.step == log.total_steps)
        {
            eprintln!(
                "step {}/{}: loss {:.4}, lr {:.2e}, {:.2} s/step",
                log.step, log.total_steps, log.loss, log.lr, log.seconds
            );
        }
        self.bar
            .set_message(format!("loss {:.4} lr {:.2e}", log.loss, log.lr));
        Some(log)
    }
}

impl Adaptor<StepOutput> for StepOutput {
    fn adapt(&self) -> StepOutput {
        self.clone()
    }
}

/// burn-train's view of the journal: a text metric showing the step, fed every share.
#[derive(Clone)]
pub struct JournalMetric {
    journal: Arc<Journal>,
    name: MetricName,
    last: String,
}

impl JournalMetric {
    /// The metric over `journal`.
    pub fn new(journal: Arc<Journal>) -> Self {
        Self {
            journal,
            name: Arc::new("Step".into()),
            last: String::new(),
        }
    }
}

impl Metric for JournalMetric {
    type Input = StepOutput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        item: &StepOutput,
        _metadata: &MetricMetadata,
    ) -> std::result::Result<SerializedEntry, burn::tensor::TensorReadError> {
        if let Some(log) = self.journal.record(item) {
            self.last = format!("{} of {}", log.step, log.total_steps);
        }
        Ok(SerializedEntry::new(self.last.clone(), self.last.clone()))
    }

    fn compute(&mut self) -> std::result::Result<SerializedEntry, burn::tensor::TensorReadError> {
        Ok(SerializedEntry::new(self.last.clone(), self.last.clone()))
    }

    fn clear(&mut self) {}
}

/// Which number of a [`StepOutput`] a [`PartMetric`] shows: `(value, weight)`.
type Pick = fn(&StepOutput) -> (f64, usize);

/// A numeric metric over one number of the steps (loss, a loss part, token accuracy,
/// samples per second), averaged by burn-train over each chunk.
#[derive(Clone)]
pub struct PartMetric {
    name: MetricName,
    pick: Pick,
    higher_is_better: bool,
    state: NumericMetricState,
}

fn mean(sum: f64, n: usize) -> (f64, usize) {
    (if n == 0 { 0.0 } else { sum / n as f64 }, n)
}

impl PartMetric {
    fn new(name: &str, pick: Pick, higher_is_better: bool) -> Self {
        Self {
            name: Arc::new(name.into()),
            pick,
            higher_is_better,
            state: NumericMetricState::new(),
        }
    }

    /// The weighted loss.
    pub fn loss() -> Self {
        Self::new("Loss", |o| mean(o.loss_sum, o.samples), false)
    }

    /// The answers' cross-entropy.
    pub fn cross_entropy() -> Self {
        Self::new("CE", |o| mean(o.ce_sum, o.samples), false)
    }

    /// The distillation term.
    pub fn distillation() -> Self {
        Self::new("KL", |o| mean(o.kl_sum, o.samples), false)
    }

    /// The margin loss.
    pub fn margin() -> Self {
        Self::new("Margin", |o| mean(o.margin_sum, o.samples), false)
    }

    /// The share of answer tokens predicted right.
    pub fn token_accuracy() -> Self {
        Self::new(
            "Token accuracy",
            |o| mean(o.tokens_right as f64, o.tokens),
            true,
        )
    }

    /// Samples per second (of one device's share).
    pub fn throughput() -> Self {
        Self::new(
            "Samples/s",
            |o| (o.samples as f64 / o.seconds.max(1e-9), 1),
            true,
        )
    }
}

impl Metric for PartMetric {
    type Input = StepOutput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: self.higher_is_better,
        }
        .into()
    }

    fn update(
        &mut self,
        item: &StepOutput,
        _metadata: &MetricMetadata,
    ) -> std::result::Result<SerializedEntry, burn::tensor::TensorReadError> {
        let (value, weight) = (self.pick)(item);
        self.state.update(value, weight);
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).precision(4)))
    }

    fn compute(&mut self) -> std::result::Result<SerializedEntry, burn::tensor::TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).precision(4)))
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

impl Numeric for PartMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}

/// A dashboard that shows nothing (the journal's progress bar does, on stderr), for runs whose
/// standard output is not a terminal.
pub struct Quiet;

impl burn::train::renderer::MetricsRendererTraining for Quiet {
    fn update_train(&mut self, _state: burn::train::renderer::MetricState) {}
    fn update_valid(&mut self, _state: burn::train::renderer::MetricState) {}
    fn on_train_end(
        &mut self,
        _summary: Option<burn::train::LearnerSummary>,
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl burn::train::renderer::MetricsRendererEvaluation for Quiet {
    fn update_test(
        &mut self,
        _name: burn::train::renderer::EvaluationName,
        _state: burn::train::renderer::MetricState,
    ) {
    }
}

impl burn::train::logger::TrainingProgressLogger for Quiet {
    fn start(&mut self, _: usize, _: usize, _: Option<usize>, _: Option<&str>) {}
    fn update_epoch(&mut self, _: usize) {}
    fn start_split(&mut self, _: &str, _: usize) {}
    fn update_split(&mut self, _: usize) {}
    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _: String) {}
}

impl burn::train::logger::EvaluationProgressLogger for Quiet {
    fn start_global_progress(&mut self, _: usize) {}
    fn start_test(&mut self, _: &str, _: usize) {}
    fn update_test_progress(&mut self, _: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _: String) {}
}

impl burn::train::renderer::MetricsRenderer for Quiet {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _definition: burn::train::metric::MetricDefinition) {}
}

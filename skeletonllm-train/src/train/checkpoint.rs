//! Resumable training checkpoints: a directory `checkpoint/` holding every parameter of the model
//! (`model.bpk`, burnpack, with their parameter ids so the optimizer state matches them; the
//! frozen ones too, which keeps resumption exact whatever trains), the optimizer state
//! (`optimizer.bpk`) and the run's position (`state.json`).
//!
//! burn-train hands the model, optimizer and scheduler records to three checkpointers, each on
//! its own thread. Here they are three [`Part`]s of one [`Checkpoints`]: each hands its bytes
//! over, and the last to arrive writes the whole checkpoint to `checkpoint.tmp/` and swaps it in
//! by renames (the previous one is kept as `checkpoint.old/` until the swap is done), so a run
//! killed at any moment leaves a complete checkpoint behind. The scheduler needs no file: its
//! state is the step count in `state.json`.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use burn::train::checkpoint::{
    Checkpoint, Checkpointer, CheckpointerError, CheckpointingAction, CheckpointingStrategy,
};
use burn::train::metric::store::EventStoreClient;

use crate::error::{Result, TrainError};
use crate::train::journal::Journal;
use crate::train::learner::StepContext;
use crate::train::loader::RunPlan;
use crate::train::stage::Stage;

/// Where the run is: enough to continue exactly.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    /// The stage being trained.
    pub stage: Stage,
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Optimizer steps done in the current epoch.
    pub step_in_epoch: usize,
    /// Optimizer steps done in total.
    pub global_step: usize,
    /// Mean loss of every optimizer step so far.
    pub losses: Vec<f32>,
    /// Seed of the run (data order, frame sampling, dropout).
    pub seed: u64,
    /// Number of samples the run was started with.
    pub samples: usize,
}

fn ck_err(path: &Path, msg: impl ToString) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        msg: msg.to_string(),
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The checkpoint directory of a run directory.
pub fn checkpoint_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoint")
}

/// The model's file in a checkpoint directory.
pub const MODEL_FILE: &str = "model.bpk";
/// The optimizer's file in a checkpoint directory.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// The position's file in a checkpoint directory.
pub const STATE_FILE: &str = "state.json";

/// The newest complete checkpoint directory of `run_dir`, if any.
pub fn latest(run_dir: &Path) -> Option<PathBuf> {
    [checkpoint_dir(run_dir), run_dir.join("checkpoint.old")]
        .into_iter()
        .find(|d| d.join(STATE_FILE).is_file())
}

/// Reads the position stored in the checkpoint directory `dir`.
///
/// # Errors
/// [`TrainError::Io`] / [`TrainError::Checkpoint`] naming `state.json`.
pub fn read_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    serde_json::from_str(&text).map_err(|e| ck_err(&path, e))
}

/// Reads the model record of the checkpoint directory `dir`.
///
/// # Errors
/// [`TrainError::Checkpoint`] naming the file.
pub fn read_model(dir: &Path) -> Result<ModuleRecord> {
    let path = dir.join(MODEL_FILE);
    ModuleRecord::load(&path).map_err(|e| ck_err(&path, format!("{e:?}")))
}

/// Reads the optimizer record of the checkpoint directory `dir`.
///
/// # Errors
/// [`TrainError::Checkpoint`] naming the file.
pub fn read_optimizer(dir: &Path) -> Result<burn::optim::OptimizerRecord> {
    let path = dir.join(OPTIMIZER_FILE);
    burn::optim::OptimizerRecord::load(&path).map_err(|e| ck_err(&path, format!("{e:?}")))
}

/// Writes `files` and `state` as the checkpoint of `run_dir`, atomically.
///
/// # Errors
/// [`TrainError::Io`] / [`TrainError::Checkpoint`] naming the file that failed.
pub fn write(run_dir: &Path, files: &[(&str, &[u8])], state: &TrainState) -> Result<()> {
    let tmp = run_dir.join("checkpoint.tmp");
    let old = run_dir.join("checkpoint.old");
    let dir = checkpoint_dir(run_dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    for (name, bytes) in files {
        let path = tmp.join(name);
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    let state_path = tmp.join(STATE_FILE);
    let text = serde_json::to_string_pretty(state).map_err(|e| ck_err(&state_path, e))?;
    std::fs::write(&state_path, text).map_err(io(&state_path))?;
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        std::fs::rename(&dir, &old).map_err(io(&dir))?;
    }
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

/// The records of one checkpoint as they arrive.
#[derive(Default)]
struct Pending {
    model: Option<Bytes>,
    optimizer: Option<Bytes>,
    scheduler: bool,
}

/// The checkpoints of one run: collects the parts burn-train saves and writes each checkpoint
/// whole (see the module docs).
pub struct Checkpoints {
    run_dir: PathBuf,
    plan: Arc<RunPlan>,
    stage: Stage,
    journal: Arc<Journal>,
    context: Arc<StepContext>,
    pending: Mutex<BTreeMap<usize, Pending>>,
}

impl Checkpoints {
    /// The checkpoints of a run in `run_dir`.
    pub fn new(
        run_dir: &Path,
        plan: Arc<RunPlan>,
        stage: Stage,
        journal: Arc<Journal>,
        context: Arc<StepContext>,
    ) -> Arc<Self> {
        Arc::new(Self {
            run_dir: run_dir.to_path_buf(),
            plan,
            stage,
            journal,
            context,
            pending: Mutex::new(BTreeMap::new()),
        })
    }

    /// burn-train's three checkpointers: model, optimizer and scheduler.
    pub fn parts(
        self: &Arc<Self>,
    ) -> (
        Part<ModuleRecord>,
        Part<burn::optim::OptimizerRecord>,
        Part<burn::optim::lr_scheduler::LrSchedulerRecord>,
    ) {
        (
            self.part(PartKind::Model),
            self.part(PartKind::Optimizer),
            self.part(PartKind::Scheduler),
        )
    }

    fn part<R>(self: &Arc<Self>, kind: PartKind) -> Part<R> {
        Part {
            shared: self.clone(),
            kind,
            _record: PhantomData,
        }
    }

    fn put(&self, chunk: usize, kind: PartKind, bytes: Option<Bytes>) -> Result<()> {
        let ready = {
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| ck_err(&self.run_dir, "a checkpoint writer panicked"))?;
            let entry = pending.entry(chunk).or_default();
            match kind {
                PartKind::Model => entry.model = bytes,
                PartKind::Optimizer => entry.optimizer = bytes,
                PartKind::Scheduler => entry.scheduler = true,
            }
            if entry.model.is_some() && entry.optimizer.is_some() && entry.scheduler {
                pending.remove(&chunk)
            } else {
                None
            }
        };
        let Some(Pending {
            model: Some(model),
            optimizer: Some(optimizer),
            ..
        }) = ready
        else {
            return Ok(());
        };
        let step = self.plan.end_of_chunk(chunk).ok_or_else(|| {
            ck_err(
                &self.run_dir,
                format!("burn-train saved chunk {chunk}, which this run does not have"),
            )
        })?;
        let losses = self.journal.losses_until(step);
        let state = TrainState {
            stage: self.stage,
            epoch: step / self.plan.steps_per_epoch,
            step_in_epoch: step % self.plan.steps_per_epoch,
            global_step: step,
            losses,
            seed: self.plan.seed,
            samples: self.plan.samples,
        };
        write(
            &self.run_dir,
            &[(MODEL_FILE, &model[..]), (OPTIMIZER_FILE, &optimizer[..])],
            &state,
        )
    }
}

#[derive(Debug, Clone, Copy)]
enum PartKind {
    Model,
    Optimizer,
    Scheduler,
}

/// One of burn-train's checkpointers, handing its record to the run's [`Checkpoints`].
pub struct Part<R> {
    shared: Arc<Checkpoints>,
    kind: PartKind,
    _record: PhantomData<fn() -> R>,
}

impl<R: Checkpoint> Checkpointer<R> for Part<R> {
    fn save(&self, epoch: usize, record: R) -> std::result::Result<(), CheckpointerError> {
        let bytes = match self.kind {
            PartKind::Scheduler => None,
            _ => Some(
                record
                    .checkpoint_into_bytes()
                    .map_err(CheckpointerError::Record)?,
            ),
        };
        self.shared.put(epoch, self.kind, bytes).map_err(|e| {
            let message = e.to_string();
            self.shared.context.failure.fail(e);
            CheckpointerError::Unknown(message)
        })
    }

    fn delete(&self, _epoch: usize) -> std::result::Result<(), CheckpointerError> {
        Ok(()) // each checkpoint replaces the previous one
    }

    fn restore(&self, _epoch: usize) -> std::result::Result<R, CheckpointerError> {
        // Resuming reads the checkpoint before burn-train starts (typed errors, see `train`).
        Err(CheckpointerError::Unknown(
            "checkpoints are restored by skeletonllm-train, not by burn-train".into(),
        ))
    }
}

/// Save after every chunk (a chunk ends where a checkpoint is due).
#[derive(Debug, Clone, Copy, Default)]
pub struct EveryChunk;

impl CheckpointingStrategy for EveryChunk {
    fn checkpointing(
        &mut self,
        _epoch: usize,
        _collector: &EventStoreClient,
    ) -> Vec<CheckpointingAction> {
        vec![CheckpointingAction::Save]
    }
}

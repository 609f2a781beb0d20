//! Resumable training checkpoints: a directory `checkpoint/` holding every parameter of the model
//! (`params.bpk`, burnpack, with their parameter ids so the optimizer state matches them; the
//! frozen ones too, which keeps resumption exact whatever trains),
//! the optimizer state (`optimizer.bpk`) and the loop's position (`state.json`).
//!
//! A new checkpoint is written to `checkpoint.tmp/` and swapped in by renames (the previous one
//! is kept as `checkpoint.old/` until the swap is done), so a run killed at any moment leaves a
//! complete checkpoint behind.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use skeletonllm_model::SkeletonLlm;

use crate::error::{Result, TrainError};
use crate::train::stage::Stage;

/// Where the loop is: enough to continue exactly.
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

/// Writes a checkpoint of `model`, `optimizer` and `state` into `run_dir`, atomically.
///
/// # Errors
/// [`TrainError::Io`] / [`TrainError::Checkpoint`] naming the file that failed.
pub fn save(
    run_dir: &Path,
    model: &SkeletonLlm,
    optimizer: &ModuleOptimizer,
    state: &TrainState,
) -> Result<()> {
    let tmp = run_dir.join("checkpoint.tmp");
    let old = run_dir.join("checkpoint.old");
    let dir = checkpoint_dir(run_dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let params = tmp.join("params.bpk");
    let mut store = BurnpackStore::from_file(&params).overwrite(true);
    model
        .save_into(&mut store)
        .map_err(|e| ck_err(&params, e))?;
    let optim = tmp.join("optimizer.bpk");
    optimizer
        .save(&optim)
        .map_err(|e| ck_err(&optim, format!("{e:?}")))?;
    let state_path = tmp.join("state.json");
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

/// The newest complete checkpoint directory of `run_dir`, if any.
pub fn latest(run_dir: &Path) -> Option<PathBuf> {
    [checkpoint_dir(run_dir), run_dir.join("checkpoint.old")]
        .into_iter()
        .find(|d| d.join("state.json").is_file())
}

/// Loads the checkpoint in `dir` into `model` (prepared for the same stage) and `optimizer`.
///
/// # Errors
/// [`TrainError::Checkpoint`] naming the file that is missing, unreadable or does not fit.
pub fn load(
    dir: &Path,
    mut model: SkeletonLlm,
    optimizer: ModuleOptimizer,
) -> Result<(SkeletonLlm, ModuleOptimizer, TrainState)> {
    let state_path = dir.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(io(&state_path))?;
    let state: TrainState = serde_json::from_str(&text).map_err(|e| ck_err(&state_path, e))?;
    let params = dir.join("params.bpk");
    let mut store = BurnpackStore::from_file(&params);
    let applied = model
        .load_from(&mut store)
        .map_err(|e| ck_err(&params, e))?;
    if !applied.missing.is_empty() || !applied.unused.is_empty() || !applied.errors.is_empty() {
        return Err(ck_err(
            &params,
            format!(
                "does not fit the model: missing {:?}, unexpected {:?}, errors {:?}",
                applied.missing, applied.unused, applied.errors
            ),
        ));
    }
    let optim = dir.join("optimizer.bpk");
    let optimizer = optimizer
        .load(&optim)
        .map_err(|e| ck_err(&optim, format!("{e:?}")))?;
    Ok((model, optimizer, state))
}

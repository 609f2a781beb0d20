//! One training stage as a run folder, the way the CLI's `train` and the `train_ntu` example
//! run it: a JSON line per optimizer step in `log.jsonl` (appended, so a resumed run continues
//! it), burn-train's dashboard or a progress bar, checkpoints (all by [`train`]), then the trained model
//! exported to `model/` (LoRA folded in, the input model's config and tokenizer) and a summary
//! in `train.json`, both written atomically.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde_json::Value;
use skeletonllm_model::load::bundle::MANIFEST_KEY;
use skeletonllm_model::load::save::{read_config_json, save_pretrained};
use skeletonllm_model::{InternVlTokenizer, SkeletonLlm, merge_lora};

use crate::error::{Result, TrainError};
use crate::train::sample::Sample;
use crate::train::trainer::{TrainConfig, model_dir, train};

/// What a finished stage run reports (also written to `train.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunSummary {
    /// The stage number (1–4).
    pub stage: u8,
    /// The stage's name.
    pub name: &'static str,
    /// Training samples.
    pub samples: usize,
    /// Optimizer steps done in total.
    pub steps: usize,
    /// Whether the run went on from a checkpoint.
    pub resumed: bool,
    /// Whether it stopped early (`halt_after`), with a checkpoint to resume from.
    pub halted: bool,
    /// Loss of the first step of this process.
    pub first_loss: Option<f32>,
    /// Loss of the last step.
    pub last_loss: Option<f32>,
    /// Mean loss over the first five steps.
    pub mean_first5: f32,
    /// Mean loss over the last five steps.
    pub mean_last5: f32,
    /// Mean wall time of a step in this process, in seconds.
    pub seconds_per_step: f64,
    /// The exported model folder.
    pub model: PathBuf,
}

/// The config to export a model trained from `from` with: its `config.json`, without a bundle's
/// manifest (the export is a plain checkpoint whose LM is in `model.safetensors`, not a GGUF).
///
/// # Errors
/// [`TrainError::Model`] when `from/config.json` cannot be read.
pub fn export_config(from: &Path) -> Result<Value> {
    let mut config_json = read_config_json(from)?;
    if let Some(obj) = config_json.as_object_mut() {
        obj.remove(MANIFEST_KEY);
    }
    Ok(config_json)
}

/// Trains one stage in `run_dir` (see the module docs) and exports the model; `config_json`
/// comes from [`export_config`] of the input model, the exported tokenizer is `tokenizer`.
///
/// # Errors
/// As [`train`]; [`TrainError::Io`] when the run folder or its log cannot be written;
/// model errors from the export.
#[allow(clippy::too_many_arguments)]
pub fn run_stage(
    model: SkeletonLlm,
    tokenizer: &InternVlTokenizer,
    config_json: &Value,
    samples: &[Sample],
    config: &TrainConfig,
    run_dir: &Path,
    resume: bool,
    teacher: Option<&SkeletonLlm>,
    devices: &[Device],
) -> Result<RunSummary> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Io { path, source }
    };
    std::fs::create_dir_all(run_dir).map_err(io(run_dir))?;
    let unwritable = |e: &dyn std::fmt::Display| {
        TrainError::Config(format!("the tokenizer cannot be written as JSON: {e}"))
    };
    let tokenizer_text = tokenizer
        .inner()
        .to_string(false)
        .map_err(|e| unwritable(&e))?;
    let tokenizer_json: Value =
        serde_json::from_str(&tokenizer_text).map_err(|e| unwritable(&e))?;
    let (model, report) = train(
        model, samples, tokenizer, config, run_dir, resume, teacher, devices,
    )?;
    let out_model = model_dir(run_dir);
    let internvl = merge_lora(model.internvl);
    save_pretrained(
        &out_model,
        &internvl,
        config_json,
        Some(&model.renderer),
        Some(&tokenizer_json),
    )?;
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    let k = report.losses.len().min(5);
    let summary = RunSummary {
        stage: config.stage.number(),
        name: config.stage.name(),
        samples: samples.len(),
        steps: report.steps,
        resumed: report.resumed,
        halted: report.halted,
        first_loss: report.losses.first().copied(),
        last_loss: report.losses.last().copied(),
        mean_first5: mean(&report.losses[..k]),
        mean_last5: mean(&report.losses[report.losses.len() - k..]),
        seconds_per_step: report.logs.iter().map(|l| l.seconds).sum::<f64>()
            / report.logs.len().max(1) as f64,
        model: out_model,
    };
    let text = serde_json::to_string_pretty(&summary)
        .map_err(|e| TrainError::Config(format!("train.json: {e}")))?;
    let summary_path = run_dir.join("train.json");
    draction::io::write_file_atomic(&summary_path, text.as_bytes()).map_err(io(&summary_path))?;
    Ok(summary)
}

//! Helpers shared by the examples (`#[path = "common/mod.rs"] mod common;`); each example uses
//! some of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use skeletonllm::draction;
use skeletonllm::draction::burn::tensor::Device;
use skeletonllm::skeletonllm_model::{Assistant, TaskOptions};

/// The bundled default model, relative to the repository.
pub const BUNDLED_MODEL: &str = "assets/skeletonllm-tiny";
/// The bundled clip the examples read by default (CMU 01_01, never seen in training).
pub const DEFAULT_CLIP: &str = "assets/samples/cmu_01_01.bvh";

/// Which clip and model an example runs on (flattened into its flags).
#[derive(clap::Args)]
pub struct ModelChoice {
    /// Skeleton file (any supported format; default: the bundled CMU 01_01 clip).
    pub file: Option<PathBuf>,
    /// SkeletonLLM model folder (default: the bundled skeletonllm-tiny).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Use a tiny random model built in-process instead (no download; meaningless answers).
    #[arg(long, conflicts_with = "model")]
    pub tiny: bool,
    /// Frames rendered per clip (default: the model's own; 2 with --tiny).
    #[arg(long)]
    pub frames: Option<usize>,
}

impl ModelChoice {
    /// The skeleton file to read.
    pub fn file(&self) -> PathBuf {
        self.file.clone().unwrap_or_else(|| repo(DEFAULT_CLIP))
    }

    /// The model: `--model`, the bundled one, or with `--tiny` a tiny random model whose
    /// tokenizer knows every word of `tiny_texts`; with `--frames` applied.
    pub fn assistant<S: AsRef<str>>(&self, tiny_texts: &[S], device: &Device) -> Result<Assistant> {
        let assistant = if self.tiny {
            println!(
                "NOTE: tiny random model (not trained): its answers are meaningless; leave out                  --tiny for the bundled model or pass --model DIR."
            );
            tiny_assistant(tiny_texts, device)?
        } else {
            let dir = self.model.clone().unwrap_or_else(|| repo(BUNDLED_MODEL));
            load(&dir, device)?
        };
        let frames = self.frames.unwrap_or(if self.tiny {
            2
        } else {
            assistant.options.frames
        });
        let options = TaskOptions {
            frames,
            ..assistant.options.clone()
        };
        Ok(assistant.with_options(options))
    }
}

/// A model folder (checkpoint or bundle), the error naming it.
pub fn load(dir: &Path, device: &Device) -> Result<Assistant> {
    Assistant::load(dir, device).map_err(|e| anyhow!("{}: {e}", dir.display()))
}

/// A path inside this repository (assets, samples).
pub fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A tiny random SkeletonLLM on the bundled hand-set DrAction whose word-level tokenizer knows
/// every word of `texts` (its answers are meaningless: for smoke runs).
pub fn tiny_assistant<S: AsRef<str>>(texts: &[S], device: &Device) -> Result<Assistant> {
    device.seed(7);
    let (renderer, _) =
        draction::checkpoint::load(&repo("assets/draction_default.safetensors"), device)?;
    Assistant::tiny_random(texts, renderer, device).map_err(|e| anyhow!("{e}"))
}

/// `main`'s exit: success, or the error and its causes on one line and a failure code.
pub fn exit(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

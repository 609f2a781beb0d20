//! Describe the motion in a skeleton file with SkeletonLLM, through the library API
//! ([`skeletonllm_model::Assistant::caption`] / [`skeletonllm_model::Assistant::ask`]); the
//! answer is streamed as it is generated.
//!
//! ```sh
//! # a real SkeletonLLM checkpoint folder (config.json, model.safetensors with the DrAction
//! # tensors, tokenizer.json):
//! cargo run --release --example caption --features wgpu -- FILE --model DIR
//! cargo run --release --example caption -- FILE --model DIR --question "Which hand moves?"
//! # no download: a tiny random model built in-process (CPU, meaningless text):
//! cargo run --release --example caption -- --tiny
//! ```
//!
//! FILE is any supported skeleton format (default: the bundled `assets/samples/cmu_01_01.bvh`).
//! The backend comes from the crate's features (`flex` default, `wgpu`, `cuda`) through
//! [`skeletonllm::device`], the same device selection the CLI uses.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Parser;
use skeletonllm::draction;
use skeletonllm::skeletonllm_model::{Assistant, TaskOptions, text::prompts};

/// Describe the motion in a skeleton file (or answer a question about it).
#[derive(Parser)]
struct Args {
    /// Skeleton file (any supported format).
    file: Option<PathBuf>,
    /// SkeletonLLM model folder. Without it (or with --tiny) a tiny random model is built.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Use a tiny random model built in-process (no download; meaningless text).
    #[arg(long)]
    tiny: bool,
    /// Ask this question instead of the caption prompt.
    #[arg(long)]
    question: Option<String>,
    /// Frames rendered per clip (default: the model's own, 12 for SkeletonLLM checkpoints; 2 for the tiny model).
    #[arg(long)]
    frames: Option<usize>,
    /// Upper bound on generated tokens.
    #[arg(long, default_value_t = 96)]
    max_tokens: usize,
}

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A tiny random SkeletonLLM on the bundled hand-set DrAction whose word-level tokenizer knows
/// every word of `texts`.
fn tiny_assistant(texts: &[&str], device: &draction::burn::tensor::Device) -> Result<Assistant> {
    device.seed(7);
    let (renderer, _) =
        draction::checkpoint::load(&repo("assets/draction_default.safetensors"), device)?;
    Assistant::tiny_random(texts, renderer, device).map_err(|e| anyhow!("{e}"))
}

fn run() -> Result<()> {
    let args = Args::parse();
    let tiny = args.tiny || args.model.is_none();
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| repo("assets/samples/cmu_01_01.bvh"));
    let device = skeletonllm::device(); // flex, or wgpu/cuda with those features

    let assistant = match (&args.model, tiny) {
        (Some(dir), false) => {
            Assistant::load(dir, &device).map_err(|e| anyhow!("{}: {e}", dir.display()))?
        }
        _ => {
            println!(
                "NOTE: tiny random model (not trained): the text below is meaningless; \
                 pass --model DIR for a real SkeletonLLM checkpoint."
            );
            let question = args.question.as_deref().unwrap_or("");
            tiny_assistant(
                &[
                    prompts::TEMPLATE_SYSTEM_MESSAGE,
                    prompts::CAPTION_QUESTION,
                    question,
                    "a person walks forward slowly and then turns around",
                ],
                &device,
            )?
        }
    };
    // The model's own frame count (bundles carry theirs) unless --frames says otherwise.
    let frames = args
        .frames
        .unwrap_or(if tiny { 2 } else { assistant.options.frames });
    let options = TaskOptions {
        frames,
        max_text_tokens: args.max_tokens,
        ..assistant.options.clone()
    };
    let assistant = assistant.with_options(options);

    let skel = draction::io::read(&file, None)?; // format detected
    println!(
        "{} ({}, {} frames, {} bodies) rendered to {frames} frames",
        file.display(),
        skel.layout().name,
        skel.frames(),
        skel.persons()
    );
    let started = std::time::Instant::now();
    let show = |t: &str| {
        print!("{t}");
        let _ = std::io::stdout().flush();
    };
    match &args.question {
        Some(q) => {
            println!("Q: {q}");
            print!("A: ");
            assistant.ask(&skel, q, show)
        }
        None => {
            print!("caption: ");
            assistant.caption(&skel, show)
        }
    }
    .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    println!();
    println!("generated in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

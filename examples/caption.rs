//! Describe the motion in a skeleton file with SkeletonLLM, through the library API
//! ([`skeletonllm_model::Assistant::caption`] / [`skeletonllm_model::Assistant::ask`]); the
//! answer is streamed as it is generated.
//!
//! ```sh
//! # the bundled model (scripts/fetch-smollm2.sh fetches its base LM once), any skeleton file:
//! cargo run --release --example caption --features wgpu -- FILE
//! cargo run --release --example caption -- FILE --question "Which hand moves?"
//! # a SkeletonLLM checkpoint folder (config.json, model.safetensors with the DrAction tensors,
//! # tokenizer.json) or another bundle:
//! cargo run --release --example caption -- FILE --model DIR
//! # no download: a tiny random model built in-process (CPU, meaningless text):
//! cargo run --release --example caption -- --tiny
//! ```
//!
//! FILE is any supported skeleton format (default: the bundled `assets/samples/cmu_01_01.bvh`).
//! The backend comes from the crate's features (`flex` default, `wgpu`, `cuda`) through
//! [`skeletonllm::device`], the same device selection the CLI uses.

#[path = "common/mod.rs"]
mod common;

use std::io::Write;

use anyhow::{Result, anyhow};
use clap::Parser;
use skeletonllm::draction;
use skeletonllm::skeletonllm_model::{TaskOptions, text::prompts};

/// Describe the motion in a skeleton file (or answer a question about it).
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    choice: common::ModelChoice,
    /// Ask this question instead of the caption prompt.
    #[arg(long)]
    question: Option<String>,
    /// Upper bound on generated tokens.
    #[arg(long, default_value_t = 96)]
    max_tokens: usize,
}

fn run() -> Result<()> {
    let args = Args::parse();
    let file = args.choice.file();
    let device = skeletonllm::device(); // flex, or wgpu/cuda with those features
    let question = args.question.as_deref().unwrap_or("");
    let tiny_texts = [
        prompts::TEMPLATE_SYSTEM_MESSAGE,
        prompts::CAPTION_QUESTION,
        question,
        "a person walks forward slowly and then turns around",
    ];
    let assistant = args.choice.assistant(&tiny_texts, &device)?;
    let options = TaskOptions {
        max_text_tokens: args.max_tokens,
        ..assistant.options.clone()
    };
    let assistant = assistant.with_options(options);
    let frames = assistant.options.frames;

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
    common::exit(run())
}

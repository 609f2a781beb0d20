//! Recognise the action in a skeleton file with SkeletonLLM, through the library API
//! ([`skeletonllm_model::Assistant::recognize`]): the authors' label-only multiple-choice prompt,
//! a greedy answer, and every candidate label ranked by likelihood.
//!
//! ```sh
//! # the bundled model and its own labels (scripts/fetch-smollm2.sh fetches its base LM once):
//! cargo run --release --example recognize --features wgpu -- FILE
//! # a SkeletonLLM checkpoint folder, candidates from a split or a file (one label per line):
//! cargo run --release --example recognize -- FILE --model DIR --split ntu60_55_cs
//! cargo run --release --example recognize -- FILE --model DIR --labels labels.txt --top-k 3
//! # no download: a tiny random model built in-process (CPU, meaningless answers):
//! cargo run --release --example recognize -- --tiny
//! ```
//!
//! FILE is any supported skeleton format (default: the bundled `assets/samples/cmu_01_01.bvh`).
//! The backend comes from the crate's features (`flex` default, `wgpu`, `cuda`) through
//! [`skeletonllm::device`], the same device selection the CLI uses.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use skeletonllm::draction;
use skeletonllm::skeletonllm_model::text::prompts;
use skeletonllm::skeletonllm_train::data::ZeroShotSplit;

/// Recognise the action in a skeleton file.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    choice: common::ModelChoice,
    /// Candidate labels, one per line.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// A named split whose test labels are the candidates (e.g. ntu60_55_cs).
    #[arg(long)]
    split: Option<String>,
    /// How many ranked labels to print.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
}

fn candidate_labels(args: &Args, tiny: bool) -> Result<Vec<String>> {
    match (&args.labels, &args.split) {
        (Some(file), None) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read labels", file.display()))?;
            let labels: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            if labels.is_empty() {
                bail!("{}: no labels", file.display());
            }
            Ok(labels)
        }
        (None, Some(name)) => {
            let split = ZeroShotSplit::parse(name).map_err(|e| anyhow!("{e}"))?;
            Ok(split.test_labels().iter().map(|s| s.to_string()).collect())
        }
        (None, None) if tiny => Ok(ZeroShotSplit::parse("ntu60_55_cs")
            .map_err(|e| anyhow!("{e}"))?
            .test_labels()
            .iter()
            .map(|s| s.to_string())
            .collect()),
        (None, None) => Ok(Vec::new()), // the model's own labels, checked after loading
        (Some(_), Some(_)) => bail!("give either --labels or --split, not both"),
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    let tiny = args.choice.tiny;
    let file = args.choice.file();
    let mut labels = candidate_labels(&args, tiny)?;
    let device = skeletonllm::device(); // flex, or wgpu/cuda with those features

    let started = std::time::Instant::now();
    let mut tiny_texts = vec![
        prompts::TEMPLATE_SYSTEM_MESSAGE.to_string(),
        prompts::mqa_question(&labels),
    ];
    tiny_texts.extend(labels.iter().cloned());
    let assistant = args.choice.assistant(&tiny_texts, &device)?;
    if labels.is_empty() {
        labels = assistant.labels.clone();
    }
    if labels.is_empty() {
        bail!("give --labels FILE or --split NAME (this model names no labels)");
    }
    let frames = assistant.options.frames;
    let load_seconds = started.elapsed().as_secs_f64();

    let skel = draction::io::read(&file, None)?; // format detected
    let started = std::time::Instant::now();
    let rec = assistant
        .recognize(&skel, &labels)
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let seconds = started.elapsed().as_secs_f64();

    println!(
        "{} ({}, {} frames, {} bodies) rendered to {frames} frames; {} candidate labels",
        display(&file),
        skel.layout().name,
        skel.frames(),
        skel.persons(),
        labels.len()
    );
    let parsed = rec
        .parsed
        .map_or("(no label named)".to_string(), |i| labels[i].clone());
    println!("generated answer: {:?} -> {parsed}", rec.answer);
    println!("ranked by likelihood:");
    for (k, s) in rec.ranking.iter().take(args.top_k).enumerate() {
        println!(
            "  {:>2}. {:<40} {:6.2} %",
            k + 1,
            s.label,
            100.0 * s.probability
        );
    }
    println!("model loaded in {load_seconds:.2} s, recognised in {seconds:.2} s");
    Ok(())
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

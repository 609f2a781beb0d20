//! The authors' full SkeletonLLM recipe on NTU RGB+D, through the library API:
//! stage 1 render warm-up (MQA; DrAction + projector), stage 2 Discriminative Finetuning (YES/NO
//! over hard negatives; DrAction + projector), stage 3 Causal Reasoning Distillation (teacher
//! rationales; DrAction + projector + LoRA), stage 4 recognition refinement (MQA, 3 epochs;
//! projector + LoRA). Each stage starts from the previous stage's exported model.
//!
//! ```sh
//! cargo run --release --example train_ntu --features cuda -- \
//!     --data-root nturgbd_skeletons_s001_to_s017 --dataset ntu60 --split 55 --protocol cs \
//!     --model InternVL3-1B-skeletonllm --out runs/ntu60_55_cs \
//!     --hard-negatives ntu60_similar_actions.json --rationales teacher_rationales.jsonl
//! # smoke test on the CPU: a tiny random model and a handful of synthetic NTU clips
//! cargo run --release --example train_ntu -- --tiny --out out/train_ntu_tiny
//! ```
//!
//! `--data-root` holds the NTU `.skeleton` files (`SsssCcccPpppRrrrAaaa.skeleton`); the split
//! (`--dataset`, `--split` preset, `--protocol`) picks the training clips and the seen labels.
//! Every hyper-parameter defaults to the authors' value (`TrainConfig::authors`). Stage 2 needs
//! `--hard-negatives` (the authors' `ntu60/ntu120_similar_actions.json`) and stage 3
//! `--rationales` (teacher JSONL `{"id", "label", "rationale"}`); without them those optional
//! stages are skipped with a message. Layout of `--out`:
//! `data/stageN-<name>.jsonl` (the conversation records built), `stageN-<name>/` (checkpoint,
//! `log.jsonl`, `train.json` and the stage's model with LoRA merged in `model/`) and
//! `summary.json`. `--resume` skips finished stages and continues an interrupted one from its
//! last checkpoint. The backend comes from the crate's features (`flex` default, `wgpu`, `cuda`)
//! through [`skeletonllm::device`], as in the CLI.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use skeletonllm::draction;
use skeletonllm::flags::TrainFlags;
use skeletonllm::skeletonllm_train::data::{
    BuildOptions, HardNegatives, NtuDataset, Protocol, ZeroShotSplit, read_rationales,
    scan_skeleton_dir, write_conversations,
};
use skeletonllm::skeletonllm_train::recipe::{
    RecipeInputs, StagePlan, plan_stages, run_dir, smoke, stage_config, stage_samples,
};
use skeletonllm::skeletonllm_train::train::{Stage, TrainConfig, export_config, run_stage};

fn authors() -> TrainConfig {
    TrainConfig::authors(Stage::Warmup)
}

/// The 4-stage SkeletonLLM recipe on NTU RGB+D.
#[derive(Parser)]
struct Args {
    /// Folder of NTU `.skeleton` files (not needed with --tiny).
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Dataset: ntu60 or ntu120.
    #[arg(long, default_value = "ntu60")]
    dataset: String,
    /// Zero-shot split preset: 55/5 (or 55), 48/12, 40/20, 30/30, 110/10, 96/24, all.
    #[arg(long, default_value = "55")]
    split: String,
    /// Protocol: cs (cross-subject), cv (cross-view, NTU-60), cset (cross-setup, NTU-120).
    #[arg(long, default_value = "cs")]
    protocol: String,
    /// Base SkeletonLLM model folder (config.json, model.safetensors with DrAction, tokenizer.json).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Run folder.
    #[arg(long)]
    out: PathBuf,
    /// Skip finished stages and continue an interrupted one from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Hard negatives for Disc-FT: the authors' ntu60/ntu120_similar_actions.json.
    #[arg(long)]
    hard_negatives: Option<PathBuf>,
    /// Teacher rationales for CR-Distill (JSONL `{"id", "label", "rationale"}`).
    #[arg(long)]
    rationales: Option<PathBuf>,
    /// Stages to run, in order (1 warm-up, 2 Disc-FT, 3 CR-Distill, 4 refine).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4")]
    stages: Vec<u8>,
    /// Smoke test: a tiny random model and a handful of synthetic NTU clips, on any device.
    #[arg(long)]
    tiny: bool,
    /// Frames rendered per clip (12; 2 with --tiny).
    #[arg(long)]
    frames: Option<usize>,
    /// Optimisation settings, per stage (the margin loss applies to stage 2, distillation to
    /// stage 3).
    #[command(flatten)]
    flags: TrainFlags,
    /// Stage 3: teacher model for logit distillation (same tokenizer); it sees the label-aware
    /// teacher prompt. With --tiny and no --teacher, the tiny base model.
    #[arg(long)]
    teacher: Option<PathBuf>,
    /// Draw frames at random per epoch (the authors' training sampler); false = segment middles.
    #[arg(long, default_value_t = authors().random_frames, action = clap::ArgAction::Set)]
    random_frames: bool,
}

fn run() -> Result<()> {
    let args = Args::parse();
    args.flags.check().map_err(|e| anyhow!(e))?;
    let started = std::time::Instant::now();
    let frames = args.frames.unwrap_or(if args.tiny { 2 } else { 12 });
    if args.flags.distill_weight > 0.0 && args.teacher.is_none() && !args.tiny {
        bail!("--distill-weight > 0 needs --teacher DIR (a model with the same tokenizer)");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let dataset = NtuDataset::from_name(&args.dataset)
        .with_context(|| format!("unknown --dataset '{}' (ntu60, ntu120)", args.dataset))?;
    let protocol = Protocol::from_name(&args.protocol)
        .with_context(|| format!("unknown --protocol '{}' (cs, cv, cset)", args.protocol))?;
    let split = ZeroShotSplit::new(dataset, &args.split, protocol)?;

    // Data (and, with --tiny, the files a real run would be given).
    let (data_root, hard_negatives, rationales) = if args.tiny {
        let smoke = smoke::write_data(&args.out.join("tiny-data"), dataset)?;
        let h = args.hard_negatives.clone().unwrap_or(smoke.hard_negatives);
        let r = args.rationales.clone().unwrap_or(smoke.rationales);
        (smoke.root, Some(h), Some(r))
    } else {
        let root = args.data_root.clone();
        let root = root.context("give --data-root (the NTU .skeleton folder) or --tiny")?;
        (root, args.hard_negatives.clone(), args.rationales.clone())
    };
    let clips = scan_skeleton_dir(&data_root)?;
    let train_clips = clips.iter().filter(|s| split.is_train(s)).count();
    println!(
        "{}: {} NTU clips, {train_clips} training clips of split {split} ({} seen labels)",
        data_root.display(),
        clips.len(),
        split.seen_labels().len()
    );
    if train_clips == 0 {
        bail!(
            "{}: no training clips for split {split}",
            data_root.display()
        );
    }
    let stages = args
        .stages
        .iter()
        .map(|&n| Stage::from_number(n).with_context(|| format!("--stages: no stage {n}")))
        .collect::<Result<Vec<_>>>()?;
    // Each optional input is read only when its stage runs.
    let inputs = RecipeInputs {
        hard_negatives: hard_negatives
            .filter(|_| stages.contains(&Stage::DiscFt))
            .map(|p| HardNegatives::load(&p, dataset))
            .transpose()?,
        rationales: rationales
            .filter(|_| stages.contains(&Stage::CrDistill))
            .map(|p| read_rationales(&p))
            .transpose()?,
    };
    let opts = BuildOptions {
        num_frames: frames,
        system_turn: false,
    };
    let (plans, skipped) = plan_stages(&stages, &split, &clips, &inputs, &opts, args.flags.seed)?;
    skipped.iter().for_each(|m| println!("{m}"));
    for plan in &plans {
        let path = args.out.join("data").join(format!(
            "stage{}-{}.jsonl",
            plan.stage.number(),
            plan.stage.name()
        ));
        std::fs::create_dir_all(path.parent().unwrap_or(&args.out))?;
        write_conversations(&path, &plan.records)?;
        println!(
            "stage {}: {} -> {}",
            plan.stage.number(),
            plan.note,
            path.display()
        );
    }

    // The default device is flex, or wgpu/cuda with those features; --devices picks others.
    let devices = args.flags.devices().map_err(|e| anyhow!(e))?;
    let device = devices[0].clone();
    let base = match (&args.model, args.tiny) {
        (_, true) => {
            let dir = args.out.join("tiny-base");
            if !(args.resume && dir.join("config.json").is_file()) {
                device.seed(args.flags.seed);
                let weights = common::repo("assets/draction_default.safetensors");
                let (renderer, _) = draction::checkpoint::load(&weights, &device)?;
                smoke::write_model(&dir, &plans, &split, &renderer, &device)?;
            }
            println!(
                "NOTE: --tiny trains a tiny random model (2-layer ViT and LM) on synthetic clips: \
                 a smoke test of the recipe, its answers are meaningless."
            );
            dir
        }
        (Some(dir), false) => dir.clone(),
        (None, false) => bail!("give --model DIR (the base SkeletonLLM checkpoint) or --tiny"),
    };
    let teacher = args
        .teacher
        .clone()
        .or_else(|| args.tiny.then(|| base.clone()));
    let mut current = base.clone();
    let mut summary = Vec::new();
    for plan in &plans {
        let dir = run_dir(&args.out, plan.stage);
        let done = dir.join("train.json");
        if args.resume && done.is_file() {
            println!(
                "stage {}: finished earlier, using {}",
                plan.stage.number(),
                dir.display()
            );
            summary.push(serde_json::from_str(&std::fs::read_to_string(&done)?)?);
        } else if !args.resume && dir.join("checkpoint").exists() {
            bail!(
                "{}: a previous run is there; pass --resume to continue it or choose another --out",
                dir.display()
            );
        } else {
            let report = train_stage(
                &args,
                plan,
                &current,
                &data_root,
                &split,
                teacher.as_deref(),
                &devices,
            )?;
            let halted = report["halted"] == serde_json::json!(true);
            summary.push(report);
            if halted {
                println!(
                    "stage {}: stopped at --stop-after with a checkpoint; run again with --resume",
                    plan.stage.number()
                );
                return Ok(());
            }
        }
        current = dir.join("model");
    }
    let total = serde_json::json!({
        "split": split.name(), "frames": frames, "base_model": base, "final_model": current,
        "stages": summary, "seconds": started.elapsed().as_secs_f64(),
    });
    let text = serde_json::to_string_pretty(&total)?;
    draction::io::write_atomic(&args.out.join("summary.json"), text.as_bytes())?;
    println!("\nstage            steps  first loss  last loss  s/step");
    for s in &summary {
        println!(
            "{:<16} {:>5}  {:>10.4}  {:>9.4}  {:>6.3}",
            format!("{} {}", s["stage"], s["name"].as_str().unwrap_or("")),
            s["steps"].as_u64().unwrap_or(0),
            s["first_loss"].as_f64().unwrap_or(f64::NAN),
            s["last_loss"].as_f64().unwrap_or(f64::NAN),
            s["seconds_per_step"].as_f64().unwrap_or(f64::NAN),
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("final model: {} ({seconds:.1} s)", current.display());
    Ok(())
}

/// Trains `plan`'s stage from the model in `from` into its run folder; returns its summary.
fn train_stage(
    args: &Args,
    plan: &StagePlan,
    from: &Path,
    data_root: &Path,
    split: &ZeroShotSplit,
    teacher: Option<&Path>,
    devices: &[draction::burn::tensor::Device],
) -> Result<serde_json::Value> {
    let device = &devices[0];
    let stage = plan.stage;
    let mut base = args.flags.config(stage);
    base.random_frames = args.random_frames;
    let config = stage_config(stage, &base);
    let distill = config.distill_weight > 0.0;
    let samples = stage_samples(plan, data_root, split, distill)?;
    let t = stage.trainable();
    println!(
        "\n== stage {} ({}): {} samples, {} epoch(s); trains DrAction {}, projector {}, LoRA {} \
         (ViT and LLM {}); from {}",
        stage.number(),
        stage.name(),
        samples.len(),
        config.epochs,
        t.renderer,
        t.projector,
        t.lora,
        if config.from_scratch {
            "too: --from-scratch"
        } else {
            "frozen"
        },
        from.display()
    );
    device.seed(args.flags.seed);
    let a = common::load(from, device)?;
    let teacher = match (distill, teacher) {
        (true, Some(dir)) => {
            println!(
                "logit distillation from {} (weight {})",
                dir.display(),
                config.distill_weight
            );
            Some(common::load(dir, device)?)
        }
        (true, None) => bail!("--distill-weight > 0 needs --teacher DIR"),
        (false, _) => None,
    };
    let summary = run_stage(
        a.model,
        &a.tokenizer,
        &export_config(from)?,
        &samples,
        &config,
        &run_dir(&args.out, stage),
        args.resume,
        teacher.as_ref().map(|t| &t.model),
        devices,
    )
    .with_context(|| format!("stage {}", stage.number()))?;
    println!(
        "stage {} done ({}): {} steps, loss {:.4} -> {:.4} (mean of first/last 5: {:.4} -> {:.4})",
        stage.number(),
        plan.note,
        summary.steps,
        summary.first_loss.unwrap_or(f32::NAN),
        summary.last_loss.unwrap_or(f32::NAN),
        summary.mean_first5,
        summary.mean_last5,
    );
    let mut summary = serde_json::to_value(&summary)?;
    summary["data"] = plan.note.clone().into();
    Ok(summary)
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

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
use skeletonllm::draction::{self, Layout, Skeleton, synthetic};
use skeletonllm::flags::TrainFlags;
use skeletonllm::skeletonllm_model::load::save::{hf_config_json, save_pretrained};
use skeletonllm::skeletonllm_model::text::tokenizer::word_level_json;
use skeletonllm::skeletonllm_model::{
    Assistant, InternVlConfig, InternVlTokenizer, SkeletonLlm, text::prompts,
};
use skeletonllm::skeletonllm_train::data::{
    BuildOptions, ConversationRecord, HardNegatives, NtuDataset, NtuSample, Protocol,
    ZeroShotSplit, cr_teacher_prompt, crdistill_records, discft_records, mqa_records,
    read_rationales, scan_skeleton_dir, write_conversations,
};
use skeletonllm::skeletonllm_train::train::{
    Sample, Stage, TrainConfig, export_config, run_stage as run_stage_in, sample,
};

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

/// One stage's records and where its run goes.
struct Plan {
    stage: Stage,
    records: Vec<ConversationRecord>,
    note: String,
}

fn run_dir(out: &Path, stage: Stage) -> PathBuf {
    out.join(format!("stage{}-{}", stage.number(), stage.name()))
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
    let split = ZeroShotSplit::new(dataset, &args.split, protocol).map_err(|e| anyhow!("{e}"))?;

    // Data (and, with --tiny, the files a real run would be given).
    let mut hard_negatives = args.hard_negatives.clone();
    let mut rationales = args.rationales.clone();
    let data_root = if args.tiny {
        let root = args.out.join("tiny-data");
        let (h, r) = write_tiny_data(&root, dataset)?;
        hard_negatives.get_or_insert(h);
        rationales.get_or_insert(r);
        root
    } else {
        args.data_root
            .clone()
            .context("give --data-root (the NTU .skeleton folder) or --tiny")?
    };
    let clips = scan_skeleton_dir(&data_root).map_err(|e| anyhow!("{e}"))?;
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

    let opts = BuildOptions {
        num_frames: frames,
        system_turn: false,
    };
    let mut stages: Vec<Stage> = Vec::new();
    for &n in &args.stages {
        let s = Stage::from_number(n).with_context(|| format!("--stages: no stage {n}"))?;
        if !stages.contains(&s) {
            stages.push(s);
        }
    }
    let mut plans: Vec<Plan> = Vec::new();
    for &stage in &stages {
        let (records, note) = match stage {
            Stage::Warmup | Stage::Refine => {
                let r = mqa_records(&split, &clips, &opts).map_err(|e| anyhow!("{e}"))?;
                let note = format!("{} MQA records", r.len());
                (r, note)
            }
            Stage::DiscFt => {
                let Some(path) = &hard_negatives else {
                    println!(
                        "stage 2 (disc-ft) skipped: no --hard-negatives FILE (the authors' \
                         {}_similar_actions.json)",
                        dataset.name()
                    );
                    continue;
                };
                let negatives = HardNegatives::load(path, dataset).map_err(|e| anyhow!("{e}"))?;
                let (r, st) = discft_records(&split, &clips, &negatives, &opts, args.flags.seed)
                    .map_err(|e| anyhow!("{e}"))?;
                let note = format!(
                    "{} YES + {} NO records ({} clips without a seen hard negative)",
                    st.yes, st.no, st.without_negative
                );
                (r, note)
            }
            Stage::CrDistill => {
                let Some(path) = &rationales else {
                    println!(
                        "stage 3 (cr-distill) skipped: no --rationales FILE (teacher JSONL \
                         {{\"id\", \"label\", \"rationale\"}})"
                    );
                    continue;
                };
                let teacher = read_rationales(path).map_err(|e| anyhow!("{e}"))?;
                let (r, st) =
                    crdistill_records(&split, &teacher, &opts).map_err(|e| anyhow!("{e}"))?;
                let note = format!(
                    "{} rationales kept ({} wrong label, {} no Label: line, {} not in the split)",
                    st.written, st.label_mismatch, st.missing_label, st.not_in_split
                );
                (r, note)
            }
        };
        if records.is_empty() {
            bail!("stage {}: no training records ({note})", stage.number());
        }
        let path =
            args.out
                .join("data")
                .join(format!("stage{}-{}.jsonl", stage.number(), stage.name()));
        std::fs::create_dir_all(path.parent().unwrap_or(&args.out))?;
        write_conversations(&path, &records).map_err(|e| anyhow!("{e}"))?;
        println!(
            "stage {} ({}): {note} -> {}",
            stage.number(),
            stage.name(),
            path.display()
        );
        plans.push(Plan {
            stage,
            records,
            note,
        });
    }

    let base = if args.tiny {
        let dir = args.out.join("tiny-base");
        if !(args.resume && dir.join("config.json").is_file()) {
            write_tiny_model(&dir, &plans, &split, args.flags.seed)?;
        }
        println!(
            "NOTE: --tiny trains a tiny random model (2-layer ViT and LM) on synthetic clips: a \
             smoke test of the recipe, its answers are meaningless."
        );
        dir
    } else {
        args.model
            .clone()
            .context("give --model DIR (the base SkeletonLLM checkpoint) or --tiny")?
    };

    let device = skeletonllm::device().autodiff(); // flex, or wgpu/cuda with those features
    let mut current = base.clone();
    let mut summary = Vec::new();
    for plan in &plans {
        let dir = run_dir(&args.out, plan.stage);
        let done = dir.join("train.json");
        if args.resume && done.is_file() {
            println!(
                "stage {} ({}): finished earlier, using {}",
                plan.stage.number(),
                plan.stage.name(),
                dir.join("model").display()
            );
            let prev: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&done)?)?;
            summary.push(prev);
            current = dir.join("model");
            continue;
        }
        if !args.resume && dir.join("checkpoint").exists() {
            bail!(
                "{}: a previous run is there; pass --resume to continue it or choose another --out",
                dir.display()
            );
        }
        let teacher = args
            .teacher
            .clone()
            .or_else(|| args.tiny.then(|| base.clone()));
        let report = run_stage(
            &args,
            plan,
            &current,
            &dir,
            &data_root,
            &split,
            teacher.as_deref(),
            &device,
        )?;
        summary.push(report);
        current = dir.join("model");
    }
    let total = serde_json::json!({
        "split": split.name(), "frames": frames, "base_model": base, "final_model": current,
        "stages": summary, "seconds": started.elapsed().as_secs_f64(),
    });
    std::fs::write(
        args.out.join("summary.json"),
        serde_json::to_string_pretty(&total)?,
    )?;
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
    println!(
        "final model: {} ({:.1} s)",
        current.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Trains one stage from the model in `from`, exports to `dir/model`, returns its summary.
#[allow(clippy::too_many_arguments)]
fn run_stage(
    args: &Args,
    plan: &Plan,
    from: &Path,
    dir: &Path,
    data_root: &Path,
    split: &ZeroShotSplit,
    teacher: Option<&Path>,
    device: &draction::burn::tensor::Device,
) -> Result<serde_json::Value> {
    let stage = plan.stage;
    let mut samples: Vec<Sample> =
        sample::from_records(&plan.records, data_root).map_err(|e| anyhow!("{e}"))?;
    if stage == Stage::DiscFt {
        for s in &mut samples {
            let other = if s.answer == prompts::YES {
                prompts::NO
            } else {
                prompts::YES
            };
            s.contrast = Some(other.to_string());
        }
    }
    let mut config = args.flags.config(stage);
    if stage != Stage::DiscFt {
        config.margin_weight = 0.0;
    }
    config.random_frames = args.random_frames;
    let distill = stage == Stage::CrDistill && config.distill_weight > 0.0;
    if distill {
        for (s, r) in samples.iter_mut().zip(&plan.records) {
            s.teacher_user = Some(teacher_prompt(r, split, config_frames(r))?);
        }
    } else {
        config.distill_weight = 0.0;
    }
    let t = stage.trainable();
    println!(
        "\n== stage {} ({}): {} samples, {} epoch(s); trains DrAction {}, projector {}, LoRA {} \
         (ViT and LLM frozen{}); from {}",
        stage.number(),
        stage.name(),
        samples.len(),
        config.epochs,
        t.renderer,
        t.projector,
        t.lora,
        if config.from_scratch {
            ": no, --from-scratch"
        } else {
            ""
        },
        from.display()
    );
    device.seed(args.flags.seed);
    let a = Assistant::load(from, device).map_err(|e| anyhow!("{}: {e}", from.display()))?;
    let teacher = match (distill, teacher) {
        (true, Some(dir)) => {
            println!(
                "logit distillation from {} (weight {})",
                dir.display(),
                args.flags.distill_weight
            );
            Some(Assistant::load(dir, device).map_err(|e| anyhow!("{}: {e}", dir.display()))?)
        }
        (true, None) => bail!("--distill-weight > 0 needs --teacher DIR"),
        (false, _) => None,
    };
    let config_json = export_config(from).map_err(|e| anyhow!("{e}"))?;
    let summary = run_stage_in(
        a.model,
        &a.tokenizer,
        &config_json,
        &samples,
        &config,
        dir,
        args.resume,
        teacher.as_ref().map(|t| &t.model),
        device,
    )
    .map_err(|e| anyhow!("stage {}: {e}", stage.number()))?;
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

/// Frames of a record: its `<image>` placeholders.
fn config_frames(r: &ConversationRecord) -> usize {
    r.question().map_or(0, |q| q.matches("<image>").count())
}

/// The label-aware CR-Distill teacher prompt for a record (its id names the NTU sample).
fn teacher_prompt(r: &ConversationRecord, split: &ZeroShotSplit, frames: usize) -> Result<String> {
    let sample = NtuSample::parse(&r.id).map_err(|e| anyhow!("{e}"))?;
    let ds = split.dataset();
    let label = ds.label(sample.action).map_err(|e| anyhow!("{e}"))?;
    let name = match ds {
        NtuDataset::Ntu60 => "NTU RGB+D",
        NtuDataset::Ntu120 => "NTU RGB+D 120",
    };
    Ok(cr_teacher_prompt(label, frames, name))
}

/// Writes the trained model (LoRA merged) to `dir/model` with the config and tokenizer of `from`.
/// The tiny clips: (action id, performer) pairs; performers 1, 2, 4 are cross-subject training
/// subjects, 3 is a test subject (left out by the split).
const TINY_CLIPS: [(u16, u16); 10] = [
    (1, 1),
    (1, 2),
    (1, 3),
    (8, 1),
    (8, 2),
    (8, 4),
    (23, 1),
    (23, 2),
    (23, 4),
    (23, 3),
];

/// Writes a handful of synthetic NTU clips (three classes: a walking figure as it is, with the
/// right arm raised, and crouched), a hard-negative JSON and teacher rationales for them.
fn write_tiny_data(root: &Path, dataset: NtuDataset) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(root)?;
    let ntu25 = Layout::builtin("ntu25")?;
    let mut rationales = String::new();
    for (k, &(action, performer)) in TINY_CLIPS.iter().enumerate() {
        let bodies = 1 + k % 2;
        let base = synthetic::walking_ntu(30 + 4 * k, bodies);
        let [t, p, j] = base.dims();
        let mut pos = base.positions().to_vec();
        for (i, xyz) in pos.chunks_exact_mut(3).enumerate() {
            let joint = i % j;
            match action {
                8 => xyz[1] *= 0.6, // crouched
                23 if (8..=11).contains(&joint) || joint == 23 || joint == 24 => xyz[1] += 0.5,
                _ => {}
            }
        }
        let skel = Skeleton::from_dense(pos, t, p, ntu25.clone())?;
        let name = NtuSample {
            setup: 1,
            camera: 1 + (k % 3) as u16,
            performer,
            replication: 1,
            action,
        };
        draction::io::ntu::write(&skel, &root.join(name.file_name()))?;
        let label = dataset.label(action).map_err(|e| anyhow!("{e}"))?;
        rationales += &format!(
            "{}\n",
            serde_json::json!({"id": name.id(), "label": label,
                "rationale": format!("The figure keeps its feet apart and moves its arms.\nLabel: {label}")})
        );
    }
    let negatives = root.join("similar_actions.json");
    std::fs::write(
        &negatives,
        serde_json::json!({
            "drink water": ["sit down", "hand waving"],
            "sit down": ["drink water"],
            "hand waving": ["drink water", "sit down"],
        })
        .to_string(),
    )?;
    let teacher = root.join("rationales.jsonl");
    std::fs::write(&teacher, rationales)?;
    Ok((negatives, teacher))
}

/// A tiny random SkeletonLLM whose word-level tokenizer knows every word of the records.
fn write_tiny_model(dir: &Path, plans: &[Plan], split: &ZeroShotSplit, seed: u64) -> Result<()> {
    let device = skeletonllm::device();
    device.seed(seed);
    let mut texts: Vec<String> = vec![
        prompts::TEMPLATE_SYSTEM_MESSAGE.into(),
        prompts::YES.into(),
        prompts::NO.into(),
    ];
    for plan in plans {
        for r in &plan.records {
            texts.extend(r.question().map(str::to_string));
            texts.extend(r.answer().map(str::to_string));
            if plan.stage == Stage::CrDistill {
                texts.push(teacher_prompt(r, split, config_frames(r))?);
            }
        }
    }
    let tok_json = word_level_json(&texts);
    let tokenizer = InternVlTokenizer::from_json(tok_json.clone(), "tiny".as_ref())
        .map_err(|e| anyhow!("{e}"))?;
    let config = InternVlConfig::tiny(
        tokenizer.vocab_size(),
        tokenizer.special_tokens().img_context as usize,
    );
    let weights =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/draction_default.safetensors");
    let (renderer, _) = draction::checkpoint::load(&weights, &device)?;
    let model = SkeletonLlm::new(renderer, config.init(&device));
    save_pretrained(
        dir,
        &model.internvl,
        &hf_config_json(&config),
        Some(&model.renderer),
        Some(&tok_json),
    )
    .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

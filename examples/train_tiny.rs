//! The recipe of the bundled `skeletonllm-tiny` (assets/skeletonllm-tiny): trains it on this
//! machine's CPU and evaluates it on held-out source clips.
//!
//! ```text
//! scripts/train-tiny.sh            # = the command below, with the data and the LM fetched
//! cargo run --release --example train_tiny -- --gguf $(scripts/fetch-smollm2.sh) \
//!     --data .data --out assets/skeletonllm-tiny --run out/train-tiny
//! ```
//!
//! Model: the hand-set DrAction of `assets/draction_default.safetensors` (trainable), a small
//! InternViT trained from scratch (112 px, 28 px patches: 4 tokens per frame after the pixel
//! shuffle), the MLP projector, and SmolLM2-135M-Instruct (GGUF, frozen) with LoRA adapters.
//! Data: [`skeletonllm_train::tiny`] (real mocap + procedural motions, whole source clips held
//! out). Tasks: the authors' label-only multiple-choice prompt over the 18 labels, and
//! captioning with template captions. The trainable set is Stage 3's (renderer, projector,
//! LoRA) plus the ViT; plain answer cross entropy.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use indicatif::ProgressBar;
use skeletonllm_model::load::bundle::{self, BaseLanguageModel, BundleManifest};
use skeletonllm_model::{
    Assistant, InternVitConfig, InternVlConfig, LoraConfig, MultiModalProjectorConfig, Qwen2Config,
    text::prompts,
};
use skeletonllm_train::align::{self, AlignConfig};
use skeletonllm_train::data::rng::SplitMix64;
use skeletonllm_train::metrics::caption_scores_from_text;
use skeletonllm_train::tiny::{self, DatasetConfig, LABELS, MotionClip};
use skeletonllm_train::train::{Sample, SkeletonRef, Stage, TrainConfig, encode, train};

/// The system message of the bundled model (short: every token costs on a laptop CPU).
const SYSTEM: &str =
    "You are a helpful assistant who understands human motion from skeleton videos.";

#[derive(Parser)]
struct Args {
    /// SmolLM2-135M-Instruct GGUF (`scripts/fetch-smollm2.sh` prints its path).
    #[arg(long)]
    gguf: PathBuf,
    /// Data folder of `scripts/fetch-data.sh`.
    #[arg(long, default_value = ".data")]
    data: PathBuf,
    /// Where the bundle is written.
    #[arg(long, default_value = "assets/skeletonllm-tiny")]
    out: PathBuf,
    /// Run folder (checkpoints, log).
    #[arg(long, default_value = "out/train-tiny")]
    run: PathBuf,
    /// Continue from the run folder's last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Steps of the embedding-alignment warm-up (renderer + ViT + projector, no LM).
    #[arg(long, default_value_t = 1500)]
    align_steps: usize,
    /// Clips per alignment step.
    #[arg(long, default_value_t = 8)]
    align_batch: usize,
    /// Learning rate of the alignment warm-up.
    #[arg(long, default_value_t = 3e-4)]
    align_lr: f64,
    /// Optimizer steps of the answer training (through the LM).
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Frames per clip.
    #[arg(long, default_value_t = 6)]
    frames: usize,
    /// Seed of data and training.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Share of training clips that also get a caption sample (all get a recognition one).
    #[arg(long, default_value_t = 0.4)]
    caption_share: f64,
    /// Held-out clips captioned for BLEU/ROUGE (greedy decoding is the slow part).
    #[arg(long, default_value_t = 36)]
    caption_eval: usize,
    /// Only evaluate the bundle already in `--out`.
    #[arg(long)]
    eval_only: bool,
}

fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Every training clip as a recognition sample; a `caption_share` of them also as a caption
/// sample (one of its label's template captions).
fn samples(clips: &[MotionClip], frames: usize, caption_share: f64, seed: u64) -> Vec<Sample> {
    let mut rng = SplitMix64::new(seed ^ 0x5EED);
    let recognise = prompts::user_message(frames, &prompts::mqa_question(&LABELS));
    let describe = prompts::user_message(frames, prompts::CAPTION_QUESTION);
    let mut out = Vec::new();
    for (i, c) in clips.iter().enumerate().filter(|(_, c)| !c.held_out) {
        let skeleton = SkeletonRef::Memory(c.skeleton.clone());
        out.push(Sample::new(
            format!("{i}-label"),
            skeleton.clone(),
            recognise.clone(),
            c.label,
        ));
        if unit(&mut rng) < caption_share {
            let caps = tiny::captions(c.label);
            let cap = caps[rng.below(caps.len())];
            out.push(Sample::new(
                format!("{i}-caption"),
                skeleton,
                describe.clone(),
                cap,
            ));
        }
    }
    for s in &mut out {
        s.system = Some(SYSTEM.to_string());
    }
    out
}

fn model_config() -> InternVlConfig {
    let vision = InternVitConfig::new(96, 3, 4, 384)
        .with_image_size(112)
        .with_patch_size(28);
    let projector = MultiModalProjectorConfig::new(96, 576);
    // The text part is replaced by the GGUF's own config.
    let text = Qwen2Config::new(1, 8, 8, 1, 1, 1);
    InternVlConfig::new(vision, projector, text)
}

fn manifest(gguf: &Path, lora: &LoraConfig, frames: usize) -> BundleManifest {
    let file = gguf
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    BundleManifest {
        base_language_model: BaseLanguageModel {
            file,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53".into(),
            fetch: "scripts/fetch-smollm2.sh".into(),
        },
        lora_rank: lora.rank,
        lora_alpha: lora.alpha,
        lora_target_modules: lora.target_modules.clone(),
        frames,
        system: SYSTEM.to_string(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = skeletonllm::device();
    let started = Instant::now();
    let clips = tiny::build(
        &args.data,
        &DatasetConfig {
            seed: args.seed,
            ..DatasetConfig::default()
        },
    )
    .context("building the dataset (run scripts/fetch-data.sh first)")?;
    let held_out: Vec<&MotionClip> = clips.iter().filter(|c| c.held_out).collect();
    eprintln!(
        "data: {} clips ({} training, {} held out) from real mocap and procedural motion, {:.1} s",
        clips.len(),
        clips.len() - held_out.len(),
        held_out.len(),
        started.elapsed().as_secs_f64()
    );

    if !args.eval_only {
        let lora =
            LoraConfig::new(8, 16.0).with_target_modules(["q_proj", "k_proj", "v_proj", "o_proj"]);
        let train_device = device.clone().autodiff();
        let (renderer, _) = draction::checkpoint::load(
            Path::new("assets/draction_default.safetensors"),
            &train_device,
        )
        .map_err(|e| anyhow!("{e}"))?;
        let (model, config, tokenizer) =
            bundle::new_on_gguf(&args.gguf, renderer, &model_config(), &train_device)
                .map_err(|e| anyhow!("{e}"))?;
        // Phase 1: image tokens aligned with the LM's embeddings of their labels.
        let aligned: Vec<(std::sync::Arc<draction::Skeleton>, usize)> = clips
            .iter()
            .filter(|c| !c.held_out)
            .map(|c| {
                let index = LABELS.iter().position(|l| *l == c.label).unwrap_or(0);
                (c.skeleton.clone(), index)
            })
            .collect();
        let targets =
            align::label_embeddings(&model, &tokenizer, &LABELS).map_err(|e| anyhow!("{e}"))?;
        let align_config = AlignConfig {
            steps: args.align_steps,
            batch_size: args.align_batch,
            lr: args.align_lr,
            frames: args.frames,
            seed: args.seed,
            ..AlignConfig::default()
        };
        let t = Instant::now();
        let (model, report) = align::align(model, &aligned, targets, &align_config, &train_device)
            .map_err(|e| anyhow!("{e}"))?;
        let windows = &report.window_accuracies;
        eprintln!(
            "alignment: token accuracy per window {:?}; kept window {}",
            windows
                .iter()
                .map(|a| (a * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            report.best_window + 1
        );
        eprintln!(
            "alignment: {} steps in {:.0} s",
            args.align_steps,
            t.elapsed().as_secs_f64()
        );

        // Phase 2: answer tokens through the LM (recognition and captions).
        let samples = samples(&clips, args.frames, args.caption_share, args.seed);
        for kind in ["label", "caption"] {
            if let Some(s) = samples.iter().find(|s| s.id.ends_with(kind)) {
                let enc = encode(
                    &tokenizer,
                    config.tokens_per_image(),
                    s.system.as_deref(),
                    &s.user,
                    &s.answer,
                )
                .map_err(|e| anyhow!("{e}"))?;
                eprintln!("{kind} sample: {} tokens", enc.ids.len());
            }
        }
        eprintln!("{} training samples", samples.len());
        let train_config = TrainConfig {
            epochs: (args.steps * args.batch).div_ceil(samples.len()).max(1),
            max_steps: Some(args.steps),
            lr: args.lr,
            warmup_ratio: 0.05,
            weight_decay: 0.0,
            batch_size: args.batch,
            seed: args.seed,
            checkpoint_every: 25,
            log_every: 10,
            lora: lora.clone(),
            train_vision: true,
            ..TrainConfig::authors(Stage::CrDistill)
        };
        // The journal shows a bar on a terminal, plain lines every 10 steps in a log file.
        let (trained, report) = train(
            model,
            &samples,
            &tokenizer,
            &train_config,
            &args.run,
            args.resume,
            None,
            std::slice::from_ref(&train_device),
        )
        .map_err(|e| anyhow!("{e}"))?;
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
        let n = report.losses.len().min(20);
        eprintln!(
            "trained {} steps: loss first {n} {:.3}, last {n} {:.3}",
            report.steps,
            mean(&report.losses[..n]),
            mean(&report.losses[report.losses.len() - n..])
        );
        bundle::save_bundle(
            &args.out,
            &trained,
            &config,
            &manifest(&args.gguf, &lora, args.frames),
        )
        .map_err(|e| anyhow!("{e}"))?;
        std::fs::write(
            args.run.join("train_log.json"),
            serde_json::to_string(&report.logs)?,
        )?;
        eprintln!("wrote {}", args.out.display());
    }

    evaluate(&args, &clips, &held_out, &device)
}

fn evaluate(
    args: &Args,
    all: &[MotionClip],
    held_out: &[&MotionClip],
    device: &skeletonllm_model::draction::burn::tensor::Device,
) -> Result<()> {
    let assistant = Assistant::load(&args.out, device).map_err(|e| anyhow!("{e}"))?;
    let bar = ProgressBar::new(held_out.len() as u64);
    let mut correct = 0usize;
    let mut top5 = 0usize;
    let mut seconds = Vec::new();
    let mut per_class: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for clip in held_out {
        let t = Instant::now();
        let c = assistant.clip(&clip.skeleton).map_err(|e| anyhow!("{e}"))?;
        let ranking = assistant
            .rank_labels(&c, &LABELS)
            .map_err(|e| anyhow!("{e}"))?;
        seconds.push(t.elapsed().as_secs_f64());
        let hit = ranking[0].label == clip.label;
        correct += usize::from(hit);
        top5 += usize::from(ranking.iter().take(5).any(|s| s.label == clip.label));
        let e = per_class.entry(clip.label).or_default();
        e.0 += usize::from(hit);
        e.1 += 1;
        bar.inc(1);
    }
    bar.finish();
    // The same ranking on a spread of training clips (how well the training set was fitted).
    let train_clips: Vec<&MotionClip> = all.iter().filter(|c| !c.held_out).collect();
    let stride = (train_clips.len() / 72).max(1);
    let mut train_hits = 0usize;
    let mut train_n = 0usize;
    for clip in train_clips.iter().step_by(stride).take(72) {
        let c = assistant.clip(&clip.skeleton).map_err(|e| anyhow!("{e}"))?;
        let ranking = assistant
            .rank_labels(&c, &LABELS)
            .map_err(|e| anyhow!("{e}"))?;
        train_hits += usize::from(ranking[0].label == clip.label);
        train_n += 1;
    }
    // Captions on a spread of held-out clips.
    let step = (held_out.len() / args.caption_eval.max(1)).max(1);
    let mut hyps = Vec::new();
    let mut refs = Vec::new();
    let mut examples = Vec::new();
    for clip in held_out.iter().step_by(step).take(args.caption_eval) {
        let text = assistant
            .caption(&clip.skeleton, |_| {})
            .map_err(|e| anyhow!("{e}"))?;
        examples.push(
            serde_json::json!({"source": clip.source, "label": clip.label,
            "caption": text}),
        );
        hyps.push(text);
        refs.push(
            tiny::captions(clip.label)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
    }
    let scores = caption_scores_from_text(&hyps, &refs).map_err(|e| anyhow!("{e}"))?;
    let n = held_out.len() as f64;
    seconds.sort_by(f64::total_cmp);
    let report = serde_json::json!({
        "held_out_clips": held_out.len(),
        "labels": LABELS.len(),
        "top1": correct as f64 / n,
        "top5": top5 as f64 / n,
        "train_top1": train_hits as f64 / train_n.max(1) as f64,
        "train_clips_ranked": train_n,
        "chance": 1.0 / LABELS.len() as f64,
        "per_class": per_class.iter().map(|(k, (h, t))| (k.to_string(),
            serde_json::json!({"top1": *h as f64 / *t as f64, "clips": t}))).collect::<serde_json::Map<_, _>>(),
        "recognize_seconds_median": seconds[seconds.len() / 2],
        "captions": {"clips": hyps.len(), "bleu4": scores.bleu4, "rouge_l": scores.rouge_l,
            "cider_d": scores.cider_d},
        "caption_examples": examples,
    });
    std::fs::write(
        args.out.join("eval.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

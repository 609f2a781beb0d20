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
//! Data: [`skeletonllm_train::tiny`] (real mocap + procedural motions; whole collections of
//! real recordings held out). Tasks: the authors' label-only multiple-choice prompt over the 19
//! labels, captioning with template captions, and the Disc-FT YES/NO question on true,
//! confusable and unrelated labels. The trainable set is Stage 3's (renderer, projector, LoRA)
//! plus the ViT; plain answer cross entropy. The bundle reads every input through SMPL-22
//! (`--input-layout`) and answers `verify` by ranking (`--verify`). The evaluation
//! (`eval.json`) ranks the bundle's labels on every held-out clip (per collection, per label)
//! and on the first clip of every held-out real source converted to each built-in layout,
//! asks `verify` (by ranking and as the YES/NO question) about the true, a confusable and an
//! unrelated label, captions a spread of clips, and records the first clip of every held-out
//! recording with its prediction (`check_clips`, re-checked by `tests/bundled_model.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use draction::layout::{BUILTIN_LAYOUTS, Layout};
use indicatif::ProgressBar;
use skeletonllm_model::load::bundle::{self, BaseLanguageModel, BundleManifest};
use skeletonllm_model::{
    Assistant, InternVitConfig, InternVlConfig, LoraConfig, MultiModalProjectorConfig, Qwen2Config,
    Verification, VerifyMethod, text::prompts,
};
use skeletonllm_train::align::{self, AlignConfig};
use skeletonllm_train::data::rng::SplitMix64;
use skeletonllm_train::metrics::caption_scores_from_text;
use skeletonllm_train::tiny::{self, DatasetConfig, LABELS, MotionClip, unit};
use skeletonllm_train::train::{Sample, SkeletonRef, Stage, TrainConfig, encode, train};

/// Collections whose held-out clips are not a new source: unseen procedural performers and the
/// held-out holosoma climb (reported, but not in the held-out-source numbers).
const WITHIN_SOURCE: [&str; 2] = ["procedural", "holosoma"];

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
    /// Share of training clips that also get a Disc-FT YES/NO sample (half true labels, half
    /// confusable or unrelated ones).
    #[arg(long, default_value_t = 0.4)]
    verify_share: f64,
    /// Held-out clips captioned for BLEU/ROUGE (greedy decoding is the slow part).
    #[arg(long, default_value_t = 36)]
    caption_eval: usize,
    /// The layout every input is retargeted to before rendering (the bundle's `input_layout`;
    /// `own` keeps each skeleton's own). Sparse layouts such as COCO-17 or OpenPose read better
    /// through SMPL-22, one of the two layouts DrAction's checkpoint renders natively.
    #[arg(long, default_value = "smpl22")]
    input_layout: String,
    /// How the bundle's `verify` decides: `ranking` (the label ranked among the bundle's
    /// labels; the tiny model's YES/NO answers do not follow the clip) or `yes-no` (the
    /// Disc-FT question).
    #[arg(long, default_value = "ranking")]
    verify: String,
    /// Only evaluate the bundle already in `--out`.
    #[arg(long)]
    eval_only: bool,
    /// Write the first training and held-out clip of every collection as JSON skeletons to
    /// this folder (render them with `skeletonllm render`), then stop.
    #[arg(long)]
    preview: Option<PathBuf>,
}

/// Every training clip as a recognition sample; a `caption_share` of them also as a caption
/// sample (one of its label's template captions) and a `verify_share` as a Disc-FT YES/NO
/// sample (YES for the true label half the time; NO for a confusable label, or one of
/// [`tiny::UNRELATED`] one time in four).
fn samples(
    clips: &[MotionClip],
    frames: usize,
    caption_share: f64,
    verify_share: f64,
    seed: u64,
) -> Vec<Sample> {
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
        if unit(&mut rng) < verify_share {
            let (label, answer) = if unit(&mut rng) < 0.5 {
                (c.label, prompts::YES)
            } else if unit(&mut rng) < 0.25 {
                (
                    tiny::UNRELATED[rng.below(tiny::UNRELATED.len())],
                    prompts::NO,
                )
            } else {
                let hard = tiny::confusable(c.label);
                (hard[rng.below(hard.len())], prompts::NO)
            };
            out.push(Sample::new(
                format!("{i}-verify"),
                SkeletonRef::Memory(c.skeleton.clone()),
                prompts::user_message(frames, &prompts::discft_question(label)),
                answer,
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

fn manifest(
    gguf: &Path,
    lora: &LoraConfig,
    frames: usize,
    input_layout: Option<&str>,
    verify: VerifyMethod,
) -> BundleManifest {
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
        input_layout: input_layout.map(str::to_string),
        verify,
        files: Default::default(),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let input_layout = (args.input_layout != "own").then_some(args.input_layout.as_str());
    if let Some(name) = input_layout {
        Layout::builtin(name).map_err(|e| anyhow!("--input-layout {name}: {e}"))?;
    }
    let verify: VerifyMethod = serde_json::from_value(serde_json::json!(args.verify))
        .map_err(|_| anyhow!("--verify {}: expected ranking or yes-no", args.verify))?;
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

    if let Some(dir) = &args.preview {
        std::fs::create_dir_all(dir)?;
        let mut seen = std::collections::BTreeSet::new();
        for c in &clips {
            let kind = if c.held_out { "heldout" } else { "train" };
            if seen.insert((c.collection, kind)) {
                let path = dir.join(format!("{}_{kind}.json", c.collection));
                draction::io::write(&c.skeleton, &path).map_err(|e| anyhow!("{e}"))?;
                eprintln!("{}: {} ({})", path.display(), c.source, c.label);
            }
        }
        return Ok(());
    }

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
        let samples = samples(
            &clips,
            args.frames,
            args.caption_share,
            args.verify_share,
            args.seed,
        );
        for kind in ["label", "caption", "verify"] {
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
            &manifest(&args.gguf, &lora, args.frames, input_layout, verify),
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

/// Top-1 and top-5 hits of a group of clips.
#[derive(Default)]
struct Tally {
    clips: usize,
    top1: usize,
    top5: usize,
}

impl Tally {
    fn add(&mut self, hit1: bool, hit5: bool) {
        self.clips += 1;
        self.top1 += usize::from(hit1);
        self.top5 += usize::from(hit5);
    }

    /// Share of clips whose first-ranked label is right.
    fn top1_rate(&self) -> f64 {
        self.top1 as f64 / self.clips.max(1) as f64
    }

    /// Share of clips whose right label is among the first five.
    fn top5_rate(&self) -> f64 {
        self.top5 as f64 / self.clips.max(1) as f64
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({"clips": self.clips, "top1": self.top1_rate(),
            "top5": self.top5_rate()})
    }
}

/// `verify`'s answers about the true, a confusable and an unrelated label of each clip.
#[derive(Default)]
struct VerifyTally {
    clips: usize,
    yes_to_true: usize,
    no_to_confusable: usize,
    no_to_unrelated: usize,
}

impl VerifyTally {
    fn add(
        &mut self,
        true_label: &Verification,
        confusable: &Verification,
        unrelated: &Verification,
    ) {
        self.clips += 1;
        self.yes_to_true += usize::from(true_label.yes);
        self.no_to_confusable += usize::from(!confusable.yes);
        self.no_to_unrelated += usize::from(!unrelated.yes);
    }

    fn json(&self) -> serde_json::Value {
        let n = self.clips.max(1) as f64;
        let right = self.yes_to_true + self.no_to_confusable + self.no_to_unrelated;
        serde_json::json!({"clips": self.clips,
            "yes_to_true_label": self.yes_to_true as f64 / n,
            "no_to_confusable_label": self.no_to_confusable as f64 / n,
            "no_to_unrelated_label": self.no_to_unrelated as f64 / n,
            "accuracy": right as f64 / (3.0 * n)})
    }
}

/// Evaluates the bundle in `--out` on the held-out clips: recognition among the bundle's own
/// labels per held-out collection and per label, `verify` on the true label against a
/// confusable and an unrelated one, recognition of one clip per held-out real source converted
/// to every built-in layout, captions on a spread of clips, and the seconds per clip.
fn evaluate(
    args: &Args,
    all: &[MotionClip],
    held_out: &[&MotionClip],
    device: &skeletonllm_model::draction::burn::tensor::Device,
) -> Result<()> {
    let assistant = Assistant::load(&args.out, device).map_err(|e| anyhow!("{e}"))?;
    let labels: Vec<String> = if assistant.labels.is_empty() {
        LABELS.iter().map(|s| s.to_string()).collect()
    } else {
        assistant.labels.clone()
    };
    let bar = ProgressBar::new(held_out.len() as u64);
    let mut seconds = Vec::new();
    let mut per_collection: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut per_label: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut real = Tally::default();
    let mut confusions: BTreeMap<(String, String), usize> = BTreeMap::new();
    let (mut yes_no, mut by_ranking) = (VerifyTally::default(), VerifyTally::default());
    let mut rng = SplitMix64::new(args.seed ^ 0xE7A1);
    let mut check = Vec::new();
    let mut checked = std::collections::BTreeSet::new();
    let mut firsts: Vec<&MotionClip> = Vec::new();
    for clip in held_out {
        let t = Instant::now();
        let c = assistant.clip(&clip.skeleton).map_err(|e| anyhow!("{e}"))?;
        let ranking = assistant
            .rank_labels(&c, &labels)
            .map_err(|e| anyhow!("{e}"))?;
        seconds.push(t.elapsed().as_secs_f64());
        let hit1 = ranking[0].label == clip.label;
        let hit5 = ranking.iter().take(5).any(|s| s.label == clip.label);
        per_collection
            .entry(clip.collection)
            .or_default()
            .add(hit1, hit5);
        per_label.entry(clip.label).or_default().add(hit1, hit5);
        if !WITHIN_SOURCE.contains(&clip.collection) {
            real.add(hit1, hit5);
        }
        if clip.collection != "procedural" && checked.insert(clip.source.clone()) {
            firsts.push(*clip);
            check.push(
                serde_json::json!({"source": clip.source, "label": clip.label,
                "predicted": ranking[0].label}),
            );
        }
        if !hit1 {
            *confusions
                .entry((clip.label.to_string(), ranking[0].label.clone()))
                .or_default() += 1;
        }
        let hard = tiny::confusable(clip.label);
        let wrong = hard[rng.below(hard.len())];
        let unrelated = tiny::UNRELATED[rng.below(tiny::UNRELATED.len())];
        let v = |label: &str| {
            assistant
                .verify_yes_no(&c, label)
                .map_err(|e| anyhow!("{e}"))
        };
        yes_no.add(&v(clip.label)?, &v(wrong)?, &v(unrelated)?);
        // By ranking: the true and confusable labels are among the ranked ones already.
        let r = |label: &str| {
            Verification::from_ranking(&ranking, label).ok_or_else(|| anyhow!("{label} unranked"))
        };
        let unrelated = assistant
            .verify_by_ranking(&c, unrelated)
            .map_err(|e| anyhow!("{e}"))?;
        by_ranking.add(&r(clip.label)?, &r(wrong)?, &unrelated);
        bar.inc(1);
    }
    bar.finish();
    // A clip's labels, best first (the held-out loop above keeps its clip for `verify` too).
    let rank = |skel: &draction::Skeleton| -> Result<_> {
        let c = assistant.clip(skel).map_err(|e| anyhow!("{e}"))?;
        assistant
            .rank_labels(&c, &labels)
            .map_err(|e| anyhow!("{e}"))
    };
    // Cross-format transfer: the first clip of every held-out real source converted to each
    // built-in layout (as `skeletonllm convert` does) and ranked again.
    let mut per_layout: BTreeMap<&str, Tally> = BTreeMap::new();
    let bar = ProgressBar::new((firsts.len() * BUILTIN_LAYOUTS.len()) as u64);
    for name in BUILTIN_LAYOUTS {
        let layout = Layout::builtin(name).map_err(|e| anyhow!("{e}"))?;
        for clip in &firsts {
            let ranking = rank(&clip.skeleton.retarget(&layout))?;
            let hit5 = ranking.iter().take(5).any(|s| s.label == clip.label);
            per_layout
                .entry(name)
                .or_default()
                .add(ranking[0].label == clip.label, hit5);
            bar.inc(1);
        }
    }
    bar.finish();
    let layout_top1: Vec<f64> = per_layout.values().map(Tally::top1_rate).collect();
    // The same ranking on a spread of training clips (how well the training set was fitted).
    let train_clips: Vec<&MotionClip> = all.iter().filter(|c| !c.held_out).collect();
    let stride = (train_clips.len() / 72).max(1);
    let mut fitted = Tally::default();
    for clip in train_clips.iter().step_by(stride).take(72) {
        let ranking = rank(&clip.skeleton)?;
        fitted.add(ranking[0].label == clip.label, false);
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
    seconds.sort_by(f64::total_cmp);
    let real_collections: Vec<f64> = per_collection
        .iter()
        .filter(|(k, _)| !WITHIN_SOURCE.contains(k))
        .map(|(_, t)| t.top1_rate())
        .collect();
    let mut confusions: Vec<_> = confusions.into_iter().collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.1));
    let k = labels.len() as f64;
    let report = serde_json::json!({
        "labels": labels,
        "held_out_clips": held_out.len(),
        "chance": {"top1": 1.0 / k, "top5": (5.0 / k).min(1.0), "verify": 0.5},
        "held_out_sources": {
            "collections": real_collections.len(),
            "top1": real.top1_rate(),
            "top5": real.top5_rate(),
            "top1_mean_over_collections": real_collections.iter().sum::<f64>()
                / real_collections.len().max(1) as f64,
            "clips": real.clips,
        },
        "per_collection": per_collection.iter().map(|(k, t)| (k.to_string(), t.json()))
            .collect::<serde_json::Map<_, _>>(),
        "per_label": per_label.iter().map(|(k, t)| (k.to_string(), t.json()))
            .collect::<serde_json::Map<_, _>>(),
        "confusions": confusions.iter().take(12).map(|((a, b), n)|
            serde_json::json!({"label": a, "predicted": b, "clips": n})).collect::<Vec<_>>(),
        // What `skeletonllm verify` answers with this bundle, and each method on its own.
        "verify": {"method": assistant.options.verify,
            "answers": match assistant.options.verify {
                VerifyMethod::YesNo => yes_no.json(),
                VerifyMethod::Ranking => by_ranking.json(),
            }},
        "verify_yes_no": yes_no.json(),
        "verify_ranking": by_ranking.json(),
        "converted_layouts": {
            "sources": firsts.len(),
            "top1_mean": layout_top1.iter().sum::<f64>() / layout_top1.len().max(1) as f64,
            "top1_min": layout_top1.iter().copied().fold(f64::INFINITY, f64::min),
            "per_layout": per_layout.iter().map(|(k, t)| (k.to_string(), t.json()))
                .collect::<serde_json::Map<_, _>>(),
        },
        "train_top1": fitted.top1_rate(),
        "train_clips_ranked": fitted.clips,
        "recognize_seconds_median": seconds[seconds.len() / 2],
        "captions": {"clips": hyps.len(), "bleu4": scores.bleu4, "rouge_l": scores.rouge_l,
            "cider_d": scores.cider_d},
        "caption_examples": examples,
        "check_clips": check,
    });
    std::fs::write(
        args.out.join("eval.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

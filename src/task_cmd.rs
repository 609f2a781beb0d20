//! `recognize`, `caption`, `ask`, `verify`, `train` and `eval`: the SkeletonLLM tasks.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use draction::render::Rasterizer;
use skeletonllm_model::{Assistant, TaskOptions};
use skeletonllm_train::data::{ZeroShotSplit, read_conversations};
use skeletonllm_train::train::{Stage, TrainConfig, train};

/// The bundled default model, relative to the repository.
pub const BUNDLED_MODEL: &str = "assets/skeletonllm-tiny";

/// Options shared by the task commands.
#[derive(clap::Args, Clone)]
pub struct TaskArgs {
    /// SkeletonLLM model folder (config.json, model.safetensors with the DrAction tensors,
    /// tokenizer.json). Without it the bundled default model is used.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Frames rendered per clip (default: the model's own setting; 12 for SkeletonLLM
    /// checkpoints).
    #[arg(long)]
    pub frames: Option<usize>,
    /// Use the reference rasteriser.
    #[arg(long)]
    pub exact: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The model folder to use: `--model`, else the bundled default.
fn model_dir(args: &TaskArgs) -> Result<PathBuf> {
    if let Some(dir) = &args.model {
        return Ok(dir.clone());
    }
    let bundled = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BUNDLED_MODEL);
    if bundled.join("config.json").is_file() {
        return Ok(bundled);
    }
    bail!(
        "no --model given and the bundled default model ({}) is missing from this checkout",
        bundled.display()
    )
}

/// The model of `args`, loaded, with the command-line task options applied.
pub fn assistant(args: &TaskArgs) -> Result<Assistant> {
    let dir = model_dir(args)?;
    let device = skeletonllm::device();
    let a = Assistant::load(&dir, &device).map_err(|e| anyhow!("{e}"))?;
    let options = TaskOptions {
        frames: args.frames.unwrap_or(a.options.frames),
        raster: if args.exact {
            Rasterizer::Reference
        } else {
            Rasterizer::Fast
        },
        ..a.options.clone()
    };
    Ok(a.with_options(options))
}

fn read_skeleton(file: &Path) -> Result<draction::Skeleton> {
    Ok(draction::io::read(file, None)?)
}

/// Candidate labels: a file (one per line), a named split's test labels, or the labels the
/// model was trained on.
pub fn labels(labels: Option<&Path>, split: Option<&str>, model: &[String]) -> Result<Vec<String>> {
    match (labels, split) {
        (Some(file), None) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read labels", file.display()))?;
            let out: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            if out.is_empty() {
                bail!("{}: no labels", file.display());
            }
            Ok(out)
        }
        (None, Some(name)) => {
            let split = ZeroShotSplit::parse(name).map_err(|e| anyhow!("{e}"))?;
            Ok(split.test_labels().iter().map(|s| s.to_string()).collect())
        }
        (None, None) if !model.is_empty() => Ok(model.to_vec()),
        (None, None) => bail!("give --labels FILE or --split NAME (this model names no labels)"),
        (Some(_), Some(_)) => bail!("give either --labels or --split, not both"),
    }
}

/// `skeletonllm recognize`.
pub fn recognize(
    file: &Path,
    args: &TaskArgs,
    label_file: Option<&Path>,
    split: Option<&str>,
    top_k: usize,
) -> Result<()> {
    let a = assistant(args)?;
    let labels = labels(label_file, split, &a.labels)?;
    let skel = read_skeleton(file)?;
    let started = std::time::Instant::now();
    let rec = a
        .recognize(&skel, &labels)
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let top: Vec<_> = rec.ranking.iter().take(top_k).collect();
    if args.json {
        let parsed = rec.parsed.map(|i| labels[i].clone());
        println!(
            "{}",
            serde_json::json!({"file": file, "answer": rec.answer, "parsed": parsed,
                "top_k": top, "seconds": seconds})
        );
    } else {
        println!("answer: {}", rec.answer);
        for (k, s) in top.iter().enumerate() {
            println!(
                "{:>2}. {:<40} {:6.2} %",
                k + 1,
                s.label,
                100.0 * s.probability
            );
        }
    }
    Ok(())
}

/// `skeletonllm caption` and `skeletonllm ask` (question `None` = caption).
pub fn describe(file: &Path, args: &TaskArgs, question: Option<&str>) -> Result<()> {
    let a = assistant(args)?;
    let skel = read_skeleton(file)?;
    let stream = !args.json;
    let mut stdout = std::io::stdout();
    let show = |t: &str| {
        if stream {
            print!("{t}");
            let _ = std::io::stdout().flush();
        }
    };
    let text = match question {
        None => a.caption(&skel, show),
        Some(q) => a.ask(&skel, q, show),
    }
    .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    if args.json {
        let key = if question.is_some() {
            "answer"
        } else {
            "caption"
        };
        println!("{}", serde_json::json!({"file": file, key: text}));
    } else {
        writeln!(stdout)?;
    }
    Ok(())
}

/// `skeletonllm verify`.
pub fn verify(file: &Path, args: &TaskArgs, label: &str) -> Result<()> {
    let a = assistant(args)?;
    let skel = read_skeleton(file)?;
    let v = a
        .verify(&skel, label)
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!(
            "{} (P(YES) = {:.3})",
            if v.yes { "YES" } else { "NO" },
            v.yes_probability
        );
    }
    Ok(())
}

/// Settings of `skeletonllm train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Model folder to start from (its tokenizer.json is used).
    #[arg(long)]
    pub model: PathBuf,
    /// Conversation JSONL (the authors' format).
    #[arg(long)]
    pub data: PathBuf,
    /// Folder the records' `image` paths are relative to (default: the JSONL's folder).
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Stage: 1 render warm-up, 2 Disc-FT, 3 CR-Distill, 4 refine.
    #[arg(long)]
    pub stage: u8,
    /// Run folder: checkpoints, log.jsonl, and the trained model in `model/`.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the run folder's last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Epochs (default: 1, 3 for stage 4).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    /// Warm-up fraction.
    #[arg(long, default_value_t = 0.03)]
    pub warmup_ratio: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 0.05)]
    pub weight_decay: f64,
    /// Samples per optimizer step (gradient accumulation).
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Checkpoint every N optimizer steps.
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: usize,
    /// Stop after N optimizer steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// LoRA rank.
    #[arg(long, default_value_t = 32)]
    pub lora_rank: usize,
    /// LoRA alpha.
    #[arg(long, default_value_t = 64.0)]
    pub lora_alpha: f64,
    /// LoRA dropout.
    #[arg(long, default_value_t = 0.05)]
    pub lora_dropout: f64,
    /// Weight of the YES/NO (first answer token) margin loss.
    #[arg(long, default_value_t = 0.0)]
    pub margin_weight: f64,
    /// Train the ViT and the LM too (models built from scratch).
    #[arg(long)]
    pub from_scratch: bool,
    /// Teacher model folder for logit distillation (stage 3; needs --distill-weight > 0).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Weight λ of the KL to the teacher's token distributions (CE gets 1 − λ).
    #[arg(long, default_value_t = 0.0)]
    pub distill_weight: f64,
    /// Temperature τ of the distillation.
    #[arg(long, default_value_t = 2.0)]
    pub distill_temperature: f64,
}

/// `skeletonllm train`.
pub fn train_cmd(args: &TrainArgs) -> Result<()> {
    let stage = Stage::from_number(args.stage)
        .ok_or_else(|| anyhow!("--stage must be 1, 2, 3 or 4, not {}", args.stage))?;
    let records = read_conversations(&args.data).map_err(|e| anyhow!("{e}"))?;
    let root = args
        .data_root
        .clone()
        .or_else(|| args.data.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let samples = skeletonllm_train::train::sample::from_records(&records, &root)
        .map_err(|e| anyhow!("{}: {e}", args.data.display()))?;
    let device = skeletonllm::device().autodiff();
    device.seed(args.seed);
    let a = Assistant::load(&args.model, &device).map_err(|e| anyhow!("{e}"))?;
    let mut config = TrainConfig::authors(stage);
    config.epochs = args.epochs.unwrap_or(config.epochs);
    config.lr = args.lr;
    config.warmup_ratio = args.warmup_ratio;
    config.weight_decay = args.weight_decay;
    config.batch_size = args.batch_size;
    config.seed = args.seed;
    config.checkpoint_every = args.checkpoint_every;
    config.max_steps = args.max_steps;
    config.lora = skeletonllm_model::LoraConfig::new(args.lora_rank, args.lora_alpha)
        .with_dropout(args.lora_dropout);
    config.margin_weight = args.margin_weight;
    config.from_scratch = args.from_scratch;
    config.distill_weight = args.distill_weight;
    config.distill_temperature = args.distill_temperature;
    if args.distill_weight > 0.0 && args.teacher.is_none() {
        bail!("--distill-weight needs --teacher DIR");
    }
    let teacher = match &args.teacher {
        Some(dir) => Some(
            Assistant::load(dir, &device)
                .map_err(|e| anyhow!("teacher {}: {e}", dir.display()))?
                .model,
        ),
        None => None,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let log_path = args.out.join("log.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("{}: cannot open", log_path.display()))?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (model, report) = train(
        a.model,
        &samples,
        &a.tokenizer,
        &config,
        &args.out,
        args.resume,
        teacher.as_ref(),
        &device,
        |s| {
            bar.set_length(s.total_steps as u64);
            bar.set_position(s.step as u64);
            bar.set_message(format!("loss {:.4} lr {:.2e}", s.loss, s.lr));
            if let Ok(line) = serde_json::to_string(s) {
                let _ = writeln!(log, "{line}");
            }
        },
    )
    .map_err(|e| anyhow!("{e}"))?;
    bar.finish();
    // Export: LoRA folded in, same config and tokenizer as the input model.
    let internvl = skeletonllm_model::merge_lora(model.internvl);
    let out_model = skeletonllm_train::train::trainer::model_dir(&args.out);
    let config_json =
        skeletonllm_model::export::read_config_json(&args.model).map_err(|e| anyhow!("{e}"))?;
    let tok_text = std::fs::read_to_string(args.model.join("tokenizer.json"))
        .with_context(|| format!("{}: no tokenizer.json", args.model.display()))?;
    let tok: serde_json::Value = serde_json::from_str(&tok_text)?;
    skeletonllm_model::export::save_pretrained(
        &out_model,
        &internvl,
        &config_json,
        Some(&model.renderer),
        Some(&tok),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let summary = serde_json::json!({
        "stage": stage.number(), "steps": report.steps, "resumed": report.resumed,
        "first_loss": report.losses.first(), "last_loss": report.losses.last(),
        "model": out_model,
    });
    std::fs::write(
        args.out.join("train.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    println!("{summary}");
    Ok(())
}

/// `skeletonllm eval`.
pub fn eval_cmd(
    args: &TaskArgs,
    data: &Path,
    data_root: Option<&Path>,
    split: Option<&str>,
    out: &Path,
) -> Result<()> {
    let a = assistant(args)?;
    let records = read_conversations(data).map_err(|e| anyhow!("{e}"))?;
    let root = data_root
        .map(Path::to_path_buf)
        .or_else(|| data.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let samples = skeletonllm_train::train::sample::from_records(&records, &root)
        .map_err(|e| anyhow!("{}: {e}", data.display()))?;
    let unseen: Option<Vec<String>> = match split {
        Some(name) => {
            let s = ZeroShotSplit::parse(name).map_err(|e| anyhow!("{e}"))?;
            let ids = s.unseen_ids();
            let all = s.dataset().class_names();
            Some(
                ids.iter()
                    .filter_map(|&i| all.get(usize::from(i) - 1).map(|l| l.to_string()))
                    .collect(),
            )
        }
        None => None,
    };
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let bar = indicatif::ProgressBar::new(samples.len() as u64);
    let report = skeletonllm_train::eval::evaluate(
        &a,
        &samples,
        unseen.as_deref(),
        Some(&out.join("confusion.png")),
        |k, _| bar.set_position(k as u64),
    )
    .map_err(|e| anyhow!("{e}"))?;
    bar.finish_and_clear();
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    let mut md = String::from("# Evaluation\n\n");
    if let Some(r) = &report.recognition {
        md += &r.to_markdown();
    }
    if let Some(c) = &report.captioning {
        md += &format!(
            "\n| metric | value |\n|---|---|\n| BLEU-4 | {:.2} |\n| ROUGE-L | {:.4} |\n| CIDEr-D | {:.4} |\n",
            c.bleu4, c.rouge_l, c.cider_d
        );
    }
    std::fs::write(out.join("results.md"), &md)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{md}");
    }
    Ok(())
}

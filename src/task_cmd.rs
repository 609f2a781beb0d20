//! `recognize`, `caption`, `ask`, `verify`, `train` and `eval`: the SkeletonLLM tasks.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use draction::render::Rasterizer;
use skeletonllm_model::{Assistant, TaskOptions, VerifyMethod};
use skeletonllm_train::data::{ZeroShotSplit, read_conversations};
use skeletonllm_train::train::Stage;
use skeletonllm_train::train::sample::{Sample, SkeletonRef};

/// The bundled default model, relative to the repository.
pub const BUNDLED_MODEL: &str = "assets/skeletonllm-tiny";

/// Most frames a task renders per clip (the authors use 12).
pub const MAX_TASK_FRAMES: usize = 64;
/// Longest label, characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// Which model the commands that run one use, and how it renders.
#[derive(clap::Args, Clone)]
pub struct ModelArgs {
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
}

/// Options shared by the task commands.
#[derive(clap::Args, Clone)]
pub struct TaskArgs {
    #[command(flatten)]
    pub load: ModelArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The model folder to use: `--model`, else the bundled default.
fn model_dir(args: &ModelArgs) -> Result<PathBuf> {
    if let Some(dir) = &args.model {
        if !dir.is_dir() {
            bail!("{}: --model must be a model folder", dir.display());
        }
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
pub fn assistant(args: &ModelArgs) -> Result<Assistant> {
    if let Some(f) = args.frames
        && !(1..=MAX_TASK_FRAMES).contains(&f)
    {
        bail!("--frames must be between 1 and {MAX_TASK_FRAMES}, not {f}");
    }
    let dir = model_dir(args)?;
    let device = skeletonllm::device();
    let a = Assistant::load(&dir, &device)?;
    let frames = args.frames.unwrap_or(a.options.frames);
    // Only a frame count the user chose is worth a warning; the model's own is its maker's call.
    let room = a.max_frames(256, a.options.max_text_tokens);
    if args.frames.is_some() && frames > room {
        eprintln!(
            "warning: {frames} frames and the prompt go past the model's context of {} tokens \
             (it holds about {room} frames): answers may be poor",
            a.context_length()
        );
    }
    if frames != a.options.frames {
        eprintln!(
            "note: this model sees {} frames per clip; with --frames {frames} its answers may be \
             poor",
            a.options.frames
        );
    }
    let options = TaskOptions {
        frames,
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

/// Plain user text given on the command line: not empty.
fn check_user_text(flag: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        bail!("{flag} is empty");
    }
    Ok(())
}

/// Checks user text against the model's tokenizer (no special tokens), naming the flag.
fn check_against_tokenizer(a: &Assistant, flag: &str, text: &str) -> Result<()> {
    a.tokenizer
        .check_plain_text(text)
        .map_err(|e| anyhow!("{flag}: {e}"))
}

/// Labels of a file, one per line (blank lines skipped): no duplicates, none over
/// [`MAX_LABEL_CHARS`], with their line numbers.
fn read_label_file(file: &Path) -> Result<Vec<(usize, String)>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read labels", file.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out: Vec<(usize, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let label = line.trim();
        if label.is_empty() {
            continue;
        }
        if label.chars().count() > MAX_LABEL_CHARS {
            bail!(
                "{}:{}: label longer than {MAX_LABEL_CHARS} characters",
                file.display(),
                i + 1
            );
        }
        if let Some((first, _)) = out.iter().find(|(_, l)| l == label) {
            bail!(
                "{}:{}: duplicate label {label:?} (also on line {first})",
                file.display(),
                i + 1
            );
        }
        out.push((i + 1, label.to_string()));
    }
    if out.is_empty() {
        bail!("{}: no labels", file.display());
    }
    Ok(out)
}

/// Candidate labels: a file (one per line), a named split's test labels, or the labels the
/// model was trained on. Label files are checked against the tokenizer (no special tokens).
pub fn labels(
    labels: Option<&Path>,
    split: Option<&str>,
    assistant: &Assistant,
) -> Result<Vec<String>> {
    match (labels, split) {
        (Some(file), None) => {
            let lines = read_label_file(file)?;
            for (line, label) in &lines {
                assistant
                    .tokenizer
                    .check_plain_text(label)
                    .map_err(|e| anyhow!("{}:{line}: label {label:?} {e}", file.display()))?;
            }
            Ok(lines.into_iter().map(|(_, l)| l).collect())
        }
        (None, Some(name)) => {
            let split = ZeroShotSplit::parse(name)?;
            Ok(split.test_labels().iter().map(|s| s.to_string()).collect())
        }
        (None, None) if !assistant.labels.is_empty() => Ok(assistant.labels.clone()),
        (None, None) => bail!("give --labels FILE or --split NAME (this model names no labels)"),
        (Some(_), Some(_)) => bail!("give either --labels or --split, not both"),
    }
}

/// Checks `--labels`/`--split` before the model is loaded (the file's own problems).
pub fn precheck_labels(labels: Option<&Path>, split: Option<&str>) -> Result<()> {
    match (labels, split) {
        (Some(_), Some(_)) => bail!("give either --labels or --split, not both"),
        (Some(file), None) => read_label_file(file).map(|_| ()),
        (None, Some(name)) => ZeroShotSplit::parse(name).map(|_| ()).map_err(Into::into),
        (None, None) => Ok(()),
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
    if top_k == 0 {
        bail!("--top-k must be at least 1");
    }
    precheck_labels(label_file, split)?;
    let skel = read_skeleton(file)?;
    let a = assistant(&args.load)?;
    let labels = labels(label_file, split, &a)?;
    let started = std::time::Instant::now();
    let rec = a
        .recognize(&skel, &labels)
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let top: Vec<_> = rec.ranking.iter().take(top_k).collect();
    let is_candidate = rec.parsed.is_some();
    if args.json {
        let parsed = rec.parsed.map(|i| labels[i].clone());
        outln!(
            "{}",
            serde_json::json!({"file": file, "answer": rec.answer, "parsed": parsed,
                "answer_is_candidate": is_candidate, "top_k": top, "seconds": seconds})
        )?;
    } else {
        if is_candidate {
            outln!("answer: {}", rec.answer)?;
        } else {
            outln!(
                "answer: {} (not one of the candidates; the ranking below is)",
                rec.answer
            )?;
        }
        for (k, s) in top.iter().enumerate() {
            outln!(
                "{:>2}. {:<40} {:6.2} %",
                k + 1,
                s.label,
                100.0 * s.probability
            )?;
        }
    }
    Ok(())
}

/// `skeletonllm caption` and `skeletonllm ask` (question `None` = caption).
pub fn describe(file: &Path, args: &TaskArgs, question: Option<&str>) -> Result<()> {
    if let Some(q) = question {
        check_user_text("--question", q)?;
    }
    let skel = read_skeleton(file)?;
    let a = assistant(&args.load)?;
    if let Some(q) = question {
        check_against_tokenizer(&a, "--question", q)?;
    }
    let stream = !args.json;
    let mut failed: Option<std::io::Error> = None;
    let show = |t: &str| {
        if stream && failed.is_none() {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(t.as_bytes()).and_then(|()| out.flush()) {
                failed = Some(e);
            }
        }
    };
    let text = match question {
        None => a.caption(&skel, show),
        Some(q) => a.ask(&skel, q, show),
    }
    .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if args.json {
        let key = if question.is_some() {
            "answer"
        } else {
            "caption"
        };
        outln!("{}", serde_json::json!({"file": file, key: text}))?;
    } else {
        outln!()?;
    }
    Ok(())
}

/// `skeletonllm verify`.
pub fn verify(file: &Path, args: &TaskArgs, label: &str) -> Result<()> {
    check_user_text("--label", label)?;
    let skel = read_skeleton(file)?;
    let a = assistant(&args.load)?;
    check_against_tokenizer(&a, "--label", label)?;
    let v = a
        .verify(&skel, label)
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    if args.json {
        outln!("{}", serde_json::to_string(&v)?)?;
    } else {
        let answer = if v.yes { "YES" } else { "NO" };
        match v.method {
            VerifyMethod::YesNo => outln!("{answer} (P(YES) = {:.3})", v.yes_probability)?,
            VerifyMethod::Ranking => {
                let n = a.verify_candidates(label).len();
                let rank = if v.yes {
                    "ranks first"
                } else {
                    "does not rank first"
                };
                outln!(
                    "{answer} (\"{label}\" {rank} of {n} labels, P = {:.3})",
                    v.yes_probability
                )?;
            }
        }
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
    /// Optimisation settings.
    #[command(flatten)]
    pub flags: skeletonllm::flags::TrainFlags,
    /// Teacher model folder for logit distillation (stage 3; needs --distill-weight > 0).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
}

/// Samples of a conversation JSONL, checked before any model is loaded: at least one record,
/// and every record's clip a readable file (the error names the JSONL line).
fn load_samples(data: &Path, data_root: Option<&Path>) -> Result<Vec<Sample>> {
    let records = read_conversations(data)?;
    if records.is_empty() {
        bail!("{}: no records (an empty JSONL)", data.display());
    }
    let root = data_root
        .map(Path::to_path_buf)
        .or_else(|| data.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let samples = skeletonllm_train::train::sample::from_records(&records, &root)
        .map_err(|e| anyhow!("{}: {e}", data.display()))?;
    // Records come from the non-blank lines, in order.
    let text = std::fs::read_to_string(data)
        .with_context(|| format!("{}: cannot read", data.display()))?;
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| i + 1)
        .collect();
    for (k, sample) in samples.iter().enumerate() {
        if let SkeletonRef::File(path) = &sample.skeleton
            && !path.is_file()
        {
            let line = lines.get(k).copied().unwrap_or(k + 1);
            let why = if path.exists() {
                "is not a file"
            } else {
                "does not exist"
            };
            bail!(
                "{}:{line}: record {}: clip {} {why}",
                data.display(),
                sample.id,
                path.display()
            );
        }
    }
    Ok(samples)
}

/// Creates the folder `out` and checks that a file can be written there.
fn check_writable(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let probe = out.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| format!("{}: cannot write here", out.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// `skeletonllm train`.
pub fn train_cmd(args: &TrainArgs) -> Result<()> {
    // Every input is checked before the model loads and the first step runs.
    let stage = Stage::from_number(args.stage)
        .ok_or_else(|| anyhow!("--stage must be 1, 2, 3 or 4, not {}", args.stage))?;
    args.flags.check().map_err(|e| anyhow!(e))?;
    if args.flags.distill_weight > 0.0 && args.teacher.is_none() {
        bail!("--distill-weight needs --teacher DIR");
    }
    let samples = load_samples(&args.data, args.data_root.as_deref())?;
    let config_json = skeletonllm_train::train::export_config(&args.model)?;
    if let Some(dir) = &args.teacher
        && !dir.join("config.json").is_file()
    {
        bail!("{}: --teacher has no config.json", dir.display());
    }
    check_writable(&args.out)?;
    let devices = args.flags.devices().map_err(|e| anyhow!(e))?;
    let device = devices[0].clone();
    device.seed(args.flags.seed);
    let a = Assistant::load_for_training(&args.model, &device)?;
    let config = args.flags.config(stage);
    let teacher = match &args.teacher {
        Some(dir) => Some(
            Assistant::load(dir, &device)
                .map_err(|e| anyhow!("teacher {}: {e}", dir.display()))?
                .model,
        ),
        None => None,
    };
    // The exported tokenizer is the one loaded (a bundle's comes from its GGUF).
    let summary = skeletonllm_train::train::run_stage(
        a.model,
        &a.tokenizer,
        &config_json,
        &samples,
        &config,
        &args.out,
        args.resume,
        teacher.as_ref(),
        &devices,
    )?;
    let summary = serde_json::to_string(&summary)?;
    outln!("{summary}")?;
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
    let samples = load_samples(data, data_root)?;
    let unseen: Option<Vec<String>> = match split {
        Some(name) => {
            let s = ZeroShotSplit::parse(name)?;
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
    check_writable(out)?;
    let a = assistant(&args.load)?;
    let bar = indicatif::ProgressBar::new(samples.len() as u64);
    let report = skeletonllm_train::eval::evaluate(
        &a,
        &samples,
        unseen.as_deref(),
        Some(&out.join("confusion.png")),
        |k, _| bar.set_position(k as u64),
    )?;
    bar.finish_and_clear();
    draction::io::write_atomic(
        &out.join("results.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
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
    draction::io::write_atomic(&out.join("results.md"), md.as_bytes())?;
    if args.json {
        outln!("{}", serde_json::to_string(&report)?)?;
    } else {
        outln!("{md}")?;
    }
    Ok(())
}

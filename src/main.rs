//! `skeletonllm`: the command-line tool. See `skeletonllm --help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use draction::io::{ReadOptions, Summary};
use draction::{Format, Layout, Skeleton};

/// `println!` that returns the I/O error instead of panicking when stdout is closed (`| head`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod model_cmd;
mod render;
mod stream_cmd;
mod task_cmd;

/// Universal skeleton understanding: read, convert, render, recognise, describe and train.
#[derive(Parser)]
#[command(name = "skeletonllm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by every command that reads a skeleton file.
#[derive(clap::Args)]
struct Input {
    /// Skeleton file (or OpenPose folder).
    file: PathBuf,
    /// Format: auto, ntu, bvh, humanml3d, npy, openpose, coco, deepmimic, json.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Layout for npy/json files whose layout is guessed from the joint count.
    #[arg(long)]
    layout: Option<String>,
    /// NTU: keep only the first N bodies of each frame (2 = the authors' view).
    #[arg(long)]
    max_bodies: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Print one JSON object describing a skeleton file.
    Inspect {
        #[command(flatten)]
        input: Input,
    },
    /// Write the joints as float32 [T, P, J, 3] .npy (absent bodies are zeros).
    ExportJoints {
        #[command(flatten)]
        input: Input,
        /// Output .npy file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Retarget to another layout and write .npy ([T, P, J, 3]) or .json (with the mask).
    Convert {
        #[command(flatten)]
        input: Input,
        /// Target layout (ntu25, smpl22, smpl24, coco17, openpose18, openpose25, h36m17, deepmimic15, mocap53).
        #[arg(long)]
        to: String,
        /// Output .npy or .json file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Render a skeleton with DrAction: frames.npy, PNGs, contact sheet, GIF and render.json.
    Render {
        #[command(flatten)]
        input: Input,
        /// DrAction checkpoint (skeletonllm-draction-v1 .safetensors).
        #[arg(long)]
        weights: PathBuf,
        /// Frames to sample.
        #[arg(long, default_value_t = 12)]
        frames: usize,
        /// Image side in pixels.
        #[arg(long, default_value_t = 448)]
        size: usize,
        /// Raw-frame indices to render as given (comma-separated; skips sampling).
        #[arg(long, value_delimiter = ',')]
        frame_indices: Option<Vec<usize>>,
        /// Frame sampler: official (the authors'), visualizer, middle, random:<seed>.
        #[arg(long, default_value = "official")]
        sampler: String,
        /// Force the reference rasteriser.
        #[arg(long)]
        exact: bool,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run InternVL once: logits, image features and vision states as f32 safetensors.
    Forward {
        /// Checkpoint folder: config.json + model.safetensors (or a sharded index).
        #[arg(long)]
        model: PathBuf,
        /// Inputs .safetensors: input_ids [1, L] i64, optional attention_mask, pixel_values [N, 3, H, W] f32.
        #[arg(long)]
        inputs: PathBuf,
        /// Output .safetensors: logits [1, L, V], image_features, vision_last_hidden_state.
        #[arg(long)]
        out: PathBuf,
        /// Skeleton file whose DrAction frames (at the inputs' frame_indices) replace pixel_values.
        #[arg(long)]
        skeleton: Option<PathBuf>,
    },
    /// Generate tokens after the prompt (KV cache): generated_ids [1, N] i64, new tokens only.
    Generate {
        /// Checkpoint folder: config.json + model.safetensors (or a sharded index).
        #[arg(long)]
        model: PathBuf,
        /// Inputs .safetensors: input_ids [1, L] i64, optional attention_mask, pixel_values [N, 3, H, W] f32.
        #[arg(long)]
        inputs: PathBuf,
        /// Upper bound on new tokens.
        #[arg(long)]
        max_new_tokens: usize,
        /// Greedy decoding, even if the checkpoint's generation_config.json samples.
        #[arg(long)]
        greedy: bool,
        /// Do not stop on <|im_end|> / EOS.
        #[arg(long)]
        ignore_eos: bool,
        /// Nucleus sampling mass (samples unless --greedy).
        #[arg(long)]
        top_p: Option<f64>,
        /// Sampling temperature (samples unless --greedy).
        #[arg(long)]
        temperature: Option<f64>,
        /// Seed of the sampler.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Repetition penalty (transformers' definition; 1 = off).
        #[arg(long)]
        repetition_penalty: Option<f32>,
        /// Output .safetensors with generated_ids.
        #[arg(long)]
        out: PathBuf,
    },
    /// Recognise the action: the authors' multiple-choice prompt, every label ranked by likelihood.
    Recognize {
        /// Skeleton file (any supported format).
        file: PathBuf,
        #[command(flatten)]
        task: task_cmd::TaskArgs,
        /// Candidate labels, one per line.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// A named split whose test labels are the candidates (e.g. ntu60_48_cs).
        #[arg(long)]
        split: Option<String>,
        /// How many ranked labels to show.
        #[arg(long, default_value_t = 5)]
        top_k: usize,
    },
    /// Recognise live: skeleton frames as JSON lines on stdin, a label with its probability as
    /// a JSON line on stdout every few frames (sliding window).
    Stream(stream_cmd::StreamArgs),
    /// Describe the motion in one sentence.
    Caption {
        /// Skeleton file (any supported format).
        file: PathBuf,
        #[command(flatten)]
        task: task_cmd::TaskArgs,
    },
    /// Answer a free-form question about the motion.
    Ask {
        /// Skeleton file (any supported format).
        file: PathBuf,
        /// The question.
        #[arg(long)]
        question: String,
        #[command(flatten)]
        task: task_cmd::TaskArgs,
    },
    /// Is the action LABEL? YES or NO with a probability: the Disc-FT question (a model trained
    /// with `train --stage 2`), or, for a bundle whose manifest says `"verify": "ranking"` (the
    /// bundled skeletonllm-tiny), LABEL ranked among the model's own labels: YES when first.
    Verify {
        /// Skeleton file (any supported format).
        file: PathBuf,
        /// The label to check.
        #[arg(long)]
        label: String,
        #[command(flatten)]
        task: task_cmd::TaskArgs,
    },
    /// Train one stage on a conversation JSONL (resumable; exports the model to OUT/model).
    Train(task_cmd::TrainArgs),
    /// Evaluate on a conversation JSONL: results.json, results.md, confusion.png.
    Eval {
        /// Conversation JSONL.
        #[arg(long)]
        data: PathBuf,
        /// Folder the records' `image` paths are relative to (default: the JSONL's folder).
        #[arg(long)]
        data_root: Option<PathBuf>,
        /// Zero-shot split whose unseen labels are reported apart (e.g. ntu60_48_cs).
        #[arg(long)]
        split: Option<String>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        task: task_cmd::TaskArgs,
    },
}

fn read_input(input: &Input) -> Result<Skeleton> {
    let format = match input.format.as_str() {
        "auto" => None,
        name => Some(
            Format::from_name(name)
                .with_context(|| format!("{}: unknown --format '{name}'", input.file.display()))?,
        ),
    };
    let opts = ReadOptions {
        layout: input.layout.clone(),
        max_bodies: input.max_bodies,
    };
    Ok(draction::io::read_with(&input.file, format, &opts)?)
}

fn check_out(out: &Path, exts: &[&str]) -> Result<()> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !exts.contains(&ext.as_str()) {
        bail!(
            "{}: output must end in .{}",
            out.display(),
            exts.join(" or .")
        );
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Inspect { input } => {
            let skel = read_input(&input)?;
            outln!("{}", serde_json::to_string(&Summary::of(&skel))?)?;
        }
        Command::ExportJoints { input, out } => {
            check_out(&out, &["npy"])?;
            let skel = read_input(&input)?;
            draction::io::npy::write_joints(&skel, &out)?;
        }
        Command::Convert { input, to, out } => {
            check_out(&out, &["npy", "json"])?;
            let target = Layout::builtin(&to)?;
            let skel = read_input(&input)?;
            let converted = skel.retarget(&target);
            let npy = out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
            let missing = (0..converted.joints())
                .filter(|&j| (0..converted.frames()).all(|t| !converted.is_valid(t, 0, j)))
                .map(|j| converted.layout().joints[j].as_str())
                .collect::<Vec<_>>();
            if npy && !missing.is_empty() {
                eprintln!(
                    "note: {} has no counterpart for {} of {}'s joints ({}); .npy stores them as \
                     zeros, which readers take for joints at the origin: write .json to keep \
                     them missing",
                    input.file.display(),
                    missing.len(),
                    target.name,
                    missing.join(", ")
                );
            }
            draction::io::write(&converted, &out)?;
        }
        Command::Render {
            input,
            weights,
            frames,
            size,
            frame_indices,
            sampler,
            exact,
            out,
        } => {
            let sampler = draction::prep::Sampler::from_name(&sampler).with_context(|| {
                format!(
                    "unknown --sampler '{sampler}' (official, visualizer, middle, random:<seed>)"
                )
            })?;
            let count = frame_indices.as_ref().map_or(frames, Vec::len);
            render::check_limits(count, size)?;
            let settings = render::RenderSettings {
                frames,
                size,
                indices: frame_indices,
                sampler,
                exact,
            };
            render::run(&input.file, read_input(&input)?, &weights, &settings, &out)?;
        }
        Command::Forward {
            model,
            inputs,
            out,
            skeleton,
        } => model_cmd::forward(&model, &inputs, &out, skeleton.as_deref())?,
        Command::Generate {
            model,
            inputs,
            max_new_tokens,
            greedy,
            ignore_eos,
            top_p,
            temperature,
            seed,
            repetition_penalty,
            out,
        } => {
            let args = model_cmd::GenerateArgs {
                max_new_tokens,
                greedy,
                ignore_eos,
                top_p,
                temperature,
                seed,
                repetition_penalty,
            };
            model_cmd::generate(&model, &inputs, &out, &args)?;
        }
        Command::Recognize {
            file,
            task,
            labels,
            split,
            top_k,
        } => task_cmd::recognize(&file, &task, labels.as_deref(), split.as_deref(), top_k)?,
        Command::Stream(args) => stream_cmd::stream(&args)?,
        Command::Caption { file, task } => task_cmd::describe(&file, &task, None)?,
        Command::Ask {
            file,
            question,
            task,
        } => task_cmd::describe(&file, &task, Some(&question))?,
        Command::Verify { file, label, task } => task_cmd::verify(&file, &task, &label)?,
        Command::Train(args) => task_cmd::train_cmd(&args)?,
        Command::Eval {
            data,
            data_root,
            split,
            out,
            task,
        } => task_cmd::eval_cmd(&task, &data, data_root.as_deref(), split.as_deref(), &out)?,
    }
    Ok(())
}

/// One line for an error chain: each cause appended unless an earlier message already says it
/// (errors that print their source would otherwise repeat the OS reason).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace(['\n', '\r'], " ")
}

/// Whether the error is stdout closed by its reader (`skeletonllm … | head`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader has what it wanted: stop quietly, as other command-line tools do.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

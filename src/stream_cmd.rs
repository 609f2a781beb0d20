//! `skeletonllm stream`: live recognition over skeleton frames arriving as JSON lines on stdin.
//!
//! Each input line is one frame (read by [`draction::io::frames`]), in any of these shapes
//! (`null` = a missing joint):
//! - `[[x, y, z], …]` or `{"joints": [[x, y, z], …]}`: one body;
//! - `[[[x, y, z], …], …]` or `{"persons": [[[x, y, z], …], …]}`: several bodies.
//!
//! The layout is `--layout` or guessed from the first frame's joint count. The last `--window`
//! frames are kept; every `--every` frames (once `--min-frames` have arrived) the window is
//! recognised by label likelihood and one JSON line is written to stdout:
//! `{"frame": 90, "window": 45, "label": "waving", "probability": 0.93, "top": […],
//! "latency_ms": 410.2}`. When no joint is present in the window's sampled frames (the person
//! left the view), the decision is `{"frame": 120, "window": 45, "label": null, "probability":
//! null, "top": [], "reason": "no person", …}` and the stream goes on. Blank lines are skipped; a
//! malformed line (or one longer than 1 MiB) stops the stream with an error naming its line
//! number.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, anyhow, bail};
use draction::Layout;
use draction::io::frames::{Frame, next_line, parse_frame, window_skeleton};
use serde_json::Value;

use crate::task_cmd::{self, ModelArgs};

/// Largest `--window`, frames.
pub const MAX_WINDOW: usize = 10_000;
/// Most bodies in one frame.
pub const MAX_BODIES: usize = 64;

/// Settings of `skeletonllm stream` (its output is always JSON lines).
#[derive(clap::Args)]
pub struct StreamArgs {
    #[command(flatten)]
    pub task: ModelArgs,
    /// Candidate labels, one per line (default: the labels the model was trained on).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// A named split whose test labels are the candidates (e.g. ntu60_48_cs).
    #[arg(long)]
    pub split: Option<String>,
    /// Joint layout of the frames (ntu25, smpl22, coco17, …); default: guessed from the count.
    #[arg(long)]
    pub layout: Option<String>,
    /// Frames in the sliding window.
    #[arg(long, default_value_t = 45)]
    pub window: usize,
    /// Emit a decision every this many frames.
    #[arg(long, default_value_t = 15)]
    pub every: usize,
    /// Frames needed before the first decision (default: the window).
    #[arg(long)]
    pub min_frames: Option<usize>,
    /// Frame rate of the input.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f32,
    /// Ranked labels per decision.
    #[arg(long, default_value_t = 3)]
    pub top_k: usize,
}

/// A frame reader's error as this command words it: `stdin line N: …`.
fn stdin_error(e: draction::Error) -> anyhow::Error {
    match e {
        draction::Error::FrameRead { source, .. } => {
            anyhow::Error::new(source).context("reading stdin")
        }
        e => anyhow!("stdin {e}"),
    }
}

/// Checks the settings before the model is loaded; the frames needed before the first decision.
fn check_args(args: &StreamArgs) -> Result<usize> {
    if args.window == 0 || args.every == 0 {
        bail!("--window and --every must be at least 1");
    }
    if args.window > MAX_WINDOW {
        bail!(
            "--window {} is too large (at most {MAX_WINDOW} frames)",
            args.window
        );
    }
    if !(args.fps.is_finite() && args.fps > 0.0 && args.fps <= 10_000.0) {
        bail!(
            "--fps must be a positive number of frames per second, not {}",
            args.fps
        );
    }
    let min_frames = args.min_frames.unwrap_or(args.window);
    if min_frames == 0 || min_frames > args.window {
        bail!(
            "--min-frames must be between 1 and --window ({}), not {min_frames}",
            args.window
        );
    }
    Ok(min_frames)
}

/// `skeletonllm stream`.
pub fn stream(args: &StreamArgs) -> Result<()> {
    let min_frames = check_args(args)?;
    task_cmd::precheck_labels(args.labels.as_deref(), args.split.as_deref())?;
    let assistant = task_cmd::assistant(&args.task)?;
    let labels = task_cmd::labels(args.labels.as_deref(), args.split.as_deref(), &assistant)?;
    let mut layout: Option<Layout> = match &args.layout {
        Some(name) => Some(Layout::builtin(name)?),
        None => None,
    };
    let mut window: VecDeque<Frame> = VecDeque::with_capacity(args.window.min(1024));
    let mut latencies = Vec::new();
    let mut received = 0usize;
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    let mut lineno = 0usize;
    while let Some(line) = next_line(&mut input, lineno + 1).map_err(stdin_error)? {
        lineno += 1;
        if line.trim().is_empty() {
            continue;
        }
        let frame = parse_frame(&line, lineno).map_err(stdin_error)?;
        if frame.len() > MAX_BODIES {
            bail!(
                "stdin line {lineno}: {} bodies in one frame (at most {MAX_BODIES})",
                frame.len()
            );
        }
        let width = frame.iter().map(Vec::len).max().unwrap_or(0);
        let layout = match &layout {
            Some(l) => l,
            None => {
                let name = Layout::guess_from_joint_count(width).ok_or_else(|| {
                    anyhow!(
                        "stdin line {lineno}: no known layout has {width} joints; give --layout"
                    )
                })?;
                layout.insert(Layout::builtin(name)?)
            }
        };
        if let Some(b) = frame.iter().find(|b| b.len() != layout.num_joints()) {
            bail!(
                "stdin line {lineno}: a body has {} joints, layout {} has {}",
                b.len(),
                layout.name,
                layout.num_joints()
            );
        }
        if window.len() == args.window {
            window.pop_front();
        }
        window.push_back(frame);
        received += 1;
        if window.len() < min_frames || !received.is_multiple_of(args.every) {
            continue;
        }
        let started = Instant::now();
        let skel = window_skeleton(&window, layout, args.fps)?;
        let clip = match assistant.clip(&skel) {
            Ok(clip) => clip,
            Err(skeletonllm_model::Error::Skeleton(draction::Error::NoJointPresent)) => {
                // The person left the view: say so for this window and go on.
                let ms = started.elapsed().as_secs_f64() * 1e3;
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"frame": received, "window": window.len(),
                        "label": null, "probability": null, "top": [], "reason": "no person",
                        "latency_ms": (ms * 10.0).round() / 10.0})
                )?;
                out.flush()?;
                continue;
            }
            Err(e) => bail!("stdin line {lineno}: {e}"),
        };
        let ranking = assistant
            .rank_labels(&clip, &labels)
            .map_err(|e| anyhow!("stdin line {lineno}: {e}"))?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        latencies.push(ms);
        let top: Vec<Value> = ranking
            .iter()
            .take(args.top_k.max(1))
            .map(|s| serde_json::json!({"label": s.label, "probability": s.probability}))
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({"frame": received, "window": window.len(),
                "label": ranking[0].label, "probability": ranking[0].probability,
                "top": top, "latency_ms": (ms * 10.0).round() / 10.0})
        )?;
        out.flush()?;
    }
    if latencies.is_empty() {
        eprintln!(
            "stream: {received} frames, no decision (need {min_frames} frames and a multiple of \
             --every {})",
            args.every
        );
    } else {
        latencies.sort_by(f64::total_cmp);
        eprintln!(
            "stream: {received} frames, {} decisions, latency median {:.0} ms, max {:.0} ms",
            latencies.len(),
            latencies[latencies.len() / 2],
            latencies[latencies.len() - 1]
        );
    }
    Ok(())
}

//! `skeletonllm stream`: live recognition over skeleton frames arriving as JSON lines on stdin.
//!
//! Each input line is one frame, in any of these shapes (`null` = a missing joint):
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
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use draction::{Layout, Skeleton};
use serde_json::Value;

use crate::task_cmd::{self, ModelArgs};

/// Longest input line, bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;
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

/// One frame: bodies of joints, `None` = missing joint.
type Frame = Vec<Vec<Option<[f32; 3]>>>;

fn point(v: &Value) -> Result<Option<[f32; 3]>> {
    if v.is_null() {
        return Ok(None);
    }
    let a = v
        .as_array()
        .filter(|a| a.len() == 3)
        .ok_or_else(|| anyhow!("a joint is not [x, y, z] or null: {v}"))?;
    let mut p = [0.0f32; 3];
    for (k, c) in a.iter().enumerate() {
        p[k] = c
            .as_f64()
            .ok_or_else(|| anyhow!("a coordinate is not a number: {c}"))? as f32;
    }
    Ok(Some(p))
}

fn body(v: &Value) -> Result<Vec<Option<[f32; 3]>>> {
    v.as_array()
        .ok_or_else(|| anyhow!("a body is not an array of joints"))?
        .iter()
        .map(point)
        .collect()
}

/// Parses one input line into a frame.
fn parse_frame(line: &str) -> Result<Frame> {
    let v: Value = serde_json::from_str(line).map_err(|e| anyhow!("not JSON: {e}"))?;
    let (bodies, single) = match &v {
        Value::Object(o) => match (o.get("joints"), o.get("persons")) {
            (Some(j), None) => (j, true),
            (None, Some(p)) => (p, false),
            _ => bail!("an object frame needs exactly one of \"joints\" and \"persons\""),
        },
        Value::Array(a) => {
            // A body's first entry is a point (array of numbers) or null; a list of bodies'
            // first entry is an array of points.
            let nested = a
                .first()
                .and_then(Value::as_array)
                .and_then(|first| first.first())
                .is_some_and(|x| x.is_array() || x.is_null());
            (&v, !nested)
        }
        _ => bail!("a frame is an array or an object"),
    };
    if single {
        return Ok(vec![body(bodies)?]);
    }
    bodies
        .as_array()
        .ok_or_else(|| anyhow!("\"persons\" is not an array of bodies"))?
        .iter()
        .map(body)
        .collect()
}

/// The window as a skeleton (bodies padded with missing joints to the widest frame).
fn window_skeleton(window: &VecDeque<Frame>, layout: &Layout, fps: f32) -> Result<Skeleton> {
    let joints = layout.num_joints();
    let persons = window.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let t = window.len();
    let mut positions = vec![0.0f32; t * persons * joints * 3];
    let mut valid = vec![false; t * persons * joints];
    for (f, frame) in window.iter().enumerate() {
        for (p, bodyj) in frame.iter().enumerate() {
            for (j, joint) in bodyj.iter().enumerate() {
                if let Some(q) = joint {
                    let k = (f * persons + p) * joints + j;
                    valid[k] = true;
                    positions[k * 3..k * 3 + 3].copy_from_slice(q);
                }
            }
        }
    }
    Ok(Skeleton::new(positions, valid, t, persons, layout.clone())?.with_fps(Some(fps)))
}

/// Reads the next line of at most [`MAX_LINE_BYTES`] (without its line ending); `None` at the
/// end of input.
fn next_line(reader: &mut impl BufRead, lineno: usize) -> Result<Option<String>> {
    let mut buf = Vec::new();
    let n = std::io::Read::take(&mut *reader, MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut buf)
        .context("reading stdin")?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE_BYTES {
        bail!(
            "stdin line {lineno}: longer than {} MiB (one frame per line)",
            MAX_LINE_BYTES >> 20
        );
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| anyhow!("stdin line {lineno}: not UTF-8 text"))
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
    while let Some(line) = next_line(&mut input, lineno + 1)? {
        lineno += 1;
        if line.trim().is_empty() {
            continue;
        }
        let frame = parse_frame(&line).with_context(|| format!("stdin line {lineno}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_shapes() {
        assert_eq!(parse_frame("[[1,2,3],null]").unwrap().len(), 1);
        let f = parse_frame(r#"{"persons": [[[1,2,3]], [[4,5,6]]]}"#).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1][0], Some([4.0, 5.0, 6.0]));
        let f = parse_frame("[[[1,2,3],[4,5,6]],[[7,8,9],null]]").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1][1], None);
        assert_eq!(parse_frame(r#"{"joints": [[0,0,0]]}"#).unwrap()[0].len(), 1);
        assert!(parse_frame("[[1,2]]").is_err());
        assert!(parse_frame("{}").is_err());
        assert!(parse_frame("nope").is_err());
        assert!(parse_frame(r#"[["a",2,3]]"#).is_err());
    }

    #[test]
    fn window_pads_bodies() {
        let layout = Layout::builtin("coco17").unwrap();
        let one = vec![vec![Some([0.0, 1.0, 2.0]); 17]];
        let two = vec![vec![Some([0.0, 1.0, 2.0]); 17], vec![None; 17]];
        let w: VecDeque<Frame> = [one, two].into_iter().collect();
        let s = window_skeleton(&w, &layout, 30.0).unwrap();
        assert_eq!(s.dims(), [2, 2, 17]);
        assert!(!s.is_valid(0, 1, 0));
        assert!(s.is_valid(1, 0, 16));
    }
}

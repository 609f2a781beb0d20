//! `skeletonllm render`.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use draction::Skeleton;
use draction::prep::Sampler;
use draction::render::{Camera, Clip, ClipOptions, Rasterizer};

/// Settings of one render.
pub struct RenderSettings {
    pub frames: usize,
    pub size: usize,
    pub indices: Option<Vec<usize>>,
    pub sampler: Sampler,
    pub exact: bool,
}

/// Largest `--size`.
pub const MAX_SIZE: usize = 4096;
/// Largest rendered frame data, bytes (`frames × size² × 3 × 4`).
pub const MAX_FRAME_BYTES: usize = 1 << 30;

/// Checks `--frames`/`--size` before anything is loaded or allocated.
pub fn check_limits(frames: usize, size: usize) -> Result<()> {
    if size == 0 || frames == 0 {
        anyhow::bail!("--size and --frames must be positive");
    }
    if size > MAX_SIZE {
        anyhow::bail!("--size {size} is too large (at most {MAX_SIZE})");
    }
    let max_frames = draction::render::clip::MAX_FRAMES;
    if frames > max_frames {
        anyhow::bail!("--frames {frames} is too large (at most {max_frames})");
    }
    let bytes = frames as u128 * (size * size) as u128 * 12;
    if bytes > MAX_FRAME_BYTES as u128 {
        anyhow::bail!(
            "--frames {frames} at --size {size} would need {:.1} GB of frames (at most {:.1} GB): \
             render fewer or smaller frames",
            bytes as f64 / 1e9,
            MAX_FRAME_BYTES as f64 / 1e9
        );
    }
    Ok(())
}

/// `frame_NN.png`: a file of an earlier render that this one may not overwrite.
fn is_frame_png(name: &str) -> bool {
    name.strip_prefix("frame_")
        .and_then(|n| n.strip_suffix(".png"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Renders `skel` (read from `file`) with the checkpoint `weights` into `out`.
pub fn run(
    file: &Path,
    skel: Skeleton,
    weights: &Path,
    s: &RenderSettings,
    out: &Path,
) -> Result<()> {
    let t0 = Instant::now();
    let device = skeletonllm::device();
    let (model, meta) = draction::checkpoint::load(weights, &device)?;
    let t_load = t0.elapsed();
    let opts = ClipOptions {
        frames: s.frames,
        indices: s.indices.clone(),
        sampler: s.sampler,
    };
    let clip = Clip::prepare(&skel, model.config().num_joints, &opts)
        .with_context(|| format!("{}", file.display()))?;
    let t1 = Instant::now();
    let raster = if s.exact {
        Rasterizer::Reference
    } else {
        Rasterizer::Fast
    };
    let frames = model.render_with(&clip, Camera::new(s.size), raster, &device);
    let values = draction::checkpoint::host_values(frames);
    let t_render = t1.elapsed();
    let t2 = Instant::now();
    // Everything goes to a staging folder beside `out` first, then moves in with render.json
    // last: a kill leaves no half-written file and no render.json of an earlier run.
    let staged = draction::io::StagedDir::new(out)?;
    let written =
        draction::render::images::write_frames(&values, clip.frames, s.size, staged.path(), 250)?;
    let t_write = t2.elapsed();
    let files = serde_json::json!({
        "npy": staged.final_path(&written.npy),
        "pngs": written.pngs.iter().map(|p| staged.final_path(p)).collect::<Vec<_>>(),
        "sheet": staged.final_path(&written.sheet),
        "gif": staged.final_path(&written.gif),
    });
    let report = serde_json::json!({
        "input": file,
        "format": skel.source.format.map(|f| f.name()),
        "layout": skel.layout().name,
        "weights": weights,
        "weights_name": meta.name,
        "frames": clip.frames,
        "size": s.size,
        "indices": clip.indices,
        "sampler": if s.indices.is_some() { "given".to_string() } else { format!("{:?}", s.sampler) },
        "path": raster.name(),
        "topology": match clip.topology { draction::render::clip::Topology::Exact => "exact", _ => "cross" },
        "gaussians_per_body": clip.gaussians(model.num_gaussians()),
        "bodies": clip.persons,
        "device": format!("{device:?}"),
        "timings_ms": {
            "load_weights": t_load.as_secs_f64() * 1e3,
            "render": t_render.as_secs_f64() * 1e3,
            "write": t_write.as_secs_f64() * 1e3,
        },
        "files": files,
    });
    let path = staged.path().join("render.json");
    draction::io::write_atomic(&path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    staged.commit(Some("render.json"), is_frame_png)?;
    eprintln!(
        "rendered {} frames of {}² in {:.2} s → {}",
        clip.frames,
        s.size,
        t_render.as_secs_f64(),
        out.display()
    );
    Ok(())
}

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
    let written = draction::export::write_frames(&values, clip.frames, s.size, out, 250)?;
    let t_write = t2.elapsed();
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
        "files": written,
    });
    let path = out.join("render.json");
    draction::io::write_atomic(&path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    eprintln!(
        "rendered {} frames of {}² in {:.2} s → {}",
        clip.frames,
        s.size,
        t_render.as_secs_f64(),
        out.display()
    );
    Ok(())
}

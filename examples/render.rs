//! Render a skeleton file of any supported format with DrAction, through the library API.
//!
//! ```sh
//! cargo run --release --example render -- assets/samples/cmu_01_01.bvh out/example_render
//! cargo run --release --example render --features wgpu -- FILE OUT [WEIGHTS] [SIZE]
//! ```
//!
//! Writes `OUT/frames.npy`, `OUT/frame_01.png…`, `OUT/contact_sheet.png` and
//! `OUT/animation.gif`. WEIGHTS defaults to the bundled `assets/draction_default.safetensors`
//! (the authors' `skeletonllm-draction-v1` checkpoints load the same way); SIZE defaults to 448.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use draction::prep::Sampler;
use draction::render::{Camera, Clip, ClipOptions, Rasterizer};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        bail!("usage: render FILE OUT_DIR [WEIGHTS.safetensors] [SIZE]");
    }
    let (file, out) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let weights = args.get(2).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/draction_default.safetensors"),
        PathBuf::from,
    );
    let size: usize = match args.get(3) {
        Some(s) => s
            .parse()
            .with_context(|| format!("SIZE {s:?} is not a number"))?,
        None => 448,
    };

    let device = skeletonllm::device(); // flex, or wgpu/cuda with those features
    let skeleton = draction::io::read(&file, None)?; // format detected
    let (renderer, _) = draction::checkpoint::load(&weights, &device)?;
    let options = ClipOptions {
        frames: 12,
        indices: None,
        sampler: Sampler::Official,
    };
    let clip = Clip::prepare(&skeleton, renderer.config().num_joints, &options)
        .with_context(|| file.display().to_string())?;
    let frames = renderer.render_with(&clip, Camera::new(size), Rasterizer::Fast, &device);
    let values = draction::checkpoint::host_values(frames);
    draction::render::images::write_frames(&values, clip.frames, size, &out, 250)?;
    println!(
        "{} ({}, {} frames) -> {}/animation.gif",
        file.display(),
        skeleton.layout().name,
        clip.frames,
        out.display()
    );
    Ok(())
}

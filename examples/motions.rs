//! Render one clip of every procedural motion class with DrAction, to look at them.
//!
//! ```sh
//! cargo run --release --example motions -- OUT_DIR [PERFORMER_SEED] [SIZE]
//! ```
//!
//! Writes `OUT_DIR/<class>/contact_sheet.png` (and the frames and a GIF) per class.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use draction::prep::Sampler;
use draction::render::{Camera, Clip, ClipOptions, Rasterizer};
use skeletonllm::draction::synthetic::motions::{PROCEDURAL_CLASSES, Performer, generate};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first().map(PathBuf::from) else {
        bail!("usage: motions OUT_DIR [PERFORMER_SEED] [SIZE]");
    };
    let seed: u64 = match args.get(1) {
        Some(s) => s.parse().with_context(|| format!("seed {s:?}"))?,
        None => 1,
    };
    let size: usize = match args.get(2) {
        Some(s) => s.parse().with_context(|| format!("SIZE {s:?}"))?,
        None => 224,
    };
    let weights =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/draction_default.safetensors");
    let device = skeletonllm::device();
    let (renderer, _) = draction::checkpoint::load(&weights, &device)?;
    let options = ClipOptions {
        frames: 12,
        indices: None,
        sampler: Sampler::Middle,
    };
    for (k, class) in PROCEDURAL_CLASSES.iter().enumerate() {
        let performer = Performer::sample(seed + k as u64);
        let skeleton = generate(class, &performer, 3.0, 30.0, seed)?;
        let clip = Clip::prepare(&skeleton, renderer.config().num_joints, &options)?;
        let frames = renderer.render_with(&clip, Camera::new(size), Rasterizer::Fast, &device);
        let values = draction::checkpoint::host_values(frames);
        let dir = out.join(class.replace(' ', "_"));
        draction::render::images::write_frames(&values, clip.frames, size, &dir, 100)?;
        println!(
            "{class}: {:.2} m tall, {} -> {}/contact_sheet.png",
            performer.height,
            if performer.left_handed {
                "left-handed"
            } else {
                "right-handed"
            },
            dir.display()
        );
    }
    Ok(())
}

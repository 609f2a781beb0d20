//! Times DrAction on a synthetic 2-body clip and prints one JSON line per case (median seconds
//! and the process's peak resident memory). Used by `benches/compare_torch.sh`; run one case
//! per process for a clean peak-memory figure:
//!
//! ```sh
//! cargo run --release --example bench_render -- --case fast-fwdbwd --size 448 --runs 5
//! ```

use std::time::Instant;

use anyhow::{Result, bail};
use draction::burn::tensor::{Distribution, Tensor};
use draction::render::{Camera, Clip, ClipOptions, DrActionConfig, Rasterizer};

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let case = get("--case", "fast-fwdbwd");
    let size: usize = get("--size", "224").parse()?;
    let runs: usize = get("--runs", "5").parse()?;
    let (raster, backward) = match case.as_str() {
        "fast-fwd" => (Rasterizer::Fast, false),
        "fast-fwdbwd" => (Rasterizer::Fast, true),
        "reference-fwd" => (Rasterizer::Reference, false),
        "reference-fwdbwd" => (Rasterizer::Reference, true),
        other => bail!("unknown --case {other}"),
    };
    let base = skeletonllm::device();
    let device = if backward { base.autodiff() } else { base };
    device.seed(0);
    let model =
        DrActionConfig::new().init_with_pose(&draction::synthetic::ntu_standing_pose(), &device);
    let skel = draction::synthetic::walking_ntu(90, 2);
    let clip = Clip::prepare(&skel, 25, &ClipOptions::default())?;
    let cam = Camera::new(size);
    let weights = Tensor::<4>::random(
        [clip.frames, size, size, 3],
        Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs + 1 {
        let t0 = Instant::now();
        let frames = model.render_with(&clip, cam, raster, &device);
        if backward {
            let grads = (frames * weights.clone()).sum().backward();
            let g = model.canonical_features.grad(&grads).expect("gradient");
            let _ = draction::checkpoint::host_values(g);
        } else {
            let _ = draction::checkpoint::host_values(frames);
        }
        times.push(t0.elapsed().as_secs_f64());
    }
    times.remove(0); // warm-up
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{}",
        serde_json::json!({
            "impl": "rust-draction", "case": case, "frames": clip.frames, "bodies": clip.persons,
            "size": size, "runs": runs, "median_s": median, "min_s": times[0],
            "peak_rss_mb": peak_rss_mb(), "threads": rayon_threads(),
        })
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

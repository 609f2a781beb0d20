//! Measures what one training sample of an InternVL3-sized model takes on this machine: the
//! resident memory after building the model (weights) and the peak over one forward and
//! backward of `--frames` 448² frames (activations), with random weights and the ViT and LM
//! cut to `--vit-layers` / `--lm-layers` layers. Two runs with different layer counts give the
//! cost of one layer, which the "on paper" activation estimate of `memory_table` is checked
//! against (README, "Memory on paper and measured").
//!
//! As in the authors' stages 1–2, the ViT and LM are frozen but the loss differentiates back to
//! the pixels (DrAction trains), so every layer keeps its activations for the backward pass.
//!
//! ```sh
//! cargo run --release --example memory_probe -- --model 1b --vit-layers 1 --lm-layers 1
//! ```
//! Linux only (reads `/proc/self/status`).

use anyhow::{Result, bail};
use clap::Parser;
use skeletonllm::draction::burn::module::Module;
use skeletonllm::draction::burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use skeletonllm::skeletonllm_model::{
    BaseDtype, InternVitConfig, InternVlConfig, InternVlInput, MultiModalProjectorConfig,
    Qwen2Config, cast_frozen_bases,
};

#[derive(Parser)]
struct Args {
    /// InternVL3 size: 1b, 2b or 8b.
    #[arg(long, default_value = "1b")]
    model: String,
    /// ViT layers kept (the real model has 24).
    #[arg(long, default_value_t = 1)]
    vit_layers: usize,
    /// LM layers kept.
    #[arg(long, default_value_t = 1)]
    lm_layers: usize,
    /// Frames of 448² pixels (the authors use 12).
    #[arg(long, default_value_t = 12)]
    frames: usize,
    /// Dtype of the frozen bases: f32, bf16 or f16.
    #[arg(long, default_value = "f32")]
    base_dtype: BaseDtype,
    /// Vocabulary size (InternVL3's is 151 674; a smaller one fits wgpu adapters whose buffer
    /// bindings are capped at 128 MiB, and changes only the embedding's weight memory).
    #[arg(long, default_value_t = 151_674)]
    vocab: usize,
    /// Burn's gradient checkpointing (memory-bound ops recomputed in the backward pass).
    #[arg(long)]
    grad_checkpointing: bool,
}

/// Peak and current resident set size in bytes, from `/proc/self/status`.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (d, inter, heads, kv) = match args.model.as_str() {
        "1b" => (896, 4864, 14, 2),
        "2b" => (1536, 8960, 12, 2),
        "8b" => (3584, 18944, 28, 4),
        other => bail!("--model {other}: use 1b, 2b or 8b"),
    };
    let mut device = Device::default().autodiff();
    if args.grad_checkpointing {
        device = device.gradient_checkpointing();
    }
    let before = rss().1;
    let config = InternVlConfig::new(
        InternVitConfig::new(1024, args.vit_layers, 16, 4096),
        MultiModalProjectorConfig::new(1024, d),
        Qwen2Config::new(args.vocab, d, inter, args.lm_layers, heads, kv),
    )
    .with_image_token_id(args.vocab.saturating_sub(7));
    if args.vocab < 1000 {
        bail!("--vocab {}: use at least 1000", args.vocab);
    }
    let mut model = config.init(&device).no_grad();
    model.multi_modal_projector = model.multi_modal_projector.set_require_grad(true);
    let dtype = args.base_dtype.resolve(&device);
    model = cast_frozen_bases(model, dtype);
    let weights = rss().1.saturating_sub(before);

    // 12 images of 256 tokens each between a short prompt and a one-token answer.
    let tokens = model.tokens_per_image();
    let image_id = config.image_token_id as i64;
    let mut ids: Vec<i64> = (0..40).collect();
    ids.extend(std::iter::repeat_n(image_id, args.frames * tokens));
    ids.extend(100..160);
    let len = ids.len();
    let input_ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, len]), &device);
    // The pixels stand for DrAction's output: the gradient must reach them.
    let pixels = Tensor::<4>::random(
        [args.frames, 3, 448, 448],
        Distribution::Uniform(0.0, 1.0),
        &device,
    )
    .require_grad();
    let started = std::time::Instant::now();
    let input = InternVlInput::new(input_ids)
        .pixel_values(pixels.clone())
        .logits_from(len - 2);
    let logits = model.forward(input)?.logits;
    let loss = logits.powi_scalar(2).mean();
    let grads = loss.backward();
    let grad = pixels
        .grad(&grads)
        .map(|g| g.abs().sum().into_scalar::<f32>());
    let seconds = started.elapsed().as_secs_f64();
    let (peak, _) = rss();
    let line = serde_json::json!({
        "model": args.model, "vit_layers": args.vit_layers, "lm_layers": args.lm_layers,
        "frames": args.frames, "lm_tokens": len, "base_dtype": format!("{dtype:?}"),
        "grad_checkpointing": args.grad_checkpointing,
        "weights_bytes": weights, "peak_rss_bytes": peak, "seconds": seconds,
        "pixel_grad_l1": grad,
    });
    println!("{line}");
    Ok(())
}

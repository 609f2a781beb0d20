//! The weight-memory table of README ("Memory on paper"): parameter counts of InternVL3-1B, -2B
//! and -8B from their configs ([`InternVlConfig::param_counts`], no weights needed) and the bytes
//! they take per dtype, plus what the trained parts need in f32 with AdamW (LoRA r32 on the
//! seven decoder projections, the projector).
//!
//! ```sh
//! cargo run --example memory_table
//! ```

use skeletonllm::skeletonllm_model::{
    InternVitConfig, InternVlConfig, MultiModalProjectorConfig, Qwen2Config,
};

/// (name, hidden, intermediate, layers, heads, kv heads) of the Qwen2.5 language models.
const MODELS: [(&str, usize, usize, usize, usize, usize); 3] = [
    ("InternVL3-1B", 896, 4864, 24, 14, 2),
    ("InternVL3-2B", 1536, 8960, 28, 12, 2),
    ("InternVL3-8B", 3584, 18944, 28, 28, 4),
];

fn gib(bytes: usize) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

fn main() {
    let vision = InternVitConfig::new(1024, 24, 16, 4096); // InternViT-300M-448px-V2.5
    println!(
        "| model | ViT / projector / LM params | frozen bases f32 | bf16 or f16 | LoRA r32 params | trained in f32 + AdamW (LoRA r32 + projector: weights, grads, 2 states) |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, d, inter, layers, heads, kv) in MODELS {
        let text = Qwen2Config::new(151_674, d, inter, layers, heads, kv);
        let config = InternVlConfig::new(
            vision.clone(),
            MultiModalProjectorConfig::new(1024, d),
            text,
        );
        let c = config.param_counts();
        let bases = c.vision + c.language;
        let lora = 32 * c.lora_per_rank;
        let trained = lora + c.projector;
        println!(
            "| {name} | {:.0} M / {:.1} M / {:.0} M | {:.2} GiB | {:.2} GiB | {:.1} M | {:.2} GiB |",
            c.vision as f64 / 1e6,
            c.projector as f64 / 1e6,
            c.language as f64 / 1e6,
            gib(4 * bases),
            gib(2 * bases),
            lora as f64 / 1e6,
            gib(16 * trained),
        );
    }
}

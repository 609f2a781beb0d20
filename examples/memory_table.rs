//! The memory tables of README ("Memory on paper and measured"): parameter counts of
//! InternVL3-1B, -2B and -8B from their configs ([`InternVlConfig::param_counts`], no weights
//! needed) and the bytes they take per dtype, what the trained parts need in f32 with AdamW
//! (LoRA r32 on the seven decoder projections, the projector), and the activations one
//! training sample of 12 × 448² frames keeps for the backward pass, on paper: per layer, the
//! tensors each op saves (linear in the tokens) plus the attention scores and probabilities
//! (quadratic; zero with a fused attention kernel that recomputes them).
//! `examples/memory_probe.rs` measures the same per layer.
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

/// Image tokens of one 448² frame in the ViT (1 + 32²) and, after pixel shuffle, in the LM.
const VIT_TOKENS: usize = 1025;
const LM_IMAGE_TOKENS: usize = 256;
const FRAMES: usize = 12;
/// Text tokens around the images (prompt and answer).
const TEXT_TOKENS: usize = 100;

/// Activation values one ViT layer keeps per sample: `(linear, attention)`. Per token: the two
/// layer norms' outputs, q/k/v, the attention output, the projection, both layer-scale
/// products, fc1, GELU, fc2 and the residuals (about 19 widths); per image and head the
/// scores and probabilities.
fn vit_layer_values(width: usize, heads: usize) -> (usize, usize) {
    let n = FRAMES * VIT_TOKENS;
    (19 * width * n, 2 * heads * FRAMES * VIT_TOKENS * VIT_TOKENS)
}

/// Activation values one LM layer keeps per sample: `(linear, attention)`. Per token: the two
/// RMS norms, q/k/v before and after RoPE, the attention output, o_proj, the residual, gate,
/// up, SwiGLU and down; per head the causal scores and probabilities over the sequence.
fn lm_layer_values(d: usize, inter: usize, heads: usize, kv: usize) -> (usize, usize) {
    let s = FRAMES * LM_IMAGE_TOKENS + TEXT_TOKENS;
    let kv_dim = kv * d / heads;
    ((8 * d + 3 * kv_dim + 3 * inter) * s, 2 * heads * s * s)
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
    println!();
    println!(
        "| model | activations / sample, bf16: per ViT layer | per LM layer | whole model (24 ViT layers + LM) | with fused attention (linear terms only) |"
    );
    println!("|---|---|---|---|---|");
    for (name, d, inter, layers, heads, kv) in MODELS {
        let (vl, va) = vit_layer_values(1024, 16);
        let (ll, la) = lm_layer_values(d, inter, heads, kv);
        let total = 24 * (vl + va) + layers * (ll + la);
        let fused = 24 * vl + layers * ll;
        println!(
            "| {name} | {:.2} GiB | {:.2} GiB | {:.1} GiB | {:.1} GiB |",
            gib(2 * (vl + va)),
            gib(2 * (ll + la)),
            gib(2 * total),
            gib(2 * fused),
        );
    }
}

//! CPU speed of an InternVL3-1B-sized model with random weights (no download): image encode
//! latency, prefill and decode tokens/s, end-to-end `generate`, peak resident memory. Prints one
//! JSON line per metric; `benches/internvl_torch.py` prints the same keys for transformers and
//! `benches/compare_internvl.sh` runs both side by side.
//!
//! ```sh
//! RAYON_NUM_THREADS=2 cargo run --release --example bench_internvl -- \
//!     [--layers N] [--prompt 300] [--new-tokens 32] [--runs 1] [--warmup 1] [--no-e2e]
//!     [--vocab 151674]
//! ```
//!
//! `--layers N` sets both towers to N layers (24 = the real InternVL3-1B) for quick runs.
//! Stages, timed separately (each ends with the result on the host, so lazy work is counted):
//! - `image_encode`: 1 image 448² → InternViT-300M → pixel shuffle + projector → 256 tokens;
//! - `prefill`: a `--prompt`-token prompt (256 `<IMG_CONTEXT>` tokens included, image features
//!   precomputed) through the decoder into an empty KV cache, logits of the last position only
//!   (as transformers' `generate` does with `logits_to_keep=1`);
//! - `decode`: `--new-tokens` greedy steps with the KV cache, one token each (the first token
//!   comes from the prefill logits, as in `generate`);
//! - `e2e_generate`: the crate's [`generate`] (image + prefill, last-position logits + decode).

use std::time::Instant;

use anyhow::{Result, bail};
use draction::burn::tensor::{Distribution, Int, Tensor, TensorData};
use skeletonllm_model::{
    GenerateOptions, InternVitConfig, InternVlConfig, InternVlInput, MultiModalProjectorConfig,
    Qwen2Config, generate,
};

/// InternVL3's vocabulary; `<IMG_CONTEXT>` is 7 ids from its end (151667).
const VOCAB: usize = 151674;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn argmax(row: &[f32]) -> i64 {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best as i64
}

fn emit(metric: &str, value: f64, unit: &str, extra: &str) {
    println!(
        "{{\"impl\":\"rust\",\"metric\":\"{metric}\",\"value\":{value:.6},\"unit\":\"{unit}\"{extra}}}"
    );
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
    let layers: usize = get("--layers", "24").parse()?;
    // A smaller vocabulary fits wgpu adapters whose buffer bindings are capped at 128 MiB
    // (lavapipe): the real embedding table is 543 MB in f32.
    let vocab: usize = get("--vocab", &VOCAB.to_string()).parse()?;
    if vocab < 1000 {
        bail!("--vocab {vocab}: use at least 1000");
    }
    let img_context = (vocab - 7) as i64;
    let prompt: usize = get("--prompt", "300").parse()?;
    let new_tokens: usize = get("--new-tokens", "32").parse()?;
    let runs: usize = get("--runs", "1").parse()?;
    let warmup: usize = get("--warmup", "1").parse()?;
    let e2e = !args.iter().any(|a| a == "--no-e2e");
    let profile = args.iter().any(|a| a == "--profile");
    if prompt < 258 || new_tokens == 0 || runs == 0 {
        bail!("--prompt must be >= 258 (256 image tokens + 2), --new-tokens and --runs >= 1");
    }
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into());
    let tag = format!(",\"layers\":{layers},\"threads\":\"{threads}\"");

    let device = draction::burn::tensor::Device::default();
    device.seed(0);
    // InternViT-300M (InternVL3-1B's vision tower): layer scale and qkv bias are built in.
    let vision = InternVitConfig::new(1024, layers, 16, 4096)
        .with_image_size(448)
        .with_patch_size(14)
        .with_qkv_bias(true)
        .with_layer_norm_eps(1e-6);
    // LayerNorm(4096) -> Linear(4096 -> 896) -> GELU -> Linear(896 -> 896).
    let projector = MultiModalProjectorConfig::new(1024, 896);
    // Qwen2.5-0.5B as in InternVL3-1B: untied head, qkv bias.
    let text = Qwen2Config::new(vocab, 896, 4864, layers, 14, 2)
        .with_rope_theta(1e6)
        .with_rms_norm_eps(1e-6)
        .with_attention_bias(true)
        .with_tie_word_embeddings(false);
    let config =
        InternVlConfig::new(vision, projector, text).with_image_token_id(img_context as usize);
    let t0 = Instant::now();
    let model = config.init(&device);
    // Touch every parameter so lazy init is not counted in the first stage.
    let _ = model
        .language_model
        .lm_head
        .as_ref()
        .unwrap()
        .weight
        .val()
        .sum()
        .into_scalar::<f32>();
    emit("init", t0.elapsed().as_secs_f64(), "s", &tag);
    let tokens_per_image = config.tokens_per_image();
    assert_eq!(tokens_per_image, 256);

    // Prompt: text ids around one <img> block of 256 <IMG_CONTEXT> tokens.
    let before = 20.min(prompt - tokens_per_image - 1);
    let mut ids: Vec<i64> = (0..before as i64).map(|i| 1000 + i * 37).collect();
    ids.extend(std::iter::repeat_n(img_context, tokens_per_image));
    while ids.len() < prompt {
        ids.push(2000 + (ids.len() as i64 * 53) % 100_000);
    }
    let input_ids = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, prompt]), &device);
    let pixels = Tensor::<4>::random([1, 3, 448, 448], Distribution::Normal(0.0, 1.0), &device);

    let lm = &model.language_model;
    let (mut t_img, mut t_pre, mut t_dec, mut t_e2e) = (vec![], vec![], vec![], vec![]);
    let mut first = Vec::new();
    for run in 0..warmup + runs {
        let timed = run >= warmup;
        // Image encode.
        let t = Instant::now();
        let features = model.get_image_features(pixels.clone()).features;
        let _ = features.to_data();
        let img = t.elapsed().as_secs_f64();
        // Prefill: decoder over the whole prompt into an empty cache, last-position logits.
        let t = Instant::now();
        let embeds = model.embed_with_images(input_ids.clone(), Some(features))?;
        let mut cache = lm.new_cache();
        let hidden = lm.model.forward(embeds, None, Some(&mut cache)); // [1, L, D]
        let logits = lm.head(hidden.narrow(1, prompt - 1, 1)); // [1, 1, V]
        let row: Vec<f32> = logits.into_data().iter::<f32>().collect();
        let mut next = argmax(&row);
        let pre = t.elapsed().as_secs_f64();
        // Decode: one token per step with the cache.
        let mut out = vec![next];
        let t = Instant::now();
        for _ in 1..new_tokens {
            let token = Tensor::<2, Int>::from_data(TensorData::new(vec![next], [1, 1]), &device);
            let logits = lm.forward_embeds(lm.embed(token), None, Some(&mut cache));
            let row: Vec<f32> = logits.into_data().iter::<f32>().collect();
            next = argmax(&row);
            out.push(next);
        }
        let dec = t.elapsed().as_secs_f64();
        eprintln!("run {run}: image {img:.3}s prefill {pre:.3}s decode {dec:.3}s");
        if timed {
            t_img.push(img);
            t_pre.push(pre);
            t_dec.push(dec);
        }
        first = out;
    }
    emit(
        "image_encode",
        median(t_img),
        "s",
        &format!("{tag},\"tokens\":256"),
    );
    let pre = median(t_pre);
    emit(
        "prefill",
        prompt as f64 / pre,
        "tok/s",
        &format!("{tag},\"tokens\":{prompt},\"seconds\":{pre:.6}"),
    );
    // new_tokens - 1 cached steps (the first new token comes out of the prefill).
    let dec = median(t_dec);
    emit(
        "decode",
        (new_tokens - 1) as f64 / dec,
        "tok/s",
        &format!("{tag},\"tokens\":{},\"seconds\":{dec:.6}", new_tokens - 1),
    );
    if e2e {
        for _ in 0..runs {
            let input = InternVlInput::new(input_ids.clone()).pixel_values(pixels.clone());
            let t = Instant::now();
            let got = generate(&model, input, GenerateOptions::greedy(new_tokens))?;
            t_e2e.push(t.elapsed().as_secs_f64());
            if got != first {
                eprintln!("note: generate() tokens differ from the staged loop");
            }
        }
        let e = median(t_e2e);
        emit(
            "e2e_generate",
            e,
            "s",
            &format!("{tag},\"prompt\":{prompt},\"new_tokens\":{new_tokens}"),
        );
    }
    if profile {
        profile_stages(&model, &pixels, &input_ids, prompt, &device)?;
    }
    emit("peak_rss", peak_rss_mb(), "MB", &tag);
    Ok(())
}

/// Per-stage timings (stderr), each stage forced to the host: where the time goes.
fn profile_stages(
    model: &skeletonllm_model::InternVl,
    pixels: &Tensor<4>,
    input_ids: &Tensor<2, Int>,
    prompt: usize,
    device: &draction::burn::tensor::Device,
) -> Result<()> {
    let sync3 = |x: &Tensor<3>| {
        let _ = x.to_data();
    };
    let vit = &model.vision_tower;
    let t = Instant::now();
    let mut x = vit.embeddings.forward(pixels.clone());
    sync3(&x);
    let t_emb = t.elapsed().as_secs_f64();
    let (mut t_attn, mut t_mlp) = (0.0, 0.0);
    for layer in &vit.encoder.layer {
        let t = Instant::now();
        let h = layer
            .attention
            .forward(layer.layernorm_before.forward(x.clone()));
        let y = x + h * layer.lambda_1.val().unsqueeze::<3>();
        sync3(&y);
        t_attn += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let h = layer.mlp.forward(layer.layernorm_after.forward(y.clone()));
        x = y + h * layer.lambda_2.val().unsqueeze::<3>();
        sync3(&x);
        t_mlp += t.elapsed().as_secs_f64();
    }
    let t = Instant::now();
    let features = model.multi_modal_projector.forward(x);
    sync3(&features);
    let t_proj = t.elapsed().as_secs_f64();
    eprintln!(
        "profile vit: embeddings {t_emb:.3}s, LN+attention {t_attn:.3}s, LN+MLP {t_mlp:.3}s, \
         projector {t_proj:.3}s"
    );

    let lm = &model.language_model;
    let t = Instant::now();
    let embeds = model.embed_with_images(input_ids.clone(), Some(features))?;
    sync3(&embeds);
    let t_embed = t.elapsed().as_secs_f64();
    let mut cache = lm.new_cache();
    let t = Instant::now();
    let hidden = lm.model.forward(embeds.clone(), None, Some(&mut cache));
    sync3(&hidden);
    let t_layers = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let last = lm.head(hidden.clone().narrow(1, prompt - 1, 1));
    sync3(&last);
    let t_head1 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let all = lm.head(hidden);
    sync3(&all);
    let t_head_all = t.elapsed().as_secs_f64();
    eprintln!(
        "profile prefill: embed+scatter {t_embed:.3}s, decoder layers {t_layers:.3}s, \
         head(last) {t_head1:.3}s, head(all {prompt}) {t_head_all:.3}s"
    );
    let steps = 16;
    let (mut t_e, mut t_l, mut t_h, mut t_x) = (0.0, 0.0, 0.0, 0.0);
    let mut next = 1000i64;
    for _ in 0..steps {
        let t = Instant::now();
        let token = Tensor::<2, Int>::from_data(TensorData::new(vec![next], [1, 1]), device);
        let e = lm.embed(token);
        sync3(&e);
        t_e += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let h = lm.model.forward(e, None, Some(&mut cache));
        sync3(&h);
        t_l += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let logits = lm.head(h);
        sync3(&logits);
        t_h += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let row: Vec<f32> = logits.into_data().iter::<f32>().collect();
        next = argmax(&row);
        t_x += t.elapsed().as_secs_f64();
    }
    let ms = |s: f64| 1000.0 * s / steps as f64;
    eprintln!(
        "profile decode per token: embed {:.1}ms, decoder layers {:.1}ms, head {:.1}ms, \
         logits to host + argmax {:.1}ms",
        ms(t_e),
        ms(t_l),
        ms(t_h),
        ms(t_x)
    );
    Ok(())
}

//! SkeletonLLM end to end on the tiny InternVL fixture: a skeleton clip rendered by DrAction
//! feeds the ViT, and the language-model loss differentiates back into the renderer. With the
//! frozen bases in bf16 / f16 (`precision::cast_frozen_bases`) the forward stays within a
//! stated tolerance of f32 and the loss still reaches DrAction and the projector.

use std::path::PathBuf;

use skeletonllm_model::draction::burn::module::Module;
use skeletonllm_model::draction::burn::nn::loss::CrossEntropyLossConfig;
use skeletonllm_model::draction::burn::tensor::{DType, Device, Int, Tensor, TensorData};
use skeletonllm_model::draction::checkpoint::host_values;
use skeletonllm_model::draction::render::{Clip, ClipOptions, DrActionConfig, Rasterizer};
use skeletonllm_model::draction::synthetic;
use skeletonllm_model::{SkeletonLlm, cast_frozen_bases};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/internvl")
        .join(rel)
}

/// The fixture chat: two `<img>` blocks of 4 `<IMG_CONTEXT>` (id 205) each.
fn input_ids(device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = vec![
        201, 16, 79, 139, 202, 145, 201, 41, 188, 203, 205, 205, 205, 205, 204, 191, 203, 205, 205,
        205, 205, 204, 61, 47, 19, 118, 118, 202, 154, 201, 59, 45,
    ];
    Tensor::from_data(TensorData::new(ids, [1, 32]), device)
}

#[test]
fn lm_loss_reaches_the_renderer() {
    let device = Device::default().autodiff();
    device.seed(7);
    let internvl = skeletonllm_model::load_pretrained(&fixture("tiny_hf"), &device).unwrap();
    assert_eq!(internvl.config_image_size(), 56);
    let renderer = DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), &device);
    let model = SkeletonLlm::new(renderer, internvl);
    let clip = Clip::prepare(
        &synthetic::walking_ntu(30, 2),
        25,
        &ClipOptions {
            frames: 2,
            ..Default::default()
        },
    )
    .unwrap();

    let pixels = model.pixel_values(&clip, Rasterizer::Fast, &device);
    assert_eq!(pixels.dims(), [2, 3, 56, 56]);
    let px = host_values(pixels);
    assert!(px.iter().all(|x| (0.0..=1.0).contains(x)) && px.iter().any(|&x| x > 0.1));

    for raster in [Rasterizer::Fast, Rasterizer::Reference] {
        let ids = input_ids(&device);
        let out = model
            .forward(model.input(ids.clone(), &clip, raster, &device))
            .unwrap();
        let [_, l, v] = out.logits.dims();
        // Next-token cross entropy over the whole sequence.
        let logits = out.logits.slice([0..1, 0..l - 1, 0..v]).reshape([l - 1, v]);
        let targets = ids.slice([0..1, 1..l]).reshape([l - 1]);
        let loss = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(logits, targets);
        let grads = loss.backward();
        let norm =
            |t: Option<Tensor<2>>| t.map(|g| g.abs().sum().into_scalar::<f32>()).unwrap_or(0.0);
        let r = &model.renderer;
        for (name, g) in [
            (
                "canonical_features",
                norm(r.canonical_features.grad(&grads)),
            ),
            ("canonical_means", norm(r.canonical_means.grad(&grads))),
            (
                "appearance_head.0.weight",
                norm(r.appearance_head.fc1.weight.grad(&grads)),
            ),
            (
                "nfm.2.weight",
                norm(r.nfm.as_ref().unwrap().fc2.weight.grad(&grads)),
            ),
        ] {
            assert!(
                g.is_finite() && g > 0.0,
                "{}: no gradient reaches the renderer's {name}",
                raster.name()
            );
        }
    }
}

fn clip() -> Clip {
    Clip::prepare(
        &synthetic::walking_ntu(30, 2),
        25,
        &ClipOptions {
            frames: 2,
            ..Default::default()
        },
    )
    .unwrap()
}

fn model(device: &Device) -> SkeletonLlm {
    device.seed(7);
    let internvl = skeletonllm_model::load_pretrained(&fixture("tiny_hf"), device).unwrap();
    let renderer = DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), device);
    SkeletonLlm::new(renderer, internvl)
}

fn logits(model: &SkeletonLlm, device: &Device) -> Vec<f32> {
    let out = model
        .forward(model.input(input_ids(device), &clip(), Rasterizer::Fast, device))
        .unwrap();
    assert_eq!(out.logits.dtype(), DType::F32, "logits come back in f32");
    host_values(out.logits)
}

#[test]
fn half_precision_bases_stay_close_to_f32() {
    let device = Device::default();
    // One model, cloned: tests run in parallel and share the device RNG, so a second
    // `model()` could get another random renderer.
    let base = model(&device);
    let reference = logits(&base, &device);
    let scale = reference.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let vocab = 206;
    let argmax = |v: &[f32]| -> Vec<usize> {
        v.chunks(vocab)
            .map(|row| {
                (0..row.len())
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap_or(0)
            })
            .collect()
    };
    let top = argmax(&reference);
    // Stated tolerances, relative to the largest |logit| (measured: bf16 1.0 %, 94 % top-1
    // agreement; f16 0.16 %, 100 %): bf16 keeps 8 bits of mantissa, f16 11.
    for (dtype, tolerance, agreement) in [(DType::BF16, 0.03, 0.9), (DType::F16, 0.005, 0.99)] {
        let mut m = base.clone();
        m.internvl = cast_frozen_bases(m.internvl, dtype);
        assert_eq!(
            m.internvl
                .language_model
                .model
                .embed_tokens
                .weight
                .base()
                .dtype(),
            dtype
        );
        let got = logits(&m, &device);
        let worst = got
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let agree = argmax(&got)
            .iter()
            .zip(&top)
            .filter(|(a, b)| a == b)
            .count() as f64
            / top.len() as f64;
        println!(
            "{dtype:?} bases: max |Δlogit| {worst:.4} ({:.2}% of max |logit| {scale:.3}), \
             top-1 agreement {:.1}%",
            100.0 * worst / scale,
            100.0 * agree
        );
        assert!(
            worst <= tolerance * scale,
            "{dtype:?}: max |Δlogit| {worst} over {tolerance} × {scale}"
        );
        assert!(agree >= agreement, "{dtype:?}: top-1 agreement {agree}");
    }
}

#[test]
fn gradients_reach_draction_through_bf16_bases() {
    let device = Device::default().autodiff();
    let mut m = model(&device);
    // The authors' stages 1-2: ViT and LM frozen, projector and DrAction train.
    m.internvl = m.internvl.no_grad();
    m.internvl.multi_modal_projector = m.internvl.multi_modal_projector.set_require_grad(true);
    m.internvl = cast_frozen_bases(m.internvl, DType::BF16);
    assert_eq!(
        m.internvl
            .multi_modal_projector
            .linear_1
            .weight
            .base()
            .dtype(),
        DType::F32,
        "trainable parts stay f32"
    );
    let out = m
        .forward(m.input(input_ids(&device), &clip(), Rasterizer::Fast, &device))
        .unwrap();
    let loss = out.logits.powi_scalar(2).mean();
    let grads = loss.backward();
    let renderer = m.renderer.canonical_features.val().grad(&grads).unwrap();
    let projector = m
        .internvl
        .multi_modal_projector
        .linear_1
        .weight
        .val()
        .grad(&grads)
        .unwrap();
    for (name, g) in [("DrAction", renderer), ("projector", projector)] {
        assert_eq!(g.dtype(), DType::F32, "{name} gradient dtype");
        let v = host_values(g);
        assert!(
            v.iter().all(|x| x.is_finite()),
            "{name}: non-finite gradient"
        );
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        println!("{name} gradient norm through bf16 bases: {norm:.3e}");
        assert!(norm > 0.0, "{name}: no gradient");
    }
}

//! SkeletonLLM end to end on the tiny InternVL fixture: a skeleton clip rendered by DrAction
//! feeds the ViT, and the language-model loss differentiates back into the renderer.

use std::path::PathBuf;

use skeletonllm_model::SkeletonLlm;
use skeletonllm_model::draction::burn::nn::loss::CrossEntropyLossConfig;
use skeletonllm_model::draction::burn::tensor::{Device, Int, Tensor, TensorData};
use skeletonllm_model::draction::checkpoint::host_values;
use skeletonllm_model::draction::render::{Clip, ClipOptions, DrActionConfig, Rasterizer};
use skeletonllm_model::draction::synthetic;

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

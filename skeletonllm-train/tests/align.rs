//! The embedding-alignment warm-up on a tiny model: the image tokens of two kinds of clip (a
//! walk and a static pose) move toward their labels' embeddings, the loss falls, and only the
//! renderer, the ViT and the projector change.

use std::sync::Arc;

use skeletonllm_train::align::{AlignConfig, align, label_embeddings};
use skeletonllm_train::draction::burn::tensor::Device;
use skeletonllm_train::draction::checkpoint::host_values;
use skeletonllm_train::draction::render::DrActionConfig;
use skeletonllm_train::draction::{self, Layout, Skeleton, synthetic};
use skeletonllm_train::skeletonllm_model::{Assistant, InternVlConfig, SkeletonLlm};

/// The LM's token embedding matrix, on the host.
fn embedding(model: &SkeletonLlm) -> Vec<f32> {
    let lm = &model.internvl.language_model;
    host_values(lm.model.embed_tokens.weight.val())
}

/// The ViT's patch-embedding weights, on the host.
fn patch_weights(model: &SkeletonLlm) -> Vec<f32> {
    let patch = &model.internvl.vision_tower.embeddings.patch_embeddings;
    host_values(patch.projection.weight.val().reshape([1, -1]))
}

#[test]
fn alignment_pulls_image_tokens_to_their_label() {
    let device = Device::default().autodiff();
    device.seed(5);
    let labels = ["walking", "standing still"];
    let (renderer, _) = draction::checkpoint::load(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../assets/draction_default.safetensors"
        )
        .as_ref(),
        &device,
    )
    .unwrap();
    let a = Assistant::tiny_random(&labels, renderer, &device).unwrap();
    let _ = InternVlConfig::tiny(1, 0);
    let model: SkeletonLlm = a.model;
    let targets = label_embeddings(&model, &a.tokenizer, &labels).unwrap();
    assert_eq!(targets.dims()[0], 2);
    let walk = Arc::new(synthetic::walking_ntu(24, 1));
    let pose: Vec<f32> = synthetic::ntu_standing_pose()
        .iter()
        .flat_map(|p| p.iter().copied())
        .collect();
    let still = Arc::new(
        Skeleton::from_dense(
            pose.iter().copied().cycle().take(24 * 25 * 3).collect(),
            24,
            1,
            Layout::builtin("ntu25").unwrap(),
        )
        .unwrap(),
    );
    let clips = vec![(walk, 0usize), (still, 1usize)];
    let embed_before = embedding(&model);
    let vit_before = patch_weights(&model);
    let config = AlignConfig {
        steps: 40,
        batch_size: 2,
        lr: 3e-3,
        frames: 2,
        ..AlignConfig::default()
    };
    let (model, report) = align(model, &clips, targets, &config, &device).unwrap();
    assert_eq!(report.losses.len(), 40);
    assert_eq!(
        report.window_accuracies.len(),
        1,
        "one window of 50 steps (cut to 40)"
    );
    let n = report.losses.len() - 1;
    let (first, last) = (
        (report.losses[0], report.accuracies[0]),
        (report.losses[n], report.accuracies[n]),
    );
    println!(
        "alignment: loss {} -> {}, token accuracy {} -> {}",
        first.0, last.0, first.1, last.1
    );
    assert!(last.0 < 0.5 * first.0, "loss {} -> {}", first.0, last.0);
    assert!(last.1 > 0.9, "token accuracy {}", last.1);
    let embed_after = embedding(&model);
    assert_eq!(embed_before, embed_after, "the LM must stay frozen");
    let vit_after = patch_weights(&model);
    assert_ne!(vit_before, vit_after, "the ViT must train");
    // The returned model trains on (burn-train hands back a validation-mode model; training
    // it again once panicked with "backward requires a tracked autodiff tensor").
    let targets = label_embeddings(&model, &a.tokenizer, &labels).unwrap();
    let again = AlignConfig { steps: 2, ..config };
    let (model, _) = align(model, &clips, targets, &again, &device).unwrap();
    assert_ne!(patch_weights(&model), vit_after, "the ViT trains again");
}

#[test]
fn bad_label_index_is_an_error() {
    let device = Device::default().autodiff();
    let renderer = DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), &device);
    let a = Assistant::tiny_random(&["a"], renderer, &device).unwrap();
    let targets = label_embeddings(&a.model, &a.tokenizer, &["a"]).unwrap();
    let clips = vec![(Arc::new(synthetic::walking_ntu(8, 1)), 3usize)];
    let err = align(a.model, &clips, targets, &AlignConfig::default(), &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("label index 3"), "{err}");
}

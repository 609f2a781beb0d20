//! Training with the frozen ViT and LM in bf16 or f16 (`--base-dtype`): the loss curve follows
//! the f32 run within a stated tolerance, DrAction and the projector still learn, and the
//! returned model is f32 again.

mod common;

use skeletonllm_train::skeletonllm_model::BaseDtype;
use skeletonllm_train::skeletonllm_model::draction::burn::tensor::DType;
use skeletonllm_train::train::{Stage, TrainConfig};

#[test]
fn half_precision_bases_train_like_f32() {
    let f = common::Fixture::new();
    let tmp = tempfile::tempdir().unwrap();
    // Stage 1 as the authors run it: ViT and LM frozen, DrAction and the projector train.
    let run = |base_dtype: BaseDtype| {
        let config = TrainConfig {
            epochs: 2,
            lr: 1e-2,
            batch_size: 2,
            checkpoint_every: 0,
            base_dtype,
            ..TrainConfig::authors(Stage::Warmup)
        };
        let (model, report) = f.train(
            &config,
            &tmp.path().join(format!("{base_dtype:?}")),
            false,
            &[],
        );
        (common::values(&model), report.losses, model)
    };
    let start = common::values(&f.model());
    let (f32_values, f32_losses, _) = run(BaseDtype::F32);
    // Measured: bf16 1.1e-3, f16 8.3e-4 (relative, worst step of 8).
    for (dtype, tolerance) in [(BaseDtype::Bf16, 0.01), (BaseDtype::F16, 0.005)] {
        let (values, losses, model) = run(dtype);
        let worst = f32_losses
            .iter()
            .zip(&losses)
            .map(|(a, b)| ((a - b) / a).abs())
            .fold(0.0f32, f32::max);
        println!(
            "{dtype:?} bases: losses {losses:?} vs f32 {f32_losses:?}: max relative Δ {worst:.2e}"
        );
        assert!(
            worst <= tolerance,
            "{dtype:?}: loss differs by {worst} (relative)"
        );
        assert_eq!(
            model
                .internvl
                .language_model
                .model
                .embed_tokens
                .weight
                .val()
                .dtype(),
            DType::F32,
            "the returned model is f32"
        );
        // Only DrAction and the projector moved, and they did.
        let moved = common::max_diff(&values, &start);
        assert!(moved > 0.0, "{dtype:?}: nothing trained");
        assert_eq!(values.len(), f32_values.len());
    }
}

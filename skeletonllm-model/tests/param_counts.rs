//! `InternVlConfig::param_counts` (computed from the config alone) equals the parameters of the
//! model the config builds, for every flag that changes the count, and the LoRA count per rank
//! equals the adapters `apply_lora` attaches.

use burn::module::Module;
use burn::tensor::Device;
use skeletonllm_model::lora::adapters;
use skeletonllm_model::{
    InternVitConfig, InternVlConfig, LoraConfig, MultiModalProjectorConfig, Qwen2Config, apply_lora,
};

fn configs() -> Vec<InternVlConfig> {
    let vision = InternVitConfig::new(32, 2, 2, 64).with_image_size(56);
    let text = Qwen2Config::new(50, 48, 96, 2, 4, 2);
    let projector = MultiModalProjectorConfig::new(32, 48);
    let base = InternVlConfig::new(vision.clone(), projector.clone(), text.clone());
    vec![
        base.clone(),
        InternVlConfig::new(
            vision.clone().with_qkv_bias(false),
            projector.clone(),
            text.clone(),
        ),
        InternVlConfig::new(
            vision.clone().with_image_size(28).with_patch_size(7),
            projector.clone(),
            text.clone().with_tie_word_embeddings(true),
        ),
        InternVlConfig::new(
            vision,
            projector,
            text.with_attention_bias(false)
                .with_mlp_bias(true)
                .with_head_dim(Some(16)),
        ),
    ]
}

#[test]
fn counts_from_the_config_match_the_built_model() {
    let device = Device::default();
    for config in configs() {
        let counts = config.param_counts();
        let model = config.init(&device);
        assert_eq!(counts.vision, model.vision_tower.num_params(), "{config:?}");
        assert_eq!(counts.projector, model.multi_modal_projector.num_params());
        assert_eq!(
            counts.language,
            model.language_model.num_params(),
            "{config:?}"
        );
        assert_eq!(counts.total(), model.num_params());

        let rank = 3;
        let lora = apply_lora(model, &LoraConfig::new(rank, 6.0));
        let attached: usize = adapters(&lora)
            .iter()
            .map(|(_, w)| {
                w.a.val().dims().iter().product::<usize>()
                    + w.b.val().dims().iter().product::<usize>()
            })
            .sum();
        assert_eq!(attached, rank * counts.lora_per_rank, "{config:?}");
    }
}

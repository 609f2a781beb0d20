//! LoRA on the tiny InternVL fixture: exact base logits at init, gradients only for the factors,
//! merge equals the adapted model, adapters alone round-trip through safetensors.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use skeletonllm_model::load::{read_inputs, read_safetensors, write_safetensors};
use skeletonllm_model::lora::{adapters, apply_lora};
use skeletonllm_model::{
    InternVl, InternVlInput, LoraConfig, LoraError, load_adapters, load_pretrained, merge_lora,
    save_adapters,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/internvl")
}

fn device() -> Device {
    let device = Device::default().autodiff();
    device.seed(11);
    device
}

fn base(device: &Device) -> InternVl {
    load_pretrained(&fixtures().join("tiny_hf"), device).expect("tiny model")
}

fn input(device: &Device) -> InternVlInput {
    read_inputs(&fixtures().join("tiny_case.safetensors"), device).expect("tiny case")
}

fn logits(model: &InternVl, input: &InternVlInput) -> Vec<f32> {
    let out = model.forward(input.clone()).expect("forward");
    out.logits
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skeletonllm-lora-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// An adapted model whose `B` factors are random (written to and read back from a file).
fn trained_like(device: &Device, config: &LoraConfig, file: &Path) -> InternVl {
    let fresh = apply_lora(base(device), config);
    save_adapters(&fresh, file).unwrap();
    let tensors: Vec<(String, TensorData)> = read_safetensors(file)
        .unwrap()
        .into_iter()
        .map(|(name, data)| {
            if name.ends_with("lora_B.weight") {
                let shape: [usize; 2] = data.shape().as_slice().try_into().unwrap();
                let b = Tensor::<2>::random(shape, Distribution::Normal(0.0, 0.02), device);
                (name, b.into_data())
            } else {
                (name, data)
            }
        })
        .collect();
    write_safetensors(file, tensors).unwrap();
    load_adapters(base(device), config, file).unwrap()
}

#[test]
fn fresh_adapters_give_exactly_the_base_logits() {
    let device = device();
    let input = input(&device);
    let model = base(&device);
    let expected = logits(&model, &input);
    // The authors' config, dropout included: B = 0 makes the update exactly zero.
    let config = LoraConfig::default();
    let adapted = apply_lora(model, &config);
    let found = adapters(&adapted);
    assert_eq!(found.len(), 2 * 7, "two layers x q/k/v/o/gate/up/down");
    assert_eq!(found[0].0, "language_model.model.layers.0.self_attn.q_proj");
    let (_, q) = &found[0];
    assert_eq!(q.a.val().dims(), [64, 32]);
    assert_eq!(q.b.val().dims(), [32, 64]);
    assert_eq!(q.scale, 2.0);
    assert_eq!(logits(&adapted, &input), expected);
}

#[test]
fn gradients_reach_only_the_adapters() {
    let device = device();
    let input = input(&device);
    let model = apply_lora(base(&device), &LoraConfig::default());
    let out = model.forward(input).unwrap();
    let loss = out.logits.powi_scalar(2).mean();
    let grads = loss.backward();
    assert_eq!(adapters(&model).len(), 14);
    for (name, adapter) in adapters(&model) {
        assert!(adapter.a.val().grad(&grads).is_some(), "{name}.lora_A");
        assert!(adapter.b.val().grad(&grads).is_some(), "{name}.lora_B");
    }
    let b_grad = adapters(&model)[0].1.b.val().grad(&grads).unwrap();
    assert!(
        b_grad.abs().sum().into_scalar::<f32>() > 0.0,
        "B's gradient is not zero"
    );
    let projector = &model.multi_modal_projector;
    assert!(projector.layer_norm.gamma.val().grad(&grads).is_none());
    let lm = &model.language_model;
    let layer = &lm.model.layers[0];
    assert!(layer.self_attn.q_proj.weight.base().grad(&grads).is_none());
    assert!(layer.mlp.down_proj.weight.base().grad(&grads).is_none());
    assert!(lm.model.embed_tokens.weight.val().grad(&grads).is_none());
    let head = lm.lm_head.as_ref().expect("untied head");
    assert!(head.weight.val().grad(&grads).is_none());
    assert!(layer.input_layernorm.gamma.val().grad(&grads).is_none());
    assert_eq!(
        model.num_params(),
        base(&device).num_params() + {
            let per_layer = 32 * (64 + 64) * 4 // q, o: 64->64; k, v: 64->32
            - 32 * 32 * 2
                + 32 * (64 + 128) * 3; // gate, up, down
            2 * per_layer
        }
    );
}

#[test]
fn dropout_is_on_in_training_and_off_in_valid() {
    let device = device();
    let input = input(&device);
    let config = LoraConfig::new(4, 8.0).with_dropout(0.5);
    let model = trained_like(&device, &config, &temp("dropout.safetensors"));
    let (x, y) = (logits(&model, &input), logits(&model, &input));
    assert!(
        max_diff(&x, &y) > 1e-4,
        "two training forwards should differ"
    );
    let valid = model.valid();
    assert_eq!(logits(&valid, &input), logits(&valid, &input));
}

#[test]
fn merged_model_matches_the_adapted_model() {
    let device = device();
    let input = input(&device);
    let config = LoraConfig::default();
    let adapted = trained_like(&device, &config, &temp("merge.safetensors"));
    let base_logits = logits(&base(&device), &input);
    let adapted_logits = logits(&adapted.valid(), &input);
    assert!(
        max_diff(&adapted_logits, &base_logits) > 1e-3,
        "B != 0 changes the logits"
    );
    let merged = merge_lora(adapted);
    assert!(adapters(&merged).is_empty());
    let diff = max_diff(&logits(&merged, &input), &adapted_logits);
    assert!(diff < 1e-5, "merged vs adapted: {diff}");
}

#[test]
fn adapters_round_trip_alone() {
    let device = device();
    let input = input(&device);
    let config = LoraConfig::new(8, 16.0);
    let adapted = trained_like(&device, &config, &temp("trained.safetensors"));
    let file = temp("round_trip.safetensors");
    assert_eq!(save_adapters(&adapted, &file).unwrap(), 14);
    let tensors = read_safetensors(&file).unwrap();
    assert_eq!(tensors.len(), 28);
    let a = &tensors["language_model.model.layers.1.mlp.down_proj.lora_A.weight"];
    let b = &tensors["language_model.model.layers.1.mlp.down_proj.lora_B.weight"];
    assert_eq!(a.shape().as_slice(), [8, 128]);
    assert_eq!(b.shape().as_slice(), [64, 8]);
    let loaded = load_adapters(base(&device), &config, &file).unwrap();
    assert_eq!(
        logits(&loaded.valid(), &input),
        logits(&adapted.valid(), &input)
    );
}

#[test]
fn bad_adapter_files_are_named() {
    let device = device();
    let config = LoraConfig::new(4, 8.0);
    let file = temp("bad.safetensors");
    save_adapters(&apply_lora(base(&device), &config), &file).unwrap();

    // Wrong rank: every tensor is mis-shaped.
    let err = load_adapters(base(&device), &LoraConfig::new(8, 8.0), &file).unwrap_err();
    match err {
        LoraError::Adapters { mismatched, .. } => assert_eq!(mismatched.len(), 28),
        other => panic!("{other}"),
    }

    // One missing, one unexpected.
    let q_a = "language_model.model.layers.0.self_attn.q_proj.lora_A.weight";
    let mut tensors: Vec<(String, TensorData)> = read_safetensors(&file)
        .unwrap()
        .into_iter()
        .filter(|(name, _)| name != q_a)
        .collect();
    tensors.push((
        "stray.lora_A.weight".into(),
        TensorData::new(vec![0f32], [1, 1]),
    ));
    write_safetensors(&file, tensors).unwrap();
    let err = load_adapters(base(&device), &config, &file).unwrap_err();
    let msg = err.to_string();
    match err {
        LoraError::Adapters {
            missing,
            unexpected,
            mismatched,
            ..
        } => {
            assert_eq!(missing, [q_a]);
            assert_eq!(unexpected, ["stray.lora_A.weight"]);
            assert!(mismatched.is_empty());
        }
        other => panic!("{other}"),
    }
    assert!(msg.contains(q_a), "{msg}");

    // A model without adapters has nothing to save.
    assert!(matches!(
        save_adapters(&base(&device), &file),
        Err(LoraError::NoAdapters)
    ));
}

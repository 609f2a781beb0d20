//! Parity with transformers' `InternVLForConditionalGeneration` on the tiny random fixtures made
//! by `tests/fixtures/internvl/make_fixtures.py` (see its header for what each file holds).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use skeletonllm_model::load::{self, read_safetensors};
use skeletonllm_model::{
    CheckpointConfig, Error, GenerateOptions, InternVl, InternVlInput, generate, load_pretrained,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/internvl")
}

struct Case {
    tensors: BTreeMap<String, TensorData>,
    device: Device,
}

impl Case {
    fn open(name: &str) -> Self {
        Self {
            tensors: read_safetensors(&fixtures().join(name)).expect("fixture case"),
            device: Device::default(),
        }
    }
    fn data(&self, name: &str) -> TensorData {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture has no `{name}`"))
            .clone()
    }
    fn float<const D: usize>(&self, name: &str) -> Tensor<D> {
        Tensor::from_data(self.data(name), &self.device)
    }
    fn int<const D: usize>(&self, name: &str) -> Tensor<D, Int> {
        Tensor::from_data(self.data(name), &self.device)
    }
    fn ids(&self, name: &str) -> Vec<i64> {
        self.data(name).iter::<i64>().collect()
    }
    fn input(&self) -> InternVlInput {
        InternVlInput::new(self.int("input_ids"))
            .attention_mask(self.int("attention_mask"))
            .pixel_values(self.float("pixel_values"))
    }
}

fn max_abs<const D: usize>(actual: Tensor<D>, expected: Tensor<D>) -> f32 {
    assert_eq!(actual.dims(), expected.dims());
    (actual - expected).abs().max().into_scalar::<f32>()
}

fn check<const D: usize>(what: &str, actual: Tensor<D>, expected: Tensor<D>, tol: f32) {
    let err = max_abs(actual, expected);
    println!("{what}: max abs diff {err:.3e} (tolerance {tol:.0e})");
    assert!(err <= tol, "{what}: max abs diff {err} > {tol}");
}

fn load(dir: &str) -> InternVl {
    load_pretrained(&fixtures().join(dir), &Device::default()).expect("fixture model loads")
}

fn check_forward(model: &InternVl, label: &str) {
    let case = Case::open("tiny_case.safetensors");
    let out = model.forward(case.input()).expect("forward");
    let image = out.image.expect("image outputs");
    check(
        &format!("{label} vision_last_hidden_state"),
        image.vision_last_hidden_state,
        case.float("vision_last_hidden_state"),
        2e-5,
    );
    check(
        &format!("{label} image_features"),
        image.features,
        case.float("image_features"),
        2e-5,
    );
    check(
        &format!("{label} logits"),
        out.logits,
        case.float("logits"),
        1e-4,
    );
}

#[test]
fn hf_layout_forward_matches_transformers() {
    check_forward(&load("tiny_hf"), "hf");
}

#[test]
fn original_layout_forward_matches_transformers() {
    let model = load("tiny_orig");
    assert_eq!(model.image_token_id, 205, "taken from added_tokens.json");
    check_forward(&model, "orig");
}

#[test]
fn position_embeddings_interpolate_like_torch() {
    let model = load("tiny_hf");
    let case = Case::open("tiny_case.safetensors");
    for size in ["84", "28"] {
        let image = model.get_image_features(case.float(&format!("pixel_values_{size}")));
        check(
            &format!("{size}px vision_last_hidden_state"),
            image.vision_last_hidden_state,
            case.float(&format!("vision_last_hidden_state_{size}")),
            2e-5,
        );
        check(
            &format!("{size}px image_features"),
            image.features,
            case.float(&format!("image_features_{size}")),
            2e-5,
        );
    }
}

#[test]
fn greedy_generation_matches_transformers_with_and_without_cache() {
    let model = load("tiny_hf");
    let case = Case::open("tiny_case.safetensors");
    let expected = case.ids("generated_ids");
    for use_cache in [true, false] {
        let options = GenerateOptions {
            use_cache,
            ..GenerateOptions::greedy(expected.len())
        };
        let got = generate(&model, case.input(), options).expect("generate");
        assert_eq!(got, expected, "use_cache = {use_cache}");
    }
}

#[test]
fn dynamic_ntk_rope_matches_transformers() {
    let dynamic = Case::open("tiny_case_dynamic.safetensors");
    let case = Case::open("tiny_case.safetensors");
    let max_pos = dynamic.ids("max_position_embeddings")[0] as usize;

    // Same weights, text max_position_embeddings shrunk below the prompt length.
    let model = dynamic_model(max_pos);

    let out = model.forward(case.input()).unwrap();
    check("dynamic logits", out.logits, dynamic.float("logits"), 1e-4);
    for (use_cache, key) in [(true, "generated_ids"), (false, "generated_ids_no_cache")] {
        let expected = dynamic.ids(key);
        let options = GenerateOptions {
            use_cache,
            ..GenerateOptions::greedy(expected.len())
        };
        let got = generate(&model, case.input(), options).unwrap();
        assert_eq!(got, expected, "dynamic, use_cache = {use_cache}");
    }
}

/// Next-token logits of every greedy step (teacher-forced on `tokens`), `[steps, V]`.
fn step_logits(model: &InternVl, case: &Case, tokens: &[i64], use_cache: bool) -> Tensor<2> {
    let device = Device::default();
    let last = |logits: Tensor<3>| {
        let [_, l, v] = logits.dims();
        logits.narrow(1, l - 1, 1).reshape([1, v])
    };
    let mut steps = Vec::new();
    if use_cache {
        let mut cache = model.language_model.new_cache();
        let out = model.forward_cached(case.input(), &mut cache).unwrap();
        steps.push(last(out.logits));
        for &t in &tokens[..tokens.len() - 1] {
            let id = Tensor::<2, Int>::from_data(TensorData::new(vec![t], [1, 1]), &device);
            let out = model
                .forward_cached(InternVlInput::new(id), &mut cache)
                .unwrap();
            steps.push(last(out.logits));
        }
    } else {
        let mut ids = case.ids("input_ids");
        for &t in tokens {
            let len = ids.len();
            let input =
                Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, len]), &device);
            let out = model
                .forward(InternVlInput::new(input).pixel_values(case.float("pixel_values")))
                .unwrap();
            steps.push(last(out.logits));
            ids.push(t);
        }
    }
    Tensor::cat(steps, 0)
}

fn dynamic_model(max_pos: usize) -> InternVl {
    let dir = fixtures().join("tiny_hf");
    let config = CheckpointConfig::from_json_file(&dir.join("config.json")).unwrap();
    let files = load::safetensors_files(&dir).unwrap();
    let tensors = load::read_pack_tensors(&files).unwrap();
    let (tensors, _) = load::to_model_names(tensors, load::CheckpointLayout::HfNative).unwrap();
    let names: Vec<String> = tensors.iter().map(|t| t.name.clone()).collect();
    let mut model_config = load::resolve_config(&dir, &config, &names).unwrap();
    model_config.text.max_position_embeddings = max_pos;
    let mut model = model_config.init(&Device::default());
    load::apply_tensors(&mut model, tensors, &dir).unwrap();
    model
}

#[test]
fn dynamic_ntk_step_logits_match_transformers_with_and_without_cache() {
    let dynamic = Case::open("tiny_case_dynamic.safetensors");
    let case = Case::open("tiny_case.safetensors");
    let model = dynamic_model(dynamic.ids("max_position_embeddings")[0] as usize);
    for (use_cache, ids, logits) in [
        (true, "generated_ids", "step_logits"),
        (false, "generated_ids_no_cache", "step_logits_no_cache"),
    ] {
        let got = step_logits(&model, &case, &dynamic.ids(ids), use_cache);
        check(
            &format!("dynamic step logits, use_cache = {use_cache}"),
            got,
            dynamic.float(logits),
            1e-4,
        );
    }
}

#[test]
fn image_token_count_mismatch_is_an_error() {
    let model = load("tiny_hf");
    let case = Case::open("tiny_case.safetensors");
    let one_image = case.float::<4>("pixel_values").narrow(0, 0, 1);
    let err = model
        .forward(InternVlInput::new(case.int("input_ids")).pixel_values(one_image))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ImageTokenMismatch {
                tokens: 8,
                features: 4
            }
        ),
        "{err}"
    );
}

#[test]
fn bad_weights_are_named() {
    let dir = fixtures().join("tiny_hf");
    let config = CheckpointConfig::from_json_file(&dir.join("config.json")).unwrap();
    let tensors = load::read_pack_tensors(&load::safetensors_files(&dir).unwrap()).unwrap();
    let (mut tensors, _) = load::to_model_names(tensors, load::CheckpointLayout::HfNative).unwrap();
    let names: Vec<String> = tensors.iter().map(|t| t.name.clone()).collect();
    let model_config = load::resolve_config(&dir, &config, &names).unwrap();

    // Drop one tensor, rename another, and give a third the wrong shape.
    tensors.retain(|t| t.name != "language_model.model.norm.weight");
    for t in &mut tensors {
        if t.name == "multi_modal_projector.linear_2.bias" {
            t.name = "multi_modal_projector.linear_9.bias".into();
        }
    }
    let device = Device::default();
    let wrong = Tensor::<2>::zeros([3, 3], &device);
    tensors.retain(|t| t.name != "vision_tower.encoder.layer.0.mlp.fc1.weight");
    tensors.push(burn::store::bridge::from_data(
        wrong.into_data(),
        "vision_tower.encoder.layer.0.mlp.fc1.weight".into(),
        None,
    ));

    let mut model = model_config.init(&device);
    let err = load::apply_tensors(&mut model, tensors, &dir).unwrap_err();
    let Error::Weights {
        missing,
        unexpected,
        mismatched,
        ..
    } = &err
    else {
        panic!("expected Error::Weights, got {err}");
    };
    assert!(
        missing
            .iter()
            .any(|m| m == "language_model.model.norm.gamma")
            && missing
                .iter()
                .any(|m| m == "multi_modal_projector.linear_2.bias"),
        "{missing:?}"
    );
    assert_eq!(
        unexpected,
        &vec!["multi_modal_projector.linear_9.bias".to_string()]
    );
    assert!(
        mismatched.len() == 1 && mismatched[0].contains("mlp.fc1.weight"),
        "{mismatched:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("linear_9") && text.contains("tiny_hf"),
        "{text}"
    );
}

#[test]
fn layout_mismatch_between_config_and_tensors_is_an_error() {
    let orig_config =
        CheckpointConfig::from_json_file(&fixtures().join("tiny_orig/config.json")).unwrap();
    let hf_dir = fixtures().join("tiny_hf");
    let tensors = load::read_pack_tensors(&load::safetensors_files(&hf_dir).unwrap()).unwrap();
    let names: Vec<String> = tensors.iter().map(|t| t.name.clone()).collect();
    let err = load::detect_layout(&orig_config, &names, &hf_dir).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
}

#[test]
fn sharded_index_loads() {
    let src = fixtures().join("tiny_hf");
    let dir = std::env::temp_dir().join(format!("skeletonllm-shard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(src.join("config.json"), dir.join("config.json")).unwrap();
    std::fs::copy(
        src.join("model.safetensors"),
        dir.join("model-00001-of-00001.safetensors"),
    )
    .unwrap();
    let names: Vec<String> = load::read_pack_tensors(&[src.join("model.safetensors")])
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    let weight_map: serde_json::Map<String, serde_json::Value> = names
        .into_iter()
        .map(|n| (n, "model-00001-of-00001.safetensors".into()))
        .collect();
    let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    let files = load::safetensors_files(&dir).unwrap();
    assert_eq!(files, [dir.join("model-00001-of-00001.safetensors")]);
    let model = load_pretrained(&dir, &Device::default());
    std::fs::remove_dir_all(&dir).unwrap();
    check_forward(&model.expect("sharded checkpoint loads"), "sharded");
}

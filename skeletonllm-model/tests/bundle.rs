//! Bundles (a SkeletonLLM on a GGUF language model, [`skeletonllm_model::load::bundle`]) on the tiny
//! GGUF fixture: the extended vocabulary keeps the GGUF's logits, a saved bundle loads back with
//! the same logits (adapters attached and merged), the tasks run on it with its manifest's
//! settings (its input layout among them), and a missing GGUF is an error that says how to
//! fetch it.

use std::path::{Path, PathBuf};

use skeletonllm_model::draction::burn::tensor::{Device, Int, Tensor, TensorData};
use skeletonllm_model::draction::render::DrActionConfig;
use skeletonllm_model::draction::synthetic;
use skeletonllm_model::load::bundle::{
    self, BaseLanguageModel, BundleManifest, load_bundle, load_bundle_for_training, new_on_gguf,
    save_bundle,
};
use skeletonllm_model::load::gguf::load_gguf_llama;
use skeletonllm_model::load::{read_safetensors, write_safetensors};
use skeletonllm_model::{
    Assistant, InternVitConfig, InternVlConfig, InternVlInput, LoraConfig,
    MultiModalProjectorConfig, Qwen2Config, SkeletonLlm, VerifyMethod, apply_lora, load_adapters,
    save_adapters, text::prompts,
};

fn gguf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/gguf/tiny_llama.gguf")
}

fn config() -> InternVlConfig {
    let vision = InternVitConfig::new(32, 1, 2, 64)
        .with_image_size(56)
        .with_patch_size(14);
    let projector = MultiModalProjectorConfig::new(32, 1);
    InternVlConfig::new(vision, projector, Qwen2Config::new(1, 8, 8, 1, 1, 1))
}

fn manifest(lora: &LoraConfig) -> BundleManifest {
    BundleManifest {
        base_language_model: BaseLanguageModel {
            file: "tiny_llama.gguf".into(),
            sha256: String::new(),
            fetch: "scripts/fetch-smollm2.sh".into(),
        },
        lora_rank: lora.rank,
        lora_alpha: lora.alpha,
        lora_target_modules: lora.target_modules.clone(),
        frames: 2,
        system: "You watch motion.".into(),
        labels: vec!["walk".into(), "run".into(), "jump".into()],
        input_layout: None,
        verify: Default::default(),
        files: Default::default(),
    }
}

/// `model` saved as a bundle in `out` with the manifest `m`, the fixture GGUF beside it.
fn saved(out: &Path, model: &SkeletonLlm, config: &InternVlConfig, m: &BundleManifest) {
    save_bundle(out, model, config, m).unwrap();
    std::fs::copy(gguf(), out.join("tiny_llama.gguf")).unwrap();
}

fn logits(model: &SkeletonLlm, ids: &[i64], pixels: Option<Tensor<4>>) -> Vec<f32> {
    let device = model
        .internvl
        .language_model
        .model
        .embed_tokens
        .weight
        .device();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids.to_vec(), [1, ids.len()]), &device);
    let mut input = InternVlInput::new(ids);
    if let Some(p) = pixels {
        input = input.pixel_values(p);
    }
    let out = model.internvl.forward(input).unwrap();
    out.logits.into_data().iter::<f32>().collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A model on the fixture GGUF with LoRA adapters whose B factors are random (non-zero).
fn adapted(device: &Device, dir: &Path) -> (SkeletonLlm, InternVlConfig, LoraConfig) {
    let renderer = DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), device);
    let (model, config, _) = new_on_gguf(&gguf(), renderer, &config(), device).unwrap();
    let lora = LoraConfig::new(2, 4.0);
    let SkeletonLlm { renderer, internvl } = model;
    let fresh = apply_lora(internvl.clone(), &lora);
    let file = dir.join("random_adapters.safetensors");
    save_adapters(&fresh, &file).unwrap();
    let mut tensors: Vec<(String, TensorData)> =
        read_safetensors(&file).unwrap().into_iter().collect();
    for (k, (name, data)) in tensors.iter_mut().enumerate() {
        if name.ends_with("lora_B.weight") {
            let n = data.num_elements();
            let values: Vec<f32> = (0..n)
                .map(|i| ((i * 7 + k) % 13) as f32 * 0.05 - 0.3)
                .collect();
            *data = TensorData::new(values, data.shape().to_vec());
        }
    }
    write_safetensors(&file, tensors).unwrap();
    let internvl = load_adapters(internvl, &lora, &file).unwrap();
    (SkeletonLlm::new(renderer, internvl), config, lora)
}

#[test]
fn extended_vocabulary_keeps_the_gguf_logits() {
    let device = Device::default();
    let renderer = DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), &device);
    let (model, config, tokenizer) = new_on_gguf(&gguf(), renderer, &config(), &device).unwrap();
    let (plain, _) = load_gguf_llama(&gguf(), &device).unwrap();
    let v = plain.model.embed_tokens.weight.dims()[0];
    assert_eq!(
        config.text.vocab_size,
        v + 9,
        "nine InternVL tokens appended"
    );
    assert_eq!(tokenizer.vocab_size(), v + 9);
    assert_eq!(
        config.image_token_id,
        tokenizer.special_tokens().img_context as usize
    );
    assert!(tokenizer.special_tokens().img_context as usize >= v);
    let ids = [1i64, 5, 9, 2, 7];
    let extended = logits(&model, &ids, None);
    let t = Tensor::<2, Int>::from_data(TensorData::new(ids.to_vec(), [1, 5]), &device);
    let base: Vec<f32> = plain.forward(t, None).into_data().iter::<f32>().collect();
    let vx = v + 9;
    let mut worst = 0.0f32;
    for pos in 0..ids.len() {
        let a = &extended[pos * vx..pos * vx + v];
        let b = &base[pos * v..(pos + 1) * v];
        worst = worst.max(max_diff(a, b));
    }
    assert!(worst < 1e-5, "old-vocabulary logits moved by {worst}");
}

#[test]
fn saved_bundle_loads_back_with_the_same_logits_and_runs_the_tasks() {
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    let (model, config, lora) = adapted(&device, dir.path());
    let out = dir.path().join("bundle");
    save_bundle(&out, &model, &config, &manifest(&lora)).unwrap();
    let missing = load_bundle(&out, &device).unwrap_err().to_string();
    assert!(
        missing.contains("tiny_llama.gguf") && missing.contains("scripts/fetch-smollm2.sh"),
        "{missing}"
    );
    std::fs::copy(gguf(), out.join("tiny_llama.gguf")).unwrap();

    let tokenizer = bundle::load_gguf_base(&gguf(), &device).unwrap().tokenizer;
    let per_image = config.tokens_per_image();
    let prompt = format!(
        "<|im_start|>user\n<img>{}</img> what is it<|im_end|>",
        "<IMG_CONTEXT>".repeat(per_image)
    );
    let ids: Vec<i64> = tokenizer
        .encode(&prompt)
        .unwrap()
        .into_iter()
        .map(i64::from)
        .collect();
    let pixels = Tensor::<4>::ones([1, 3, 56, 56], &device).mul_scalar(0.3);
    let expected = logits(&model, &ids, Some(pixels.clone()));

    let attached = load_bundle_for_training(&out, &device).unwrap();
    let mut written = attached.manifest.clone();
    assert_eq!(
        written.files.len(),
        2,
        "the weight files' sha256 are recorded"
    );
    written.files.clear();
    assert_eq!(written, manifest(&lora));
    let got = logits(&attached.model, &ids, Some(pixels.clone()));
    assert!(
        max_diff(&expected, &got) < 1e-5,
        "attached: {}",
        max_diff(&expected, &got)
    );

    let merged = load_bundle(&out, &device).unwrap();
    let got = logits(&merged.model, &ids, Some(pixels));
    assert!(
        max_diff(&expected, &got) < 1e-4,
        "merged: {}",
        max_diff(&expected, &got)
    );

    let assistant = Assistant::load(&out, &device).unwrap();
    assert_eq!(assistant.options.frames, 2);
    assert_eq!(assistant.options.system, "You watch motion.");
    assert_eq!(assistant.labels, vec!["walk", "run", "jump"]);
    let skel = standing_ntu(4);
    let rec = assistant.recognize(&skel, &assistant.labels).unwrap();
    assert_eq!(rec.ranking.len(), 3);
    let total: f32 = rec.ranking.iter().map(|s| s.probability).sum();
    assert!((total - 1.0).abs() < 1e-4);
    let _ = prompts::CAPTION_QUESTION;
}

/// An NTU-25 clip of `frames` frames of the standing pose.
fn standing_ntu(frames: usize) -> skeletonllm_model::draction::Skeleton {
    skeletonllm_model::draction::Skeleton::from_dense(
        synthetic::ntu_standing_pose()
            .iter()
            .flat_map(|p| p.iter().copied())
            .cycle()
            .take(frames * 25 * 3)
            .collect(),
        frames,
        1,
        skeletonllm_model::draction::Layout::builtin("ntu25").unwrap(),
    )
    .unwrap()
}

#[test]
fn a_bundles_input_layout_retargets_every_input_and_an_unknown_one_is_named() {
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    let (model, config, lora) = adapted(&device, dir.path());
    let out = dir.path().join("bundle");
    let mut m = manifest(&lora);
    m.input_layout = Some("smpl22".into());
    saved(&out, &model, &config, &m);
    let assistant = Assistant::load(&out, &device).unwrap();
    let layout = assistant.options.input_layout.as_ref().unwrap();
    assert_eq!(layout.name, "smpl22");
    let skel = standing_ntu(4);
    let seen = assistant.input(&skel);
    assert_eq!(seen.layout().name, "smpl22");
    assert_eq!(seen.frames(), 4);
    // The clip the tasks render has SMPL-22's joints, not NTU-25's.
    assert_eq!(assistant.clip(&skel).unwrap().joints, 22);
    let rec = assistant.recognize(&skel, &assistant.labels).unwrap();
    assert_eq!(rec.ranking.len(), 3);
    // Already in the input layout: passed through as it is.
    assert!(matches!(
        assistant.input(&seen),
        std::borrow::Cow::Borrowed(_)
    ));

    m.input_layout = Some("ntu26".into());
    save_bundle(&out, &model, &config, &m).unwrap();
    let e = Assistant::load(&out, &device).unwrap_err().to_string();
    assert!(
        e.contains("config.json") && e.contains("input_layout") && e.contains("ntu26"),
        "{e}"
    );
}

#[test]
fn a_bundle_that_verifies_by_ranking_says_yes_to_its_first_ranked_label_only() {
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    let (model, config, lora) = adapted(&device, dir.path());
    let out = dir.path().join("bundle");
    let mut m = manifest(&lora);
    // The default (YES/NO) is left out of config.json; ranking is written and read back.
    save_bundle(&out, &model, &config, &m).unwrap();
    let text = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(!text.contains("\"verify\""), "{text}");
    m.verify = VerifyMethod::Ranking;
    saved(&out, &model, &config, &m);
    let text = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(text.contains("\"verify\": \"ranking\""), "{text}");
    let assistant = Assistant::load(&out, &device).unwrap();
    assert_eq!(assistant.options.verify, VerifyMethod::Ranking);
    let skel = standing_ntu(4);
    let clip = assistant.clip(&skel).unwrap();
    let ranking = assistant.rank_labels(&clip, &assistant.labels).unwrap();
    for score in &ranking {
        let v = assistant.verify_clip(&clip, &score.label).unwrap();
        assert_eq!(v.method, VerifyMethod::Ranking);
        assert_eq!(v.yes, score.label == ranking[0].label, "{v:?} {ranking:?}");
        assert!((v.yes_probability - score.probability).abs() < 1e-5);
    }
    // A label the model does not know is ranked among its labels too.
    let v = assistant.verify_clip(&clip, "sleeping").unwrap();
    let with = assistant
        .rank_labels(&clip, &["walk", "run", "jump", "sleeping"])
        .unwrap();
    assert_eq!(v.yes, with[0].label == "sleeping");
    let p = with
        .iter()
        .find(|s| s.label == "sleeping")
        .unwrap()
        .probability;
    assert!((v.yes_probability - p).abs() < 1e-5);
    // The YES/NO question stays reachable, and is what a bundle without labels must use.
    assert_eq!(
        assistant.verify_yes_no(&clip, "walk").unwrap().method,
        VerifyMethod::YesNo
    );
    m.labels.clear();
    save_bundle(&out, &model, &config, &m).unwrap();
    let e = Assistant::load(&out, &device)
        .unwrap()
        .verify_clip(&clip, "walk")
        .unwrap_err()
        .to_string();
    assert!(e.contains("labels"), "{e}");
}

#[test]
fn a_directory_without_a_manifest_is_not_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        "{\"model_type\": \"internvl\"}",
    )
    .unwrap();
    assert_eq!(bundle::read_manifest(dir.path()).unwrap(), None);
    let err = load_bundle(dir.path(), &Device::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a bundle"), "{err}");
}

#[test]
fn a_truncated_base_lm_is_named_corrupt_and_a_good_one_is_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny_llama.gguf");
    let bytes = std::fs::read(gguf()).unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let mut m = manifest(&LoraConfig::new(2, 4.0));
    // sha256 of the fixture, as `sha256sum` prints it.
    m.base_language_model.sha256 = {
        use sha2::{Digest, Sha256};
        Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    bundle::verify_base_lm(&file, &m).unwrap();
    let stamp = dir.path().join("tiny_llama.gguf.verified");
    assert!(stamp.is_file(), "a passed check is remembered");
    // Truncated: the stamp no longer matches (size), the hash is checked again and differs.
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let e = bundle::verify_base_lm(&file, &m).unwrap_err().to_string();
    assert!(e.contains("tiny_llama.gguf: corrupt"), "{e}");
    assert!(e.contains("re-run scripts/fetch-smollm2.sh"), "{e}");
}

#[test]
fn a_weight_file_from_another_run_is_named_and_not_loaded() {
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    let (model, config, lora) = adapted(&device, dir.path());
    let out = dir.path().join("bundle");
    saved(&out, &model, &config, &manifest(&lora));
    let m = bundle::read_manifest(&out).unwrap().unwrap();
    assert_eq!(m.files.len(), 2, "{:?}", m.files);
    assert_eq!(
        m.files["adapters.safetensors"],
        bundle::sha256_file(&out.join("adapters.safetensors")).unwrap()
    );
    load_bundle(&out, &device).unwrap();
    // Adapters of another run (here: the same file with its last value changed).
    let path = out.join("adapters.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let err = load_bundle(&out, &device).unwrap_err().to_string();
    assert!(err.contains("adapters.safetensors: corrupt"), "{err}");
    assert!(err.contains("do not belong together"), "{err}");
}

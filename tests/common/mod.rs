//! Helpers shared by the CLI tests: the binary, repository paths, and a tiny bundle built on
//! the tiny GGUF fixture (seconds to build, answers are random but well-formed).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use skeletonllm::skeletonllm_model::draction::burn::tensor::Device;
use skeletonllm::skeletonllm_model::draction::render::DrActionConfig;
use skeletonllm::skeletonllm_model::draction::synthetic;
use skeletonllm::skeletonllm_model::load::bundle::{
    BaseLanguageModel, BundleManifest, new_on_gguf, save_bundle,
};
use skeletonllm::skeletonllm_model::load::save::{hf_config_json, save_pretrained};
use skeletonllm::skeletonllm_model::text::tokenizer::word_level_json;
use skeletonllm::skeletonllm_model::{
    InternVitConfig, InternVlConfig, InternVlTokenizer, LoraConfig, MultiModalProjectorConfig,
    Qwen2Config, apply_lora,
};

/// The labels of [`tiny_bundle`].
pub const LABELS: [&str; 3] = ["walk", "wave", "jump"];

/// A path inside the repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The CLI binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skeletonllm"))
}

/// Runs the CLI to completion.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// A tiny bundle in `dir` with [`LABELS`], 2 frames of 56², on the tiny GGUF fixture; the
/// manifest's `sha256` is `sha256` (empty: not checked).
pub fn tiny_bundle_with_sha(dir: &Path, sha256: &str) {
    let device = Device::default();
    let renderer = DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), &device);
    let vision = InternVitConfig::new(32, 1, 2, 64).with_image_size(56);
    let config = InternVlConfig::new(
        vision,
        MultiModalProjectorConfig::new(32, 1),
        Qwen2Config::new(1, 8, 8, 1, 1, 1),
    );
    let gguf = repo("tests/fixtures/gguf/tiny_llama.gguf");
    let (mut model, config, _) = new_on_gguf(&gguf, renderer, &config, &device).unwrap();
    let lora = LoraConfig::new(2, 4.0);
    model.internvl = apply_lora(model.internvl, &lora);
    let manifest = BundleManifest {
        base_language_model: BaseLanguageModel {
            file: "tiny_llama.gguf".into(),
            sha256: sha256.into(),
            fetch: "scripts/fetch-smollm2.sh".into(),
        },
        lora_rank: lora.rank,
        lora_alpha: lora.alpha,
        lora_target_modules: lora.target_modules.clone(),
        frames: 2,
        system: "You watch motion.".into(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        input_layout: None,
        verify: Default::default(),
        files: Default::default(),
    };
    save_bundle(dir, &model, &config, &manifest).unwrap();
    std::fs::copy(&gguf, dir.join("tiny_llama.gguf")).unwrap();
}

/// [`tiny_bundle_with_sha`] without a checksum.
pub fn tiny_bundle(dir: &Path) {
    tiny_bundle_with_sha(dir, "");
}

/// One frame of the standing NTU pose, shifted by `t` cm, as a `stream` input line.
pub fn frame_line(t: usize) -> String {
    let pose = synthetic::ntu_standing_pose();
    let joints: Vec<String> = pose
        .iter()
        .map(|p| format!("[{},{},{}]", p[0] + 0.01 * t as f32, p[1], p[2]))
        .collect();
    format!("[{}]", joints.join(","))
}

/// Asserts that the CLI run succeeded without a panic; returns its stdout and stderr.
pub fn succeeds(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (stdout, stderr)
}

/// `text` parsed as one JSON value (the panic shows the text).
pub fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Asserts success ([`succeeds`]) and parses stdout as one JSON value.
pub fn stdout_json(out: &Output) -> Value {
    json(&succeeds(out).0)
}

/// A tiny random SkeletonLLM folder `dir/tiny` (config, weights with the standing-pose DrAction,
/// a word-level tokenizer knowing every word of `texts`), drawn with `seed`.
pub fn tiny_model_dir<S: AsRef<str>>(dir: &Path, texts: &[S], seed: u64) -> PathBuf {
    let device = Device::default();
    device.seed(seed);
    let tok_json = word_level_json(texts);
    let tok = InternVlTokenizer::from_json(tok_json.clone(), "w".as_ref()).unwrap();
    let config = InternVlConfig::tiny(tok.vocab_size(), tok.special_tokens().img_context as usize);
    let internvl = config.init(&device);
    let renderer = DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), &device);
    let model = dir.join("tiny");
    save_pretrained(
        &model,
        &internvl,
        &hf_config_json(&config),
        Some(&renderer),
        Some(&tok_json),
    )
    .unwrap();
    model
}

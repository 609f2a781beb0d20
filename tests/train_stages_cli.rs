//! `skeletonllm train` for the stages `tests/train_cli.rs` does not cover: 2 Disc-FT (YES/NO
//! with the margin loss), 3 CR-Distill (teacher rationales as targets, LoRA attached) and
//! 4 refine (MQA, LoRA, DrAction frozen), a few steps each on a tiny model from conversation
//! JSONL files in the authors' format. Each run's losses are finite, its checkpoint, log and
//! exported model exist, and the exported weights respect the stage's trainable set: frozen
//! parts equal the input model's, trained parts moved.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{bin, tiny_model_dir};
use serde_json::Value;
use skeletonllm_model::draction::burn::tensor::TensorData;
use skeletonllm_model::load::read_safetensors;
use skeletonllm_model::text::prompts;
use skeletonllm_train::data::prompts as data_prompts;

const LABELS: [&str; 2] = ["walk", "boxing"];
const FRAMES: usize = 2;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// (skeleton file, label) of the four clips.
fn clips() -> Vec<(PathBuf, &'static str)> {
    (0..4)
        .map(|k| {
            if k % 2 == 0 {
                (repo("assets/samples/cmu_01_01.bvh"), "walk")
            } else {
                (repo("assets/samples/deepmimic_walk.txt"), "boxing")
            }
        })
        .collect()
}

fn rationale(label: &str) -> String {
    format!("The figure swings its arms and steps forward.\nLabel: {label}")
}

/// One conversation record per (image, question, answer).
fn write_jsonl(path: &Path, records: &[(PathBuf, String, String)]) {
    let mut text = String::new();
    for (k, (image, q, a)) in records.iter().enumerate() {
        let r = serde_json::json!({"id": format!("r{k}"), "image": image,
            "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]});
        text += &format!("{r}\n");
    }
    std::fs::write(path, text).unwrap();
}

/// A tiny SkeletonLLM folder whose tokenizer knows every prompt and answer used here.
fn tiny_model(dir: &Path) -> PathBuf {
    let mut texts = vec![
        prompts::TEMPLATE_SYSTEM_MESSAGE.to_string(),
        data_prompts::mqa_question(&LABELS, FRAMES),
        data_prompts::cr_student_question(FRAMES),
        "YES NO".to_string(),
    ];
    for l in LABELS {
        texts.push(data_prompts::discft_question(l, FRAMES));
        texts.push(rationale(l));
    }
    tiny_model_dir(dir, &texts, 9)
}

/// Which group an exported tensor belongs to.
fn group(name: &str) -> &'static str {
    if name.starts_with(skeletonllm_model::draction::checkpoint::SKELETONLLM_PREFIX) {
        "renderer"
    } else if name.starts_with("vision_tower.") {
        "vit"
    } else if name.starts_with("multi_modal_projector.") {
        "projector"
    } else if name.starts_with("language_model.")
        && skeletonllm_model::LoraConfig::default()
            .target_modules
            .iter()
            .any(|p| name.contains(&format!(".{p}.weight")))
    {
        "lm_lora_targets"
    } else if name.starts_with("language_model.") {
        "lm_other"
    } else {
        panic!("unexpected tensor {name}")
    }
}

/// Largest absolute change per group between two model folders.
fn changes(a: &Path, b: &Path) -> BTreeMap<&'static str, f32> {
    let ta = read_safetensors(&a.join("model.safetensors")).unwrap();
    let tb = read_safetensors(&b.join("model.safetensors")).unwrap();
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "the exported model has other tensors than the input"
    );
    let mut out: BTreeMap<&'static str, f32> = BTreeMap::new();
    for (name, x) in &ta {
        let y: &TensorData = &tb[name];
        assert_eq!(x.shape(), y.shape(), "{name}");
        let d = x
            .iter::<f32>()
            .zip(y.iter::<f32>())
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        let e = out.entry(group(name)).or_insert(0.0);
        *e = e.max(d);
    }
    out
}

/// Runs `skeletonllm train` for `stage`; returns its step losses.
fn train(model: &Path, data: &Path, out: &Path, stage: u8, extra: &[&str]) -> Vec<f64> {
    let started = std::time::Instant::now();
    let st = bin()
        .args(["train", "--model", model.to_str().unwrap()])
        .args(["--data", data.to_str().unwrap(), "--data-root", "/"])
        .args([
            "--stage",
            &stage.to_string(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--lr",
            "1e-3",
            "--batch-size",
            "2",
            "--checkpoint-every",
            "1",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "stage {stage}: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("train.json")).unwrap()).unwrap();
    assert_eq!(summary["stage"], stage);
    let losses: Vec<f64> = std::fs::read_to_string(out.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["loss"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(losses.len() as u64, summary["steps"].as_u64().unwrap());
    assert!(!losses.is_empty());
    assert!(
        losses.iter().all(|l| l.is_finite() && *l > 0.0),
        "{losses:?}"
    );
    assert!(out.join("checkpoint/state.json").is_file(), "no checkpoint");
    let state: Value =
        serde_json::from_slice(&std::fs::read(out.join("checkpoint/state.json")).unwrap()).unwrap();
    assert_eq!(state["global_step"].as_u64(), summary["steps"].as_u64());
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(out.join("model").join(f).is_file(), "no model/{f}");
    }
    println!(
        "stage {stage}: {} steps, losses {losses:.3?}, {:.1} s",
        losses.len(),
        started.elapsed().as_secs_f64()
    );
    losses
}

#[test]
fn stage2_discft_trains_renderer_and_projector_only() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let mut records = Vec::new();
    for (image, label) in clips() {
        let other = LABELS.iter().find(|l| **l != label).unwrap();
        records.push((
            image.clone(),
            data_prompts::discft_question(label, FRAMES),
            "YES".to_string(),
        ));
        records.push((
            image,
            data_prompts::discft_question(other, FRAMES),
            "NO".to_string(),
        ));
    }
    let data = tmp.path().join("discft.jsonl");
    write_jsonl(&data, &records);
    let out = tmp.path().join("run2");
    let losses = train(&model, &data, &out, 2, &["--margin-weight", "0.5"]);
    assert_eq!(losses.len(), 4, "8 records / batch 2, one epoch");
    let d = changes(&model, &out.join("model"));
    println!("stage 2 max |Δ| per group: {d:?}");
    assert_eq!(d["vit"], 0.0, "{d:?}");
    assert_eq!(d["lm_lora_targets"], 0.0, "{d:?}");
    assert_eq!(d["lm_other"], 0.0, "{d:?}");
    assert!(d["projector"] > 1e-5, "{d:?}");
    assert!(d["renderer"] > 1e-6, "{d:?}");
}

/// CR-Distill records (student question, rationale ending in the label) in `dir`.
fn crdistill_data(dir: &Path) -> PathBuf {
    let records: Vec<_> = clips()
        .into_iter()
        .map(|(image, label)| {
            (
                image,
                data_prompts::cr_student_question(FRAMES),
                rationale(label),
            )
        })
        .collect();
    let data = dir.join("crdistill.jsonl");
    write_jsonl(&data, &records);
    data
}

#[test]
fn stage3_crdistill_trains_renderer_projector_and_lora() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let data = crdistill_data(tmp.path());
    let out = tmp.path().join("run3");
    let losses = train(
        &model,
        &data,
        &out,
        3,
        &["--epochs", "2", "--lora-rank", "4", "--lora-alpha", "8"],
    );
    assert_eq!(losses.len(), 4, "4 records / batch 2, two epochs");
    let d = changes(&model, &out.join("model"));
    println!("stage 3 max |Δ| per group: {d:?}");
    assert_eq!(d["vit"], 0.0, "{d:?}");
    assert_eq!(d["lm_other"], 0.0, "{d:?}");
    assert!(
        d["lm_lora_targets"] > 0.0,
        "LoRA merged into nothing: {d:?}"
    );
    assert!(d["projector"] > 1e-5, "{d:?}");
    assert!(d["renderer"] > 1e-6, "{d:?}");
}

#[test]
fn stage4_refine_trains_projector_and_lora_with_draction_frozen() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let records: Vec<_> = clips()
        .into_iter()
        .map(|(image, label)| {
            (
                image,
                data_prompts::mqa_question(&LABELS, FRAMES),
                label.to_string(),
            )
        })
        .collect();
    let data = tmp.path().join("mqa.jsonl");
    write_jsonl(&data, &records);
    let out = tmp.path().join("run4");
    // The authors' 3 epochs (the stage's default), stopped after 4 steps.
    let losses = train(
        &model,
        &data,
        &out,
        4,
        &["--max-steps", "4", "--lora-rank", "4", "--lora-alpha", "8"],
    );
    assert_eq!(losses.len(), 4);
    let d = changes(&model, &out.join("model"));
    println!("stage 4 max |Δ| per group: {d:?}");
    assert_eq!(d["renderer"], 0.0, "DrAction must stay frozen: {d:?}");
    assert_eq!(d["vit"], 0.0, "{d:?}");
    assert_eq!(d["lm_other"], 0.0, "{d:?}");
    assert!(
        d["lm_lora_targets"] > 0.0,
        "LoRA merged into nothing: {d:?}"
    );
    assert!(d["projector"] > 1e-5, "{d:?}");
}

#[test]
fn stage3_with_a_teacher_mixes_in_logit_distillation() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let data = crdistill_data(tmp.path());
    let lora = ["--lora-rank", "4", "--lora-alpha", "8"];
    let plain = train(&model, &data, &tmp.path().join("ce"), 3, &lora);
    let teacher = model.to_str().unwrap();
    let mut extra = lora.to_vec();
    extra.extend(["--teacher", teacher, "--distill-weight", "0.5"]);
    let mixed = train(&model, &data, &tmp.path().join("kd"), 3, &extra);
    assert_eq!(plain.len(), mixed.len());
    assert!(mixed.iter().all(|l| l.is_finite()));
    // The teacher is the starting model itself: at the first step the KL term is 0, so the
    // loss is exactly (1 - λ) · CE; afterwards the runs differ.
    assert!(
        (mixed[0] - 0.5 * plain[0]).abs() < 1e-4 * plain[0].abs().max(1.0),
        "first step: {} vs 0.5 × {}",
        mixed[0],
        plain[0]
    );
    let st = bin()
        .args([
            "train",
            "--model",
            teacher,
            "--stage",
            "3",
            "--distill-weight",
            "0.5",
        ])
        .args([
            "--data",
            data.to_str().unwrap(),
            "--data-root",
            "/",
            "--out",
        ])
        .arg(tmp.path().join("no-teacher"))
        .output()
        .unwrap();
    assert!(!st.status.success());
    assert!(String::from_utf8_lossy(&st.stderr).contains("--teacher"));
}

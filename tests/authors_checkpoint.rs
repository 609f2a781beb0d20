//! A SkeletonLLM checkpoint in the authors' format — the original OpenGVLab `InternVLChatModel`
//! layout (`tests/fixtures/internvl/tiny_orig`) with the DrAction tensors under
//! `_skeleton_renderer_module._renderer.` (the random DrAction fixture) and a `tokenizer.json`
//! with the fixture's special-token ids — through the task commands `recognize`, `caption`,
//! `ask` and `verify`: `--json` output parsed and checked, the CLI agrees with the library, and
//! the DrAction tensors are the ones used (changing one changes the ranking probabilities;
//! removing them is a clean error).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use skeletonllm_model::draction::burn::tensor::{Device, TensorData};
use skeletonllm_model::draction::{self, synthetic};
use skeletonllm_model::load::{read_safetensors, write_safetensors};
use skeletonllm_model::text::tokenizer::{whitespace_words, word_level_json};
use skeletonllm_model::{Assistant, TaskOptions, text::prompts};

const LABELS: [&str; 4] = ["walking", "sit down", "hand waving", "jump up"];
const QUESTION: &str = "Which arm moves first?";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A word-level tokenizer with the tiny fixture's ids: the prompts' words first, `w<i>` fillers
/// up to 199, then `<|endoftext|>` 200, `<|im_start|>` 201, `<|im_end|>` 202, `<img>` 203,
/// `</img>` 204, `<IMG_CONTEXT>` 205 (as in the checkpoint's added_tokens.json), `[UNK]` 206.
fn tokenizer_json() -> Value {
    let mut texts: Vec<String> = vec![
        prompts::TEMPLATE_SYSTEM_MESSAGE.into(),
        prompts::mqa_question(&LABELS),
        prompts::frame_block(12),
        prompts::CAPTION_QUESTION.into(),
        QUESTION.into(),
        "YES NO".into(),
    ];
    texts.extend(LABELS.iter().map(|l| prompts::discft_question(l)));
    // The prompts' distinct words, then `w<i>` fillers up to id 199 (word_level_json numbers
    // words in first-seen order and puts the special tokens after them).
    let words = texts
        .iter()
        .flat_map(|t| whitespace_words(t))
        .fold(Vec::<&str>::new(), |mut seen, w| {
            if !seen.contains(&w) {
                seen.push(w);
            }
            seen
        })
        .len();
    assert!(words <= 200, "{words} prompt words");
    texts.push(
        (words..200)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    word_level_json(&texts)
}

/// Writes the authors'-format checkpoint to `dir`; `edit` may change the DrAction tensors
/// (names without the prefix) before they are stored.
fn authors_checkpoint(dir: &Path, edit: impl FnOnce(&mut BTreeMap<String, TensorData>)) {
    std::fs::create_dir_all(dir).unwrap();
    let src = root().join("tests/fixtures/internvl/tiny_orig");
    for name in ["config.json", "added_tokens.json"] {
        std::fs::copy(src.join(name), dir.join(name)).unwrap();
    }
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "InternVLChatModel");
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json().to_string()).unwrap();
    let mut tensors: Vec<(String, TensorData)> = read_safetensors(&src.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .collect();
    assert!(tensors.iter().any(|(k, _)| k.starts_with("vision_model.")));
    assert!(tensors.iter().any(|(k, _)| k.starts_with("mlp1.")));
    let mut renderer =
        read_safetensors(&root().join("tests/fixtures/draction/random_nfm.safetensors")).unwrap();
    edit(&mut renderer);
    tensors.extend(renderer.into_iter().map(|(k, v)| {
        (
            format!("{}{k}", draction::checkpoint::SKELETONLLM_PREFIX),
            v,
        )
    }));
    write_safetensors(&dir.join("model.safetensors"), tensors).unwrap();
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_skeletonllm"))
        .args(args)
        .output()
        .expect("run skeletonllm")
}

/// Runs a command that must succeed and print one JSON object.
fn json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "skeletonllm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

fn probabilities(v: &Value) -> BTreeMap<String, f64> {
    v["top_k"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["label"].as_str().unwrap().to_string(),
                s["probability"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn authors_checkpoint_runs_every_task_command() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("authors");
    authors_checkpoint(&model, |_| {});
    let skel_path = tmp.path().join("S001C001P001R001A001.skeleton");
    draction::io::ntu::write(&synthetic::walking_ntu(40, 2), &skel_path).unwrap();
    let labels = tmp.path().join("labels.txt");
    std::fs::write(&labels, LABELS.join("\n")).unwrap();
    let (m, s, l) = (
        model.to_str().unwrap(),
        skel_path.to_str().unwrap(),
        labels.to_str().unwrap(),
    );

    // recognize: the authors' 12 frames, every label ranked.
    let rec = json(&[
        "recognize",
        s,
        "--model",
        m,
        "--labels",
        l,
        "--top-k",
        "4",
        "--json",
    ]);
    assert!(rec["answer"].is_string(), "{rec}");
    assert!(rec["parsed"].is_null() || LABELS.contains(&rec["parsed"].as_str().unwrap()));
    let top = rec["top_k"].as_array().unwrap();
    assert_eq!(top.len(), 4);
    let probs = probabilities(&rec);
    let sum: f64 = probs.values().sum();
    assert!((sum - 1.0).abs() < 1e-4, "{rec}");
    let lls: Vec<f64> = top
        .iter()
        .map(|t| t["log_likelihood"].as_f64().unwrap())
        .collect();
    assert!(lls.windows(2).all(|w| w[0] >= w[1]), "not sorted: {rec}");
    assert!(lls.iter().all(|x| x.is_finite() && *x < 0.0), "{rec}");

    // The same numbers through the library on the same folder.
    let device = Device::default();
    let a = Assistant::load(&model, &device)
        .unwrap()
        .with_options(TaskOptions::default());
    let skel = draction::io::read(&skel_path, None).unwrap();
    let lib = a.recognize(&skel, &LABELS).unwrap();
    assert_eq!(lib.answer, rec["answer"].as_str().unwrap());
    for r in &lib.ranking {
        let cli = probs[&r.label];
        assert!(
            (cli - f64::from(r.probability)).abs() < 1e-5,
            "{}: CLI {cli} vs library {}",
            r.label,
            r.probability
        );
    }

    // Text output of recognize names the answer and the ranked labels.
    let out = run(&["recognize", s, "--model", m, "--labels", l, "--frames", "2"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("answer: "), "{text}");
    assert!(text.contains(" %"), "{text}");

    // caption (cross-topology path: a BVH file), ask and verify.
    let bvh = root().join("assets/samples/cmu_01_01.bvh");
    let cap = json(&[
        "caption",
        bvh.to_str().unwrap(),
        "--model",
        m,
        "--frames",
        "2",
        "--json",
    ]);
    assert!(cap["caption"].is_string(), "{cap}");
    assert!(cap["file"].as_str().unwrap().ends_with("cmu_01_01.bvh"));
    let ask = json(&[
        "ask",
        s,
        "--question",
        QUESTION,
        "--model",
        m,
        "--frames",
        "2",
        "--json",
    ]);
    assert!(ask["answer"].is_string(), "{ask}");
    let ver = json(&[
        "verify", s, "--label", "walking", "--model", m, "--frames", "2", "--json",
    ]);
    assert_eq!(ver["label"], "walking");
    let p_yes = ver["yes_probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p_yes), "{ver}");
    assert_eq!(ver["yes"].as_bool().unwrap(), p_yes >= 0.5, "{ver}");

    // The DrAction tensors are used: brighter Gaussians change the probabilities ...
    let edited = tmp.path().join("edited");
    authors_checkpoint(&edited, |t| {
        let f = t.get_mut("canonical_features").unwrap();
        let shape = f.shape().to_vec();
        let v: Vec<f32> = f.iter::<f32>().map(|x| x + 1.5).collect();
        *f = TensorData::new(v, shape);
    });
    let rec2 = json(&[
        "recognize",
        s,
        "--model",
        edited.to_str().unwrap(),
        "--labels",
        l,
        "--top-k",
        "4",
        "--json",
    ]);
    let probs2 = probabilities(&rec2);
    let moved = LABELS
        .iter()
        .map(|k| (probs[*k] - probs2[*k]).abs())
        .fold(0.0f64, f64::max);
    println!("recognize: {rec}\nedited DrAction: {rec2}\nmax |Δp| {moved:.3e}");
    assert!(
        moved > 1e-6,
        "editing a DrAction tensor left the probabilities unchanged"
    );
    let ver2 = json(&[
        "verify",
        s,
        "--label",
        "walking",
        "--model",
        edited.to_str().unwrap(),
        "--frames",
        "2",
        "--json",
    ]);
    assert_ne!(ver2["yes_probability"], ver["yes_probability"]);

    // ... and without them the task commands refuse the checkpoint, naming what is missing.
    let bare = tmp.path().join("bare");
    authors_checkpoint(&bare, |t| t.clear());
    let out = run(&[
        "recognize",
        s,
        "--model",
        bare.to_str().unwrap(),
        "--labels",
        l,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no DrAction tensors") && err.trim_end().lines().count() == 1,
        "{err}"
    );
}

//! `skeletonllm train` killed mid-run and resumed ends with exactly the model of an
//! uninterrupted run; `eval` and the task commands run on the trained model.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{bin, repo, stdout_json, tiny_model_dir};
use skeletonllm_model::text::prompts;

const LABELS: [&str; 2] = ["walk", "boxing"];

/// A tiny SkeletonLLM folder and a 2-class MQA JSONL over the bundled clips.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let user = prompts::user_message(2, &prompts::mqa_question(&LABELS));
    let model = tiny_model_dir(dir, &[prompts::TEMPLATE_SYSTEM_MESSAGE, &user], 5);
    let data = dir.join("train.jsonl");
    let mut lines = String::new();
    for k in 0..8 {
        let (image, label) = if k % 2 == 0 {
            (repo("assets/samples/cmu_01_01.bvh"), "walk")
        } else {
            (repo("assets/samples/deepmimic_walk.txt"), "boxing")
        };
        let record = serde_json::json!({"id": format!("s{k}"), "image": image,
            "conversations": [{"from": "human", "value": user}, {"from": "gpt", "value": label}]});
        lines += &format!("{record}\n");
    }
    std::fs::write(&data, lines).unwrap();
    (model, data)
}

fn train_args(model: &Path, data: &Path, out: &Path) -> Vec<String> {
    [
        "train",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--data-root",
        "/",
        "--stage",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "6",
        "--lr",
        "1e-3",
        "--batch-size",
        "2",
        "--checkpoint-every",
        "3",
        "--from-scratch",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn step_of(out: &Path) -> usize {
    std::fs::read_to_string(out.join("checkpoint/state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["global_step"].as_u64())
        .unwrap_or(0) as usize
}

#[test]
fn killed_training_resumes_to_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path());

    let full = tmp.path().join("full");
    let st = bin()
        .args(train_args(&model, &data, &full))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let log = std::fs::read_to_string(full.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 24, "6 epochs x 4 steps");

    // Kill -9 once a checkpoint exists and before the run ends.
    let killed = tmp.path().join("killed");
    let mut child = bin()
        .args(train_args(&model, &data, &killed))
        .spawn()
        .unwrap();
    let start = Instant::now();
    while step_of(&killed) < 6 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.try_wait().unwrap().is_none(), "finished too early");
    child.kill().unwrap();
    child.wait().unwrap();
    let at = step_of(&killed);
    assert!((6..24).contains(&at), "killed at step {at}");
    assert!(!killed.join("model").exists());

    let mut resumed_args = train_args(&model, &data, &killed);
    resumed_args.push("--resume".into());
    let st = bin().args(resumed_args).output().unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(killed.join("train.json")).unwrap()).unwrap();
    assert_eq!(summary["resumed"], true);
    assert_eq!(summary["steps"], 24);

    let read = |dir: &Path| {
        skeletonllm_model::load::read_safetensors(&dir.join("model/model.safetensors")).unwrap()
    };
    let (a, b) = (read(&full), read(&killed));
    assert_eq!(a.len(), b.len());
    let mut worst = 0.0f32;
    for (name, ta) in &a {
        let tb = &b[name];
        for (x, y) in ta.iter::<f32>().zip(tb.iter::<f32>()) {
            worst = worst.max((x - y).abs());
        }
    }
    // The resumed process continued at the checkpoint's step, not from the start.
    let steps: Vec<u64> = std::fs::read_to_string(killed.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        steps.iter().filter(|&&s| s == 1).count(),
        1,
        "restarted: {steps:?}"
    );
    if let Some(w) = steps.windows(2).find(|w| w[1] <= w[0]) {
        assert_eq!(w[1], at as u64 + 1, "log steps {steps:?}");
    }
    assert_eq!(*steps.last().unwrap(), 24);
    assert!(worst < 1e-5, "resumed model differs by {worst}");
    let first: serde_json::Value =
        serde_json::from_slice(&std::fs::read(full.join("train.json")).unwrap()).unwrap();
    assert_eq!(first["last_loss"], summary["last_loss"]);

    // The trained model answers through the task commands and eval.
    let trained = full.join("model");
    let labels = tmp.path().join("labels.txt");
    std::fs::write(&labels, LABELS.join("\n")).unwrap();
    let out = bin()
        .args([
            "recognize",
            repo("assets/samples/cmu_01_01.bvh").to_str().unwrap(),
        ])
        .args([
            "--model",
            trained.to_str().unwrap(),
            "--frames",
            "2",
            "--json",
        ])
        .args(["--labels", labels.to_str().unwrap()])
        .output()
        .unwrap();
    let v = stdout_json(&out);
    assert_eq!(v["top_k"].as_array().unwrap().len(), 2);
    let eval_dir = tmp.path().join("eval");
    let out = bin()
        .args([
            "eval",
            "--model",
            trained.to_str().unwrap(),
            "--frames",
            "2",
        ])
        .args(["--data", data.to_str().unwrap(), "--data-root", "/"])
        .args(["--out", eval_dir.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let v = stdout_json(&out);
    assert_eq!(v["recognition"]["num_samples"], 8);
    assert!(eval_dir.join("confusion.png").is_file());
    assert!(eval_dir.join("results.md").is_file());
}

#[test]
fn train_on_two_cpu_workers_stops_and_resumes_on_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path());
    let out = tmp.path().join("run");
    let mut args = train_args(&model, &data, &out);
    args.extend(
        [
            "--devices",
            "cpu,cpu",
            "--base-dtype",
            "bf16",
            "--stop-after",
            "4",
        ]
        .map(String::from),
    );
    let st = bin().args(&args).output().unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let summary = stdout_json(&st);
    assert_eq!(summary["halted"], true);
    assert_eq!(summary["steps"], 4);
    assert_eq!(step_of(&out), 4, "a checkpoint at the stop");
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for key in ["loss", "ce", "token_accuracy", "lr", "samples_per_second"] {
        assert!(
            lines[3][key].is_number(),
            "log.jsonl has no {key}: {}",
            lines[3]
        );
    }
    // Resumed on one device, without the stop: the rest of the 24 steps.
    let mut resumed = train_args(&model, &data, &out);
    resumed.push("--resume".into());
    let st = bin().args(&resumed).output().unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let summary = stdout_json(&st);
    assert_eq!(
        (summary["resumed"].clone(), summary["steps"].clone()),
        (true.into(), 24.into())
    );
    assert_eq!(summary["halted"], false);

    // A device this build does not have is named.
    let mut bad = train_args(&model, &data, &tmp.path().join("bad"));
    bad.extend(["--devices", "cpu,tpu:0"].map(String::from));
    let st = bin().args(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        !st.status.success() && err.contains("`tpu:0` is not a device"),
        "{err}"
    );
}

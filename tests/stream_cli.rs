//! `skeletonllm stream` and the bundle defaults of `recognize`, on a tiny bundle built on the
//! tiny GGUF fixture: one JSON decision every `--every` frames once the window is full, labels
//! from the bundle's manifest, and a malformed line named by its number.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{LABELS, frame_line, repo, stdout_json, tiny_bundle};

fn run_stream(model: &Path, input: &str, extra: &[&str]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skeletonllm"))
        .args(["stream", "--model"])
        .arg(model)
        .args(extra)
        .env_remove("SKELETONLLM_BASE_LM")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn stream_emits_a_decision_every_k_frames() {
    let dir = tempfile::tempdir().unwrap();
    tiny_bundle(dir.path());
    let input: String = (0..16).map(|t| frame_line(t) + "\n").collect();
    let out = run_stream(dir.path(), &input, &["--window", "8", "--every", "4"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let frames: Vec<u64> = lines.iter().map(|l| l["frame"].as_u64().unwrap()).collect();
    assert_eq!(
        frames,
        vec![8, 12, 16],
        "decisions once the window is full, every 4"
    );
    for l in &lines {
        assert_eq!(l["window"], 8);
        assert!(LABELS.contains(&l["label"].as_str().unwrap()));
        let p = l["probability"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0);
        assert_eq!(l["top"].as_array().unwrap().len(), 3);
        assert!(l["latency_ms"].as_f64().unwrap() > 0.0);
    }
    assert!(stderr.contains("3 decisions"), "{stderr}");
}

#[test]
fn stream_names_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    tiny_bundle(dir.path());
    let input = format!("{}\n\n{}\n[[1,2]]\n", frame_line(0), frame_line(1));
    let out = run_stream(dir.path(), &input, &["--window", "8"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stdin line 4"), "{stderr}");
    let input = format!("{}\n{}\n", frame_line(0), "[[0,0,0],[1,1,1]]");
    let out = run_stream(dir.path(), &input, &["--layout", "ntu25"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("stdin line 2") && stderr.contains("25"),
        "{stderr}"
    );
}

#[test]
fn recognize_defaults_to_the_bundle_labels() {
    let dir = tempfile::tempdir().unwrap();
    tiny_bundle(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_skeletonllm"))
        .args(["recognize", "--json", "--top-k", "3", "--model"])
        .arg(dir.path())
        .arg(repo("assets/samples/deepmimic_walk.txt"))
        .env_remove("SKELETONLLM_BASE_LM")
        .output()
        .unwrap();
    let v = stdout_json(&out);
    let mut got: Vec<&str> = v["top_k"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    got.sort();
    let mut want = LABELS.to_vec();
    want.sort();
    assert_eq!(got, want);
}

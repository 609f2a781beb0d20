//! The shipped `assets/skeletonllm-tiny`: its weight files match the manifest in its
//! `config.json`, its labels are the dataset's, and on its own held-out check (the first clip of
//! every held-out real recording, from collections it never trained on) it still predicts what
//! its `eval.json` records.

use std::path::{Path, PathBuf};

use skeletonllm::skeletonllm_model::Assistant;
use skeletonllm::skeletonllm_model::load::bundle;
use skeletonllm_train::tiny::{self, DatasetConfig, LABELS};

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/skeletonllm-tiny")
}

fn eval_json() -> serde_json::Value {
    let text = std::fs::read_to_string(model_dir().join("eval.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn shipped_model_matches_its_manifest() {
    let dir = model_dir();
    let manifest = bundle::read_manifest(&dir).unwrap().expect("a bundle");
    assert_eq!(
        manifest.files.keys().collect::<Vec<_>>(),
        [bundle::ADAPTERS_FILE, bundle::WEIGHTS_FILE],
        "the manifest records both weight files"
    );
    bundle::verify_bundle_files(&dir, &manifest).unwrap();
    assert_eq!(manifest.labels, LABELS.map(String::from).to_vec());
    let eval = eval_json();
    assert_eq!(eval["labels"], serde_json::json!(manifest.labels));
}

#[test]
fn shipped_model_passes_its_held_out_check() {
    let eval = eval_json();
    let recorded = eval["check_clips"].as_array().expect("check_clips");
    assert!(recorded.len() >= 10, "{} check clips", recorded.len());
    // The data of scripts/fetch-data.sh and scripts/fetch-motions.sh (scripts/test.sh runs both).
    let data = std::env::var_os("SKELETONLLM_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".data"));
    let clips = tiny::build(&data, &DatasetConfig::default()).unwrap();
    let device = skeletonllm::device();
    let assistant = Assistant::load(&model_dir(), &device).unwrap();
    let (mut agree, mut hits, mut recorded_hits) = (0usize, 0usize, 0usize);
    for r in recorded {
        let source = r["source"].as_str().unwrap();
        let clip = clips
            .iter()
            .find(|c| c.held_out && c.source == source)
            .unwrap_or_else(|| panic!("no held-out clip of {source}"));
        assert_eq!(r["label"].as_str(), Some(clip.label));
        let c = assistant.clip(&clip.skeleton).unwrap();
        let ranking = assistant.rank_labels(&c, &LABELS).unwrap();
        let predicted = ranking[0].label.as_str();
        agree += usize::from(Some(predicted) == r["predicted"].as_str());
        hits += usize::from(predicted == clip.label);
        recorded_hits += usize::from(r["predicted"].as_str() == Some(clip.label));
        eprintln!("{source}: {} -> {predicted}", clip.label);
    }
    // Deterministic up to float summation order: at most one near-tie may flip.
    assert!(
        agree + 1 >= recorded.len(),
        "{agree} of {} predictions as recorded",
        recorded.len()
    );
    assert!(
        hits + 1 >= recorded_hits,
        "{hits} right, eval.json says {recorded_hits}"
    );
}

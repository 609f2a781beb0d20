//! Generates the Burn vision tower from an ONNX graph with burn-onnx.
//!
//! The graph is `tests/fixtures/onnx/tiny_vit.onnx` (the tiny test InternViT) unless the
//! `SKELETONLLM_VIT_ONNX` environment variable names another file. Whatever its name, the graph
//! is copied to `$OUT_DIR/onnx/vision_tower.onnx`, so the generated code is always
//! `$OUT_DIR/model/vision_tower.rs` and its weights `$OUT_DIR/model/vision_tower.bpk`, embedded
//! into the crate.

use std::path::PathBuf;

use burn_onnx::{LoadStrategy, ModelGen};

const ENV: &str = "SKELETONLLM_VIT_ONNX";
const FIXTURE: &str = "../tests/fixtures/onnx/tiny_vit.onnx";

fn main() {
    println!("cargo:rerun-if-env-changed={ENV}");
    let source = match std::env::var_os(ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        // Read when the script runs, not when it was compiled: cargo may reuse one compiled
        // build script for clones of the workspace at other paths sharing a target folder.
        _ => PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo"),
        )
        .join(FIXTURE),
    };
    println!("cargo:rerun-if-changed={}", source.display());
    println!(
        "cargo:rustc-env=SKELETONLLM_VIT_ONNX_SOURCE={}",
        source.display()
    );
    assert!(
        source.is_file(),
        "{ENV}: no ONNX file at {}",
        source.display()
    );

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let onnx_dir = out_dir.join("onnx");
    std::fs::create_dir_all(&onnx_dir).expect("create $OUT_DIR/onnx");
    let copy = onnx_dir.join("vision_tower.onnx");
    std::fs::copy(&source, &copy).expect("copy the ONNX graph into $OUT_DIR");

    ModelGen::new()
        .input(copy.to_str().expect("OUT_DIR is UTF-8"))
        .out_dir("model/")
        .load_strategy(LoadStrategy::Embedded)
        .run_from_script();
}

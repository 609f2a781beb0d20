//! `skeletonllm forward --skeleton`: a SkeletonLLM checkpoint (InternVL + DrAction tensors under
//! `_skeleton_renderer_module._renderer.`) renders the skeleton file at the inputs'
//! `frame_indices` and feeds the frames to the ViT.

use std::path::{Path, PathBuf};
use std::process::Command;

use skeletonllm_model::draction::burn::tensor::{Device, TensorData};
use skeletonllm_model::draction::render::{Clip, ClipOptions, Rasterizer};
use skeletonllm_model::draction::{self, synthetic};
use skeletonllm_model::load::{read_safetensors, write_safetensors};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A SkeletonLLM checkpoint dir: the tiny OpenGVLab-layout InternVL plus the random DrAction
/// fixture under the authors' prefix.
fn skeleton_checkpoint(dir: &Path) {
    let src = root().join("tests/fixtures/internvl/tiny_orig");
    for entry in std::fs::read_dir(&src).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut tensors: Vec<(String, TensorData)> = read_safetensors(&src.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .collect();
    let renderer =
        read_safetensors(&root().join("tests/fixtures/draction/random_nfm.safetensors")).unwrap();
    tensors.extend(renderer.into_iter().map(|(k, v)| {
        (
            format!("{}{k}", draction::checkpoint::SKELETONLLM_PREFIX),
            v,
        )
    }));
    write_safetensors(&dir.join("model.safetensors"), tensors).unwrap();
}

fn inputs(path: &Path, indices: &[i64]) {
    let case =
        read_safetensors(&root().join("tests/fixtures/internvl/tiny_case.safetensors")).unwrap();
    let tensors = vec![
        ("input_ids".to_string(), case["input_ids"].clone()),
        (
            "frame_indices".to_string(),
            TensorData::new(indices.to_vec(), [indices.len()]),
        ),
    ];
    write_safetensors(path, tensors).unwrap();
}

#[test]
fn forward_with_skeleton_matches_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let model_dir = tmp.path().join("model");
    std::fs::create_dir(&model_dir).unwrap();
    skeleton_checkpoint(&model_dir);
    let skel_path = tmp.path().join("S001C001P001R001A010.skeleton");
    draction::io::ntu::write(&synthetic::walking_ntu(30, 1), &skel_path).unwrap();
    let in_path = tmp.path().join("in.safetensors");
    let indices = [3i64, 17];
    inputs(&in_path, &indices);
    let out_path = tmp.path().join("out.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_skeletonllm"))
        .args(["forward", "--model"])
        .arg(&model_dir)
        .arg("--inputs")
        .arg(&in_path)
        .arg("--skeleton")
        .arg(&skel_path)
        .arg("--out")
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = read_safetensors(&out_path).unwrap();
    assert_eq!(got["logits"].shape().to_vec(), vec![1, 32, 208]);
    assert_eq!(got["image_features"].shape().to_vec(), vec![2, 4, 64]);

    // The same through the library.
    let device = Device::default();
    let model = skeletonllm_model::load_skeleton_llm(&model_dir, &device).unwrap();
    let skel = draction::io::read(&skel_path, None).unwrap();
    let opts = ClipOptions {
        indices: Some(vec![3, 17]),
        ..Default::default()
    };
    let clip = Clip::prepare(&skel, 25, &opts).unwrap();
    let ids = read_safetensors(&in_path).unwrap()["input_ids"].clone();
    let ids = skeletonllm_model::draction::burn::tensor::Tensor::<
        2,
        skeletonllm_model::draction::burn::tensor::Int,
    >::from_data(ids, &device);
    let want = model
        .forward(model.input(ids, &clip, Rasterizer::Reference, &device))
        .unwrap();
    let want = draction::checkpoint::host_values(want.logits);
    let got = got["logits"].clone().try_into_vec_as::<f32>().unwrap();
    let max = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max < 1e-5, "CLI vs library logits differ by {max}");
}

#[test]
fn skeleton_forward_errors_are_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let skel_path = tmp.path().join("walk.skeleton");
    draction::io::ntu::write(&synthetic::walking_ntu(12, 1), &skel_path).unwrap();
    let in_path = tmp.path().join("in.safetensors");
    inputs(&in_path, &[1, 5]);
    let run = |model: &Path, inputs: &Path, skel: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_skeletonllm"))
            .args(["forward", "--model"])
            .arg(model)
            .arg("--inputs")
            .arg(inputs)
            .arg("--skeleton")
            .arg(skel)
            .arg("--out")
            .arg(tmp.path().join("o.safetensors"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        err
    };
    // A plain InternVL checkpoint has no renderer.
    let e = run(
        &root().join("tests/fixtures/internvl/tiny_hf"),
        &in_path,
        &skel_path,
    );
    assert!(e.contains("no DrAction tensors"), "{e}");
    // Missing frame indices.
    let model_dir = tmp.path().join("model");
    std::fs::create_dir(&model_dir).unwrap();
    skeleton_checkpoint(&model_dir);
    let bare = tmp.path().join("bare.safetensors");
    let case =
        read_safetensors(&root().join("tests/fixtures/internvl/tiny_case.safetensors")).unwrap();
    write_safetensors(&bare, vec![("input_ids".into(), case["input_ids"].clone())]).unwrap();
    let e = run(&model_dir, &bare, &skel_path);
    assert!(e.contains("frame_indices"), "{e}");
    // Out-of-range index and a broken skeleton file.
    let far = tmp.path().join("far.safetensors");
    inputs(&far, &[1, 99]);
    let e = run(&model_dir, &far, &skel_path);
    assert!(
        e.contains("walk.skeleton") && e.contains("out of range"),
        "{e}"
    );
    let broken = tmp.path().join("broken.skeleton");
    std::fs::write(&broken, "3\n1\n").unwrap();
    let e = run(&model_dir, &in_path, &broken);
    assert!(e.contains("broken.skeleton"), "{e}");
}

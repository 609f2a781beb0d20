//! The ONNX-imported tower against the safetensors InternViT of `skeletonllm-model` and against
//! transformers, on the tiny fixture (`tests/fixtures/onnx/export_vit.py`).
//!
//! Only meaningful for the default graph: skipped when `SKELETONLLM_VIT_ONNX` pointed the build
//! at another tower.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use skeletonllm_model::load::read_safetensors;
use skeletonllm_model::{InternVl, load_pretrained};
use skeletonllm_onnx::{ONNX_SOURCE, OnnxVisionTower, project};

const TOL: f32 = 2e-5;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Whether the crate was built from the committed fixture graph.
fn default_graph() -> bool {
    let built = Path::new(ONNX_SOURCE).canonicalize().ok();
    let fixture = fixtures().join("onnx/tiny_vit.onnx").canonicalize().ok();
    if built.is_none() || built != fixture {
        eprintln!("skipped: built from {ONNX_SOURCE}, not the fixture graph");
        return false;
    }
    true
}

struct Fixture {
    device: Device,
    expected: BTreeMap<String, TensorData>,
    case: BTreeMap<String, TensorData>,
    model: InternVl,
    tower: OnnxVisionTower,
}

impl Fixture {
    fn open() -> Self {
        let device = Device::default();
        let read = |p: &str| read_safetensors(&fixtures().join(p)).expect("fixture tensors");
        Self {
            expected: read("onnx/tiny_vit_expected.safetensors"),
            case: read("internvl/tiny_case.safetensors"),
            model: load_pretrained(&fixtures().join("internvl/tiny_hf"), &device)
                .expect("fixture model loads"),
            tower: OnnxVisionTower::load(&device),
            device,
        }
    }

    fn float<const D: usize>(&self, set: &BTreeMap<String, TensorData>, name: &str) -> Tensor<D> {
        let data = set.get(name).unwrap_or_else(|| panic!("no `{name}`"));
        Tensor::from_data(data.clone(), &self.device)
    }
}

fn check<const D: usize>(what: &str, actual: Tensor<D>, expected: Tensor<D>, tol: f32) {
    assert_eq!(actual.dims(), expected.dims(), "{what}: shapes");
    let err = (actual - expected).abs().max().into_scalar::<f32>();
    println!("{what}: max abs diff {err:.3e} (tolerance {tol:.0e})");
    assert!(err <= tol, "{what}: max abs diff {err} > {tol}");
}

#[test]
fn onnx_tower_matches_safetensors_tower_and_transformers() {
    if !default_graph() {
        return;
    }
    let f = Fixture::open();
    let pixels: Tensor<4> = f.float(&f.expected, "pixel_values");
    check(
        "fixture pixels",
        pixels.clone(),
        f.float(&f.case, "pixel_values"),
        0.0,
    );

    let onnx = f.tower.forward(pixels.clone());
    let safetensors = f.model.get_image_features(pixels.clone());
    check(
        "onnx vs safetensors vision states",
        onnx.clone(),
        safetensors.vision_last_hidden_state.clone(),
        TOL,
    );
    check(
        "onnx vs transformers vision states",
        onnx.clone(),
        f.float(&f.expected, "vision_states"),
        TOL,
    );

    let features = f.tower.image_features(&f.model, pixels);
    check(
        "onnx vs safetensors image features",
        features.features.clone(),
        safetensors.features,
        TOL,
    );
    check(
        "onnx vs transformers image features",
        features.features,
        f.float(&f.case, "image_features"),
        TOL,
    );
    check(
        "project() keeps the states",
        features.vision_last_hidden_state,
        onnx,
        0.0,
    );
}

#[test]
fn onnx_tower_batch_is_dynamic() {
    if !default_graph() {
        return;
    }
    let f = Fixture::open();
    let pixels: Tensor<4> = f.float(&f.expected, "pixel_values");
    let both = f.tower.forward(pixels.clone());
    for i in 0..2 {
        let one = f.tower.forward(pixels.clone().narrow(0, i, 1));
        assert_eq!(one.dims(), [1, 17, 32]);
        check(
            &format!("image {i} alone vs in the batch"),
            one,
            both.clone().narrow(0, i, 1),
            1e-6,
        );
    }
    let projected = project(&f.model, both);
    assert_eq!(projected.features.dims(), [2, 4, 64]);
}

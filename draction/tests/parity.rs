//! DrAction against fixtures computed in float64 by `benches/draction_torch.py` (the same maths
//! in PyTorch, itself checked against the authors' renderer): frames and the gradients of
//! `sum(frames · loss_weights)` for every learnable tensor, on both rasterisers.
//! Fixtures: `tests/fixtures/draction/`, made by `tests/fixtures/make_draction_fixtures.py`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use draction::burn::tensor::{Device, Tensor, TensorData};
use draction::checkpoint::{self, HostTensor, host_values};
use draction::render::{Camera, Clip, ClipOptions, DrAction, Rasterizer};
use draction::{Format, Layout, Skeleton};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/draction")
        .join(name)
}

struct Case {
    tensors: BTreeMap<String, HostTensor>,
    layout: String,
    size: usize,
    weights: String,
}

fn load_case(name: &str) -> Case {
    let (tensors, meta) =
        checkpoint::read_safetensors(&fixture(&format!("case_{name}.safetensors"))).unwrap();
    Case {
        layout: meta["layout"].clone(),
        size: meta["size"].parse().unwrap(),
        weights: meta["weights"].clone(),
        tensors,
    }
}

fn clip_of(case: &Case) -> Clip {
    let j = &case.tensors["joints"];
    let (t, p) = (j.shape[0], j.shape[1]);
    let mut skel =
        Skeleton::from_dense(j.data.clone(), t, p, Layout::builtin(&case.layout).unwrap()).unwrap();
    // SMPL-22 fixtures follow the authors' HumanML3D path.
    skel.source.format = Some(if case.layout == "smpl22" {
        Format::HumanMl3d
    } else {
        Format::Ntu
    });
    let indices: Vec<usize> = case.tensors["indices"]
        .data
        .iter()
        .map(|&x| x as usize)
        .collect();
    Clip::prepare(
        &skel,
        25,
        &ClipOptions {
            indices: Some(indices),
            ..Default::default()
        },
    )
    .unwrap()
}

fn grads(model: &DrAction, g: &draction::burn::tensor::Gradients) -> BTreeMap<String, Vec<f32>> {
    let mut out = BTreeMap::new();
    let mut put2 = |name: &str, t: Option<Tensor<2>>| {
        if let Some(t) = t {
            out.insert(name.to_string(), host_values(t));
        }
    };
    put2("canonical_features", model.canonical_features.grad(g));
    put2("canonical_means", model.canonical_means.grad(g));
    put2("canonical_scales", model.canonical_scales.grad(g));
    // Linear weights: Burn holds [in, out], the fixtures PyTorch's [out, in].
    let mut lin = |prefix: &str, l: &draction::burn::nn::Linear| {
        if let Some(w) = l.weight.grad(g) {
            out.insert(format!("{prefix}.weight"), host_values(w.transpose()));
        }
        if let Some(b) = l.bias.as_ref().and_then(|b| b.grad(g)) {
            out.insert(format!("{prefix}.bias"), host_values(b));
        }
    };
    lin("appearance_head.0", &model.appearance_head.fc1);
    lin("appearance_head.2", &model.appearance_head.fc2);
    if let Some(n) = &model.nfm {
        lin("nfm.0", &n.fc1);
        lin("nfm.2", &n.fc2);
    }
    if let Some(d) = model.depth_mix_logit.grad(g) {
        out.insert("depth_mix_logit".into(), host_values(d));
    }
    out
}

fn check_case(name: &str) {
    let case = load_case(name);
    let device = Device::default().autodiff();
    let (model, _) = checkpoint::load(&fixture(&case.weights), &device).unwrap();
    let clip = clip_of(&case);
    let cam = Camera::new(case.size);
    let want = &case.tensors["frames"];
    let lw = &case.tensors["loss_weights"];
    let lw = Tensor::<4>::from_data(
        TensorData::new(
            lw.data.clone(),
            [lw.shape[0], lw.shape[1], lw.shape[2], lw.shape[3]],
        ),
        &device,
    );
    for raster in [Rasterizer::Reference, Rasterizer::Fast] {
        let frames = model.render_with(&clip, cam, raster, &device);
        let got = host_values(frames.clone());
        assert_eq!(got.len(), want.data.len());
        let diffs: Vec<f32> = got
            .iter()
            .zip(&want.data)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let max = diffs.iter().cloned().fold(0.0, f32::max);
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        let (max_tol, mean_tol) = match raster {
            Rasterizer::Reference => (2e-5, 1e-6),
            Rasterizer::Fast => (1.0 / 255.0, 1e-4),
        };
        eprintln!(
            "{name} {}: frames max {max:.2e} mean {mean:.2e}",
            raster.name()
        );
        assert!(
            max <= max_tol && mean <= mean_tol,
            "{name} {}: max {max}, mean {mean}",
            raster.name()
        );

        let g = (frames * lw.clone()).sum().backward();
        let got = grads(&model, &g);
        for (key, want) in case
            .tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("grad.").map(|n| (n, v)))
        {
            let got = got
                .get(key)
                .unwrap_or_else(|| panic!("{name}: no gradient for {key}"));
            let norm = want.data.iter().map(|x| x * x).sum::<f32>().sqrt();
            let diff = got
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                .sqrt();
            let rel = diff / norm.max(1e-12);
            eprintln!("{name} {}: grad {key} relative {rel:.2e}", raster.name());
            assert!(norm > 0.0, "{name}: zero expected gradient for {key}");
            assert!(
                rel <= 1e-3,
                "{name} {}: gradient {key} relative difference {rel}",
                raster.name()
            );
        }
    }
}

#[test]
fn ntu_two_bodies_matches_fixture() {
    check_case("ntu_2body");
}

#[test]
fn ntu_one_body_without_nfm_matches_fixture() {
    check_case("ntu_1body_nonfm");
}

#[test]
fn smpl22_cross_topology_matches_fixture() {
    check_case("smpl22");
}

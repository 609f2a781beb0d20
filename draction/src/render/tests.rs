//! Renderer tests: frames, gradients, checkpoints.

use burn::tensor::{Device, Tensor};

use crate::checkpoint::host_values;
use crate::layout::Layout;
use crate::render::{Camera, Clip, ClipOptions, DrActionConfig, Rasterizer};
use crate::skeleton::Skeleton;

pub(crate) use crate::synthetic::ntu_standing_pose as standing_pose;

pub(crate) fn walking_ntu(frames: usize) -> Skeleton {
    crate::synthetic::walking_ntu(frames, 1)
}

/// A seeded random-appearance renderer and `frames` frames sampled from a 1-body walk of
/// `raw` frames.
fn model_and_clip(
    device: &Device,
    seed: u64,
    raw: usize,
    frames: usize,
) -> (crate::render::DrAction, Clip) {
    device.seed(seed);
    let model = DrActionConfig::new().init_with_pose(&standing_pose(), device);
    let opts = ClipOptions {
        frames,
        ..Default::default()
    };
    (model, Clip::prepare(&walking_ntu(raw), 25, &opts).unwrap())
}

#[test]
fn renders_a_visible_person() {
    let device = Device::default();
    let (model, clip) = model_and_clip(&device, 0, 20, 3);
    let frames = model.render(&clip, Camera::new(64), &device);
    assert_eq!(frames.dims(), [3, 64, 64, 3]);
    let v = crate::checkpoint::host_values(frames);
    let lit = v.iter().filter(|&&x| x > 0.02).count();
    assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    assert!(lit > 100, "only {lit} lit values");
    // The corners are far from the body: black.
    assert_eq!(v[0], 0.0);
}

#[test]
fn gradients_reach_every_parameter() {
    let device = Device::default().autodiff();
    let (model, clip) = model_and_clip(&device, 1, 16, 2);
    let frames = model.render(&clip, Camera::new(32), &device);
    let weights = Tensor::<4>::random(
        [2, 32, 32, 3],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let loss = (frames * weights).sum();
    let grads = loss.backward();
    let norm = |t: Option<Tensor<2>>| -> f32 {
        t.map(|g| g.abs().sum().into_scalar::<f32>()).unwrap_or(0.0)
    };
    let checks: Vec<(&str, f32)> = vec![
        (
            "canonical_joints",
            norm(model.canonical_joints.grad(&grads)),
        ),
        ("canonical_means", norm(model.canonical_means.grad(&grads))),
        (
            "canonical_scales",
            norm(model.canonical_scales.grad(&grads)),
        ),
        (
            "lbs_weights_logits",
            norm(model.lbs_weights_logits.grad(&grads)),
        ),
        (
            "canonical_features",
            norm(model.canonical_features.grad(&grads)),
        ),
        (
            "appearance_head.0.weight",
            norm(model.appearance_head.fc1.weight.grad(&grads)),
        ),
        (
            "appearance_head.2.weight",
            norm(model.appearance_head.fc2.weight.grad(&grads)),
        ),
        (
            "nfm.0.weight",
            norm(model.nfm.as_ref().unwrap().fc1.weight.grad(&grads)),
        ),
        (
            "nfm.2.weight",
            norm(model.nfm.as_ref().unwrap().fc2.weight.grad(&grads)),
        ),
    ];
    for (name, g) in checks {
        assert!(g.is_finite() && g > 0.0, "no gradient reaches {name}: {g}");
    }
    let dm = model
        .depth_mix_logit
        .grad(&grads)
        .map(|g| g.abs().sum().into_scalar::<f32>())
        .unwrap_or(0.0);
    assert!(dm > 0.0, "no gradient reaches depth_mix_logit");
    // Quaternions: identity is a stationary point of an isotropic Gaussian's covariance, so the
    // gradient exists (tracked) but may be zero; check it is finite.
    let q = model
        .canonical_quats
        .grad(&grads)
        .expect("quats are tracked");
    assert!(q.abs().sum().into_scalar::<f32>().is_finite());
}

#[test]
fn fast_matches_reference_frames() {
    let device = Device::default();
    device.seed(3);
    let model = DrActionConfig::new().init_with_pose(&standing_pose(), &device);
    // Two bodies, the second absent in some frames.
    let one = walking_ntu(24);
    let mut pos = Vec::new();
    for t in 0..24 {
        for b in 0..2 {
            for j in 0..25 {
                let p = one.position(t, 0, j);
                if b == 1 && t % 5 == 0 {
                    pos.extend_from_slice(&[0.0; 3]);
                } else {
                    pos.extend_from_slice(&[p[0] + 0.6 * b as f32, p[1], p[2] + 0.4 * b as f32]);
                }
            }
        }
    }
    let two = Skeleton::from_dense(pos, 24, 2, Layout::builtin("ntu25").unwrap()).unwrap();
    let clip = Clip::prepare(
        &two,
        25,
        &ClipOptions {
            frames: 4,
            ..Default::default()
        },
    )
    .unwrap();
    for size in [48, 96] {
        let cam = Camera::new(size);
        let fast = host_values(model.render_with(&clip, cam, Rasterizer::Fast, &device));
        let reference = host_values(model.render_with(&clip, cam, Rasterizer::Reference, &device));
        let diffs: Vec<f32> = fast
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let max = diffs.iter().cloned().fold(0.0, f32::max);
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        assert!(max <= 1.0 / 255.0, "S={size}: max abs {max}");
        assert!(mean <= 1e-4, "S={size}: mean abs {mean}");
        assert!(reference.iter().cloned().fold(0.0, f32::max) > 0.3);
    }
}

#[test]
fn fast_gradients_match_reference() {
    let device = Device::default().autodiff();
    let (model, clip) = model_and_clip(&device, 4, 16, 2);
    let cam = Camera::new(40);
    let weights = Tensor::<4>::random(
        [2, 40, 40, 3],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let grads_of = |raster| {
        let loss = (model.render_with(&clip, cam, raster, &device) * weights.clone()).sum();
        let g = loss.backward();
        let get = |t: Option<Tensor<2>>| host_values(t.expect("a gradient"));
        vec![
            ("canonical_means", get(model.canonical_means.grad(&g))),
            ("canonical_scales", get(model.canonical_scales.grad(&g))),
            ("canonical_features", get(model.canonical_features.grad(&g))),
            (
                "appearance_head.0.weight",
                get(model.appearance_head.fc1.weight.grad(&g)),
            ),
            (
                "nfm.2.weight",
                get(model.nfm.as_ref().unwrap().fc2.weight.grad(&g)),
            ),
            ("lbs_weights_logits", get(model.lbs_weights_logits.grad(&g))),
        ]
    };
    let fast = grads_of(Rasterizer::Fast);
    let reference = grads_of(Rasterizer::Reference);
    for ((name, a), (_, b)) in fast.iter().zip(&reference) {
        let norm = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt();
        assert!(norm > 0.0, "{name}: zero reference gradient");
        assert!(
            diff <= 1e-3 * norm,
            "{name}: relative difference {}",
            diff / norm
        );
    }
}

//! The CubeCL kernels of the fast rasteriser, run through wgpu on a CPU adapter (Mesa's
//! software Vulkan driver, lavapipe, in CI): frames and gradients against the reference path
//! on the same device, and against the host kernels on Flex.
//!
//! Needs `--features wgpu` and a wgpu CPU adapter (Debian: `mesa-vulkan-drivers`); without the
//! adapter every test fails with a message saying so.

#![cfg(feature = "wgpu")]

use std::sync::{Mutex, MutexGuard, OnceLock};

use draction::burn::tensor::wgpu::WgpuBackend;
use draction::burn::tensor::{Device, DeviceKind, Distribution, Tensor, TensorData};
use draction::checkpoint::host_values;
use draction::layout::Layout;
use draction::render::fast::{self, device_passes};
use draction::render::reference::rasterize_reference;
use draction::render::{Camera, Clip, ClipOptions, DrActionConfig, Rasterizer, Splats};
use draction::skeleton::Skeleton;
use draction::synthetic::{ntu_standing_pose, walking_ntu};

/// The wgpu device on the CPU adapter; panics (fails the test) if there is none.
fn wgpu_cpu() -> Device {
    static DEVICE: OnceLock<Result<Device, String>> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            // Vulkan pinned: with Auto, wgpu may fall back to Mesa's GL llvmpipe and the test
            // would pass without lavapipe.
            Device::wgpu_options()
                .device_kind(DeviceKind::Cpu)
                .graphics_api(WgpuBackend::Vulkan)
                .init()
                .map_err(|e| e.to_string())
        })
        .clone()
        .unwrap_or_else(|e| {
            panic!(
                "no wgpu CPU adapter: install Mesa's software Vulkan driver \
                 (Debian `mesa-vulkan-drivers`, lavapipe) to run the kernel tests: {e}"
            )
        })
}

/// Serialises the tests, so the device-pass counter deltas belong to one test.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A deterministic pseudo-random stream in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next()
    }
}

/// Host arrays of a random scene: `F` frames of `N` Gaussians over an `S × S` image, some off
/// screen, some tiny, some wide, opacities from faint to opaque.
struct HostScene {
    f: usize,
    n: usize,
    means2d: Vec<f32>,
    conics: Vec<f32>,
    colors: Vec<f32>,
    opacity: Vec<f32>,
    depth: Vec<f32>,
}

fn scene(f: usize, n: usize, size: usize, seed: u64) -> HostScene {
    let mut r = Lcg(seed);
    let s = size as f32;
    let mut h = HostScene {
        f,
        n,
        means2d: Vec::new(),
        conics: Vec::new(),
        colors: Vec::new(),
        opacity: Vec::new(),
        depth: Vec::new(),
    };
    for _ in 0..f * n {
        h.means2d.push(r.range(-0.1 * s, 1.1 * s));
        h.means2d.push(r.range(-0.1 * s, 1.1 * s));
        // Covariance R diag(a², b²) Rᵀ, conic = its inverse as (Q00, Q01 + Q10, Q11).
        let (a, b, th) = (
            r.range(0.7, 7.0),
            r.range(0.7, 7.0),
            r.range(0.0, std::f32::consts::PI),
        );
        let (c, sn) = (th.cos(), th.sin());
        let (ia, ib) = (1.0 / (a * a), 1.0 / (b * b));
        let q00 = c * c * ia + sn * sn * ib;
        let q11 = sn * sn * ia + c * c * ib;
        let q01 = c * sn * (ia - ib);
        h.conics.extend_from_slice(&[q00, 2.0 * q01, q11]);
        for _ in 0..3 {
            h.colors.push(r.next());
        }
        h.opacity.push(r.range(0.05, 3.0));
        h.depth.push(r.range(1.0, 5.0));
    }
    h
}

/// The scene's splats on `device`, every input tracked if the device is autodiff.
fn splats(h: &HostScene, device: &Device) -> Splats {
    let t3 = |v: &[f32], c: usize| {
        Tensor::<3>::from_data(TensorData::new(v.to_vec(), [h.f, h.n, c]), device).require_grad()
    };
    let t2 = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [h.f, h.n]), device);
    Splats {
        means2d: t3(&h.means2d, 2),
        conics: t3(&h.conics, 3),
        colors: t3(&h.colors, 3),
        opacity: t2(&h.opacity).require_grad(),
        depth: t2(&h.depth),
    }
}

/// Max and mean absolute difference.
fn diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let d: Vec<f32> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    let max = d.iter().cloned().fold(0.0, f32::max);
    (max, d.iter().sum::<f32>() / d.len() as f32)
}

/// `‖a − b‖ / ‖b‖`, or `‖a − b‖` when `b` is all zeros.
fn rel(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let norm = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    let d = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt();
    if norm > 0.0 { d / norm } else { d }
}

fn frames_within_tolerance(name: &str, fast: &[f32], reference: &[f32]) {
    let (max, mean) = diff(fast, reference);
    eprintln!("{name}: frames max abs {max:.3e}, mean abs {mean:.3e}");
    assert!(max <= 1.0 / 255.0, "{name}: max abs {max}");
    assert!(mean <= 1e-4, "{name}: mean abs {mean}");
    assert!(
        reference.iter().cloned().fold(0.0, f32::max) > 0.3,
        "{name}: the scene is too dark to test anything"
    );
}

/// Splat-level frames and the gradients of `Σ frames · weights` w.r.t. the four splat inputs.
fn splat_run(h: &HostScene, size: usize, device: &Device, fast: bool) -> Vec<Vec<f32>> {
    let s = splats(h, device);
    let inputs = (
        s.means2d.clone(),
        s.conics.clone(),
        s.colors.clone(),
        s.opacity.clone(),
    );
    let img = if fast {
        fast::rasterize(s, size)
    } else {
        rasterize_reference(s, size)
    };
    let mut r = Lcg(99);
    let w: Vec<f32> = (0..h.f * size * size * 3).map(|_| r.next()).collect();
    let w = Tensor::<4>::from_data(TensorData::new(w, [h.f, size, size, 3]), device);
    let loss = (img.clone() * w).sum();
    let g = loss.backward();
    let get3 = |t: &Tensor<3>| host_values(t.grad(&g).expect("a splat gradient"));
    vec![
        host_values(img),
        get3(&inputs.0),
        get3(&inputs.1),
        get3(&inputs.2),
        host_values(inputs.3.grad(&g).expect("an opacity gradient")),
    ]
}

const SPLAT_NAMES: [&str; 5] = ["frames", "means2d", "conics", "colors", "opacity"];

#[test]
fn kernels_run_on_the_software_vulkan_adapter() {
    let _guard = serial();
    let device = wgpu_cpu().autodiff();
    let h = scene(2, 40, 40, 7);
    let before = device_passes();
    let s = splats(&h, &device);
    let colors = s.colors.clone();
    let img = fast::rasterize(s, 40);
    let _ = host_values(img.clone());
    assert_eq!(
        device_passes(),
        before + 1,
        "the forward did not run the CubeCL kernel (host fallback?)"
    );
    let g = img.sum().backward();
    assert!(colors.grad(&g).is_some());
    assert_eq!(
        device_passes(),
        before + 2,
        "the backward did not run the CubeCL kernels (host fallback?)"
    );
}

#[test]
fn splat_kernels_match_reference() {
    let _guard = serial();
    let device = wgpu_cpu().autodiff();
    // 40 = two full tiles and a partial one a side; 33 leaves a one-pixel strip.
    for (size, seed) in [(40, 1), (33, 2)] {
        let h = scene(2, 60, size, seed);
        let fast = splat_run(&h, size, &device, true);
        let reference = splat_run(&h, size, &device, false);
        frames_within_tolerance(&format!("splats S={size}"), &fast[0], &reference[0]);
        for (i, name) in SPLAT_NAMES.iter().enumerate().skip(1) {
            let e = rel(&fast[i], &reference[i]);
            eprintln!("splats S={size}: d/d{name} relative error {e:.3e}");
            assert!(
                reference[i].iter().any(|&x| x != 0.0),
                "{name}: zero reference gradient"
            );
            assert!(e <= 1e-3, "S={size}: d/d{name} relative error {e}");
        }
    }
}

/// The device kernels compute the same function as the host kernels (same cut-offs), so they
/// agree much more tightly than either does with the reference.
#[cfg(feature = "flex")]
#[test]
fn splat_kernels_match_host_kernels() {
    let _guard = serial();
    let device = wgpu_cpu().autodiff();
    let host = Device::flex().autodiff();
    let size = 40;
    let h = scene(3, 80, size, 5);
    let fast = splat_run(&h, size, &device, true);
    let cpu = splat_run(&h, size, &host, true);
    let (max, _) = diff(&fast[0], &cpu[0]);
    eprintln!("device vs host kernels: frames max abs {max:.3e}");
    assert!(max <= 1e-5, "frames: max abs {max}");
    for (i, name) in SPLAT_NAMES.iter().enumerate().skip(1) {
        let e = rel(&fast[i], &cpu[i]);
        eprintln!("device vs host kernels: d/d{name} relative error {e:.3e}");
        assert!(e <= 1e-4, "d/d{name} relative error {e}");
    }
}

#[test]
fn renderer_frames_match_reference() {
    let _guard = serial();
    let device = wgpu_cpu();
    device.seed(3);
    let model = DrActionConfig::new().init_with_pose(&ntu_standing_pose(), &device);
    // Two bodies, the second absent in some frames.
    let one = walking_ntu(24, 1);
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
    let layout = Layout::builtin("ntu25").expect("the NTU layout");
    let two = Skeleton::from_dense(pos, 24, 2, layout).expect("a skeleton");
    let opts = ClipOptions {
        frames: 3,
        ..Default::default()
    };
    let clip = Clip::prepare(&two, 25, &opts).expect("a clip");
    for size in [48, 96] {
        let cam = Camera::new(size);
        let before = device_passes();
        let fast = host_values(model.render_with(&clip, cam, Rasterizer::Fast, &device));
        assert_eq!(
            device_passes(),
            before + 1,
            "the forward kernel did not run"
        );
        let reference = host_values(model.render_with(&clip, cam, Rasterizer::Reference, &device));
        frames_within_tolerance(&format!("renderer S={size}"), &fast, &reference);
    }
}

#[test]
fn renderer_gradients_match_reference() {
    let _guard = serial();
    let device = wgpu_cpu().autodiff();
    device.seed(4);
    let model = DrActionConfig::new().init_with_pose(&ntu_standing_pose(), &device);
    let opts = ClipOptions {
        frames: 2,
        ..Default::default()
    };
    let clip = Clip::prepare(&walking_ntu(16, 1), 25, &opts).expect("a clip");
    let cam = Camera::new(40);
    let weights = Tensor::<4>::random([2, 40, 40, 3], Distribution::Uniform(0.0, 1.0), &device);
    let grads_of = |raster| {
        let loss = (model.render_with(&clip, cam, raster, &device) * weights.clone()).sum();
        let g = loss.backward();
        let get2 = |t: Option<Tensor<2>>| host_values(t.expect("a gradient"));
        let get1 = |t: Option<Tensor<1>>| host_values(t.expect("a gradient"));
        let nfm = model.nfm.as_ref().expect("NFM is on by default");
        let bias = |l: &draction::burn::nn::Linear| get1(l.bias.as_ref().expect("a bias").grad(&g));
        vec![
            ("canonical_joints", get2(model.canonical_joints.grad(&g))),
            ("canonical_means", get2(model.canonical_means.grad(&g))),
            ("canonical_scales", get2(model.canonical_scales.grad(&g))),
            ("canonical_quats", get2(model.canonical_quats.grad(&g))),
            (
                "lbs_weights_logits",
                get2(model.lbs_weights_logits.grad(&g)),
            ),
            (
                "canonical_features",
                get2(model.canonical_features.grad(&g)),
            ),
            (
                "appearance_head.0.weight",
                get2(model.appearance_head.fc1.weight.grad(&g)),
            ),
            ("appearance_head.0.bias", bias(&model.appearance_head.fc1)),
            (
                "appearance_head.2.weight",
                get2(model.appearance_head.fc2.weight.grad(&g)),
            ),
            ("appearance_head.2.bias", bias(&model.appearance_head.fc2)),
            ("nfm.0.weight", get2(nfm.fc1.weight.grad(&g))),
            ("nfm.0.bias", bias(&nfm.fc1)),
            ("nfm.2.weight", get2(nfm.fc2.weight.grad(&g))),
            ("nfm.2.bias", bias(&nfm.fc2)),
            ("depth_mix_logit", get1(model.depth_mix_logit.grad(&g))),
        ]
    };
    let before = device_passes();
    let fast = grads_of(Rasterizer::Fast);
    assert_eq!(device_passes(), before + 2, "the kernels did not run");
    let reference = grads_of(Rasterizer::Reference);
    let mut worst = 0.0f32;
    for ((name, a), (_, b)) in fast.iter().zip(&reference) {
        let e = rel(a, b);
        let norm = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        eprintln!("renderer: d/d{name} relative error {e:.3e} (reference norm {norm:.3e})");
        assert!(e.is_finite(), "{name}: non-finite gradient");
        if *name == "canonical_quats" && norm < 1e-6 {
            // Identity quaternions of isotropic Gaussians are a stationary point: both ≈ 0.
            assert!(
                e <= 1e-5,
                "{name}: abs difference {e} at a stationary point"
            );
            continue;
        }
        assert!(norm > 0.0, "{name}: zero reference gradient");
        assert!(e <= 1e-3, "{name}: relative difference {e}");
        worst = worst.max(e);
    }
    eprintln!("renderer: worst relative gradient error {worst:.3e}");
}

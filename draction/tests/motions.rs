//! The procedural motion generator: valid, rigid, grounded, class-specific and renderable.

use std::path::PathBuf;

use draction::burn::tensor::Device;
use draction::checkpoint::host_values;
use draction::render::{Camera, Clip, ClipOptions, Rasterizer};
use draction::synthetic::motions::{PROCEDURAL_CLASSES, Performer, generate};
use draction::{Skeleton, prep::Sampler};

const SPINE_BASE: usize = 0;
const HEAD: usize = 3;
const HANDS: [usize; 2] = [7, 11];
const FEET: [usize; 4] = [14, 15, 18, 19];

fn clip(class: &str, performer: u64, seed: u64) -> (Performer, Skeleton) {
    let p = Performer::sample(performer);
    let s = generate(class, &p, 3.0, 30.0, seed).unwrap();
    (p, s)
}

fn y(s: &Skeleton, t: usize, j: usize) -> f32 {
    s.position(t, 0, j)[1]
}

#[test]
fn every_class_is_finite_and_complete() {
    for class in PROCEDURAL_CLASSES {
        for performer in 0..4 {
            let (_, s) = clip(class, performer, 7);
            assert_eq!(s.dims(), [90, 1, 25], "{class}");
            assert_eq!(s.layout().name, "ntu25");
            assert!(s.valid().iter().all(|&v| v), "{class}: missing joints");
            assert!(s.positions().iter().all(|x| x.is_finite()), "{class}");
        }
    }
}

#[test]
fn bone_lengths_stay_constant() {
    for class in PROCEDURAL_CLASSES {
        for performer in 0..12 {
            let (_, s) = clip(class, performer, performer * 7);
            for &(a, b) in &s.layout().bones {
                let len = |t: usize| {
                    let (p, q) = (s.position(t, 0, a), s.position(t, 0, b));
                    (0..3).map(|k| (p[k] - q[k]).powi(2)).sum::<f32>().sqrt()
                };
                let l0 = len(0);
                assert!(l0 > 0.01, "{class}: bone {a}-{b} has length {l0}");
                for t in 1..s.frames() {
                    let rel = (len(t) - l0).abs() / l0;
                    assert!(rel < 1e-3, "{class}: bone {a}-{b} frame {t}: {rel}");
                }
            }
        }
    }
}

#[test]
fn feet_stay_above_the_floor() {
    for class in PROCEDURAL_CLASSES {
        for performer in 0..12 {
            let (p, s) = clip(class, performer, performer + 1);
            for t in 0..s.frames() {
                for j in FEET {
                    let h = y(&s, t, j) - p.floor_y;
                    assert!(h > -0.02, "{class}: joint {j} at {h} m in frame {t}");
                }
            }
        }
    }
}

#[test]
fn upright_and_facing_the_camera_in_ntu_space() {
    let (p, s) = clip("clapping", 2, 0);
    // Head above the pelvis, feet near the floor, body in front of the camera.
    assert!(y(&s, 0, HEAD) - y(&s, 0, SPINE_BASE) > 0.25 * p.height);
    assert!(y(&s, 0, 15) - p.floor_y < 0.05);
    assert!(s.position(0, 0, SPINE_BASE)[2] > 2.0);
    // Kinect convention: facing the camera (toes towards −z), the body's right side is +x.
    assert!(
        s.position(0, 0, 8)[0] > s.position(0, 0, 4)[0],
        "right shoulder at +x"
    );
    assert!(
        s.position(0, 0, 15)[2] < s.position(0, 0, 14)[2],
        "toes towards the camera"
    );
}

#[test]
fn waving_raises_the_dominant_hand_above_the_head() {
    for performer in 0..6 {
        let (p, s) = clip("waving", performer, performer);
        let hand = HANDS[usize::from(!p.left_handed)];
        let above = (0..s.frames())
            .filter(|&t| y(&s, t, hand) > y(&s, t, HEAD))
            .count();
        assert!(above > s.frames() / 2, "performer {performer}: {above}");
    }
}

#[test]
fn squatting_lowers_the_pelvis() {
    for performer in 0..4 {
        let (p, s) = clip("squatting", performer, 9);
        let ys: Vec<f32> = (0..s.frames()).map(|t| y(&s, t, SPINE_BASE)).collect();
        let (lo, hi) = ys
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(hi - lo > 0.2 * p.height, "{} of {}", hi - lo, p.height);
    }
}

#[test]
fn sitting_down_ends_lower_and_standing_up_higher() {
    for performer in 0..4 {
        let (_, s) = clip("sitting down", performer, 2);
        let last = s.frames() - 1;
        assert!(y(&s, last, SPINE_BASE) < y(&s, 0, SPINE_BASE) - 0.2);
        let (_, s) = clip("standing up", performer, 2);
        assert!(y(&s, last, SPINE_BASE) > y(&s, 0, SPINE_BASE) + 0.2);
    }
}

/// Horizontal speed of the spine base over a clip, m/s.
fn ground_speed(s: &Skeleton, seconds: f32) -> f32 {
    let a = s.position(0, 0, SPINE_BASE);
    let b = s.position(s.frames() - 1, 0, SPINE_BASE);
    (a[0] - b[0]).hypot(a[2] - b[2]) / seconds
}

#[test]
fn walking_and_running_travel_at_human_speeds_and_a_run_outpaces_a_walk() {
    for performer in 0..12 {
        let (_, walk) = clip("walking", performer, 3);
        let (_, run) = clip("running", performer, 3);
        // `clip` holds 3 s at 30 fps: 90 frames, 89 intervals.
        let seconds = 89.0 / 30.0;
        let (w, r) = (ground_speed(&walk, seconds), ground_speed(&run, seconds));
        assert!(
            (0.7..2.0).contains(&w),
            "performer {performer}: walks at {w} m/s"
        );
        assert!(
            (1.9..4.6).contains(&r),
            "performer {performer}: runs at {r} m/s"
        );
        assert!(
            r > 1.8 * w,
            "performer {performer}: runs at {r} m/s, walks at {w} m/s"
        );
    }
}

/// `angle` brought into [−π, π).
fn wrapped(angle: f32) -> f32 {
    (angle + std::f32::consts::PI).rem_euclid(std::f32::consts::TAU) - std::f32::consts::PI
}

/// The direction (radians about the vertical) of the line from the left to the right hip.
fn hip_heading(s: &Skeleton, t: usize) -> f32 {
    let (l, r) = (s.position(t, 0, 12), s.position(t, 0, 16));
    (r[2] - l[2]).atan2(r[0] - l[0])
}

#[test]
fn some_walks_and_runs_turn_as_they_go_and_the_body_turns_with_its_path() {
    let (mut bent, mut straight) = (0, 0);
    for class in ["walking", "running"] {
        for performer in 0..16 {
            let (_, s) = clip(class, performer, 5);
            let last = s.frames() - 1;
            let turned = wrapped(hip_heading(&s, last) - hip_heading(&s, 0));
            // 3 s at 0.25–0.6 rad/s: 0.75–1.8 rad (the hips also sway with each step).
            if turned.abs() > 0.5 {
                bent += 1;
                // The path bends the same way: the late travel direction turned from the early.
                let d = |a: usize, b: usize| {
                    let (p, q) = (s.position(a, 0, 0), s.position(b, 0, 0));
                    (q[2] - p[2]).atan2(q[0] - p[0])
                };
                let path_turn = wrapped(d(last - 15, last) - d(0, 15));
                assert!(
                    path_turn * turned > 0.0 && (path_turn - turned).abs() < 0.6,
                    "{class} {performer}: the body turned {turned}, its path {path_turn}"
                );
            } else if turned.abs() < 0.25 {
                straight += 1;
            }
        }
    }
    assert!(
        bent >= 8 && straight >= 8,
        "{bent} bent, {straight} straight of 32"
    );
}

#[test]
fn every_joint_of_every_class_stays_in_the_cameras_view() {
    // The renderer's camera: at the origin, looking along +z, a 60° field of view.
    let tan = (30.0f32).to_radians().tan();
    for class in PROCEDURAL_CLASSES {
        for performer in 0..6 {
            let (_, s) = clip(class, performer, 11);
            for t in 0..s.frames() {
                for j in 0..s.joints() {
                    let [x, y, z] = s.position(t, 0, j);
                    assert!(
                        z > 0.5 && x.abs().max(y.abs()) < tan * z,
                        "{class}, performer {performer}: joint {j} of frame {t} at \
                         {:?} is out of view",
                        [x, y, z]
                    );
                }
            }
        }
    }
}

#[test]
fn seeds_decide_everything() {
    for class in PROCEDURAL_CLASSES {
        let (_, a) = clip(class, 4, 1);
        let (_, b) = clip(class, 4, 1);
        let (_, c) = clip(class, 5, 1);
        assert_eq!(a.positions(), b.positions(), "{class}");
        assert_ne!(a.positions(), c.positions(), "{class}");
    }
    assert_eq!(Performer::sample(8), Performer::sample(8));
    assert_ne!(Performer::sample(8), Performer::sample(9));
}

#[test]
fn unknown_classes_and_bad_lengths_are_errors() {
    let p = Performer::sample(0);
    let err = generate("moonwalk", &p, 2.0, 30.0, 0).unwrap_err();
    assert!(
        matches!(err, draction::Error::UnknownMotionClass { ref class, .. } if class == "moonwalk")
    );
    let msg = err.to_string();
    assert!(
        msg.contains("moonwalk") && msg.contains("jumping jacks"),
        "{msg}"
    );
    assert!(generate("walking", &p, 0.0, 30.0, 0).is_err());
    assert!(generate("walking", &p, 2.0, f32::NAN, 0).is_err());
}

#[test]
fn clips_render_through_draction() {
    let weights = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/draction_default.safetensors"
    ));
    let device = Device::default();
    let (renderer, _) = draction::checkpoint::load(&weights, &device).unwrap();
    let options = ClipOptions {
        frames: 4,
        indices: None,
        sampler: Sampler::Middle,
    };
    for class in ["walking", "waving", "sitting down"] {
        let (_, s) = clip(class, 1, 1);
        let c = Clip::prepare(&s, renderer.config().num_joints, &options).unwrap();
        let size = 64;
        let frames = renderer.render_with(&c, Camera::new(size), Rasterizer::Fast, &device);
        let v = host_values(frames);
        assert_eq!(v.len(), 4 * size * size * 3);
        assert!(v.iter().all(|x| x.is_finite()));
        for f in v.chunks(size * size * 3) {
            let lit = f.iter().filter(|&&x| x > 0.1).count();
            assert!(
                lit > 20,
                "{class}: a frame is nearly black ({lit} lit values)"
            );
        }
    }
}

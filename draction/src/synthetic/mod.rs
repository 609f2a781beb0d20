//! Synthetic skeletons for demos, benchmarks, tests and training data: a walking NTU-25
//! figure ([`walking_ntu`]) and procedural actions performed by sampled people ([`motions`]).

pub mod motions;

pub use motions::{BodyLengths, PROCEDURAL_CLASSES, Performer, generate};

use crate::layout::Layout;
use crate::skeleton::{Format, Skeleton, Source};

/// A standing NTU-25 pose (Kinect camera space: metres, y up, 3 m from the camera).
pub fn ntu_standing_pose() -> Vec<[f32; 3]> {
    vec![
        [0.0, 0.0, 3.0],
        [0.0, 0.25, 3.0],
        [0.0, 0.55, 3.0],
        [0.0, 0.7, 3.0],
        [0.2, 0.45, 3.0],
        [0.3, 0.2, 3.0],
        [0.35, -0.05, 3.0],
        [0.37, -0.12, 3.0],
        [-0.2, 0.45, 3.0],
        [-0.3, 0.2, 3.0],
        [-0.35, -0.05, 3.0],
        [-0.37, -0.12, 3.0],
        [0.1, -0.05, 3.0],
        [0.12, -0.45, 3.0],
        [0.13, -0.85, 3.0],
        [0.13, -0.9, 2.9],
        [-0.1, -0.05, 3.0],
        [-0.12, -0.45, 3.0],
        [-0.13, -0.85, 3.0],
        [-0.13, -0.9, 2.9],
        [0.0, 0.5, 3.0],
        [0.39, -0.18, 3.0],
        [0.33, -0.1, 2.95],
        [-0.39, -0.18, 3.0],
        [-0.33, -0.1, 2.95],
    ]
}

/// `frames` frames of `bodies` NTU-25 figures walking in place side by side (arms and legs
/// swinging), as an NTU clip at 30 fps.
pub fn walking_ntu(frames: usize, bodies: usize) -> Skeleton {
    let pose = ntu_standing_pose();
    let mut pos = Vec::with_capacity(frames * bodies * 25 * 3);
    for t in 0..frames {
        let ph = t as f32 * 0.3;
        for b in 0..bodies {
            for (j, p) in pose.iter().enumerate() {
                let swing = match j {
                    5..=7 | 17..=19 => 0.1 * ph.sin(),
                    9..=11 | 13..=15 => -0.1 * ph.sin(),
                    _ => 0.0,
                };
                let dx = 0.7 * b as f32 - 0.35 * (bodies as f32 - 1.0);
                pos.extend_from_slice(&[
                    p[0] + dx + 0.01 * t as f32,
                    p[1],
                    p[2] + swing + 0.3 * b as f32,
                ]);
            }
        }
    }
    let skel = Skeleton::from_dense(
        pos,
        frames,
        bodies,
        Layout::builtin("ntu25").expect("built-in"),
    )
    .expect("sizes agree by construction");
    skel.with_fps(Some(30.0)).with_source(Source {
        format: Some(Format::Ntu),
        ..Default::default()
    })
}

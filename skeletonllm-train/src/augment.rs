//! Many training clips from one motion: speed changes, time windows, left/right mirroring and
//! retargeting to other layouts. Used to build small labelled datasets from real mocap clips.

use draction::{Layout, Skeleton};

use crate::error::{Result, TrainError};

/// How to cut a motion into clips.
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    /// Frame rate every clip is resampled to.
    pub fps: f32,
    /// Clip length in seconds.
    pub window_seconds: f32,
    /// Distance between consecutive window starts, in seconds.
    pub stride_seconds: f32,
    /// Playback speeds (1 = as recorded; 2 = twice as fast).
    pub speeds: Vec<f32>,
    /// Also emit each clip mirrored left/right.
    pub mirror: bool,
    /// Treat the motion as a loop (windows may wrap around its end).
    pub looped: bool,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            fps: 20.0,
            window_seconds: 1.5,
            stride_seconds: 0.25,
            speeds: vec![0.8, 1.0, 1.25],
            mirror: true,
            looped: false,
        }
    }
}

/// A clip cut from a motion, with how it was made.
#[derive(Debug, Clone)]
pub struct AugmentedClip {
    /// The clip.
    pub skeleton: Skeleton,
    /// Playback speed.
    pub speed: f32,
    /// Start of the window in the resampled motion, in frames.
    pub start: usize,
    /// Whether it is mirrored.
    pub mirrored: bool,
}

fn err(e: draction::Error) -> TrainError {
    TrainError::skeleton("augmentation", e)
}

/// The skeleton mirrored left/right: x negated, left and right joints swapped.
///
/// # Errors
/// Never in practice (the shape is kept); [`TrainError::Skeleton`] if the skeleton is invalid.
pub fn mirror(skel: &Skeleton) -> Result<Skeleton> {
    let [t, p, j] = skel.dims();
    let mut swap: Vec<usize> = (0..j).collect();
    for (a, b) in skel.layout().mirror_pairs() {
        swap[a] = b;
        swap[b] = a;
    }
    let mut positions = vec![0.0f32; t * p * j * 3];
    let mut valid = vec![false; t * p * j];
    for b in 0..t * p {
        for (dst, &src) in swap.iter().enumerate() {
            let (s, d) = (b * j + src, b * j + dst);
            valid[d] = skel.valid()[s];
            let q = &skel.positions()[s * 3..s * 3 + 3];
            positions[d * 3..d * 3 + 3].copy_from_slice(&[-q[0], q[1], q[2]]);
        }
    }
    Ok(Skeleton::new(positions, valid, t, p, skel.layout().clone())
        .map_err(err)?
        .with_fps(skel.fps)
        .with_source(skel.source.clone()))
}

/// Cuts `skel` (whose frame rate must be known) into clips as `aug` says.
///
/// # Errors
/// [`TrainError::Sample`] when the frame rate is unknown, [`TrainError::Skeleton`] when
/// resampling fails.
pub fn clips(skel: &Skeleton, aug: &Augment) -> Result<Vec<AugmentedClip>> {
    let src_fps = skel
        .fps
        .ok_or_else(|| TrainError::Sample("the motion's frame rate is unknown".into()))?;
    let window = ((aug.window_seconds * aug.fps).round() as usize).max(1);
    let stride = ((aug.stride_seconds * aug.fps).round() as usize).max(1);
    let mut out = Vec::new();
    for &speed in &aug.speeds {
        // Playing `speed` times faster = the motion recorded at `src_fps * speed`.
        let retimed = skel.clone().with_fps(Some(src_fps * speed));
        let motion = draction::prep::resample(&retimed, aug.fps).map_err(err)?;
        let t = motion.frames();
        if t == 0 {
            continue;
        }
        let starts: Vec<usize> = if aug.looped {
            (0..t).step_by(stride).collect()
        } else if t <= window {
            vec![0]
        } else {
            (0..=t - window).step_by(stride).collect()
        };
        for start in starts {
            let indices: Vec<usize> = (0..window.min(if aug.looped { window } else { t }))
                .map(|k| (start + k) % t)
                .collect();
            let mut clip = motion
                .select_frames(&indices)
                .map_err(err)?
                .with_fps(Some(aug.fps));
            if aug.looped {
                clip = continue_loop(&clip, &motion, start)?;
            }
            if aug.mirror {
                out.push(AugmentedClip {
                    skeleton: mirror(&clip)?,
                    speed,
                    start,
                    mirrored: true,
                });
            }
            out.push(AugmentedClip {
                skeleton: clip,
                speed,
                start,
                mirrored: false,
            });
        }
    }
    Ok(out)
}

/// The mean horizontal position (x, z) of the first person's valid joints in frame `f`;
/// `None` when none is valid.
fn ground_point(skel: &Skeleton, f: usize) -> Option<[f32; 2]> {
    let (mut x, mut z, mut n) = (0.0f32, 0.0f32, 0.0f32);
    for j in 0..skel.joints() {
        if skel.is_valid(f, 0, j) {
            let p = skel.position(f, 0, j);
            x += p[0];
            z += p[2];
            n += 1.0;
        }
    }
    (n > 0.0).then(|| [x / n, z / n])
}

/// How far one pass of a looped motion carries the body over the ground: the change of its
/// [`ground_point`] from the first to the last frame, extended by one frame so the next pass
/// starts where this one would have gone.
fn loop_stride(motion: &Skeleton) -> [f32; 2] {
    let t = motion.frames();
    if t < 2 {
        return [0.0; 2];
    }
    match (ground_point(motion, 0), ground_point(motion, t - 1)) {
        (Some(a), Some(b)) => {
            let k = t as f32 / (t - 1) as f32;
            [(b[0] - a[0]) * k, (b[1] - a[1]) * k]
        }
        _ => [0.0; 2],
    }
}

/// A window of a looped motion cut at `start` with every wrap-around moved on by one
/// [`loop_stride`], so a walk keeps walking forward instead of jumping back to where its
/// recording began (the DeepMimic convention for cyclic clips).
fn continue_loop(clip: &Skeleton, motion: &Skeleton, start: usize) -> Result<Skeleton> {
    let [t, p, j] = clip.dims();
    let total = motion.frames().max(1);
    let [dx, dz] = loop_stride(motion);
    let mut positions = clip.positions().to_vec();
    for f in 0..t {
        let wraps = ((start + f) / total) as f32;
        if wraps == 0.0 {
            continue;
        }
        for k in 0..p * j {
            let i = (f * p * j + k) * 3;
            positions[i] += wraps * dx;
            positions[i + 2] += wraps * dz;
        }
    }
    Ok(Skeleton::new(
        positions,
        clip.valid().to_vec(),
        t,
        p,
        clip.layout().clone(),
    )
    .map_err(err)?
    .with_fps(clip.fps)
    .with_source(clip.source.clone()))
}

/// `skel` in `layout` (by name), through the canonical joint set.
///
/// # Errors
/// [`TrainError::Skeleton`] for an unknown layout name.
pub fn retarget(skel: &Skeleton, layout: &str) -> Result<Skeleton> {
    let target = Layout::builtin(layout).map_err(err)?;
    Ok(skel.retarget(&target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use draction::synthetic;

    #[test]
    fn mirroring_twice_is_the_identity_and_swaps_sides() {
        let skel = synthetic::walking_ntu(10, 1).with_fps(Some(30.0));
        let m = mirror(&skel).unwrap();
        let l = skel.layout().joint_index("left_shoulder").unwrap();
        let r = skel.layout().joint_index("right_shoulder").unwrap();
        let (a, b) = (skel.position(3, 0, l), m.position(3, 0, r));
        assert_eq!([-a[0], a[1], a[2]], b);
        assert_eq!(mirror(&m).unwrap().positions(), skel.positions());
    }

    #[test]
    fn windows_speeds_and_mirrors() {
        let skel = synthetic::walking_ntu(60, 1).with_fps(Some(30.0)); // 2 s
        let aug = Augment {
            fps: 10.0,
            window_seconds: 1.0,
            stride_seconds: 0.5,
            speeds: vec![1.0, 2.0],
            mirror: true,
            looped: false,
        };
        let out = clips(&skel, &aug).unwrap();
        // speed 1: 20 frames at 10 fps -> starts 0, 5, 10; speed 2: 10 frames -> start 0.
        assert_eq!(out.len(), 2 * (3 + 1));
        assert!(
            out.iter()
                .all(|c| c.skeleton.frames() == 10 || c.speed == 2.0)
        );
        assert_eq!(out.iter().filter(|c| c.mirrored).count(), 4);
    }

    fn ground(s: &Skeleton, f: usize) -> [f32; 2] {
        ground_point(s, f).expect("a valid joint")
    }

    #[test]
    fn a_looped_walk_keeps_going_forward_across_its_wrap_around() {
        // 1 s of walking at 10 fps, cut into 3 s windows: every window wraps at least twice.
        let skel = synthetic::walking_ntu(10, 1).with_fps(Some(10.0));
        let step = {
            let (a, b) = (ground(&skel, 0), ground(&skel, 9));
            [(b[0] - a[0]) / 9.0, (b[1] - a[1]) / 9.0]
        };
        assert!(step[0].hypot(step[1]) > 1e-3, "the walk must travel");
        let aug = Augment {
            fps: 10.0,
            window_seconds: 3.0,
            stride_seconds: 0.3,
            speeds: vec![1.0],
            mirror: false,
            looped: true,
        };
        let out = clips(&skel, &aug).unwrap();
        assert!(!out.is_empty());
        for c in &out {
            let s = &c.skeleton;
            assert_eq!(s.frames(), 30);
            for f in 1..s.frames() {
                let (a, b) = (ground(s, f - 1), ground(s, f));
                let d = [b[0] - a[0], b[1] - a[1]];
                // Every frame moves on by about one frame's travel, none jumps back.
                assert!(
                    d[0] * step[0] + d[1] * step[1] > 0.0,
                    "start {}: frame {f} moves {d:?} against the walk {step:?}",
                    c.start
                );
                let (len, want) = (d[0].hypot(d[1]), step[0].hypot(step[1]));
                assert!(
                    (len - want).abs() < 0.5 * want,
                    "start {}: frame {f} moves {len}, a frame's walk is {want}",
                    c.start
                );
            }
        }
    }
}

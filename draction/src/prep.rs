//! Preparing a skeleton for rendering: frame sampling, velocities, normalisation (centring,
//! scaling, view alignment) and resampling to a target frame rate.

use crate::error::{Error, Result};
use crate::layout::Canonical;
use crate::skeleton::Skeleton;

/// PyTorch's default CPU generator seed, which the authors' training and evaluation path
/// leaves in place (`seed = None`).
pub const AUTHORS_DEFAULT_SEED: u64 = 67_280_421_310_721;

/// How to pick `target` frames out of a clip of `T` raw frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampler {
    /// `target` equal segments; the middle frame of each (deterministic, no RNG).
    Middle,
    /// `target` equal segments; one frame drawn uniformly in each, from an MT19937 seeded with
    /// `seed` (the authors' algorithm with a seed of your choosing).
    Random {
        /// The seed (its low 32 bits initialise MT19937).
        seed: u64,
    },
    /// The authors' exact sampler as used in training and evaluation (seed left at PyTorch's
    /// default, [`AUTHORS_DEFAULT_SEED`]): reproduces their frame indices bit for bit.
    Official,
    /// The authors' visualiser (`--sample-seed 0`).
    OfficialVisualizer,
}

impl Sampler {
    /// Parses `middle`, `official`, `visualizer` or `random:<seed>`.
    pub fn from_name(name: &str) -> Option<Sampler> {
        match name {
            "middle" => Some(Sampler::Middle),
            "official" => Some(Sampler::Official),
            "visualizer" => Some(Sampler::OfficialVisualizer),
            _ => name
                .strip_prefix("random:")?
                .parse()
                .ok()
                .map(|seed| Sampler::Random { seed }),
        }
    }

    /// `target` frame indices in `[0, raw − 1]`, ascending.
    pub fn indices(self, raw: usize, target: usize) -> Vec<usize> {
        match self {
            Sampler::Middle => middle_indices(raw, target),
            Sampler::Random { seed } => authors_indices(raw, target, seed),
            Sampler::Official => authors_indices(raw, target, AUTHORS_DEFAULT_SEED),
            Sampler::OfficialVisualizer => authors_indices(raw, target, 0),
        }
    }
}

/// Segment boundaries as the authors compute them: a float32 `linspace(0, raw, target + 1)`
/// (PyTorch's two-sided formula).
fn boundaries(raw: usize, target: usize) -> Vec<f32> {
    let step = raw as f32 / target as f32;
    (0..=target)
        .map(|i| {
            if i < target.div_ceil(2) {
                step * i as f32
            } else {
                raw as f32 - step * (target - i) as f32
            }
        })
        .collect()
}

/// The `[start, end]` frame range of each segment, clamped to the clip.
fn segments(raw: usize, target: usize) -> Vec<(usize, usize)> {
    let b = boundaries(raw, target);
    (0..target)
        .map(|i| {
            let start = (b[i].floor() as usize).min(raw - 1);
            let end = ((b[i + 1].ceil() as usize).saturating_sub(1)).clamp(start, raw - 1);
            (start, end)
        })
        .collect()
}

fn middle_indices(raw: usize, target: usize) -> Vec<usize> {
    if raw == 0 || target == 0 {
        return vec![0; target];
    }
    if target == 1 {
        return vec![raw / 2];
    }
    if raw <= target {
        // Spread evenly with repeats.
        return (0..target).map(|i| i * raw / target).collect();
    }
    segments(raw, target)
        .into_iter()
        .map(|(s, e)| (s + e) / 2)
        .collect()
}

/// The authors' `_sample_indices_uniform(T, target, seed)`, bit-exact: a fresh MT19937 per
/// call, one 32-bit draw per integer, `lo + draw % (hi − lo + 1)`.
fn authors_indices(raw: usize, target: usize, seed: u64) -> Vec<usize> {
    if raw == 0 || target == 0 {
        return vec![0; target];
    }
    if target == 1 {
        return vec![(raw / 2).min(raw - 1)];
    }
    if raw == target {
        return (0..target).collect();
    }
    let mut rng = rand_mt::Mt::new((seed & 0xFFFF_FFFF) as u32);
    let mut draw =
        |lo: usize, hi: usize| lo + (rng.next_u32() as u64 % (hi - lo + 1) as u64) as usize;
    if raw < target {
        let mut v: Vec<usize> = (0..target).map(|_| draw(0, raw - 1)).collect();
        v.sort_unstable();
        return v;
    }
    segments(raw, target)
        .into_iter()
        .map(|(s, e)| draw(s, e))
        .collect()
}

/// Velocities at stride `k` on the raw sequence: `v[t] = x[min(t + k, T − 1)] − x[t]`, for
/// every body and joint, row-major `[T, P, J, 3]`. A velocity is zero where either end is
/// missing (missing joints never enter the maths as zeros).
pub fn velocities(skel: &Skeleton, stride: usize) -> Vec<f32> {
    let [t, p, j] = skel.dims();
    let mut out = vec![0.0f32; t * p * j * 3];
    for ti in 0..t {
        let tn = (ti + stride).min(t - 1);
        for pi in 0..p {
            for ji in 0..j {
                if skel.is_valid(ti, pi, ji) && skel.is_valid(tn, pi, ji) {
                    let (a, b) = (skel.position(ti, pi, ji), skel.position(tn, pi, ji));
                    let o = ((ti * p + pi) * j + ji) * 3;
                    for c in 0..3 {
                        out[o + c] = b[c] - a[c];
                    }
                }
            }
        }
    }
    out
}

/// The authors' NTU velocities: stride 4 on the parsed poses with absent bodies as zeros (so a
/// body that appears or disappears yields a jump), as their renderer computes them.
pub fn velocities_authors(skel: &Skeleton, stride: usize) -> Vec<f32> {
    let [t, p, j] = skel.dims();
    let per = p * j * 3;
    let x = skel.positions();
    let mut out = vec![0.0f32; t * per];
    for ti in 0..t {
        let tn = (ti + stride).min(t - 1);
        for i in 0..per {
            out[ti * per + i] = x[tn * per + i] - x[ti * per + i];
        }
    }
    out
}

/// Which coordinate axis points up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpAxis {
    /// +y up (NTU camera space is y up; BVH, DeepMimic and HumanML3D too).
    Y,
    /// +z up.
    Z,
}

/// Normalisation applied by [`normalize`].
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    /// Subtract the root (pelvis, else the mean of the valid joints) of the first frame where
    /// it is present, for all bodies.
    pub center: bool,
    /// Scale so that the median body height (vertical extent of the present joints) is this
    /// many units.
    pub height: Option<f32>,
    /// Rotate about the up axis so that the person of the first frame faces a camera at the
    /// origin looking down +z: the left→right hip (else shoulder) vector points along +x
    /// (right-handed data: right = forward × up).
    pub face_forward: bool,
    /// The up axis.
    pub up: UpAxis,
}

impl Default for Normalize {
    fn default() -> Self {
        Normalize {
            center: true,
            height: None,
            face_forward: false,
            up: UpAxis::Y,
        }
    }
}

/// Centres, scales and view-aligns a skeleton in place (missing joints stay missing).
pub fn normalize(skel: &mut Skeleton, opts: &Normalize) -> Result<()> {
    let layout = skel.layout().clone();
    let [t, p, _] = skel.dims();
    let first_valid = |c: Canonical| -> Option<[f32; 3]> {
        let ji = layout.canonical_index(c)?;
        (0..t)
            .flat_map(|ti| (0..p).map(move |pi| (ti, pi)))
            .find_map(|(ti, pi)| skel.is_valid(ti, pi, ji).then(|| skel.position(ti, pi, ji)))
    };
    let mean_valid = || -> Option<[f32; 3]> {
        let (mut s, mut n) = ([0.0f64; 3], 0usize);
        for (i, &v) in skel.valid().iter().enumerate() {
            if v {
                for (acc, &x) in s.iter_mut().zip(&skel.positions()[i * 3..i * 3 + 3]) {
                    *acc += x as f64;
                }
                n += 1;
            }
        }
        (n > 0).then(|| s.map(|x| (x / n as f64) as f32))
    };
    let origin = if opts.center {
        first_valid(Canonical::Pelvis).or_else(mean_valid)
    } else {
        None
    };
    // Facing: the vector from the left to the right hip (or shoulder), projected on the floor.
    let yaw = if opts.face_forward {
        let pair = |l, r| Some((first_valid(l)?, first_valid(r)?));
        pair(Canonical::LHip, Canonical::RHip)
            .or_else(|| pair(Canonical::LShoulder, Canonical::RShoulder))
            .map(|(l, r)| {
                let (a, b) = match opts.up {
                    UpAxis::Y => (r[0] - l[0], r[2] - l[2]),
                    UpAxis::Z => (r[0] - l[0], r[1] - l[1]),
                };
                b.atan2(a)
            })
    } else {
        None
    };
    let scale = match opts.height {
        Some(h) => {
            let heights = body_heights(skel, opts.up);
            if heights.is_empty() {
                return Err(Error::Invalid(
                    "cannot scale: no frame has both a head/neck and ankles".into(),
                ));
            }
            let median = lower_median(heights);
            if median <= 1e-9 {
                return Err(Error::Invalid(
                    "cannot scale: the body has zero height".into(),
                ));
            }
            h / median
        }
        None => 1.0,
    };
    let (pos, valid) = skel.parts_mut();
    let (sin, cos) = yaw.map(|a| a.sin_cos()).unwrap_or((0.0, 1.0));
    for (i, &v) in valid.iter().enumerate() {
        if !v {
            continue;
        }
        let q = &mut pos[i * 3..i * 3 + 3];
        if let Some(o) = origin {
            for c in 0..3 {
                q[c] -= o[c];
            }
        }
        if yaw.is_some() {
            // Rotate by −yaw about the up axis.
            let (ia, ib) = match opts.up {
                UpAxis::Y => (0, 2),
                UpAxis::Z => (0, 1),
            };
            let (a, b) = (q[ia], q[ib]);
            q[ia] = cos * a + sin * b;
            q[ib] = -sin * a + cos * b;
        }
        for c in q.iter_mut() {
            *c *= scale;
        }
    }
    Ok(())
}

/// Vertical extents (highest minus lowest present joint along the up axis) of every
/// body-frame with at least two present joints: the body height for a standing person, and
/// defined for any layout and any set of missing joints.
fn body_heights(skel: &Skeleton, up: UpAxis) -> Vec<f32> {
    let axis = match up {
        UpAxis::Y => 1,
        UpAxis::Z => 2,
    };
    let [t, p, j] = skel.dims();
    let mut out = Vec::new();
    for ti in 0..t {
        for pi in 0..p {
            let ys: Vec<f32> = (0..j)
                .filter(|&ji| skel.is_valid(ti, pi, ji))
                .map(|ji| skel.position(ti, pi, ji)[axis])
                .collect();
            if ys.len() >= 2 {
                let (lo, hi) = ys
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &y| {
                        (l.min(y), h.max(y))
                    });
                out.push(hi - lo);
            }
        }
    }
    out
}

/// The lower median (PyTorch's `median`): the `(n − 1) / 2`-th smallest value.
///
/// # Panics
/// If `v` is empty.
pub fn lower_median(mut v: Vec<f32>) -> f32 {
    assert!(!v.is_empty(), "median of nothing");
    let k = (v.len() - 1) / 2;
    let (_, m, _) = v.select_nth_unstable_by(k, f32::total_cmp);
    *m
}

/// Resamples to `fps` frames per second by linear interpolation between neighbouring frames
/// (a joint is present at a new frame iff it is present at both neighbours). The skeleton
/// must know its frame rate.
pub fn resample(skel: &Skeleton, fps: f32) -> Result<Skeleton> {
    let src_fps = skel
        .fps
        .ok_or_else(|| Error::Invalid("the skeleton's frame rate is unknown".into()))?;
    let usable = |f: f32| f > 0.0 && f.is_finite();
    if !usable(fps) || !usable(src_fps) {
        return Err(Error::Invalid(format!(
            "cannot resample from {src_fps} to {fps} fps"
        )));
    }
    let [t, p, j] = skel.dims();
    if t == 0 {
        return Ok(skel.clone().with_fps(Some(fps)));
    }
    let duration = (t - 1) as f64 / src_fps as f64;
    let n = (duration * fps as f64).floor() + 1.0;
    // Bound the output: at most 1000× the input's frames (and never past a usize).
    let limit = (t as f64 * 1000.0).max(1000.0);
    if n.is_nan() || n > limit {
        return Err(Error::Invalid(format!(
            "resampling {t} frames from {src_fps} to {fps} fps would give {n} frames (more than {limit})"
        )));
    }
    let n = n as usize;
    let per = p * j;
    let mut pos = vec![0.0f32; n * per * 3];
    let mut valid = vec![false; n * per];
    for k in 0..n {
        let s = (k as f64 * src_fps as f64 / fps as f64).min((t - 1) as f64);
        let i0 = s.floor() as usize;
        let i1 = (i0 + 1).min(t - 1);
        let w = (s - i0 as f64) as f32;
        for b in 0..per {
            let (a, c) = (i0 * per + b, i1 * per + b);
            let ok = skel.valid()[a] && (w == 0.0 || skel.valid()[c]);
            if ok {
                valid[k * per + b] = true;
                for d in 0..3 {
                    let x0 = skel.positions()[a * 3 + d];
                    let x1 = skel.positions()[c * 3 + d];
                    pos[(k * per + b) * 3 + d] = x0 + w * (x1 - x0);
                }
            }
        }
    }
    let mut out = Skeleton::new(pos, valid, n, p, skel.layout().clone())?;
    out.fps = Some(fps);
    out.source = skel.source.clone();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;

    #[test]
    fn authors_sampler_matches_their_indices() {
        // Rows of the authors' table (seed None = model path; seed 0 = visualiser).
        let none: [(usize, [usize; 12]); 4] = [
            (2, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]),
            (3, [0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]),
            (6, [0, 1, 1, 2, 2, 2, 2, 3, 4, 5, 5, 5]),
            (7, [0, 0, 0, 1, 2, 3, 4, 5, 5, 5, 5, 6]),
        ];
        for (t, want) in none {
            assert_eq!(Sampler::Official.indices(t, 12), want, "T={t}");
        }
        assert_eq!(
            Sampler::OfficialVisualizer.indices(7, 12),
            [0, 0, 1, 2, 2, 2, 3, 3, 4, 4, 5, 6]
        );
        assert_eq!(
            Sampler::Official.indices(12, 12),
            (0..12).collect::<Vec<_>>()
        );
        assert_eq!(Sampler::Official.indices(0, 12), vec![0; 12]);
        assert_eq!(Sampler::Official.indices(9, 1), vec![4]);
    }

    #[test]
    fn samplers_stay_in_their_segments() {
        for raw in [13, 50, 103, 300, 4000] {
            let segs = segments(raw, 12);
            assert_eq!(segs[0].0, 0);
            assert_eq!(segs[11].1, raw - 1);
            for s in [
                Sampler::Middle,
                Sampler::Official,
                Sampler::Random { seed: 9 },
            ] {
                let idx = s.indices(raw, 12);
                assert_eq!(idx.len(), 12);
                for (i, &x) in idx.iter().enumerate() {
                    assert!(
                        segs[i].0 <= x && x <= segs[i].1,
                        "{s:?} T={raw} seg {i}: {x}"
                    );
                }
                assert!(idx.windows(2).all(|w| w[0] <= w[1]));
            }
        }
        assert_eq!(
            Sampler::Random { seed: 5 }.indices(300, 12),
            Sampler::Random { seed: 5 }.indices(300, 12)
        );
        assert_ne!(
            Sampler::Random { seed: 5 }.indices(300, 12),
            Sampler::Random { seed: 6 }.indices(300, 12)
        );
        assert_eq!(
            Sampler::from_name("random:42"),
            Some(Sampler::Random { seed: 42 })
        );
        assert_eq!(Sampler::from_name("bogus"), None);
    }

    /// Checks every row of the authors' table in `../shared` (not part of the project).
    /// Run: `cargo test -p draction -- --ignored authors_table`.
    #[test]
    #[ignore = "needs ../shared/reference/frame_indices_table.json; run: cargo test -p draction -- --ignored authors_table"]
    fn authors_table() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/reference/frame_indices_table.json"
        );
        let text = std::fs::read_to_string(path).expect("the authors' table beside the checkout");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut checked = 0;
        for (key, sampler) in [
            ("seed_None", Sampler::Official),
            ("seed_0", Sampler::OfficialVisualizer),
        ] {
            for (t, want) in v[key].as_object().unwrap() {
                let t: usize = t.parse().unwrap();
                let want: Vec<usize> = serde_json::from_value(want.clone()).unwrap();
                assert_eq!(sampler.indices(t, 12), want, "{key} T={t}");
                checked += 1;
            }
        }
        assert_eq!(checked, 800);
    }

    fn line_skeleton(frames: usize) -> Skeleton {
        // coco17, every joint of frame t at (t, 2t, 0); joint 3 missing in frame 1.
        let l = Layout::builtin("coco17").unwrap();
        let mut pos = Vec::new();
        let mut valid = Vec::new();
        for t in 0..frames {
            for j in 0..17 {
                pos.extend_from_slice(&[t as f32, 2.0 * t as f32, 0.0]);
                valid.push(!(t == 1 && j == 3));
            }
        }
        Skeleton::new(pos, valid, frames, 1, l)
            .unwrap()
            .with_fps(Some(10.0))
    }

    #[test]
    fn velocities_use_the_raw_sequence_and_respect_missing() {
        let s = line_skeleton(6);
        let v = velocities(&s, 4);
        assert_eq!(&v[0..3], &[4.0, 8.0, 0.0]); // t=0 → t=4
        let o = (3 * 17) * 3;
        assert_eq!(&v[o..o + 3], &[2.0, 4.0, 0.0]); // t=3 → clamped t=5
        let m = (17 + 3) * 3; // frame 1, joint 3: missing
        assert_eq!(&v[m..m + 3], &[0.0; 3]);
        assert_eq!(&v[(5 * 17) * 3..(5 * 17) * 3 + 3], &[0.0; 3]);
    }

    #[test]
    fn resample_halves_the_rate() {
        let s = line_skeleton(5); // 10 fps, 0.4 s
        let r = resample(&s, 5.0).unwrap();
        assert_eq!(r.frames(), 3);
        assert_eq!(r.position(1, 0, 0), [2.0, 4.0, 0.0]);
        let up = resample(&s, 20.0).unwrap();
        assert_eq!(up.frames(), 9);
        assert_eq!(up.position(1, 0, 0), [0.5, 1.0, 0.0]);
        assert!(!up.is_valid(1, 0, 3)); // between t=0 and the missing t=1
        assert!(resample(&s.clone().with_fps(None), 5.0).is_err());
        // A tiny source rate would ask for an absurd number of frames: an error, not an allocation.
        assert!(resample(&s.clone().with_fps(Some(1e-30)), 30.0).is_err());
    }

    #[test]
    fn normalize_centres_scales_and_faces_forward() {
        // One NTU body: pelvis at (1, 1, 3), hips along z (turned 90°), head 1 m above ankles.
        let l = Layout::builtin("ntu25").unwrap();
        let mut pos = vec![0.0f32; 25 * 3];
        let set =
            |pos: &mut Vec<f32>, j: usize, p: [f32; 3]| pos[j * 3..j * 3 + 3].copy_from_slice(&p);
        for j in 0..25 {
            set(&mut pos, j, [1.0, 1.0, 3.0]);
        }
        set(&mut pos, 12, [1.0, 1.0, 3.2]); // left hip
        set(&mut pos, 16, [1.0, 1.0, 2.8]); // right hip
        set(&mut pos, 3, [1.0, 1.8, 3.0]); // head
        set(&mut pos, 14, [1.0, 0.8, 3.1]); // left ankle
        set(&mut pos, 18, [1.0, 0.8, 2.9]); // right ankle
        let mut s = Skeleton::from_dense(pos, 1, 1, l).unwrap();
        normalize(
            &mut s,
            &Normalize {
                center: true,
                height: Some(2.0),
                face_forward: true,
                up: UpAxis::Y,
            },
        )
        .unwrap();
        let close = |a: [f32; 3], b: [f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(s.position(0, 0, 0), [0.0; 3]));
        // Facing the camera: right hip at +x, left hip at −x.
        assert!(
            close(s.position(0, 0, 12), [-0.4, 0.0, 0.0]),
            "{:?}",
            s.position(0, 0, 12)
        );
        assert!(
            close(s.position(0, 0, 16), [0.4, 0.0, 0.0]),
            "{:?}",
            s.position(0, 0, 16)
        );
        assert!(close(s.position(0, 0, 3), [0.0, 1.6, 0.0]));
        assert_eq!(lower_median(vec![4.0, 1.0, 3.0, 2.0]), 2.0);
    }
}

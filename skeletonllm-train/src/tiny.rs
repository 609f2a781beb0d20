//! The data of the bundled `skeletonllm-tiny`: labelled, captioned clips from real motion
//! capture ([`RECORDINGS`]: DeepMimic, holosoma climbs, pybullet walker, CMU, mocapbank, a
//! pirouette, LaFAN1) and from the procedural generator ([`draction::synthetic::motions`]).
//! Training clips are varied by speed, time window, mirroring, viewpoint, body size, layout
//! (own, NTU-25, SMPL-22, COCO-17) and sensor noise. Whole collections of real recordings are
//! held out for evaluation, and unseen performers of every procedural class.

use std::path::Path;
use std::sync::Arc;

use draction::Skeleton;

use crate::augment::{self, Augment};
use crate::data::rng::SplitMix64;
use crate::error::{Result, TrainError};
use Split::{HeldOut, Train};
use draction::synthetic::motions::{self, Performer};

/// A labelled clip and where it came from.
#[derive(Debug, Clone)]
pub struct MotionClip {
    /// The clip.
    pub skeleton: Arc<Skeleton>,
    /// Its action label (one of [`LABELS`]).
    pub label: &'static str,
    /// The source clip (file name and span, or `procedural/<class>/<performer seed>`).
    pub source: String,
    /// The collection the recording belongs to (`deepmimic`, `cmu`, `lafan1`, `procedural`, …):
    /// the unit that is held out whole.
    pub collection: &'static str,
    /// Whether the source clip is held out for evaluation.
    pub held_out: bool,
}

/// How a recording is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Trained on.
    Train,
    /// Held out for evaluation (its whole collection is never trained on, unless the
    /// collection is the only source of its label, as the holosoma climbs are).
    HeldOut,
}

/// One labelled span of a real recording.
#[derive(Debug, Clone, Copy)]
pub struct Recording {
    /// File, relative to the data folder.
    pub file: &'static str,
    /// Action label of the span.
    pub label: &'static str,
    /// Collection the file belongs to.
    pub collection: &'static str,
    /// The labelled span in seconds (`None`: the whole file).
    pub span: Option<(f32, f32)>,
    /// Whether the motion loops (windows may wrap around its end).
    pub looped: bool,
    /// Trained on or held out.
    pub split: Split,
}

const fn rec(
    file: &'static str,
    label: &'static str,
    collection: &'static str,
    span: Option<(f32, f32)>,
    split: Split,
) -> Recording {
    Recording {
        file,
        label,
        collection,
        span,
        looped: false,
        split,
    }
}

const fn looped(file: &'static str, label: &'static str, split: Split) -> Recording {
    Recording {
        file,
        label,
        collection: "deepmimic",
        span: None,
        looped: true,
        split,
    }
}

/// Every real recording, labelled (spans chosen by looking at the rendered motion and the root
/// trajectory). Training: the DeepMimic clips and four holosoma climbs. Held out whole: the
/// pybullet walker takes, CMU (forward jumps; the climbs of the playground take), the boxing
/// take, mocapbank (sitting down on and getting up from a seat), the pirouette and the walks of
/// a LaFAN1 take (evaluation only, by its licence); also the fifth holosoma climb, reported
/// apart as it shares its source with training clips.
pub const RECORDINGS: &[Recording] = &[
    looped("deepmimic/humanoid3d_walk.txt", "walking", Train),
    looped("deepmimic/humanoid3d_run.txt", "running", Train),
    rec(
        "deepmimic/humanoid3d_jump.txt",
        "jumping",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_punch.txt",
        "punching",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_kick.txt",
        "kicking",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_spinkick.txt",
        "kicking",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_cartwheel.txt",
        "doing a cartwheel",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_backflip.txt",
        "doing a backflip",
        "deepmimic",
        None,
        Train,
    ),
    looped("deepmimic/humanoid3d_crawl.txt", "crawling", Train),
    rec(
        "deepmimic/humanoid3d_roll.txt",
        "rolling on the floor",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_getup_faceup.txt",
        "getting up from the floor",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_getup_facedown.txt",
        "getting up from the floor",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_dance_a.txt",
        "dancing",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_dance_b.txt",
        "dancing",
        "deepmimic",
        None,
        Train,
    ),
    rec(
        "deepmimic/humanoid3d_spin.txt",
        "dancing",
        "deepmimic",
        None,
        Train,
    ),
    rec("holosoma/climb_0.npy", "climbing", "holosoma", None, Train),
    rec("holosoma/climb_1.npy", "climbing", "holosoma", None, Train),
    rec("holosoma/climb_2.npy", "climbing", "holosoma", None, Train),
    rec("holosoma/climb_3.npy", "climbing", "holosoma", None, Train),
    rec(
        "holosoma/climb_4.npy",
        "climbing",
        "holosoma",
        None,
        HeldOut,
    ),
    rec(
        "walker/0walk_forward.txt",
        "walking",
        "pybullet-walker",
        None,
        HeldOut,
    ),
    rec(
        "walker/turn_left0.txt",
        "walking",
        "pybullet-walker",
        None,
        HeldOut,
    ),
    rec(
        "walker/turn_left1.txt",
        "walking",
        "pybullet-walker",
        None,
        HeldOut,
    ),
    rec(
        "walker/turn_right0.txt",
        "walking",
        "pybullet-walker",
        None,
        HeldOut,
    ),
    rec(
        "walker/turn_right1.txt",
        "walking",
        "pybullet-walker",
        None,
        HeldOut,
    ),
    rec("bvh/01_01.bvh", "jumping", "cmu", None, HeldOut),
    rec(
        "bvh/01_03.bvh",
        "climbing",
        "cmu",
        Some((2.0, 10.0)),
        HeldOut,
    ),
    rec(
        "bvh/01_03.bvh",
        "climbing",
        "cmu",
        Some((19.0, 27.0)),
        HeldOut,
    ),
    rec(
        "bvh/Boxing_Toes.bvh",
        "punching",
        "boxing",
        Some((1.5, 20.0)),
        HeldOut,
    ),
    rec(
        "bvh-extra/mocapbank.bvh",
        "sitting down",
        "mocapbank",
        Some((2.0, 6.5)),
        HeldOut,
    ),
    rec(
        "bvh-extra/mocapbank.bvh",
        "standing up",
        "mocapbank",
        Some((9.5, 13.5)),
        HeldOut,
    ),
    rec(
        "bvh-extra/pirouette.bvh",
        "dancing",
        "pirouette",
        None,
        HeldOut,
    ),
    rec(
        "eval-only/lafan1.bvh",
        "walking",
        "lafan1",
        Some((52.0, 70.0)),
        HeldOut,
    ),
    rec(
        "eval-only/lafan1.bvh",
        "walking",
        "lafan1",
        Some((82.0, 92.0)),
        HeldOut,
    ),
];

/// The frame rate of the holosoma climbs (their files do not say; 120 fps gives walking speeds
/// of 0.5 m/s between the boxes).
pub const HOLOSOMA_FPS: f32 = 120.0;

/// Every label of the bundled model.
pub const LABELS: [&str; 19] = [
    "walking",
    "running",
    "jumping",
    "waving",
    "clapping",
    "squatting",
    "bowing",
    "sitting down",
    "standing up",
    "jumping jacks",
    "punching",
    "kicking",
    "doing a cartwheel",
    "doing a backflip",
    "crawling",
    "rolling on the floor",
    "getting up from the floor",
    "dancing",
    "climbing",
];

/// Template captions of a label (the caption targets and references).
pub fn captions(label: &str) -> &'static [&'static str] {
    match label {
        "walking" => &[
            "A person walks forward at a steady pace, swinging the arms.",
            "Someone is walking, taking step after step.",
        ],
        "running" => &[
            "A person runs forward with quick strides and bent arms.",
            "Someone is running, both feet leaving the ground between steps.",
        ],
        "jumping" => &[
            "A person crouches and jumps up, then lands on both feet.",
            "Someone bends the knees and leaps into the air.",
        ],
        "waving" => &[
            "A person raises one hand and waves it from side to side.",
            "Someone is waving a hand above the shoulder to greet.",
        ],
        "clapping" => &[
            "A person claps, bringing both hands together in front of the chest.",
            "Someone is clapping the hands repeatedly.",
        ],
        "squatting" => &[
            "A person squats down by bending the knees and stands back up.",
            "Someone lowers the hips into a squat and rises again.",
        ],
        "bowing" => &[
            "A person bows, bending the upper body forward and back up.",
            "Someone leans the torso forward in a bow.",
        ],
        "sitting down" => &[
            "A person lowers the body and sits down.",
            "Someone bends the knees and hips to sit down on a seat.",
        ],
        "standing up" => &[
            "A person rises from a seated position and stands up.",
            "Someone gets up from sitting to standing.",
        ],
        "jumping jacks" => &[
            "A person does jumping jacks, spreading arms and legs in time.",
            "Someone jumps while raising the arms overhead and opening the legs.",
        ],
        "punching" => &[
            "A person throws punches, extending the arms forward.",
            "Someone is punching straight ahead with the fists.",
        ],
        "kicking" => &[
            "A person kicks, swinging one leg forward and up.",
            "Someone lifts a leg and kicks out.",
        ],
        "doing a cartwheel" => &[
            "A person does a cartwheel, turning sideways over the hands.",
            "Someone puts the hands on the floor and swings the legs over in a cartwheel.",
        ],
        "doing a backflip" => &[
            "A person jumps and flips backwards in the air.",
            "Someone performs a backflip and lands on the feet.",
        ],
        "crawling" => &[
            "A person crawls forward on hands and knees.",
            "Someone moves along the floor on all fours.",
        ],
        "rolling on the floor" => &[
            "A person rolls over on the floor.",
            "Someone tucks in and rolls along the ground.",
        ],
        "getting up from the floor" => &[
            "A person lying on the floor gets up to standing.",
            "Someone pushes up from the ground and stands.",
        ],
        "dancing" => &[
            "A person dances, moving the arms and legs to a rhythm.",
            "Someone is dancing with lively steps and arm movements.",
        ],
        "climbing" => &[
            "A person climbs up onto a box, pulling up with the arms and stepping up.",
            "Someone steps and climbs onto a raised platform.",
        ],
        _ => &[],
    }
}

/// Labels a clip of `label` is easily mistaken for (the hard negatives of `verify`).
pub fn confusable(label: &str) -> &'static [&'static str] {
    match label {
        "walking" => &["running", "dancing", "crawling"],
        "running" => &["walking", "jumping", "dancing"],
        "jumping" => &["jumping jacks", "running", "doing a backflip"],
        "waving" => &["clapping", "punching", "dancing"],
        "clapping" => &["waving", "punching"],
        "squatting" => &["sitting down", "standing up", "bowing"],
        "bowing" => &["squatting", "sitting down"],
        "sitting down" => &["standing up", "squatting"],
        "standing up" => &["sitting down", "getting up from the floor"],
        "jumping jacks" => &["jumping", "waving", "dancing"],
        "punching" => &["kicking", "waving", "dancing"],
        "kicking" => &["punching", "dancing", "jumping"],
        "doing a cartwheel" => &["doing a backflip", "rolling on the floor"],
        "doing a backflip" => &["doing a cartwheel", "jumping"],
        "crawling" => &[
            "rolling on the floor",
            "climbing",
            "getting up from the floor",
        ],
        "rolling on the floor" => &["crawling", "doing a cartwheel"],
        "getting up from the floor" => &["standing up", "crawling", "sitting down"],
        "dancing" => &["walking", "kicking", "jumping jacks"],
        "climbing" => &["crawling", "walking", "getting up from the floor"],
        _ => &[],
    }
}

/// Actions outside [`LABELS`] that `verify` must also answer NO to.
pub const UNRELATED: [&str; 8] = [
    "sleeping",
    "eating",
    "reading a book",
    "typing on a keyboard",
    "drinking water",
    "brushing teeth",
    "swimming",
    "riding a bicycle",
];

/// How many clips to make.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Clip length in seconds.
    pub seconds: f32,
    /// Frame rate of the clips.
    pub fps: f32,
    /// Training performers per procedural class.
    pub train_performers: usize,
    /// Held-out performers per procedural class.
    pub held_out_performers: usize,
    /// At most this many training clips per real recording.
    pub clips_per_recording: usize,
    /// At most this many held-out clips per labelled span of a held-out recording.
    pub held_out_clips_per_recording: usize,
}

impl Default for DatasetConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            seconds: 2.5,
            fps: 15.0,
            train_performers: 60,
            held_out_performers: 4,
            clips_per_recording: 40,
            held_out_clips_per_recording: 8,
        }
    }
}

fn skel_err(source: &str, e: draction::Error) -> TrainError {
    TrainError::skeleton(source, e)
}

/// A skeleton error from the augmentation helpers, renamed after the recording `source`.
fn renamed(source: &str, e: TrainError) -> TrainError {
    match e {
        TrainError::Skeleton { source: cause, .. } => skel_err(source, cause),
        e => e,
    }
}

/// The mean position of a skeleton's valid joints.
fn centre(skel: &Skeleton) -> [f32; 3] {
    let mut c = [0.0f64; 3];
    let mut n = 0usize;
    for (p, _) in skel
        .positions()
        .chunks_exact(3)
        .zip(skel.valid())
        .filter(|(_, v)| **v)
    {
        for k in 0..3 {
            c[k] += p[k] as f64;
        }
        n += 1;
    }
    c.map(|x| (x / n.max(1) as f64) as f32)
}

/// Rotates a skeleton about the vertical (y) axis through its mean position, by `degrees`.
pub fn rotate_yaw(skel: &Skeleton, degrees: f32) -> Skeleton {
    let centre = centre(skel);
    let (s, c) = degrees.to_radians().sin_cos();
    let mut out = skel.clone();
    out.map_positions(|[x, y, z]| {
        let (dx, dz) = (x - centre[0], z - centre[2]);
        [centre[0] + c * dx + s * dz, y, centre[2] - s * dx + c * dz]
    });
    out
}

/// Tilts a skeleton about the horizontal x axis through its mean position (a camera looking
/// down or up at the person), by `degrees`.
pub fn tilt(skel: &Skeleton, degrees: f32) -> Skeleton {
    let centre = centre(skel);
    let (s, c) = degrees.to_radians().sin_cos();
    let mut out = skel.clone();
    out.map_positions(|[x, y, z]| {
        let (dy, dz) = (y - centre[1], z - centre[2]);
        [x, centre[1] + c * dy - s * dz, centre[2] + s * dy + c * dz]
    });
    out
}

/// Sensor-like corruption of a clip: every coordinate moved by Gaussian noise of `sigma`
/// metres, and the `dropped` joints marked missing in every frame.
pub fn corrupt(
    skel: &Skeleton,
    sigma: f32,
    dropped: &[usize],
    rng: &mut SplitMix64,
) -> Result<Skeleton> {
    let [t, p, j] = skel.dims();
    let mut positions = skel.positions().to_vec();
    let mut valid = skel.valid().to_vec();
    if sigma > 0.0 {
        for v in positions.iter_mut() {
            *v += sigma * gaussian(rng);
        }
    }
    for (i, v) in valid.iter_mut().enumerate() {
        if dropped.contains(&(i % j)) {
            *v = false;
        }
    }
    let out = Skeleton::new(positions, valid, t, p, skel.layout().clone())
        .map_err(|e| skel_err("corruption", e))?;
    Ok(out.with_fps(skel.fps).with_source(skel.source.clone()))
}

/// A standard normal sample (Box–Muller).
fn gaussian(rng: &mut SplitMix64) -> f32 {
    let u1 = unit(rng).max(1e-7);
    let u2 = unit(rng);
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// A uniform sample in [0, 1).
pub fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform sample in [lo, hi).
fn between(rng: &mut SplitMix64, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * unit(rng) as f32
}

/// Scales a skeleton about its mean position (body size).
fn scale(skel: &Skeleton, factor: f32) -> Skeleton {
    let c = centre(skel);
    let mut out = skel.clone();
    out.map_positions(|p| [0, 1, 2].map(|k| c[k] + factor * (p[k] - c[k])));
    out
}

/// A varied training copy of `skel`: a viewpoint (yaw ±45°, any yaw for recordings that are
/// not turned to face the camera, a camera tilt of ±12°), a body size of ±15 %, one of the
/// recording's own layout, NTU-25, SMPL-22 and COCO-17, half the time sensor noise (joint
/// jitter of 1–3 cm and up to three joints missing), then moved back into the camera's view.
fn vary(skel: &Skeleton, rng: &mut SplitMix64, source: &str, any_yaw: bool) -> Result<Skeleton> {
    let yaw = if any_yaw {
        between(rng, -180.0, 180.0)
    } else {
        between(rng, -45.0, 45.0)
    };
    let mut out = rotate_yaw(skel, yaw);
    out = tilt(&out, between(rng, -12.0, 12.0));
    out = scale(&out, between(rng, 0.85, 1.15));
    out = match rng.next_u64() % 4 {
        0 => out,
        1 => augment::retarget(&out, "ntu25").map_err(|e| renamed(source, e))?,
        2 => augment::retarget(&out, "smpl22").map_err(|e| renamed(source, e))?,
        _ => augment::retarget(&out, "coco17").map_err(|e| renamed(source, e))?,
    };
    if rng.next_u64().is_multiple_of(2) {
        let j = out.joints();
        let n = rng.below(4);
        let dropped: Vec<usize> = (0..n).map(|_| 1 + rng.below(j.max(2) - 1)).collect();
        let sigma = between(rng, 0.01, 0.03);
        out = corrupt(&out, sigma, &dropped, rng).map_err(|e| renamed(source, e))?;
    }
    // Turned about its centre, a long walk may come too close to the camera's edge for the
    // renderer's exact NTU path, which positions nothing.
    motions::keep_in_view(&mut out);
    Ok(out)
}

/// Picks `n` items spread evenly over `items`.
fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|k| items[k * items.len() / n].clone()).collect()
}

/// Reads one recording and cuts its labelled span: holosoma's z-up arrays are turned y up and
/// given their frame rate.
pub fn read_recording(data_dir: &Path, r: &Recording) -> Result<Skeleton> {
    let path = data_dir.join(r.file);
    let mut motion = draction::io::read(&path, None).map_err(|e| skel_err(r.file, e))?;
    if r.collection == "holosoma" {
        motion.map_positions(|[x, y, z]| [x, z, -y]);
        motion = motion.with_fps(Some(HOLOSOMA_FPS));
    }
    let Some((a, b)) = r.span else {
        return Ok(motion);
    };
    let fps = motion
        .fps
        .ok_or_else(|| TrainError::Sample(format!("{}: the frame rate is unknown", r.file)))?;
    let t = motion.frames();
    let first = ((a * fps).round() as usize).min(t);
    let last = ((b * fps).round() as usize).min(t);
    if last <= first {
        return Err(TrainError::Sample(format!(
            "{}: the span {a}–{b} s holds no frames ({t} frames at {fps} fps)",
            r.file
        )));
    }
    let indices: Vec<usize> = (first..last).collect();
    motion
        .select_frames(&indices)
        .map_err(|e| skel_err(r.file, e))
}

/// Builds the dataset: the real [`RECORDINGS`] from `data_dir` (the layout of
/// `scripts/fetch-data.sh` and `scripts/fetch-motions.sh`) and procedural clips. Training clips
/// are varied (view, tilt, size, layout, sensor noise); held-out clips are the recordings as
/// they are (own layout, speed 1, not mirrored, no noise).
///
/// # Errors
/// [`TrainError::Skeleton`] naming a recording that cannot be read or cut.
pub fn build(data_dir: &Path, config: &DatasetConfig) -> Result<Vec<MotionClip>> {
    let mut rng = SplitMix64::new(config.seed);
    let mut out = Vec::new();
    for r in RECORDINGS {
        let motion = read_recording(data_dir, r)?;
        let held_out = r.split == Split::HeldOut;
        let aug = Augment {
            fps: config.fps,
            window_seconds: config.seconds,
            stride_seconds: if held_out { 0.5 } else { 0.2 },
            speeds: if held_out {
                vec![1.0]
            } else {
                vec![0.8, 1.0, 1.25]
            },
            mirror: !held_out,
            looped: r.looped,
        };
        let cut = augment::clips(&motion, &aug).map_err(|e| renamed(r.file, e))?;
        let n = if held_out {
            config.held_out_clips_per_recording
        } else {
            config.clips_per_recording
        };
        let source = match r.span {
            Some((a, b)) => format!("{} {a}-{b} s", r.file),
            None => r.file.to_string(),
        };
        let any_yaw = r.collection == "holosoma";
        for c in spread(&cut, n) {
            let skeleton = if held_out {
                c.skeleton
            } else {
                vary(&c.skeleton, &mut rng, r.file, any_yaw)?
            };
            out.push(MotionClip {
                skeleton: Arc::new(skeleton),
                label: r.label,
                source: source.clone(),
                collection: r.collection,
                held_out,
            });
        }
    }
    let performers = config.train_performers + config.held_out_performers;
    for (class_index, class) in motions::PROCEDURAL_CLASSES.iter().enumerate() {
        let label: &'static str =
            LABELS
                .iter()
                .find(|l| *l == class)
                .copied()
                .ok_or_else(|| {
                    TrainError::Config(format!("procedural class {class:?} has no label"))
                })?;
        for k in 0..performers {
            let seed = config
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add((class_index * 1000 + k) as u64);
            let performer = Performer::sample(seed);
            let source = format!("procedural/{class}/{seed}");
            let skel = motions::generate(class, &performer, config.seconds, config.fps, seed)
                .map_err(|e| TrainError::skeleton(format!("procedural {class:?}"), e))?;
            let skel = if rng.next_u64().is_multiple_of(2) {
                augment::mirror(&skel)?
            } else {
                skel
            };
            let held_out = k >= config.train_performers;
            let skeleton = if held_out {
                skel
            } else {
                vary(&skel, &mut rng, &source, false)?
            };
            out.push(MotionClip {
                skeleton: Arc::new(skeleton),
                label,
                source,
                collection: "procedural",
                held_out,
            });
        }
    }
    Ok(out)
}

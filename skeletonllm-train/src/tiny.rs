//! The data of the bundled `skeletonllm-tiny`: labelled, captioned clips from real motion
//! capture (DeepMimic clips, CMU BVH) and from the procedural generator ([`draction::synthetic::motions`]),
//! varied by speed, time window, mirroring, viewpoint and retargeting to NTU-25 / SMPL-22 /
//! COCO-17. Whole source clips are held out for evaluation: unseen performers of every
//! procedural class, and one of the real recordings of every class that has two.

use std::path::Path;
use std::sync::Arc;

use draction::Skeleton;

use crate::augment::{self, Augment};
use crate::data::rng::SplitMix64;
use crate::error::{Result, TrainError};
use draction::synthetic::motions::{self, Performer};

/// A labelled clip and where it came from.
#[derive(Debug, Clone)]
pub struct MotionClip {
    /// The clip.
    pub skeleton: Arc<Skeleton>,
    /// Its action label (one of [`LABELS`]).
    pub label: &'static str,
    /// The source clip (file name, or `procedural/<class>/<performer seed>`).
    pub source: String,
    /// Whether the source clip is held out for evaluation.
    pub held_out: bool,
}

/// One real recording: file (relative to the data folder), label, whether it loops, and whether
/// it is the held-out recording of its class.
const MOCAP: [(&str, &str, bool, bool); 14] = [
    ("deepmimic/humanoid3d_walk.txt", "walking", true, false),
    ("deepmimic/humanoid3d_run.txt", "running", true, false),
    ("deepmimic/humanoid3d_jump.txt", "jumping", false, false),
    ("deepmimic/humanoid3d_punch.txt", "punching", false, false),
    ("deepmimic/humanoid3d_kick.txt", "kicking", false, false),
    ("deepmimic/humanoid3d_spinkick.txt", "kicking", false, true),
    (
        "deepmimic/humanoid3d_cartwheel.txt",
        "doing a cartwheel",
        false,
        false,
    ),
    (
        "deepmimic/humanoid3d_backflip.txt",
        "doing a backflip",
        false,
        false,
    ),
    ("deepmimic/humanoid3d_crawl.txt", "crawling", true, false),
    (
        "deepmimic/humanoid3d_roll.txt",
        "rolling on the floor",
        false,
        false,
    ),
    (
        "deepmimic/humanoid3d_getup_faceup.txt",
        "getting up from the floor",
        false,
        false,
    ),
    (
        "deepmimic/humanoid3d_getup_facedown.txt",
        "getting up from the floor",
        false,
        true,
    ),
    ("deepmimic/humanoid3d_dance_a.txt", "dancing", false, false),
    ("deepmimic/humanoid3d_dance_b.txt", "dancing", false, true),
];

/// Every label of the bundled model.
pub const LABELS: [&str; 18] = [
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
        _ => &[],
    }
}

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
    /// At most this many clips per real recording.
    pub clips_per_recording: usize,
}

impl Default for DatasetConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            seconds: 2.5,
            fps: 15.0,
            train_performers: 24,
            held_out_performers: 6,
            clips_per_recording: 24,
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

/// Rotates a skeleton about the vertical (y) axis through its mean position, by `degrees`.
pub fn rotate_yaw(skel: &Skeleton, degrees: f32) -> Skeleton {
    let n = skel.positions().len() / 3;
    let mut centre = [0.0f32; 3];
    for p in skel.positions().chunks_exact(3) {
        for k in 0..3 {
            centre[k] += p[k] / n.max(1) as f32;
        }
    }
    let (s, c) = degrees.to_radians().sin_cos();
    let mut out = skel.clone();
    out.map_positions(|[x, y, z]| {
        let (dx, dz) = (x - centre[0], z - centre[2]);
        [centre[0] + c * dx + s * dz, y, centre[2] - s * dx + c * dz]
    });
    out
}

/// A varied copy of `skel`: viewpoint yaw in ±40°, then one of NTU-25 (kept for NTU input),
/// SMPL-22 and COCO-17.
fn vary(skel: &Skeleton, rng: &mut SplitMix64, source: &str) -> Result<Skeleton> {
    let unit = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
    let yaw = (unit - 0.5) * 80.0;
    let rotated = rotate_yaw(skel, yaw);
    let pick = rng.next_u64() % 3;
    match pick {
        0 if skel.layout().name == "ntu25" => Ok(rotated),
        0 | 1 => augment::retarget(&rotated, "smpl22").map_err(|e| renamed(source, e)),
        _ => augment::retarget(&rotated, "coco17").map_err(|e| renamed(source, e)),
    }
}

/// Picks `n` items spread evenly over `items`.
fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|k| items[k * items.len() / n].clone()).collect()
}

/// Builds the dataset: mocap from `data_dir` (the layout of `scripts/fetch-data.sh`) and
/// procedural clips.
///
/// # Errors
/// [`TrainError::Skeleton`] naming a recording that cannot be read or cut.
pub fn build(data_dir: &Path, config: &DatasetConfig) -> Result<Vec<MotionClip>> {
    let mut rng = SplitMix64::new(config.seed);
    let mut out = Vec::new();
    for (file, label, looped, held_out) in MOCAP {
        let path = data_dir.join(file);
        let motion = draction::io::read(&path, None).map_err(|e| skel_err(file, e))?;
        let aug = Augment {
            fps: config.fps,
            window_seconds: config.seconds,
            stride_seconds: 0.2,
            speeds: vec![0.8, 1.0, 1.25],
            mirror: true,
            looped,
        };
        let cut = augment::clips(&motion, &aug)?;
        for c in spread(&cut, config.clips_per_recording) {
            out.push(MotionClip {
                skeleton: Arc::new(vary(&c.skeleton, &mut rng, file)?),
                label,
                source: file.to_string(),
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
            out.push(MotionClip {
                skeleton: Arc::new(vary(&skel, &mut rng, &source)?),
                label,
                source,
                held_out: k >= config.train_performers,
            });
        }
    }
    Ok(out)
}

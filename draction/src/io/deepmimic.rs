//! DeepMimic humanoid motion clips (`humanoid3d_*.txt`, as shipped in pybullet's
//! `pybullet_data/data/motions`).
//!
//! A clip is JSON: `{"Loop": "wrap" | "none", "Frames": [[44 numbers], …]}`. Each frame holds,
//! in order:
//!
//! | values | meaning |
//! |---|---|
//! | 1 | frame duration in seconds |
//! | 3 | root position `x y z` (metres, `y` up) |
//! | 4 | root rotation quaternion `w x y z` |
//! | 4 + 4 + 4 | chest, neck, right hip rotations (local quaternions `w x y z`) |
//! | 1 | right knee angle (radians, about the local `z` axis) |
//! | 4 + 4 | right ankle, right shoulder rotations |
//! | 1 | right elbow angle (radians, about `z`) |
//! | 4 + 1 + 4 + 4 + 1 | left hip, knee, ankle, shoulder, elbow, as on the right |
//!
//! The clips store joint rotations, not positions, so the reader runs forward kinematics over
//! the humanoid of pybullet's `humanoid/humanoid.urdf` ([`HUMANOID`]): the world frame of the
//! root is `translate(root position) · R(root quaternion)`, and each child's frame is
//! `parent · translate(offset) · R(local rotation)`. Wrists are fixed joints. A joint's position
//! is the origin of its frame. pybullet loads the URDF with `globalScaling = 0.25`
//! ([`URDF_SCALE`]) and the clips' root positions are in that scaled space, so the offsets are
//! scaled by it too. The result uses the `deepmimic15` layout, one person, `fps = 1 / duration`
//! of the first frame, and the `Loop` string as the `loop` metadata.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, SeqAccess, Visitor};

use crate::error::{ParseError, Result, read_text};
use crate::kinematics::{Mat3, add, identity, mat_mul, mat_vec, rot_z};
use crate::layout::Layout;
use crate::skeleton::{Format, Skeleton, Source};

/// Numbers per frame of a humanoid clip.
pub const FRAME_VALUES: usize = 44;

/// The `globalScaling` pybullet loads `humanoid.urdf` with; the clips' positions are in this
/// scaled space (metres).
pub const URDF_SCALE: f64 = 0.25;

/// How a humanoid joint moves relative to its parent, and so how many frame values it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JointKind {
    /// The root: position (3) and quaternion (4) in world space.
    Root,
    /// A ball joint: a local quaternion `w x y z` (4).
    Spherical,
    /// A hinge about the local `z` axis: an angle in radians (1).
    Revolute,
    /// Rigidly attached (the wrists): no values.
    Fixed,
}

impl JointKind {
    /// How many frame values the joint takes.
    pub const fn values(self) -> usize {
        match self {
            JointKind::Root => 7,
            JointKind::Spherical => 4,
            JointKind::Revolute => 1,
            JointKind::Fixed => 0,
        }
    }
}

/// One joint of the DeepMimic humanoid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HumanoidJoint {
    /// Joint name (as in the URDF and the `deepmimic15` layout).
    pub name: &'static str,
    /// Index of the parent joint in [`HUMANOID`], `None` for the root.
    pub parent: Option<usize>,
    /// The joint's origin in its parent's frame, in the URDF's own (unscaled) units; multiply by
    /// [`URDF_SCALE`] for metres.
    pub offset: [f64; 3],
    /// How the joint moves.
    pub kind: JointKind,
}

const fn joint(
    name: &'static str,
    parent: Option<usize>,
    offset: [f64; 3],
    kind: JointKind,
) -> HumanoidJoint {
    HumanoidJoint {
        name,
        parent,
        offset,
        kind,
    }
}

/// The DeepMimic humanoid in `deepmimic15` layout order, which is also the order of the values
/// in a frame (wrists take none).
///
/// Parents, joint types, hinge axes (`<axis xyz="0 0 1">` for knees and elbows) and offsets (the
/// `<origin xyz>` of each `<joint>`) are copied from pybullet's `humanoid/humanoid.urdf`
/// (pybullet_data); the URDF's `root` joint is fixed to `base` at the origin.
pub const HUMANOID: [HumanoidJoint; 15] = {
    use JointKind::*;
    [
        joint("root", None, [0.0, 0.0, 0.0], Root),
        joint("chest", Some(0), [0.0, 0.944604, 0.0], Spherical),
        joint("neck", Some(1), [0.0, 0.895576, 0.0], Spherical),
        joint("right_hip", Some(0), [0.0, 0.0, 0.339548], Spherical),
        joint("right_knee", Some(3), [0.0, -1.686184, 0.0], Revolute),
        joint("right_ankle", Some(4), [0.0, -1.639480, 0.0], Spherical),
        joint(
            "right_shoulder",
            Some(1),
            [-0.096200, 0.974000, 0.732440],
            Spherical,
        ),
        joint("right_elbow", Some(6), [0.0, -1.099152, 0.0], Revolute),
        joint("right_wrist", Some(7), [0.0, -1.035788, 0.0], Fixed),
        joint("left_hip", Some(0), [0.0, 0.0, -0.339548], Spherical),
        joint("left_knee", Some(9), [0.0, -1.686184, 0.0], Revolute),
        joint("left_ankle", Some(10), [0.0, -1.639480, 0.0], Spherical),
        joint(
            "left_shoulder",
            Some(1),
            [-0.096200, 0.974000, -0.732440],
            Spherical,
        ),
        joint("left_elbow", Some(12), [0.0, -1.099152, 0.0], Revolute),
        joint("left_wrist", Some(13), [0.0, -1.035788, 0.0], Fixed),
    ]
};

/// Number of joints of the humanoid.
const JOINTS: usize = HUMANOID.len();

/// Reads a DeepMimic motion clip.
pub fn read(path: &Path) -> Result<Skeleton> {
    let text = read_text(path)?;
    parse(path, &text)
}

/// Parses DeepMimic motion JSON already read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Skeleton> {
    let motion: Motion = serde_json::from_str(text).map_err(|e| json_error(path, &e))?;
    let frames = motion.frames;
    if frames.count == 0 {
        return Err(ParseError::file(path, "\"Frames\" is empty").into());
    }
    let valid = vec![true; frames.count * JOINTS];
    let skel = Skeleton::new(
        frames.positions,
        valid,
        frames.count,
        1,
        Layout::builtin("deepmimic15")?,
    )?;
    let fps = frames
        .first_duration
        .filter(|&d| d > 0.0)
        .map(|d| (1.0 / d) as f32)
        .filter(|f| f.is_finite() && *f > 0.0);
    let mut meta = BTreeMap::new();
    if let Some(l) = motion.looping {
        meta.insert("loop".to_string(), l);
    }
    Ok(skel.with_fps(fps).with_source(Source {
        format: Some(Format::DeepMimic),
        path: Some(path.to_path_buf()),
        meta,
    }))
}

/// A serde_json error as a [`ParseError`] with its line, without serde_json's position suffix.
fn json_error(path: &Path, e: &serde_json::Error) -> crate::Error {
    let full = e.to_string();
    if e.line() == 0 {
        return ParseError::file(path, full).into();
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = full.strip_suffix(&suffix).unwrap_or(&full);
    ParseError::at(path, e.line(), format!("{msg} (column {})", e.column())).into()
}

/// The top-level clip object.
#[derive(Deserialize)]
struct Motion {
    #[serde(rename = "Loop", default)]
    looping: Option<String>,
    #[serde(rename = "Frames", deserialize_with = "frames")]
    frames: Frames,
}

/// All frames, already through forward kinematics.
struct Frames {
    /// `[count, 15, 3]` world positions.
    positions: Vec<f32>,
    count: usize,
    first_duration: Option<f64>,
}

fn frames<'de, D: de::Deserializer<'de>>(d: D) -> std::result::Result<Frames, D::Error> {
    d.deserialize_seq(FramesVisitor)
}

struct FramesVisitor;

impl<'de> Visitor<'de> for FramesVisitor {
    type Value = Frames;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"Frames\" as an array of frames")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Frames, A::Error> {
        let mut out = Frames {
            positions: Vec::new(),
            count: 0,
            first_duration: None,
        };
        while let Some(frame) = seq.next_element_seed(FrameSeed {
            index: out.count + 1,
        })? {
            let pos = forward_kinematics(&frame)
                .map_err(|m| de::Error::custom(format!("frame {}: {m}", out.count + 1)))?;
            out.positions
                .extend(pos.iter().flatten().map(|&x| x as f32));
            if out.count == 0 {
                out.first_duration = Some(frame[0]);
            }
            out.count += 1;
        }
        Ok(out)
    }
}

/// Reads one frame (its 1-based `index` is for messages) as exactly [`FRAME_VALUES`] numbers.
struct FrameSeed {
    index: usize,
}

impl<'de> DeserializeSeed<'de> for FrameSeed {
    type Value = [f64; FRAME_VALUES];

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FrameSeed {
    type Value = [f64; FRAME_VALUES];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "frame {} as an array of {FRAME_VALUES} numbers",
            self.index
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut v = [0.0; FRAME_VALUES];
        let mut n = 0;
        while n < FRAME_VALUES {
            match seq.next_element_seed(Number {
                frame: self.index,
                value: n + 1,
            })? {
                Some(x) => v[n] = x,
                None => break,
            }
            n += 1;
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        if n != FRAME_VALUES {
            return Err(de::Error::custom(format!(
                "frame {} has {n} numbers, expected {FRAME_VALUES} (duration, root position and \
                 rotation, then the joints' rotations)",
                self.index
            )));
        }
        if v[0] < 0.0 {
            return Err(de::Error::custom(format!(
                "frame {} has a negative duration ({} s)",
                self.index, v[0]
            )));
        }
        Ok(v)
    }
}

/// One number of a frame (positions are 1-based, for messages).
struct Number {
    frame: usize,
    value: usize,
}

impl<'de> DeserializeSeed<'de> for Number {
    type Value = f64;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<f64, D::Error> {
        d.deserialize_f64(self)
    }
}

impl<'de> Visitor<'de> for Number {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a number (value {} of frame {})", self.value, self.frame)
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> std::result::Result<f64, E> {
        Ok(x)
    }

    fn visit_i64<E: de::Error>(self, x: i64) -> std::result::Result<f64, E> {
        Ok(x as f64)
    }

    fn visit_u64<E: de::Error>(self, x: u64) -> std::result::Result<f64, E> {
        Ok(x as f64)
    }
}

/// The rotation matrix of quaternion `w x y z`, normalised; an error if it is zero or not finite.
fn quat_matrix(q: &[f64]) -> std::result::Result<Mat3, &'static str> {
    let m = q.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if !m.is_finite() {
        return Err("is not finite");
    }
    if m == 0.0 {
        return Err("is zero");
    }
    let s: Vec<f64> = q.iter().map(|x| x / m).collect();
    let n = s.iter().map(|x| x * x).sum::<f64>().sqrt();
    let [w, x, y, z] = [s[0] / n, s[1] / n, s[2] / n, s[3] / n];
    Ok([
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ])
}

/// World positions of the 15 joints of one frame (in [`HUMANOID`] order).
fn forward_kinematics(
    frame: &[f64; FRAME_VALUES],
) -> std::result::Result<[[f64; 3]; JOINTS], String> {
    let mut rot = [identity(); JOINTS];
    let mut pos = [[0.0; 3]; JOINTS];
    let mut at = 1; // after the duration
    for (j, spec) in HUMANOID.iter().enumerate() {
        let vals = &frame[at..at + spec.kind.values()];
        at += spec.kind.values();
        let local = match spec.kind {
            JointKind::Root | JointKind::Spherical => {
                let q = if spec.kind == JointKind::Root {
                    &vals[3..]
                } else {
                    vals
                };
                quat_matrix(q).map_err(|why| format!("the {} quaternion {why}", spec.name))?
            }
            JointKind::Revolute => rot_z(vals[0]),
            JointKind::Fixed => identity(),
        };
        match spec.parent {
            None => {
                pos[j] = [vals[0], vals[1], vals[2]];
                rot[j] = local;
            }
            Some(p) => {
                let off = spec.offset.map(|x| x * URDF_SCALE);
                pos[j] = add(pos[p], mat_vec(&rot[p], off));
                rot[j] = mat_mul(&rot[p], &local);
            }
        }
    }
    debug_assert_eq!(at, FRAME_VALUES);
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const CLIPS: [&str; 15] = [
        "backflip",
        "cartwheel",
        "crawl",
        "dance_a",
        "dance_b",
        "getup_facedown",
        "getup_faceup",
        "jump",
        "kick",
        "punch",
        "roll",
        "run",
        "spin",
        "spinkick",
        "walk",
    ];

    /// A frame with the given root and every joint at rest (identity quaternions, zero angles).
    fn rest_frame(root_pos: [f64; 3], root_quat: [f64; 4]) -> Vec<f64> {
        let mut f = vec![1.0 / 30.0];
        f.extend(root_pos);
        f.extend(root_quat);
        for spec in &HUMANOID[1..] {
            match spec.kind {
                JointKind::Spherical => f.extend([1.0, 0.0, 0.0, 0.0]),
                JointKind::Revolute => f.push(0.0),
                JointKind::Fixed => {}
                JointKind::Root => unreachable!(),
            }
        }
        assert_eq!(f.len(), FRAME_VALUES);
        f
    }

    fn clip_json(frames: &[Vec<f64>]) -> String {
        let rows: Vec<String> = frames
            .iter()
            .map(|f| {
                format!(
                    "[{}]",
                    f.iter()
                        .map(|x| format!("{x:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        format!(
            "{{\n\"Loop\": \"wrap\",\n\"Frames\":\n[\n{}\n]\n}}\n",
            rows.join(",\n")
        )
    }

    fn parse_str(text: &str) -> Result<Skeleton> {
        parse(Path::new("clips/bad_clip.txt"), text)
    }

    /// The rest pose relative to the root: cumulative scaled offsets along each parent chain.
    fn rest_offsets() -> Vec<[f64; 3]> {
        (0..JOINTS)
            .map(|j| {
                let mut acc = [0.0; 3];
                let mut k = j;
                while let Some(p) = HUMANOID[k].parent {
                    for (a, o) in acc.iter_mut().zip(HUMANOID[k].offset) {
                        *a += o * URDF_SCALE;
                    }
                    k = p;
                }
                acc
            })
            .collect()
    }

    fn assert_close(a: [f32; 3], b: [f64; 3], what: &str) {
        for k in 0..3 {
            assert!((a[k] as f64 - b[k]).abs() < 1e-5, "{what}: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn table_matches_layout() {
        let layout = Layout::builtin("deepmimic15").unwrap();
        assert_eq!(layout.num_joints(), JOINTS);
        for (j, spec) in HUMANOID.iter().enumerate() {
            assert_eq!(layout.joints[j], spec.name);
        }
        assert_eq!(
            HUMANOID.iter().map(|s| s.kind.values()).sum::<usize>() + 1,
            FRAME_VALUES
        );
    }

    #[test]
    fn rest_pose_is_cumulative_offsets_and_follows_root_rotation() {
        let root = [1.0, 0.9, -2.0];
        let a = rest_frame(root, [1.0, 0.0, 0.0, 0.0]);
        // 90° about y: (x, y, z) -> (z, y, -x).
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let b = rest_frame(root, [h, 0.0, h, 0.0]);
        let s = parse_str(&clip_json(&[a, b])).unwrap();
        assert_eq!(s.dims(), [2, 1, 15]);
        assert_eq!(s.layout().name, "deepmimic15");
        assert!((s.fps.unwrap() - 30.0).abs() < 1e-4);
        assert_eq!(s.source.meta["loop"], "wrap");
        assert_eq!(s.source.format, Some(Format::DeepMimic));
        let rest = rest_offsets();
        // Hand check of two chains: the neck is straight up, the right ankle straight down.
        assert!((rest[2][1] - (0.944604 + 0.895576) * 0.25).abs() < 1e-12);
        assert!((rest[5][1] + (1.686184 + 1.639480) * 0.25).abs() < 1e-12);
        assert!((rest[5][2] - 0.339548 * 0.25).abs() < 1e-12);
        for (j, c) in rest.iter().enumerate() {
            let want = [root[0] + c[0], root[1] + c[1], root[2] + c[2]];
            assert_close(s.position(0, 0, j), want, HUMANOID[j].name);
            let turned = [root[0] + c[2], root[1] + c[1], root[2] - c[0]];
            assert_close(s.position(1, 0, j), turned, HUMANOID[j].name);
        }
    }

    #[test]
    fn knee_and_elbow_hinge_about_z() {
        let mut f = rest_frame([0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]);
        f[20] = std::f64::consts::FRAC_PI_2; // right knee
        f[29] = -std::f64::consts::FRAC_PI_2; // right elbow
        let s = parse_str(&clip_json(&[f])).unwrap();
        let knee = s.position(0, 0, 4);
        let ankle = s.position(0, 0, 5);
        // Rz(90°) maps the shin (0, -L, 0) to (L, 0, 0).
        let l = 1.639480 * URDF_SCALE;
        assert_close(
            ankle,
            [knee[0] as f64 + l, knee[1] as f64, knee[2] as f64],
            "right ankle",
        );
        let elbow = s.position(0, 0, 7);
        let wrist = s.position(0, 0, 8);
        let l = 1.035788 * URDF_SCALE;
        assert_close(
            wrist,
            [elbow[0] as f64 - l, elbow[1] as f64, elbow[2] as f64],
            "right wrist",
        );
        // The left side is untouched.
        let rest = rest_offsets();
        assert_close(
            s.position(0, 0, 11),
            [rest[11][0], 1.0 + rest[11][1], rest[11][2]],
            "left ankle",
        );
    }

    #[test]
    fn quaternions_are_normalised() {
        let mut f = rest_frame([0.0, 1.0, 0.0], [2.0, 0.0, 0.0, 0.0]);
        f[8..12].copy_from_slice(&[5.0, 0.0, 0.0, 0.0]);
        let s = parse_str(&clip_json(&[f])).unwrap();
        let rest = rest_offsets();
        assert_close(
            s.position(0, 0, 2),
            [rest[2][0], 1.0 + rest[2][1], rest[2][2]],
            "neck",
        );
    }

    /// The folder holding the humanoid3d clips, or a failure telling how to get them.
    fn motion_dir() -> PathBuf {
        let has = |d: &Path| {
            CLIPS
                .iter()
                .all(|c| d.join(format!("humanoid3d_{c}.txt")).is_file())
        };
        let dir = crate::testdata::data_dir("deepmimic");
        assert!(
            has(&dir),
            "the 15 DeepMimic humanoid3d_*.txt clips are not all in {}: run scripts/fetch-data.sh",
            dir.display()
        );
        dir
    }

    fn dist(a: [f32; 3], b: [f32; 3]) -> f64 {
        (0..3)
            .map(|k| ((a[k] - b[k]) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn real_clips() {
        let dir = motion_dir();
        for name in CLIPS {
            let path = dir.join(format!("humanoid3d_{name}.txt"));
            let s = read(&path).unwrap_or_else(|e| panic!("{e}"));
            let raw: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(
                s.frames(),
                raw["Frames"].as_array().unwrap().len(),
                "{name}"
            );
            assert!(s.valid().iter().all(|&v| v), "{name}");
            assert!(
                s.fps.is_some_and(|f| f > 10.0 && f < 200.0),
                "{name}: fps {:?}",
                s.fps
            );
            assert!(s.source.meta.contains_key("loop"), "{name}");
            for (j, spec) in HUMANOID.iter().enumerate() {
                let Some(p) = spec.parent else { continue };
                let want = spec.offset.iter().map(|x| x * x).sum::<f64>().sqrt() * URDF_SCALE;
                for t in 0..s.frames() {
                    let got = dist(s.position(t, 0, j), s.position(t, 0, p));
                    assert!(
                        (got - want).abs() < 1e-4,
                        "{name} frame {t} {}: {got} vs {want}",
                        spec.name
                    );
                }
            }
            let t_n = s.frames() as f64;
            let min_ankle = (0..s.frames())
                .flat_map(|t| [5, 11].map(|j| s.position(t, 0, j)[1]))
                .fold(f32::INFINITY, f32::min);
            let root_mean = (0..s.frames())
                .map(|t| s.position(t, 0, 0)[1] as f64)
                .sum::<f64>()
                / t_n;
            let neck_up = (0..s.frames())
                .filter(|&t| s.position(t, 0, 2)[1] > s.position(t, 0, 0)[1])
                .count();
            println!(
                "{name}: {} frames, fps {:?}, loop {}, min ankle y {min_ankle:.4}, mean root y {root_mean:.4}, neck above root {neck_up}/{}",
                s.frames(),
                s.fps,
                s.source.meta["loop"],
                s.frames()
            );
            if name == "walk" || name == "run" {
                assert!(
                    (-0.05..=0.2).contains(&min_ankle),
                    "{name}: min ankle height {min_ankle}"
                );
                assert!(
                    (0.6..=1.0).contains(&root_mean),
                    "{name}: mean root height {root_mean}"
                );
            }
            if name == "walk" {
                assert!(
                    neck_up as f64 > 0.9 * t_n,
                    "walk: neck above root in {neck_up}/{t_n} frames"
                );
            }
        }
    }

    #[test]
    fn bad_input_names_the_file() {
        let good = rest_frame([0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]);
        let mut short = good.clone();
        short.pop();
        let mut long = good.clone();
        long.push(0.0);
        let mut zero_q = good.clone();
        zero_q[12..16].fill(0.0); // neck
        let mut zero_root = good.clone();
        zero_root[4..8].fill(0.0);
        let mut negative = good.clone();
        negative[0] = -0.1;
        let with_string = clip_json(std::slice::from_ref(&good)).replacen("1.0", "\"x\"", 1);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "EOF"),
            ("not json".into(), "expected"),
            ("{\"Loop\": \"wrap\"}".into(), "Frames"),
            ("{\"Loop\": \"wrap\", \"Frames\": []}".into(), "empty"),
            ("{\"Frames\": 3}".into(), "array of frames"),
            (
                "{\"Frames\": [3]}".into(),
                "frame 1 as an array of 44 numbers",
            ),
            (
                clip_json(&[good.clone(), short]),
                "frame 2 has 43 numbers, expected 44",
            ),
            (clip_json(&[long]), "frame 1 has 45 numbers"),
            (with_string, "value"),
            (
                clip_json(&[good.clone(), good.clone(), zero_q]),
                "frame 3: the neck quaternion is zero",
            ),
            (clip_json(&[zero_root]), "root quaternion is zero"),
            (clip_json(&[negative]), "negative duration"),
        ];
        for (text, want) in cases {
            let e = parse_str(&text).unwrap_err().to_string();
            assert!(e.starts_with("clips/bad_clip.txt"), "{e}");
            assert!(e.contains(want), "{e} (wanted {want:?})");
        }
        // Line numbers point at the offending frame (one frame per line, frames from line 5).
        let mut short = good.clone();
        short.pop();
        let e = parse_str(&clip_json(&[good.clone(), good.clone(), short]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("clips/bad_clip.txt:7:"), "{e}");
    }

    #[test]
    fn durations_beyond_f32_leave_the_rate_unknown() {
        // A 1e308 s frame used to give fps Some(0.0).
        for d in [1e308, 1e-300] {
            let mut f = rest_frame([0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]);
            f[0] = d;
            let s = parse_str(&clip_json(&[f])).unwrap();
            assert_eq!(s.fps, None, "{d}");
        }
    }

    #[test]
    fn read_reports_missing_file_and_reads_a_written_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("clip.txt");
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("clip.txt"), "{e}");
        let text =
            clip_json(&[rest_frame([0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0])]).replace("wrap", "none");
        std::fs::write(&p, text).unwrap();
        let s = read(&p).unwrap();
        assert_eq!(s.frames(), 1);
        assert_eq!(s.source.meta["loop"], "none");
        assert_eq!(crate::io::detect(&p).unwrap(), Format::DeepMimic);
    }
}

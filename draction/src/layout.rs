//! Skeleton layouts: joint names, bones, left/right pairs, body parts and the canonical joint
//! set that lets any layout be retargeted to any other.
//!
//! # The canonical joint set
//! Every joint of every layout maps to at most one [`Canonical`] joint. Retargeting copies a
//! target joint from the source joint with the same canonical name; a target joint that has no
//! counterpart in the source is marked missing (never invented). The correspondences are
//! anatomical approximations where the datasets disagree on where a joint sits:
//!
//! | canonical | ntu25 | smpl22/24 | coco17 | openpose18 | openpose25 | h36m17 | deepmimic15 |
//! |---|---|---|---|---|---|---|---|
//! | `Pelvis` | spine base | pelvis | — | — | mid hip | hip | root |
//! | `Spine1` | — | spine1 | — | — | — | — | — |
//! | `SpineMid` | spine mid | spine2 | — | — | — | spine | chest |
//! | `Chest` | spine shoulder | spine3 | — | — | — | thorax | — |
//! | `Neck` | neck | neck | — | neck | neck | neck/nose | neck |
//! | `Head` | head | head | — | — | — | head | — |
//! | `Nose`, eyes, ears | — | — | ✓ | ✓ | ✓ | — | — |
//! | `LClavicle` | — | left collar | — | — | — | — | — |
//! | shoulders, elbows, wrists | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | hands, hand tips, thumbs | ✓ | hands (smpl24) | — | — | — | — | — |
//! | hips, knees, ankles | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | `LFoot` (ball/toe) | foot | foot | — | — | big toe | — | — |
//! | small toes, heels | — | — | — | — | ✓ | — | — |
//!
//! Hierarchies read from BVH files get their mapping from joint names
//! ([`Canonical::from_joint_name`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A joint of the canonical joint set through which layouts are retargeted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Canonical {
    Pelvis,
    Spine1,
    SpineMid,
    Chest,
    Neck,
    Head,
    HeadTop,
    Nose,
    LEye,
    REye,
    LEar,
    REar,
    LClavicle,
    RClavicle,
    LShoulder,
    RShoulder,
    LElbow,
    RElbow,
    LWrist,
    RWrist,
    LHand,
    RHand,
    LHandTip,
    RHandTip,
    LThumb,
    RThumb,
    LHip,
    RHip,
    LKnee,
    RKnee,
    LAnkle,
    RAnkle,
    LFoot,
    RFoot,
    LSmallToe,
    RSmallToe,
    LHeel,
    RHeel,
}

impl Canonical {
    /// Guesses the canonical joint from a free-form joint name, as found in BVH files
    /// (CMU `LeftUpLeg`, Mixamo `mixamorig:LeftArm`, `l_knee`, `RightToeBase`, …).
    /// Returns `None` for joints with no counterpart (fingers, extra spine links).
    pub fn from_joint_name(name: &str) -> Option<Canonical> {
        use Canonical::*;
        let raw = name.rsplit(':').next().unwrap_or(name).to_ascii_lowercase();
        let n: String = raw.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        // Side: a "left"/"right" word or a leading/trailing l/r marker.
        let (side, core) = if let Some(rest) = n.strip_prefix("left") {
            (Some('l'), rest.to_string())
        } else if let Some(rest) = n.strip_prefix("right") {
            (Some('r'), rest.to_string())
        } else if let Some(rest) = n.strip_suffix("left") {
            (Some('l'), rest.to_string())
        } else if let Some(rest) = n.strip_suffix("right") {
            (Some('r'), rest.to_string())
        } else if raw.starts_with("l_") || raw.starts_with("l.") || raw.starts_with("l ") {
            (Some('l'), n[1..].to_string())
        } else if raw.starts_with("r_") || raw.starts_with("r.") || raw.starts_with("r ") {
            (Some('r'), n[1..].to_string())
        } else if raw.ends_with("_l") || raw.ends_with(".l") {
            (Some('l'), n[..n.len() - 1].to_string())
        } else if raw.ends_with("_r") || raw.ends_with(".r") {
            (Some('r'), n[..n.len() - 1].to_string())
        } else if n.len() > 1
            && (n.starts_with('l') || n.starts_with('r'))
            && SIDED_CORES.contains(&&n[1..])
        {
            (n.chars().next(), n[1..].to_string())
        } else {
            (None, n.clone())
        };
        let pick = |l: Canonical, r: Canonical| match side {
            Some('l') => Some(l),
            Some('r') => Some(r),
            _ => None,
        };
        match core.as_str() {
            "hips" | "hip" | "pelvis" | "root" if side.is_none() => Some(Pelvis),
            "spine" | "abdomen" | "lowerspine" if side.is_none() => Some(Spine1),
            "spine1" | "spinemid" | "spine2" if side.is_none() => Some(SpineMid),
            "chest" | "spine3" | "upperchest" | "thorax" | "spineshoulder" if side.is_none() => {
                Some(Chest)
            }
            "neck" | "neck1" if side.is_none() => Some(Neck),
            "head" if side.is_none() => Some(Head),
            "headtop" | "headend" | "headsite" if side.is_none() => Some(HeadTop),
            "nose" if side.is_none() => Some(Nose),
            "eye" => pick(LEye, REye),
            "ear" => pick(LEar, REar),
            "shoulder" | "collar" | "clavicle" => pick(LClavicle, RClavicle),
            "arm" | "uparm" | "upperarm" | "humerus" => pick(LShoulder, RShoulder),
            "forearm" | "lowerarm" | "elbow" | "radius" => pick(LElbow, RElbow),
            "hand" | "wrist" => pick(LWrist, RWrist),
            "fingerbase" | "fingers" | "finger" => pick(LHand, RHand),
            "handtip" | "fingertip" => pick(LHandTip, RHandTip),
            "thumb" | "handthumb1" => pick(LThumb, RThumb),
            "upleg" | "upperleg" | "thigh" | "femur" | "hip" => pick(LHip, RHip),
            "leg" | "lowerleg" | "shin" | "knee" | "tibia" => pick(LKnee, RKnee),
            "foot" | "ankle" => pick(LAnkle, RAnkle),
            "toebase" | "toe" | "toes" | "ball" => pick(LFoot, RFoot),
            "heel" => pick(LHeel, RHeel),
            _ => None,
        }
    }
}

/// Joint-name cores that may carry a bare one-letter side prefix (`lhip`, `rknee`).
const SIDED_CORES: &[&str] = &[
    "eye", "ear", "shoulder", "collar", "clavicle", "arm", "uparm", "upperarm", "forearm",
    "lowerarm", "elbow", "hand", "wrist", "thumb", "upleg", "thigh", "leg", "shin", "knee", "foot",
    "ankle", "toe", "toebase", "heel", "hip",
];

/// A coarse body part, for grouping joints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum BodyPart {
    Torso,
    Head,
    LeftArm,
    RightArm,
    LeftLeg,
    RightLeg,
}

impl BodyPart {
    /// The body part a canonical joint belongs to.
    pub fn of(c: Canonical) -> BodyPart {
        use Canonical::*;
        match c {
            Pelvis | Spine1 | SpineMid | Chest => BodyPart::Torso,
            Neck | Head | HeadTop | Nose | LEye | REye | LEar | REar => BodyPart::Head,
            LClavicle | LShoulder | LElbow | LWrist | LHand | LHandTip | LThumb => {
                BodyPart::LeftArm
            }
            RClavicle | RShoulder | RElbow | RWrist | RHand | RHandTip | RThumb => {
                BodyPart::RightArm
            }
            LHip | LKnee | LAnkle | LFoot | LSmallToe | LHeel => BodyPart::LeftLeg,
            RHip | RKnee | RAnkle | RFoot | RSmallToe | RHeel => BodyPart::RightLeg,
        }
    }

    /// The body part's name.
    pub fn name(self) -> &'static str {
        match self {
            BodyPart::Torso => "torso",
            BodyPart::Head => "head",
            BodyPart::LeftArm => "left_arm",
            BodyPart::RightArm => "right_arm",
            BodyPart::LeftLeg => "left_leg",
            BodyPart::RightLeg => "right_leg",
        }
    }
}

/// A skeleton topology: joint names, the kinematic tree, bones in render order, left/right
/// pairs, and each joint's canonical counterpart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// Registry name (`ntu25`, `smpl22`, …) or `bvh` for a hierarchy read from a file.
    pub name: String,
    /// Joint names, in data order.
    pub joints: Vec<String>,
    /// Parent of each joint in the kinematic tree (`None` for a root).
    pub parents: Vec<Option<usize>>,
    /// Bones `(a, b)` in render order. For `ntu25` and `smpl22` these are the authors' exact
    /// lists (the order defines DrAction's Gaussian indices); elsewhere `(parent, child)`.
    pub bones: Vec<(usize, usize)>,
    /// Canonical counterpart of each joint.
    pub canonical: Vec<Option<Canonical>>,
}

/// Names of the built-in layouts.
pub const BUILTIN_LAYOUTS: &[&str] = &[
    "ntu25",
    "smpl22",
    "smpl24",
    "coco17",
    "openpose18",
    "openpose25",
    "h36m17",
    "deepmimic15",
];

impl Layout {
    /// Looks a built-in layout up by name (`ntu25`, `smpl22`, `smpl24`, `coco17`, `openpose18`,
    /// `openpose25`, `h36m17`, `deepmimic15`).
    pub fn builtin(name: &str) -> Result<Layout> {
        let layout = match name {
            "ntu25" => ntu25(),
            "smpl22" => smpl(22),
            "smpl24" => smpl(24),
            "coco17" => coco17(),
            "openpose18" => openpose18(),
            "openpose25" => openpose25(),
            "h36m17" => h36m17(),
            "deepmimic15" => deepmimic15(),
            _ => return Err(Error::UnknownLayout(name.to_string())),
        };
        debug_assert!(layout.check().is_ok(), "{:?}", layout.check());
        Ok(layout)
    }

    /// The built-in layout usually meant by a joint count (25 → `ntu25`, 22 → `smpl22`, …).
    pub fn guess_from_joint_count(joints: usize) -> Option<&'static str> {
        Some(match joints {
            25 => "ntu25",
            22 => "smpl22",
            24 => "smpl24",
            17 => "coco17",
            18 => "openpose18",
            15 => "deepmimic15",
            _ => return None,
        })
    }

    /// A layout from a hierarchy (e.g. BVH): bones are `(parent, child)` in joint order and
    /// canonical joints are guessed from the names.
    pub fn from_hierarchy(
        name: &str,
        joints: Vec<String>,
        parents: Vec<Option<usize>>,
    ) -> Result<Layout> {
        let bones = parents
            .iter()
            .enumerate()
            .filter_map(|(j, p)| p.map(|p| (p, j)))
            .collect();
        let mut canonical: Vec<Option<Canonical>> = joints
            .iter()
            .map(|n| Canonical::from_joint_name(n))
            .collect();
        // A canonical joint claimed twice keeps its first (closest to the root) claimant.
        let mut seen = std::collections::HashSet::new();
        for c in canonical.iter_mut() {
            if let Some(v) = *c
                && !seen.insert(v)
            {
                *c = None;
            }
        }
        let layout = Layout {
            name: name.to_string(),
            joints,
            parents,
            bones,
            canonical,
        };
        layout.check()?;
        Ok(layout)
    }

    /// Number of joints.
    pub fn num_joints(&self) -> usize {
        self.joints.len()
    }

    /// Index of the joint with this name.
    pub fn joint_index(&self, name: &str) -> Option<usize> {
        self.joints.iter().position(|j| j == name)
    }

    /// Index of the joint mapped to this canonical joint.
    pub fn canonical_index(&self, c: Canonical) -> Option<usize> {
        self.canonical.iter().position(|&x| x == Some(c))
    }

    /// Left/right joint pairs `(left, right)`, from the canonical mapping.
    pub fn mirror_pairs(&self) -> Vec<(usize, usize)> {
        use Canonical::*;
        const PAIRS: &[(Canonical, Canonical)] = &[
            (LEye, REye),
            (LEar, REar),
            (LClavicle, RClavicle),
            (LShoulder, RShoulder),
            (LElbow, RElbow),
            (LWrist, RWrist),
            (LHand, RHand),
            (LHandTip, RHandTip),
            (LThumb, RThumb),
            (LHip, RHip),
            (LKnee, RKnee),
            (LAnkle, RAnkle),
            (LFoot, RFoot),
            (LSmallToe, RSmallToe),
            (LHeel, RHeel),
        ];
        PAIRS
            .iter()
            .filter_map(|&(l, r)| Some((self.canonical_index(l)?, self.canonical_index(r)?)))
            .collect()
    }

    /// The joints of each body part (joints without a canonical counterpart are left out).
    pub fn body_parts(&self) -> Vec<(BodyPart, Vec<usize>)> {
        let order = [
            BodyPart::Torso,
            BodyPart::Head,
            BodyPart::LeftArm,
            BodyPart::RightArm,
            BodyPart::LeftLeg,
            BodyPart::RightLeg,
        ];
        order
            .iter()
            .map(|&part| {
                let joints = (0..self.num_joints())
                    .filter(|&j| self.canonical[j].map(BodyPart::of) == Some(part))
                    .collect();
                (part, joints)
            })
            .collect()
    }

    /// For each joint of `self`, the joint of `source` it is copied from when retargeting
    /// `source` → `self` (`None`: no counterpart, so the joint is missing).
    pub fn retarget_map(&self, source: &Layout) -> Vec<Option<usize>> {
        self.canonical
            .iter()
            .map(|c| c.and_then(|c| source.canonical_index(c)))
            .collect()
    }

    /// Checks internal consistency (lengths, indices in range, an acyclic tree).
    pub fn check(&self) -> Result<()> {
        let j = self.joints.len();
        let bad = |m: String| Err(Error::Invalid(format!("layout {}: {m}", self.name)));
        if j == 0 {
            return bad("no joints".into());
        }
        if self.parents.len() != j || self.canonical.len() != j {
            return bad("parents/canonical length differs from joints".into());
        }
        for (i, p) in self.parents.iter().enumerate() {
            if let Some(p) = *p
                && (p >= j || p == i)
            {
                return bad(format!("joint {i} has invalid parent {p}"));
            }
        }
        for &(a, b) in &self.bones {
            if a >= j || b >= j || a == b {
                return bad(format!("invalid bone ({a}, {b})"));
            }
        }
        // Acyclic, in O(J): walk up from each joint until a root or a joint already known to
        // reach one; meeting a joint of the current walk again is a cycle.
        let mut state = vec![0u8; j]; // 0 unknown, 1 on the current walk, 2 reaches a root
        for start in 0..j {
            let mut walk = Vec::new();
            let mut cur = Some(start);
            while let Some(c) = cur {
                match state[c] {
                    2 => break,
                    1 => return bad(format!("cycle in the parent list at joint {c}")),
                    _ => {
                        state[c] = 1;
                        walk.push(c);
                        cur = self.parents[c];
                    }
                }
            }
            for c in walk {
                state[c] = 2;
            }
        }
        Ok(())
    }
}

/// Builds a layout from a table of `(name, parent, canonical)` and a bone list.
fn table(
    name: &str,
    rows: &[(&str, Option<usize>, Option<Canonical>)],
    bones: Option<Vec<(usize, usize)>>,
) -> Layout {
    let parents: Vec<Option<usize>> = rows.iter().map(|r| r.1).collect();
    let bones = bones.unwrap_or_else(|| {
        parents
            .iter()
            .enumerate()
            .filter_map(|(j, p)| p.map(|p| (p, j)))
            .collect()
    });
    Layout {
        name: name.to_string(),
        joints: rows.iter().map(|r| r.0.to_string()).collect(),
        parents,
        bones,
        canonical: rows.iter().map(|r| r.2).collect(),
    }
}

/// 1-based pairs → 0-based.
fn zero_based(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    pairs.iter().map(|&(a, b)| (a - 1, b - 1)).collect()
}

/// The authors' NTU bone list (1-based `(a, b)`, their exact order; `b` is `a`'s parent).
pub const NTU_BONES_1BASED: [(usize, usize); 24] = [
    (1, 2),
    (2, 21),
    (3, 21),
    (4, 3),
    (5, 21),
    (6, 5),
    (7, 6),
    (8, 7),
    (9, 21),
    (10, 9),
    (11, 10),
    (12, 11),
    (13, 1),
    (14, 13),
    (15, 14),
    (16, 15),
    (17, 1),
    (18, 17),
    (19, 18),
    (20, 19),
    (22, 23),
    (23, 8),
    (24, 25),
    (25, 12),
];

/// The authors' SMPL-22 (HumanML3D) bone list (1-based `(a, b)`, their exact order; `a` is
/// `b`'s parent).
pub const SMPL22_BONES_1BASED: [(usize, usize); 21] = [
    (1, 3),
    (3, 6),
    (6, 9),
    (9, 12),
    (1, 2),
    (2, 5),
    (5, 8),
    (8, 11),
    (1, 4),
    (4, 7),
    (7, 10),
    (10, 13),
    (13, 16),
    (10, 15),
    (15, 18),
    (18, 20),
    (20, 22),
    (10, 14),
    (14, 17),
    (17, 19),
    (19, 21),
];

fn ntu25() -> Layout {
    use Canonical::*;
    // Kinect v2 order. Parents follow the authors' bone list: the tree is rooted at the
    // spine-shoulder joint (21, 1-based).
    let names: [(&str, Option<Canonical>); 25] = [
        ("spine_base", Some(Pelvis)),
        ("spine_mid", Some(SpineMid)),
        ("neck", Some(Neck)),
        ("head", Some(Head)),
        ("left_shoulder", Some(LShoulder)),
        ("left_elbow", Some(LElbow)),
        ("left_wrist", Some(LWrist)),
        ("left_hand", Some(LHand)),
        ("right_shoulder", Some(RShoulder)),
        ("right_elbow", Some(RElbow)),
        ("right_wrist", Some(RWrist)),
        ("right_hand", Some(RHand)),
        ("left_hip", Some(LHip)),
        ("left_knee", Some(LKnee)),
        ("left_ankle", Some(LAnkle)),
        ("left_foot", Some(LFoot)),
        ("right_hip", Some(RHip)),
        ("right_knee", Some(RKnee)),
        ("right_ankle", Some(RAnkle)),
        ("right_foot", Some(RFoot)),
        ("spine_shoulder", Some(Chest)),
        ("left_hand_tip", Some(LHandTip)),
        ("left_thumb", Some(LThumb)),
        ("right_hand_tip", Some(RHandTip)),
        ("right_thumb", Some(RThumb)),
    ];
    let bones = zero_based(&NTU_BONES_1BASED);
    let mut parents = vec![None; 25];
    for &(a, b) in &bones {
        parents[a] = Some(b);
    }
    let rows: Vec<_> = names
        .iter()
        .zip(&parents)
        .map(|(n, p)| (n.0, *p, n.1))
        .collect();
    table("ntu25", &rows, Some(bones))
}

fn smpl(n: usize) -> Layout {
    use Canonical::*;
    let rows: [(&str, Option<usize>, Option<Canonical>); 24] = [
        ("pelvis", None, Some(Pelvis)),
        ("left_hip", Some(0), Some(LHip)),
        ("right_hip", Some(0), Some(RHip)),
        ("spine1", Some(0), Some(Spine1)),
        ("left_knee", Some(1), Some(LKnee)),
        ("right_knee", Some(2), Some(RKnee)),
        ("spine2", Some(3), Some(SpineMid)),
        ("left_ankle", Some(4), Some(LAnkle)),
        ("right_ankle", Some(5), Some(RAnkle)),
        ("spine3", Some(6), Some(Chest)),
        ("left_foot", Some(7), Some(LFoot)),
        ("right_foot", Some(8), Some(RFoot)),
        ("neck", Some(9), Some(Neck)),
        ("left_collar", Some(9), Some(LClavicle)),
        ("right_collar", Some(9), Some(RClavicle)),
        ("head", Some(12), Some(Head)),
        ("left_shoulder", Some(13), Some(LShoulder)),
        ("right_shoulder", Some(14), Some(RShoulder)),
        ("left_elbow", Some(16), Some(LElbow)),
        ("right_elbow", Some(17), Some(RElbow)),
        ("left_wrist", Some(18), Some(LWrist)),
        ("right_wrist", Some(19), Some(RWrist)),
        ("left_hand", Some(20), Some(LHand)),
        ("right_hand", Some(21), Some(RHand)),
    ];
    if n == 22 {
        table(
            "smpl22",
            &rows[..22],
            Some(zero_based(&SMPL22_BONES_1BASED)),
        )
    } else {
        table("smpl24", &rows, None)
    }
}

fn coco17() -> Layout {
    use Canonical::*;
    table(
        "coco17",
        &[
            ("nose", None, Some(Nose)),
            ("left_eye", Some(0), Some(LEye)),
            ("right_eye", Some(0), Some(REye)),
            ("left_ear", Some(1), Some(LEar)),
            ("right_ear", Some(2), Some(REar)),
            ("left_shoulder", Some(0), Some(LShoulder)),
            ("right_shoulder", Some(0), Some(RShoulder)),
            ("left_elbow", Some(5), Some(LElbow)),
            ("right_elbow", Some(6), Some(RElbow)),
            ("left_wrist", Some(7), Some(LWrist)),
            ("right_wrist", Some(8), Some(RWrist)),
            ("left_hip", Some(5), Some(LHip)),
            ("right_hip", Some(6), Some(RHip)),
            ("left_knee", Some(11), Some(LKnee)),
            ("right_knee", Some(12), Some(RKnee)),
            ("left_ankle", Some(13), Some(LAnkle)),
            ("right_ankle", Some(14), Some(RAnkle)),
        ],
        None,
    )
}

/// The 18 OpenPose COCO-body joints (also the first part of BODY_25 up to the ankles).
fn openpose_body(rows: &mut Vec<(&'static str, Option<usize>, Option<Canonical>)>) {
    use Canonical::*;
    rows.extend_from_slice(&[
        ("nose", Some(1), Some(Nose)),
        ("neck", None, Some(Neck)),
        ("right_shoulder", Some(1), Some(RShoulder)),
        ("right_elbow", Some(2), Some(RElbow)),
        ("right_wrist", Some(3), Some(RWrist)),
        ("left_shoulder", Some(1), Some(LShoulder)),
        ("left_elbow", Some(5), Some(LElbow)),
        ("left_wrist", Some(6), Some(LWrist)),
    ]);
}

fn openpose18() -> Layout {
    use Canonical::*;
    let mut rows = Vec::new();
    openpose_body(&mut rows);
    rows.extend_from_slice(&[
        ("right_hip", Some(1), Some(RHip)),
        ("right_knee", Some(8), Some(RKnee)),
        ("right_ankle", Some(9), Some(RAnkle)),
        ("left_hip", Some(1), Some(LHip)),
        ("left_knee", Some(11), Some(LKnee)),
        ("left_ankle", Some(12), Some(LAnkle)),
        ("right_eye", Some(0), Some(REye)),
        ("left_eye", Some(0), Some(LEye)),
        ("right_ear", Some(14), Some(REar)),
        ("left_ear", Some(15), Some(LEar)),
    ]);
    table("openpose18", &rows, None)
}

fn openpose25() -> Layout {
    use Canonical::*;
    let mut rows = Vec::new();
    openpose_body(&mut rows);
    // BODY_25 is rooted at the mid hip.
    rows[1].1 = Some(8);
    rows.extend_from_slice(&[
        ("mid_hip", None, Some(Pelvis)),
        ("right_hip", Some(8), Some(RHip)),
        ("right_knee", Some(9), Some(RKnee)),
        ("right_ankle", Some(10), Some(RAnkle)),
        ("left_hip", Some(8), Some(LHip)),
        ("left_knee", Some(12), Some(LKnee)),
        ("left_ankle", Some(13), Some(LAnkle)),
        ("right_eye", Some(0), Some(REye)),
        ("left_eye", Some(0), Some(LEye)),
        ("right_ear", Some(15), Some(REar)),
        ("left_ear", Some(16), Some(LEar)),
        ("left_big_toe", Some(14), Some(LFoot)),
        ("left_small_toe", Some(19), Some(LSmallToe)),
        ("left_heel", Some(14), Some(LHeel)),
        ("right_big_toe", Some(11), Some(RFoot)),
        ("right_small_toe", Some(22), Some(RSmallToe)),
        ("right_heel", Some(11), Some(RHeel)),
    ]);
    table("openpose25", &rows, None)
}

fn h36m17() -> Layout {
    use Canonical::*;
    table(
        "h36m17",
        &[
            ("hip", None, Some(Pelvis)),
            ("right_hip", Some(0), Some(RHip)),
            ("right_knee", Some(1), Some(RKnee)),
            ("right_ankle", Some(2), Some(RAnkle)),
            ("left_hip", Some(0), Some(LHip)),
            ("left_knee", Some(4), Some(LKnee)),
            ("left_ankle", Some(5), Some(LAnkle)),
            ("spine", Some(0), Some(SpineMid)),
            ("thorax", Some(7), Some(Chest)),
            ("neck_nose", Some(8), Some(Neck)),
            ("head", Some(9), Some(Head)),
            ("left_shoulder", Some(8), Some(LShoulder)),
            ("left_elbow", Some(11), Some(LElbow)),
            ("left_wrist", Some(12), Some(LWrist)),
            ("right_shoulder", Some(8), Some(RShoulder)),
            ("right_elbow", Some(14), Some(RElbow)),
            ("right_wrist", Some(15), Some(RWrist)),
        ],
        None,
    )
}

fn deepmimic15() -> Layout {
    use Canonical::*;
    // The DeepMimic humanoid (pybullet `humanoid.urdf`), joint order of its motion files.
    table(
        "deepmimic15",
        &[
            ("root", None, Some(Pelvis)),
            ("chest", Some(0), Some(SpineMid)),
            ("neck", Some(1), Some(Neck)),
            ("right_hip", Some(0), Some(RHip)),
            ("right_knee", Some(3), Some(RKnee)),
            ("right_ankle", Some(4), Some(RAnkle)),
            ("right_shoulder", Some(1), Some(RShoulder)),
            ("right_elbow", Some(6), Some(RElbow)),
            ("right_wrist", Some(7), Some(RWrist)),
            ("left_hip", Some(0), Some(LHip)),
            ("left_knee", Some(9), Some(LKnee)),
            ("left_ankle", Some(10), Some(LAnkle)),
            ("left_shoulder", Some(1), Some(LShoulder)),
            ("left_elbow", Some(12), Some(LElbow)),
            ("left_wrist", Some(13), Some(LWrist)),
        ],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_consistent() {
        for name in BUILTIN_LAYOUTS {
            let l = Layout::builtin(name).unwrap();
            l.check().unwrap();
            assert_eq!(&l.name, name);
            // Each canonical joint is claimed at most once.
            let mut seen = std::collections::HashSet::new();
            for c in l.canonical.iter().flatten() {
                assert!(seen.insert(*c), "{name}: {c:?} twice");
            }
            // Exactly one root for every built-in.
            assert_eq!(
                l.parents.iter().filter(|p| p.is_none()).count(),
                1,
                "{name}"
            );
        }
        assert_eq!(Layout::builtin("ntu25").unwrap().bones.len(), 24);
        assert_eq!(Layout::builtin("smpl22").unwrap().bones.len(), 21);
        assert_eq!(Layout::builtin("openpose25").unwrap().num_joints(), 25);
        assert!(Layout::builtin("nope").is_err());
    }

    #[test]
    fn cycles_are_found_and_long_chains_are_accepted() {
        let names = |n: usize| (0..n).map(|i| format!("j{i}")).collect::<Vec<_>>();
        let cyc = Layout::from_hierarchy("bvh", names(3), vec![None, Some(2), Some(1)]);
        assert!(cyc.unwrap_err().to_string().contains("cycle"));
        // A 200 000-joint chain (quadratic checking took minutes for this).
        let n: usize = 200_000;
        let parents = (0..n).map(|i| i.checked_sub(1)).collect();
        Layout::from_hierarchy("bvh", names(n), parents).unwrap();
    }

    #[test]
    fn ntu_tree_matches_authors_bones() {
        let l = Layout::builtin("ntu25").unwrap();
        // Bone (13, 1) 1-based: left hip hangs from spine base.
        assert_eq!(l.parents[12], Some(0));
        assert_eq!(l.parents[20], None);
        assert_eq!(l.bones[0], (0, 1));
        assert_eq!(l.bones[23], (24, 11));
    }

    #[test]
    fn mirror_pairs_and_parts() {
        let l = Layout::builtin("coco17").unwrap();
        let pairs = l.mirror_pairs();
        assert!(pairs.contains(&(1, 2)) && pairs.contains(&(15, 16)));
        assert_eq!(pairs.len(), 8);
        let parts = l.body_parts();
        let left_leg = &parts.iter().find(|p| p.0 == BodyPart::LeftLeg).unwrap().1;
        assert_eq!(left_leg, &vec![11, 13, 15]);
    }

    #[test]
    fn retarget_map_ntu_to_coco() {
        let ntu = Layout::builtin("ntu25").unwrap();
        let coco = Layout::builtin("coco17").unwrap();
        let m = coco.retarget_map(&ntu);
        assert_eq!(m[0], None); // nose: NTU has none
        assert_eq!(m[5], Some(4)); // left shoulder
        assert_eq!(m[16], Some(18)); // right ankle
        let back = ntu.retarget_map(&coco);
        assert_eq!(back.iter().flatten().count(), 12);
    }

    #[test]
    fn joint_names_from_bvh() {
        use Canonical::*;
        let cases = [
            ("Hips", Some(Pelvis)),
            ("LeftUpLeg", Some(LHip)),
            ("RightLeg", Some(RKnee)),
            ("LeftFoot", Some(LAnkle)),
            ("RightToeBase", Some(RFoot)),
            ("LeftShoulder", Some(LClavicle)),
            ("LeftArm", Some(LShoulder)),
            ("RightForeArm", Some(RElbow)),
            ("RightHand", Some(RWrist)),
            ("mixamorig:LeftArm", Some(LShoulder)),
            ("Neck", Some(Neck)),
            ("Head", Some(Head)),
            ("Spine", Some(Spine1)),
            ("Spine1", Some(SpineMid)),
            ("l_knee", Some(LKnee)),
            ("rThigh", Some(RHip)),
            ("LThumb", Some(LThumb)),
            ("LeftHandIndex1", None),
            ("LowerBack", None),
        ];
        for (name, want) in cases {
            assert_eq!(Canonical::from_joint_name(name), want, "{name}");
        }
    }
}

//! The canonical joint set through which layouts are retargeted ([`Canonical`]), guessing a
//! canonical joint from a free-form joint name, and the coarse [`BodyPart`]s.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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

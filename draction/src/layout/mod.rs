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
//! Hierarchies read from BVH files, and `mocap53` (the 53-joint skeleton of holosoma's motion
//! capture, with full hands), get their mapping from joint names
//! ([`Canonical::from_joint_name`]).

mod builtin;
mod canonical;

pub use builtin::{NTU_BONES_1BASED, SMPL22_BONES_1BASED};
pub use canonical::{BodyPart, Canonical};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
    "mocap53",
];

impl Layout {
    /// Looks a built-in layout up by name (`ntu25`, `smpl22`, `smpl24`, `coco17`, `openpose18`,
    /// `openpose25`, `h36m17`, `deepmimic15`, `mocap53`).
    pub fn builtin(name: &str) -> Result<Layout> {
        let layout = match name {
            "ntu25" => builtin::ntu25(),
            "smpl22" => builtin::smpl(22),
            "smpl24" => builtin::smpl(24),
            "coco17" => builtin::coco17(),
            "openpose18" => builtin::openpose18(),
            "openpose25" => builtin::openpose25(),
            "h36m17" => builtin::h36m17(),
            "deepmimic15" => builtin::deepmimic15(),
            "mocap53" => builtin::mocap53(),
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
            53 => "mocap53",
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
    fn mocap53_maps_its_body_joints_to_ntu() {
        let mocap = Layout::builtin("mocap53").unwrap();
        assert_eq!(Layout::guess_from_joint_count(53), Some("mocap53"));
        let ntu = Layout::builtin("ntu25").unwrap();
        let m = ntu.retarget_map(&mocap);
        let name = |i: Option<usize>| i.map(|i| mocap.joints[i].as_str());
        // NTU (0-based): 0 spine base, 4 left shoulder, 5 left elbow, 6 left wrist,
        // 12 left hip, 13 left knee, 14 left ankle, 15 left foot, 22 left thumb.
        assert_eq!(name(m[0]), Some("Hips"));
        assert_eq!(name(m[4]), Some("LeftArm"));
        assert_eq!(name(m[5]), Some("LeftForeArm"));
        assert_eq!(name(m[6]), Some("LeftHand"));
        assert_eq!(name(m[12]), Some("LeftUpLeg"));
        assert_eq!(name(m[13]), Some("LeftLeg"));
        assert_eq!(name(m[14]), Some("LeftFoot"));
        assert_eq!(name(m[15]), Some("LeftToeBase"));
        assert_eq!(name(m[22]), Some("LeftHandThumb1"));
        // Finger joints other than the thumb base and the foot markers map to nothing.
        assert_eq!(mocap.canonical[13], None);
        assert_eq!(mocap.canonical[51], None);
    }
}

//! The built-in layout tables (`ntu25`, `smpl22`, `smpl24`, `coco17`, `openpose18`,
//! `openpose25`, `h36m17`, `deepmimic15`): joint names, parents, canonical counterparts and the
//! authors' bone lists.

use super::{Canonical, Layout};

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

/// NTU RGB+D (Kinect v2), 25 joints.
pub(super) fn ntu25() -> Layout {
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

/// SMPL body joints: 22 (HumanML3D) or 24 (with the hands).
pub(super) fn smpl(n: usize) -> Layout {
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

/// COCO keypoints, 17 joints.
pub(super) fn coco17() -> Layout {
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

/// OpenPose COCO-body, 18 joints.
pub(super) fn openpose18() -> Layout {
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

/// OpenPose BODY_25, 25 joints.
pub(super) fn openpose25() -> Layout {
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

/// Human3.6M, 17 joints.
pub(super) fn h36m17() -> Layout {
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

/// The DeepMimic humanoid, 15 joints.
pub(super) fn deepmimic15() -> Layout {
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

/// The 53-joint motion-capture skeleton of holosoma-retargeting's `mocap` demo data (body,
/// full hands, toe bases and two foot markers), in its data order.
pub(super) fn mocap53() -> Layout {
    const ROWS: [(&str, Option<usize>); 53] = [
        ("Hips", None),
        ("Spine", Some(0)),
        ("Spine1", Some(1)),
        ("Neck", Some(2)),
        ("Head", Some(3)),
        ("LeftShoulder", Some(2)),
        ("LeftArm", Some(5)),
        ("LeftForeArm", Some(6)),
        ("LeftHand", Some(7)),
        ("LeftHandThumb1", Some(8)),
        ("LeftHandThumb2", Some(9)),
        ("LeftHandThumb3", Some(10)),
        ("LeftHandIndex1", Some(8)),
        ("LeftHandIndex2", Some(12)),
        ("LeftHandIndex3", Some(13)),
        ("LeftHandMiddle1", Some(8)),
        ("LeftHandMiddle2", Some(15)),
        ("LeftHandMiddle3", Some(16)),
        ("LeftHandRing1", Some(8)),
        ("LeftHandRing2", Some(18)),
        ("LeftHandRing3", Some(19)),
        ("LeftHandPinky1", Some(8)),
        ("LeftHandPinky2", Some(21)),
        ("LeftHandPinky3", Some(22)),
        ("RightShoulder", Some(2)),
        ("RightArm", Some(24)),
        ("RightForeArm", Some(25)),
        ("RightHand", Some(26)),
        ("RightHandThumb1", Some(27)),
        ("RightHandThumb2", Some(28)),
        ("RightHandThumb3", Some(29)),
        ("RightHandIndex1", Some(27)),
        ("RightHandIndex2", Some(31)),
        ("RightHandIndex3", Some(32)),
        ("RightHandMiddle1", Some(27)),
        ("RightHandMiddle2", Some(34)),
        ("RightHandMiddle3", Some(35)),
        ("RightHandRing1", Some(27)),
        ("RightHandRing2", Some(37)),
        ("RightHandRing3", Some(38)),
        ("RightHandPinky1", Some(27)),
        ("RightHandPinky2", Some(40)),
        ("RightHandPinky3", Some(41)),
        ("LeftUpLeg", Some(0)),
        ("LeftLeg", Some(43)),
        ("LeftFoot", Some(44)),
        ("LeftToeBase", Some(45)),
        ("RightUpLeg", Some(0)),
        ("RightLeg", Some(47)),
        ("RightFoot", Some(48)),
        ("RightToeBase", Some(49)),
        ("LeftFootMod", Some(45)),
        ("RightFootMod", Some(49)),
    ];
    let rows: Vec<(&str, Option<usize>, Option<Canonical>)> = ROWS
        .iter()
        .map(|&(name, parent)| (name, parent, Canonical::from_joint_name(name)))
        .collect();
    table("mocap53", &rows, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntu_tree_matches_authors_bones() {
        let l = Layout::builtin("ntu25").unwrap();
        // Bone (13, 1) 1-based: left hip hangs from spine base.
        assert_eq!(l.parents[12], Some(0));
        assert_eq!(l.parents[20], None);
        assert_eq!(l.bones[0], (0, 1));
        assert_eq!(l.bones[23], (24, 11));
    }
}

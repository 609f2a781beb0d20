//! Procedural human motion: NTU-25 skeleton clips of simple actions (walking, waving, squatting,
//! …) performed by randomly sampled people, for data that needs no capture.
//!
//! A small kinematic body (segment lengths from a [`Performer`]) is posed per frame by a class
//! function of time: the root and trunk are set directly, arms and legs by two-bone inverse
//! kinematics towards hand and foot targets, so every bone keeps its length. Output follows the
//! NTU (Kinect v2) camera space: metres, +y up, the camera at the origin looking down +z, a
//! person facing the camera looks along −z and has their right side towards +x. Walks and runs
//! travel at human speeds; a performer whose path would leave the camera's view is placed
//! further back ([`keep_in_view`]).

use std::f32::consts::{PI, TAU};

use crate::error::{Error, Result};
use crate::kinematics::{Vec3, add, dot, mat_mul, mat_vec, rot_x, rot_y, rot_z, scale, sub};
use crate::layout::Layout;
use crate::rng::SplitMix64;
use crate::skeleton::{Format, Skeleton, Source};

/// The action labels [`generate`] knows, in a fixed order.
pub const PROCEDURAL_CLASSES: &[&str] = &[
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
];

/// NTU-25 joint indices (Kinect v2 order, 0-based).
mod j {
    pub const SPINE_BASE: usize = 0;
    pub const SPINE_MID: usize = 1;
    pub const NECK: usize = 2;
    pub const HEAD: usize = 3;
    pub const SHOULDER: [usize; 2] = [4, 8];
    pub const ELBOW: [usize; 2] = [5, 9];
    pub const WRIST: [usize; 2] = [6, 10];
    pub const HAND: [usize; 2] = [7, 11];
    pub const HIP: [usize; 2] = [12, 16];
    pub const KNEE: [usize; 2] = [13, 17];
    pub const ANKLE: [usize; 2] = [14, 18];
    pub const FOOT: [usize; 2] = [15, 19];
    pub const SPINE_SHOULDER: usize = 20;
    pub const HAND_TIP: [usize; 2] = [21, 23];
    pub const THUMB: [usize; 2] = [22, 24];
}

/// Index of the left side in per-side arrays (`[left, right]`).
const LEFT: usize = 0;
/// Index of the right side in per-side arrays.
const RIGHT: usize = 1;

/// Segment lengths of a performer's body, in metres.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyLengths {
    /// Hip joint to knee.
    pub thigh: f32,
    /// Knee to ankle.
    pub shank: f32,
    /// Height of the ankle joint above the floor when standing.
    pub ankle_height: f32,
    /// Horizontal distance from the ankle to the foot joint.
    pub foot_length: f32,
    /// Half the distance between the hip joints.
    pub hip_half_width: f32,
    /// Height of the spine base above the hip joints.
    pub hip_drop: f32,
    /// Spine base to spine mid.
    pub lower_spine: f32,
    /// Spine mid to spine shoulder.
    pub upper_spine: f32,
    /// Spine shoulder to neck.
    pub neck: f32,
    /// Neck to head.
    pub head: f32,
    /// Half the distance between the shoulder joints.
    pub shoulder_half_width: f32,
    /// Shoulder to elbow.
    pub upper_arm: f32,
    /// Elbow to wrist.
    pub forearm: f32,
    /// Wrist to hand.
    pub hand: f32,
    /// Hand to hand tip.
    pub hand_tip: f32,
    /// Hand to thumb.
    pub thumb: f32,
}

impl BodyLengths {
    /// Typical proportions for a person `height` metres tall (head top at `height`).
    pub fn for_height(height: f32) -> BodyLengths {
        let h = height;
        BodyLengths {
            thigh: 0.245 * h,
            shank: 0.245 * h,
            ankle_height: 0.04 * h,
            foot_length: 0.08 * h,
            hip_half_width: 0.055 * h,
            hip_drop: 0.03 * h,
            lower_spine: 0.165 * h,
            upper_spine: 0.14 * h,
            neck: 0.045 * h,
            head: 0.065 * h,
            shoulder_half_width: 0.1 * h,
            upper_arm: 0.17 * h,
            forearm: 0.15 * h,
            hand: 0.035 * h,
            hand_tip: 0.045 * h,
            thumb: 0.03 * h,
        }
    }

    /// Leg length, hip joint to ankle.
    pub fn leg(&self) -> f32 {
        self.thigh + self.shank
    }

    /// Arm length, shoulder to wrist.
    pub fn arm(&self) -> f32 {
        self.upper_arm + self.forearm
    }

    /// Height of the spine base above the floor when standing.
    pub fn standing_root_height(&self) -> f32 {
        self.ankle_height + STRAIGHT * self.leg() + self.hip_drop
    }
}

/// How straight a standing leg or a hanging arm is (distance over full reach).
const STRAIGHT: f32 = 0.985;

/// A sampled person: body size and proportions, handedness, tempo, amplitude, placement in
/// front of the camera and small posture habits.
#[derive(Debug, Clone, PartialEq)]
pub struct Performer {
    /// The seed the performer was sampled from.
    pub seed: u64,
    /// Body height in metres (1.5–1.95).
    pub height: f32,
    /// Segment lengths (height-based proportions with ±5 % jitter per limb).
    pub body: BodyLengths,
    /// Whether the left hand and foot are dominant.
    pub left_handed: bool,
    /// Speed multiplier of every movement (0.8–1.25).
    pub tempo: f32,
    /// Size multiplier of every movement (0.8–1.2).
    pub amplitude: f32,
    /// Facing yaw in radians (−45°..45°; 0 faces the camera).
    pub yaw: f32,
    /// Distance of the body from the camera along +z, metres.
    pub distance: f32,
    /// Sideways offset of the body from the optical axis, metres.
    pub lateral: f32,
    /// Height of the floor in camera space (negative: the camera is above the floor), metres.
    pub floor_y: f32,
    /// Habitual forward lean of the trunk, radians.
    pub lean: f32,
    /// Habitual sideways lean of the trunk, radians.
    pub side_lean: f32,
    /// Habitual head pitch (positive looks down), radians.
    pub head_pitch: f32,
    /// How far the hanging arms are held away from the body, as a fraction of arm length.
    pub arm_spread: f32,
}

/// Uniform in `[lo, hi)`.
fn uniform(rng: &mut SplitMix64, lo: f32, hi: f32) -> f32 {
    let u = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
    lo + (hi - lo) * u
}

/// Roughly normal with standard deviation `sd` (sum of three uniforms, bounded to ±3 sd).
fn noise(rng: &mut SplitMix64, sd: f32) -> f32 {
    let s: f32 = (0..3).map(|_| uniform(rng, -1.0, 1.0)).sum();
    s * sd
}

impl Performer {
    /// A performer sampled deterministically from `seed`.
    pub fn sample(seed: u64) -> Performer {
        let mut rng = SplitMix64::derive(seed, 0x5045_5246);
        let height = uniform(&mut rng, 1.5, 1.95);
        let mut body = BodyLengths::for_height(height);
        let leg = uniform(&mut rng, 0.95, 1.05);
        let arm = uniform(&mut rng, 0.95, 1.05);
        body.thigh *= leg;
        body.shank *= leg;
        body.upper_arm *= arm;
        body.forearm *= arm;
        let mut jit = |x: &mut f32| *x *= uniform(&mut rng, 0.95, 1.05);
        for x in [
            &mut body.thigh,
            &mut body.shank,
            &mut body.foot_length,
            &mut body.hip_half_width,
            &mut body.lower_spine,
            &mut body.upper_spine,
            &mut body.neck,
            &mut body.head,
            &mut body.shoulder_half_width,
            &mut body.upper_arm,
            &mut body.forearm,
            &mut body.hand,
            &mut body.hand_tip,
            &mut body.thumb,
        ] {
            jit(x);
        }
        Performer {
            seed,
            height,
            body,
            left_handed: uniform(&mut rng, 0.0, 1.0) < 0.15,
            tempo: uniform(&mut rng, 0.8, 1.25),
            amplitude: uniform(&mut rng, 0.8, 1.2),
            yaw: uniform(&mut rng, -45.0, 45.0).to_radians(),
            distance: uniform(&mut rng, 2.6, 3.6),
            lateral: uniform(&mut rng, -0.3, 0.3),
            floor_y: -uniform(&mut rng, 0.8, 1.15),
            lean: noise(&mut rng, 0.03),
            side_lean: noise(&mut rng, 0.015),
            head_pitch: noise(&mut rng, 0.05),
            arm_spread: uniform(&mut rng, 0.03, 0.12),
        }
    }

    /// Index of the dominant side in `[left, right]` arrays.
    fn dominant(&self) -> usize {
        if self.left_handed { LEFT } else { RIGHT }
    }
}

// ---------------------------------------------------------------------------------------------
// Small vector maths.

type V3 = Vec3<f32>;

fn norm(a: V3) -> f32 {
    dot(a, a).sqrt()
}

fn lerp3(a: V3, b: V3, t: f32) -> V3 {
    add(a, scale(sub(b, a), t))
}

/// `a` scaled to unit length, or `fallback` if it is (nearly) zero.
fn unit_or(a: V3, fallback: V3) -> V3 {
    let n = norm(a);
    if n > 1e-6 {
        scale(a, 1.0 / n)
    } else {
        fallback
    }
}

/// `-1` for the left side, `+1` for the right (the body's right is +x).
fn side(i: usize) -> f32 {
    if i == LEFT { -1.0 } else { 1.0 }
}

fn smoothstep(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// `smoothstep` of `x` going from `a` to `b`.
fn ramp(x: f32, a: f32, b: f32) -> f32 {
    smoothstep((x - a) / (b - a))
}

fn frac(x: f32) -> f32 {
    x - x.floor()
}

/// Two-bone inverse kinematics: the middle and end joints of a chain of lengths `a`, `b` from
/// `root` reaching for `target`, bending towards `pole`. Both lengths are kept exactly; an
/// unreachable target is approached along the line towards it.
fn two_bone(root: V3, target: V3, a: f32, b: f32, pole: V3) -> (V3, V3) {
    let to = sub(target, root);
    let dir = unit_or(to, [0.0, -1.0, 0.0]);
    let d = norm(to).clamp((a - b).abs() + 1e-4, a + b - 1e-4);
    let cos = ((a * a + d * d - b * b) / (2.0 * a * d)).clamp(-1.0, 1.0);
    let sin = (1.0 - cos * cos).max(0.0).sqrt();
    let perp = perpendicular(dir, pole);
    let mid = add(root, add(scale(dir, a * cos), scale(perp, a * sin)));
    (mid, add(root, scale(dir, d)))
}

/// The unit component of `pole` perpendicular to the unit vector `dir` (a fixed fallback
/// direction when `pole` is nearly parallel to `dir`).
fn perpendicular(dir: V3, pole: V3) -> V3 {
    let reject = |v: V3| sub(v, scale(dir, dot(v, dir)));
    let mut p = reject(unit_or(pole, [0.0, 0.0, 1.0]));
    if norm(p) < 1e-2 {
        let fallback = if dir[1].abs() < 0.9 {
            [0.0, 1.0, 0.0]
        } else {
            [0.0, 0.0, 1.0]
        };
        p = reject(fallback);
    }
    // A second pass removes what rounding left along `dir`.
    let p = reject(unit_or(p, [1.0, 0.0, 0.0]));
    unit_or(p, [1.0, 0.0, 0.0])
}

// ---------------------------------------------------------------------------------------------
// The pose of one frame and its forward kinematics.

/// One frame's pose in the body frame: floor at `y = 0`, +x the body's right, −z its front.
#[derive(Debug, Clone)]
struct Pose {
    /// Spine base position.
    root: V3,
    /// Forward flexion of the trunk at the spine base (radians; positive bends forward).
    pitch: f32,
    /// Sideways lean of the trunk (radians; positive leans to the body's left).
    roll: f32,
    /// Trunk rotation about the vertical (radians; positive turns the right shoulder forward).
    twist: f32,
    /// Extra head flexion (radians; positive looks down).
    head_pitch: f32,
    /// Wrist targets as offsets from each shoulder, `[left, right]`.
    wrists: [V3; 2],
    /// Absolute wrist targets blended in with weight `wrist_abs_weight`.
    wrists_abs: [V3; 2],
    /// Weight of `wrists_abs` per side.
    wrist_abs_weight: [f32; 2],
    /// Direction the elbows bend towards.
    elbow_poles: [V3; 2],
    /// Absolute ankle targets.
    ankles: [V3; 2],
    /// Direction the knees bend towards.
    knee_poles: [V3; 2],
    /// Foot pitch (radians; positive lifts the toes).
    toe_pitch: [f32; 2],
}

impl Pose {
    /// Standing upright, arms hanging, feet under the hips.
    fn standing(p: &Performer) -> Pose {
        let b = &p.body;
        let r = b.arm();
        let hang = |i: usize| [side(i) * p.arm_spread * r, -0.96 * r, -0.06 * r];
        let ankle = |i: usize| [side(i) * b.hip_half_width * 1.1, b.ankle_height, 0.0];
        Pose {
            root: [0.0, b.standing_root_height(), 0.0],
            pitch: p.lean,
            roll: p.side_lean,
            twist: 0.0,
            head_pitch: p.head_pitch,
            wrists: [hang(LEFT), hang(RIGHT)],
            wrists_abs: [[0.0; 3]; 2],
            wrist_abs_weight: [0.0; 2],
            elbow_poles: [[-0.3, 0.0, 1.0], [0.3, 0.0, 1.0]],
            ankles: [ankle(LEFT), ankle(RIGHT)],
            knee_poles: [[-0.15, 0.0, -1.0], [0.15, 0.0, -1.0]],
            toe_pitch: [0.0; 2],
        }
    }

    /// Forward kinematics: the 25 NTU joints in the body frame.
    fn joints(&self, b: &BodyLengths) -> [V3; 25] {
        let mut out = [[0.0f32; 3]; 25];
        let up = [0.0, 1.0, 0.0];
        let twist = rot_y(-self.twist);
        let low = mat_mul(
            &twist,
            &mat_mul(&rot_z(self.roll * 0.5), &rot_x(-self.pitch * 0.8)),
        );
        let high = mat_mul(&twist, &mat_mul(&rot_z(self.roll), &rot_x(-self.pitch)));
        let head = mat_mul(&high, &rot_x(-self.head_pitch));
        let root = self.root;
        let mid = add(root, mat_vec(&low, scale(up, b.lower_spine)));
        let chest = add(mid, mat_vec(&high, scale(up, b.upper_spine)));
        let neck = add(chest, mat_vec(&head, scale(up, b.neck)));
        out[j::SPINE_BASE] = root;
        out[j::SPINE_MID] = mid;
        out[j::SPINE_SHOULDER] = chest;
        out[j::NECK] = neck;
        out[j::HEAD] = add(neck, mat_vec(&head, scale(up, b.head)));
        let pelvis = rot_y(-self.twist * 0.3);
        for i in [LEFT, RIGHT] {
            let s = side(i);
            // Arm.
            let shoulder = add(
                chest,
                mat_vec(&high, [s * b.shoulder_half_width, -0.02, 0.0]),
            );
            let rel = add(shoulder, self.wrists[i]);
            let target = lerp3(rel, self.wrists_abs[i], self.wrist_abs_weight[i]);
            let pole = self.elbow_poles[i];
            let (elbow, wrist) = two_bone(shoulder, target, b.upper_arm, b.forearm, pole);
            let dir = unit_or(sub(wrist, elbow), [0.0, -1.0, 0.0]);
            let inward = scale(perpendicular(dir, pole), -1.0);
            let hand = add(wrist, scale(dir, b.hand));
            out[j::SHOULDER[i]] = shoulder;
            out[j::ELBOW[i]] = elbow;
            out[j::WRIST[i]] = wrist;
            out[j::HAND[i]] = hand;
            out[j::HAND_TIP[i]] = add(hand, scale(dir, b.hand_tip));
            out[j::THUMB[i]] = add(
                hand,
                scale(add(scale(dir, 0.5), scale(inward, 0.866)), b.thumb),
            );
            // Leg.
            let hip = add(
                root,
                mat_vec(&pelvis, [s * b.hip_half_width, -b.hip_drop, 0.0]),
            );
            let (knee, ankle) = two_bone(hip, self.ankles[i], b.thigh, b.shank, self.knee_poles[i]);
            let foot_dir = mat_vec(
                &mat_mul(
                    &pelvis,
                    &mat_mul(&rot_y(-s * 0.2), &rot_x(self.toe_pitch[i])),
                ),
                [0.0, -0.45, -1.0],
            );
            out[j::HIP[i]] = hip;
            out[j::KNEE[i]] = knee;
            out[j::ANKLE[i]] = ankle;
            out[j::FOOT[i]] = add(
                ankle,
                scale(unit_or(foot_dir, [0.0, 0.0, -1.0]), b.foot_length),
            );
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The classes.

/// Per-clip choices shared by every frame of a clip.
struct Clip<'a> {
    p: &'a Performer,
    /// Clip length in seconds.
    seconds: f32,
    /// Random start phase in cycles, `[0, 1)`.
    phase: f32,
    /// A second uniform `[0, 1)` number for class-specific choices.
    choice: f32,
    /// Whether a one-handed action is done with both hands.
    both: bool,
}

impl Clip<'_> {
    /// Cycle position `[0, 1)` at time `t` for a cycle of `period` seconds (tempo applied).
    fn cycle(&self, t: f32, period: f32) -> f32 {
        frac(t * self.p.tempo / period + self.phase)
    }

    /// A period of `base / tempo` seconds, shortened so the clip holds at least one cycle.
    fn period(&self, base: f32) -> f32 {
        (base).min(0.9 * self.seconds * self.p.tempo)
    }
}

/// Moves a skeleton straight back, as a camera operator steps back for a run across the room,
/// until every valid joint of every frame lies within 90 % of the renderer's 60° field of view
/// (the margin its cross-topology positioning keeps too). NTU-25 clips take the renderer's
/// exact path, which positions nothing, so clips made in camera space (this generator's, or
/// such clips turned about their centre) must stay in view themselves. Camera space: the
/// camera at the origin, looking along +z.
pub fn keep_in_view(skel: &mut Skeleton) {
    let tan = crate::render::clip::view_tan();
    let push = skel
        .positions()
        .chunks(3)
        .zip(skel.valid())
        .filter(|(_, v)| **v)
        .map(|(p, _)| p[0].abs().max(p[1].abs()) / tan - p[2])
        .fold(0.0f32, f32::max);
    if push > 0.0 {
        skel.map_positions(|[x, y, z]| [x, y, z + push]);
    }
}

/// The joints and root of every pose, with the forward travel of the root (along −z) bent
/// into an arc that turns `bend` radians per second about the vertical, the body turning with
/// its path. `bend = 0` leaves the poses as they are.
fn bent(poses: &[Pose], body: &BodyLengths, bend: f32, fps: f32) -> Vec<([V3; 25], V3)> {
    let mid = poses.len().saturating_sub(1) as f32 / fps / 2.0;
    let mut path = [0.0f32; 3];
    let mut last_z = poses.first().map_or(0.0, |p| p.root[2]);
    poses
        .iter()
        .enumerate()
        .map(|(f, pose)| {
            let mut joints = pose.joints(body);
            let mut root = pose.root;
            if bend != 0.0 {
                let r = rot_y(bend * (f as f32 / fps - mid));
                path = add(path, mat_vec(&r, [0.0, 0.0, pose.root[2] - last_z]));
                last_z = pose.root[2];
                let moved = |q: V3| add(mat_vec(&r, sub(q, [0.0, 0.0, pose.root[2]])), path);
                joints.iter_mut().for_each(|q| *q = moved(*q));
                root = moved(root);
            }
            (joints, root)
        })
        .collect()
}

/// Walking or running: legs alternate stance and swing while the root travels forward.
fn locomotion(c: &Clip, t: f32, run: bool) -> Pose {
    let p = c.p;
    let b = &p.body;
    let (l, r, a) = (b.leg(), b.arm(), p.amplitude);
    let mut pose = Pose::standing(p);
    let period = if run { 0.72 } else { 1.1 };
    let stance = if run { 0.38 } else { 0.62 };
    // Human speeds (about 1.2 m/s walking, 3 m/s running): how far the body travels is what
    // tells a walk from a run in a few frames, so the path is never shortened to stay in view
    // ([`keep_in_view`] moves the performer back instead).
    let stride = if run { 2.4 * l } else { 1.5 * l } * a.sqrt();
    let speed = stride * p.tempo / period;
    let root_z = -speed * t;
    let step = stride * stance; // how far a stance foot moves relative to the hip
    let mut offsets = [0.0f32; 2];
    for i in [LEFT, RIGHT] {
        let ph = frac(c.cycle(t, period) + 0.5 * i as f32);
        let (dz, lift) = if ph < stance {
            let u = ph / stance;
            (-step / 2.0 + step * u, 0.0)
        } else {
            let u = (ph - stance) / (1.0 - stance);
            let h = if run { 0.22 } else { 0.09 } * l * a;
            (step / 2.0 - step * smoothstep(u), h * (PI * u).sin())
        };
        offsets[i] = dz;
        let x = side(i) * b.hip_half_width * if run { 0.8 } else { 1.0 };
        pose.ankles[i] = [x, b.ankle_height + lift, root_z + dz];
        pose.toe_pitch[i] = if lift > 0.0 { 0.15 } else { 0.0 };
    }
    let hip_y = if run {
        let mid = c.cycle(t, period) - stance / 2.0;
        let bounce = -(2.0 * TAU * mid).cos();
        b.ankle_height + l * (0.9 + 0.045 * bounce)
    } else {
        // Compass gait: the hips ride as high as the more stretched leg allows.
        let reach = 0.99 * l;
        let lowest = offsets
            .iter()
            .map(|dz| (reach * reach - dz * dz).max(0.0).sqrt())
            .fold(STRAIGHT * l, f32::min);
        b.ankle_height + lowest
    };
    pose.root = [0.0, hip_y + b.hip_drop, root_z];
    pose.pitch += if run { 0.2 } else { 0.05 };
    pose.head_pitch -= if run { 0.15 } else { 0.03 };
    for i in [LEFT, RIGHT] {
        // The arm swings against the leg on its own side.
        let swing = offsets[i] / (step / 2.0).max(1e-3);
        let s = side(i);
        pose.wrists[i] = if run {
            let ang = 0.7 + 0.6 * a * swing;
            add(
                mat_vec(&rot_x(ang), [0.0, -0.62 * r, 0.0]),
                [-s * 0.05 * r, 0.0, 0.0],
            )
        } else {
            let ang = 0.35 * a * swing;
            add(
                mat_vec(&rot_x(ang), [0.0, -0.94 * r, 0.0]),
                [s * p.arm_spread * r, 0.0, 0.0],
            )
        };
        pose.elbow_poles[i] = [s * 0.3, -0.2, 1.0];
    }
    pose.twist = 0.12 * a * (offsets[RIGHT] - offsets[LEFT]) / step.max(1e-3);
    pose
}

/// Repeated jumps on the spot: crouch, take off, fly, land, recover.
fn jumping(c: &Clip, t: f32) -> Pose {
    let p = c.p;
    let b = &p.body;
    let (l, r, a) = (b.leg(), b.arm(), p.amplitude);
    let mut pose = Pose::standing(p);
    let ph = c.cycle(t, c.period(1.5));
    let (take_off, touch_down) = (0.42, 0.68);
    let crouch = if ph < take_off {
        ramp(ph, 0.08, 0.3) * (1.0 - ramp(ph, 0.33, take_off))
    } else {
        0.7 * ramp(ph, touch_down, 0.76) * (1.0 - ramp(ph, 0.8, 0.97))
    };
    let air = if (take_off..touch_down).contains(&ph) {
        let u = (ph - take_off) / (touch_down - take_off);
        4.0 * u * (1.0 - u) * 0.22 * a * p.height / 1.75
    } else {
        0.0
    };
    pose.root[1] += air - crouch * 0.3 * l;
    pose.root[2] += crouch * 0.08 * l;
    pose.pitch += crouch * 0.55;
    pose.head_pitch -= crouch * 0.3;
    for i in [LEFT, RIGHT] {
        pose.ankles[i][1] += air * 0.9;
        pose.toe_pitch[i] = -(air / b.foot_length).min(0.5) * 0.5;
        pose.knee_poles[i] = [side(i) * 0.25, 0.0, -1.0];
        // Arms swing back in the crouch and up through the take-off.
        let ang = if ph < 0.3 {
            -0.7 * crouch
        } else if ph < 0.55 {
            -0.7 + 3.0 * ramp(ph, 0.3, 0.5)
        } else {
            2.3 * (1.0 - ramp(ph, 0.55, 0.85))
        } * a.min(1.1);
        pose.wrists[i] = add(
            mat_vec(&rot_x(ang), [0.0, -0.95 * r, 0.0]),
            [side(i) * 0.12 * r, 0.0, 0.0],
        );
    }
    pose
}

/// Waving one raised hand (both hands in some clips) side to side above the head.
fn waving(c: &Clip, t: f32) -> Pose {
    let p = c.p;
    let r = p.body.arm();
    let a = p.amplitude;
    let mut pose = Pose::standing(p);
    let raise = ramp(t, 0.0, 0.35 / p.tempo);
    let wave = (TAU * c.cycle(t, 0.45)).sin();
    let dom = p.dominant();
    for i in [LEFT, RIGHT] {
        if i != dom && !c.both {
            continue;
        }
        let s = side(i);
        let up = [s * (0.32 + 0.22 * a * wave) * r, 0.8 * r, -0.12 * r];
        pose.wrists[i] = lerp3(pose.wrists[i], up, raise);
        pose.elbow_poles[i] = [s, -0.6, 0.2];
    }
    pose.roll += if c.both { 0.0 } else { -side(dom) * 0.04 };
    pose
}

/// Clapping: the hands meet in front of the chest again and again.
fn clapping(c: &Clip, t: f32) -> Pose {
    let p = c.p;
    let b = &p.body;
    let k = p.height / 1.75;
    let mut pose = Pose::standing(p);
    let ph = c.cycle(t, 0.55);
    // Open slowly, close fast: the gap is 0 at the clap.
    let open = (PI * ph).sin().powf(0.8);
    for i in [LEFT, RIGHT] {
        let s = side(i);
        let x = s * (0.025 + 0.2 * p.amplitude * open) * k;
        pose.wrists[i] = [
            x - s * b.shoulder_half_width,
            -0.1 * p.height,
            -0.24 * p.height,
        ];
        pose.elbow_poles[i] = [s, -1.0, 0.3];
    }
    pose.head_pitch += 0.1;
    pose
}

/// Squats: the hips go down and back, the arms reach forward, and up again.
fn squatting(c: &Clip, t: f32) -> Pose {
    let p = c.p;
    let b = &p.body;
    let r = b.arm();
    let mut pose = Pose::standing(p);
    let d = 0.5 - 0.5 * (TAU * c.cycle(t, c.period(2.4))).cos();
    let depth = (0.24 + 0.06 * p.amplitude) * p.height;
    pose.root[1] -= depth * d;
    pose.root[2] += 0.12 * p.height * d;
    pose.pitch += 0.65 * d;
    pose.head_pitch -= 0.45 * d;
    for i in [LEFT, RIGHT] {
        let s = side(i);
        pose.ankles[i][0] = s * b.hip_half_width * 1.5;
        pose.knee_poles[i] = [s * 0.45, 0.0, -1.0];
        let ang = 1.45 * d;
        pose.wrists[i] = lerp3(
            pose.wrists[i],
            add(
                mat_vec(&rot_x(ang), [0.0, -0.95 * r, 0.0]),
                [-s * 0.05 * r, 0.0, 0.0],
            ),
            d.min(1.0),
        );
    }
    pose
}

/// Bowing: the trunk flexes forward at the hips, holds, and comes back up.
fn bowing(c: &Clip, t: f32) -> Pose {
    let p = c.p;
    let r = p.body.arm();
    let mut pose = Pose::standing(p);
    let ph = c.cycle(t, c.period(2.6));
    let bow = ramp(ph, 0.05, 0.4) * (1.0 - ramp(ph, 0.55, 0.9));
    let angle = (0.9 + 0.4 * p.amplitude) * bow;
    pose.pitch += angle;
    pose.root[2] += 0.06 * p.height * bow;
    pose.head_pitch += 0.15 * bow;
    for i in [LEFT, RIGHT] {
        // The arms keep hanging by gravity, slightly ahead of the body.
        pose.wrists[i] = [side(i) * 0.05 * r, -0.95 * r, -0.1 * r * bow];
    }
    pose
}

/// Sitting down on an invisible chair: `progress` runs from 0 (standing) to 1 (seated).
fn seated(p: &Performer, progress: f32) -> Pose {
    let b = &p.body;
    let mut pose = Pose::standing(p);
    let down = smoothstep(progress);
    // The hips travel back a little ahead of going down.
    let back = ramp(progress, 0.0, 0.75);
    let seat_y = b.ankle_height + b.shank + b.hip_drop + 0.01;
    let seat_z = 0.95 * b.thigh;
    pose.root[1] += (seat_y - pose.root[1]) * down;
    pose.root[2] += seat_z * back;
    pose.pitch += 0.55 * (PI * progress.clamp(0.0, 1.0)).sin() + 0.08 * down;
    pose.head_pitch -= 0.2 * (PI * progress.clamp(0.0, 1.0)).sin();
    for i in [LEFT, RIGHT] {
        let s = side(i);
        pose.ankles[i][2] -= 0.06 * b.shank * down;
        pose.knee_poles[i] = [s * 0.2, 0.0, -1.0];
        // Hands come to rest on the thighs.
        pose.wrists_abs[i] = [
            s * (b.hip_half_width + 0.03),
            pose.root[1] + 0.04 * p.height,
            pose.root[2] - 0.7 * b.thigh,
        ];
        pose.wrist_abs_weight[i] = ramp(progress, 0.35, 1.0);
        pose.elbow_poles[i] = [s * 0.6, 0.0, 1.0];
    }
    pose
}

/// Sitting down (`reverse = false`) or standing up from a seat (`reverse = true`).
fn sit(c: &Clip, t: f32, reverse: bool) -> Pose {
    let onset = (0.08 + 0.2 * c.phase) * c.seconds;
    let duration = (1.5 / c.p.tempo).min(0.6 * c.seconds);
    let u = ((t - onset) / duration).clamp(0.0, 1.0);
    seated(c.p, if reverse { 1.0 - u } else { u })
}

/// Jumping jacks: arms up over the head and feet apart, then back, with a small hop.
fn jumping_jacks(c: &Clip, t: f32) -> Pose {
    let p = c.p;
    let b = &p.body;
    let (l, r, a) = (b.leg(), b.arm(), p.amplitude);
    let mut pose = Pose::standing(p);
    let ph = c.cycle(t, 1.1);
    let open = 0.5 - 0.5 * (TAU * ph).cos();
    let hop = 0.05 * a * (TAU * ph).sin().powi(2) * p.height / 1.75;
    let spread = 0.3 * l * a * open;
    let reach = STRAIGHT * l;
    let hip_y = (reach * reach - spread * spread).max(0.0).sqrt();
    pose.root[1] = b.ankle_height + hip_y + b.hip_drop + hop;
    for i in [LEFT, RIGHT] {
        let s = side(i);
        pose.ankles[i] = [
            s * (b.hip_half_width * 1.1 + spread),
            b.ankle_height + hop * 0.9,
            0.0,
        ];
        pose.knee_poles[i] = [s * 0.3, 0.0, -1.0];
        let up = (0.15 + 2.75 * open) * a.min(1.05);
        pose.wrists[i] = [s * up.sin() * 0.96 * r, -up.cos() * 0.96 * r, -0.08 * r];
        pose.elbow_poles[i] = [0.0, -0.3, 1.0];
    }
    pose
}

/// Punching: from a guard, the arms alternately shoot straight forward.
fn punching(c: &Clip, t: f32) -> Pose {
    let p = c.p;
    let b = &p.body;
    let (l, r) = (b.leg(), b.arm());
    let mut pose = Pose::standing(p);
    let dom = p.dominant();
    let ph = c.cycle(t, 0.9);
    let mut ext = [0.0f32; 2];
    for i in [LEFT, RIGHT] {
        let s = side(i);
        let q = frac(ph + if i == dom { 0.0 } else { 0.5 });
        ext[i] = ramp(q, 0.0, 0.12) * (1.0 - ramp(q, 0.2, 0.4));
        let guard = [-s * 0.2 * r, -0.05 * r, -0.4 * r];
        let punch = [-s * 0.3 * r, 0.06 * r, -0.97 * r * p.amplitude.min(1.0)];
        pose.wrists[i] = lerp3(guard, punch, ext[i]);
        pose.elbow_poles[i] = [s * 0.6, -1.0, 0.2];
        // Fighting stance: the non-dominant foot forward, knees soft.
        let fwd = if i == dom { 0.1 } else { -0.16 };
        pose.ankles[i] = [s * b.hip_half_width * 1.5, b.ankle_height, fwd * l];
        pose.knee_poles[i] = [s * 0.3, 0.0, -1.0];
    }
    pose.root[1] -= 0.05 * l;
    pose.twist = 0.55 * (ext[RIGHT] - ext[LEFT]) + side(dom) * -0.15;
    pose.pitch += 0.08;
    pose
}

/// Front kicks: the dominant leg chambers, extends forward and up, and comes back down.
fn kicking(c: &Clip, t: f32) -> Pose {
    let p = c.p;
    let b = &p.body;
    let (l, r, a) = (b.leg(), b.arm(), p.amplitude);
    let mut pose = Pose::standing(p);
    let dom = p.dominant();
    let s = side(dom);
    let ph = c.cycle(t, c.period(1.8));
    pose.root[1] -= 0.03 * l;
    let hip = [
        s * b.hip_half_width,
        pose.root[1] - b.hip_drop,
        pose.root[2],
    ];
    let rest = sub(pose.ankles[dom], hip);
    let chamber = [0.0, -0.5 * l, -0.45 * l];
    let height = 0.95 + 0.45 * a;
    let kick = [0.0, -0.99 * l * height.cos(), -0.99 * l * height.sin()];
    let lift = ramp(ph, 0.12, 0.32) * (1.0 - ramp(ph, 0.62, 0.85));
    let extend = ramp(ph, 0.32, 0.45) * (1.0 - ramp(ph, 0.48, 0.62));
    let off = lerp3(lerp3(rest, chamber, lift), kick, extend);
    pose.ankles[dom] = add(hip, off);
    pose.knee_poles[dom] = [0.0, 0.6, -1.0];
    pose.toe_pitch[dom] = 0.6 * extend;
    pose.pitch -= 0.2 * extend + 0.05 * lift;
    let other = 1 - dom;
    pose.knee_poles[other] = [side(other) * 0.2, 0.0, -1.0];
    for i in [LEFT, RIGHT] {
        let si = side(i);
        pose.wrists[i] = [-si * 0.12 * r, -0.2 * r, -0.42 * r];
        pose.elbow_poles[i] = [si * 0.7, -1.0, 0.2];
    }
    // Balance: the arm on the kicking side swings back a little.
    pose.wrists[dom] = lerp3(pose.wrists[dom], [s * 0.3 * r, -0.6 * r, 0.3 * r], extend);
    pose
}

/// The pose of `class` at time `t`, or `None` for an unknown class.
fn pose_of(class: &str, c: &Clip, t: f32) -> Option<Pose> {
    Some(match class {
        "walking" => locomotion(c, t, false),
        "running" => locomotion(c, t, true),
        "jumping" => jumping(c, t),
        "waving" => waving(c, t),
        "clapping" => clapping(c, t),
        "squatting" => squatting(c, t),
        "bowing" => bowing(c, t),
        "sitting down" => sit(c, t, false),
        "standing up" => sit(c, t, true),
        "jumping jacks" => jumping_jacks(c, t),
        "punching" => punching(c, t),
        "kicking" => kicking(c, t),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------

/// Jitters a point by roughly `sd` metres per axis.
fn jitter(rng: &mut SplitMix64, v: V3, sd: f32) -> V3 {
    [
        v[0] + noise(rng, sd),
        v[1] + noise(rng, sd),
        v[2] + noise(rng, sd),
    ]
}

/// A clip of `performer` doing `class` for `seconds` at `fps`, as a one-body NTU-25 skeleton in
/// camera space (see the module docs); `seed` picks the start phase, variations and jitter.
///
/// # Errors
/// [`Error::UnknownMotionClass`] for a class not in [`PROCEDURAL_CLASSES`],
/// [`Error::MotionLength`] unless `seconds` and `fps` are positive, [`Error::MotionTooLong`]
/// beyond a million frames.
pub fn generate(
    class: &str,
    performer: &Performer,
    seconds: f32,
    fps: f32,
    seed: u64,
) -> Result<Skeleton> {
    if !PROCEDURAL_CLASSES.contains(&class) {
        return Err(Error::UnknownMotionClass {
            class: class.to_string(),
            known: PROCEDURAL_CLASSES,
        });
    }
    if !(seconds.is_finite() && fps.is_finite() && seconds > 0.0 && fps > 0.0) {
        return Err(Error::MotionLength { seconds, fps });
    }
    let frames = (seconds * fps).round().max(1.0);
    if frames > 1.0e6 {
        return Err(Error::MotionTooLong {
            seconds,
            fps,
            frames,
        });
    }
    let frames = frames as usize;
    let class_id = PROCEDURAL_CLASSES
        .iter()
        .position(|c| *c == class)
        .unwrap_or(0);
    let mut rng = SplitMix64::derive(seed ^ performer.seed.rotate_left(29), class_id as u64);
    let clip = Clip {
        p: performer,
        seconds,
        phase: uniform(&mut rng, 0.0, 1.0),
        choice: uniform(&mut rng, 0.0, 1.0),
        both: uniform(&mut rng, 0.0, 1.0) < 0.3,
    };
    // Walking and running head across the view more than towards the camera.
    let heading = match class {
        "walking" | "running" => {
            let turn = if clip.choice < 0.5 { -1.0 } else { 1.0 };
            performer.yaw * 0.2 + turn * uniform(&mut rng, 1.2, 1.9)
        }
        // Fighters stand turned, so punches and kicks are seen at three quarters.
        "punching" | "kicking" => {
            let dom = side(performer.dominant());
            performer.yaw * 0.4 + dom * uniform(&mut rng, 0.6, 1.0)
        }
        _ => performer.yaw,
    };
    // Half the walks and runs follow a curve (people turn as they go), bending by 0.25–0.6
    // rad/s to either side.
    let bend = match class {
        "walking" | "running" if uniform(&mut rng, 0.0, 1.0) < 0.5 => {
            let to = if uniform(&mut rng, 0.0, 1.0) < 0.5 {
                -1.0
            } else {
                1.0
            };
            to * uniform(&mut rng, 0.25, 0.6)
        }
        _ => 0.0,
    };
    let mut poses = Vec::with_capacity(frames);
    for f in 0..frames {
        let t = f as f32 / fps;
        let Some(mut pose) = pose_of(class, &clip, t) else {
            return Err(Error::UnknownMotionClass {
                class: class.to_string(),
                known: PROCEDURAL_CLASSES,
            });
        };
        // Small tremor: on the root, trunk angles and limb targets (bone lengths unaffected).
        pose.root = jitter(&mut rng, pose.root, 0.002);
        pose.pitch += noise(&mut rng, 0.003);
        pose.twist += noise(&mut rng, 0.003);
        for i in [LEFT, RIGHT] {
            pose.wrists[i] = jitter(&mut rng, pose.wrists[i], 0.002);
            pose.wrists_abs[i] = jitter(&mut rng, pose.wrists_abs[i], 0.002);
            pose.ankles[i] = jitter(&mut rng, pose.ankles[i], 0.0015);
        }
        poses.push(pose);
    }
    let bodies = bent(&poses, &performer.body, bend, fps);
    // Centre the path of the root on the performer's spot.
    let n = bodies.len() as f32;
    let mean_x = bodies.iter().map(|(_, root)| root[0]).sum::<f32>() / n;
    let mean_z = bodies.iter().map(|(_, root)| root[2]).sum::<f32>() / n;
    let centre = [mean_x, 0.0, mean_z];
    let turn = rot_y(heading);
    let place = [performer.lateral, performer.floor_y, performer.distance];
    let mut positions = Vec::with_capacity(frames * 25 * 3);
    for (body, _) in &bodies {
        for &q in body {
            let w = add(mat_vec(&turn, sub(q, centre)), place);
            positions.extend_from_slice(&w);
        }
    }
    let layout = Layout::builtin("ntu25")?;
    let valid = vec![true; frames * 25];
    let mut skeleton = Skeleton::new(positions, valid, frames, 1, layout)?;
    keep_in_view(&mut skeleton);
    let mut source = Source {
        format: Some(Format::Ntu),
        ..Default::default()
    };
    source.meta.insert("label".into(), class.to_string());
    source
        .meta
        .insert("performer".into(), performer.seed.to_string());
    source.meta.insert("seed".into(), seed.to_string());
    Ok(skeleton.with_fps(Some(fps)).with_source(source))
}

//! Host-side preparation of a skeleton for the renderer: body slots, velocities, frame
//! sampling, positioning, and which Gaussians are visible in each frame.

use crate::layout::Layout;
use crate::prep::{self, Normalize, Sampler, UpAxis};
use crate::render::topology::{self, Tables};
use crate::skeleton::{Format, Skeleton};

/// Velocity stride (raw frames), as the authors compute it.
pub const VELOCITY_STRIDE: usize = 4;
/// Body slots of the exact NTU path.
pub const NTU_BODY_SLOTS: usize = 2;
/// Cross-topology: the body is placed so that its median depth is this far from the camera.
pub const CROSS_Z_TARGET: f32 = 2.5;
/// Height (metres) skeletons of unknown units are scaled to.
pub const DEFAULT_HEIGHT: f32 = 1.7;
/// Most joints per body the renderer takes (its skinning tables grow as joints × Gaussians):
/// real motion-capture hierarchies with fingers have ~100.
pub const MAX_JOINTS: usize = 256;
/// Most frames one clip renders.
pub const MAX_FRAMES: usize = 1024;

/// How a clip's Gaussians are laid out.
#[derive(Debug, Clone, PartialEq)]
pub enum Topology {
    /// The checkpoint's own tables (NTU-25 with the released weights), used verbatim.
    Exact,
    /// Tables fitted to the clip's layout (cross-topology path).
    Cross(Tables),
}

/// A prepared clip: `F` sampled frames of `P` bodies of `J` joints.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Sampled frames.
    pub frames: usize,
    /// Body slots.
    pub persons: usize,
    /// Joints per body.
    pub joints: usize,
    /// Positions after preprocessing, `[F, P, J, 3]`.
    pub positions: Vec<f32>,
    /// Velocities at stride 4 on the raw sequence, sampled, `[F, P, J, 3]`.
    pub velocities: Vec<f32>,
    /// Per joint validity, `[F, P, J]`.
    pub joint_valid: Vec<bool>,
    /// Raw-frame indices that were sampled.
    pub indices: Vec<usize>,
    /// Gaussian layout.
    pub topology: Topology,
    /// The layout of the joints.
    pub layout: Layout,
}

/// Options of [`Clip::prepare`].
#[derive(Debug, Clone)]
pub struct ClipOptions {
    /// Frames to sample.
    pub frames: usize,
    /// Raw-frame indices to use as given (skips sampling).
    pub indices: Option<Vec<usize>>,
    /// The sampler.
    pub sampler: Sampler,
}

impl Default for ClipOptions {
    fn default() -> Self {
        ClipOptions {
            frames: 12,
            indices: None,
            sampler: Sampler::Official,
        }
    }
}

impl Clip {
    /// Prepares `skel` for a renderer whose canonical tables have `renderer_joints` joints.
    /// NTU-25 skeletons with a 25-joint renderer take the exact path (first two bodies in file
    /// order, the authors' z-shift rule); every other layout takes the cross-topology path
    /// (first body, positioned at 2.5 m; units and facing normalised for formats that have no
    /// camera or unknown units).
    pub fn prepare(
        skel: &Skeleton,
        renderer_joints: usize,
        opts: &ClipOptions,
    ) -> crate::Result<Clip> {
        if skel.frames() == 0 || skel.persons() == 0 {
            return Err(crate::Error::Invalid(
                "the skeleton has no frames or no bodies".into(),
            ));
        }
        if skel.joints() > MAX_JOINTS {
            return Err(crate::Error::TooLarge(format!(
                "the skeleton has {} joints per body; DrAction renders at most {MAX_JOINTS} \
                 (retarget it first: skeletonllm convert --to ntu25)",
                skel.joints()
            )));
        }
        let wanted = opts.indices.as_ref().map_or(opts.frames, Vec::len);
        if wanted == 0 {
            return Err(crate::Error::Invalid(
                "no frames to render (0 requested)".into(),
            ));
        }
        if wanted > MAX_FRAMES {
            return Err(crate::Error::TooLarge(format!(
                "{wanted} frames requested; a clip renders at most {MAX_FRAMES}"
            )));
        }
        let indices = match &opts.indices {
            Some(ix) => {
                if let Some(&bad) = ix.iter().find(|&&i| i >= skel.frames()) {
                    return Err(crate::Error::Invalid(format!(
                        "frame index {bad} is out of range (the clip has {} frames)",
                        skel.frames()
                    )));
                }
                ix.clone()
            }
            None => opts.sampler.indices(skel.frames(), opts.frames),
        };
        if renderer_joints == 25 && is_kinect_ntu(skel) {
            Self::exact_ntu(skel, indices)
        } else {
            Self::cross(skel, indices)
        }
    }

    fn exact_ntu(skel: &Skeleton, indices: Vec<usize>) -> crate::Result<Clip> {
        let [t, p, j] = skel.dims();
        let slots = NTU_BODY_SLOTS;
        // Raw poses [T, 2, 25, 3]: the first two bodies, absent = zeros.
        let mut raw = vec![0.0f32; t * slots * j * 3];
        for ti in 0..t {
            for pi in 0..p.min(slots) {
                let src = ((ti * p + pi) * j) * 3;
                let dst = ((ti * slots + pi) * j) * 3;
                raw[dst..dst + j * 3].copy_from_slice(&skel.positions()[src..src + j * 3]);
            }
        }
        let per = slots * j * 3;
        let vel_raw: Vec<f32> = (0..t * per)
            .map(|i| {
                let (ti, r) = (i / per, i % per);
                raw[(ti + VELOCITY_STRIDE).min(t - 1) * per + r] - raw[i]
            })
            .collect();
        let mut positions: Vec<f32> = indices
            .iter()
            .flat_map(|&i| raw[i * per..(i + 1) * per].iter().copied())
            .collect();
        let velocities = indices
            .iter()
            .flat_map(|&i| vel_raw[i * per..(i + 1) * per].iter().copied())
            .collect();
        // z shift: if the lower median of z over valid slots is within 0.5 of the camera.
        let body = j * 3;
        let slot_valid = |b: &[f32]| b.iter().map(|x| x.abs()).sum::<f32>() > 1e-6;
        let zs: Vec<f32> = positions
            .chunks(body)
            .filter(|b| slot_valid(b))
            .flat_map(|b| b.chunks(3).map(|p| p[2]).collect::<Vec<_>>())
            .collect();
        if !zs.is_empty() && prep::lower_median(zs).abs() < 0.5 {
            for b in positions.chunks_mut(body) {
                if slot_valid(b) {
                    b.chunks_mut(3).for_each(|p| p[2] += 1.0);
                }
            }
        }
        let joint_valid = positions
            .chunks(body)
            .flat_map(|b| {
                let present = b.iter().any(|&x| x != 0.0);
                std::iter::repeat_n(present, j)
            })
            .collect::<Vec<bool>>();
        if !joint_valid.iter().any(|&v| v) {
            return Err(crate::Error::NoJointPresent);
        }
        Ok(Clip {
            frames: indices.len(),
            persons: slots,
            joints: j,
            positions,
            velocities,
            joint_valid,
            indices,
            topology: Topology::Exact,
            layout: skel.layout().clone(),
        })
    }

    fn cross(skel: &Skeleton, indices: Vec<usize>) -> crate::Result<Clip> {
        let mut body = skel.select_persons(1);
        let format = crate::io::json::original_format(skel);
        let authors_positioning = matches!(format, Some(Format::HumanMl3d) | Some(Format::Json))
            && body.layout().name == "smpl22";
        if !authors_positioning {
            normalise_units(&mut body, format)?;
        }
        let vel_all = prep::velocities(&body, VELOCITY_STRIDE);
        let sampled = body.select_frames(&indices)?;
        let [f, _, j] = sampled.dims();
        let per = j * 3;
        let velocities = indices
            .iter()
            .flat_map(|&i| vel_all[i * per..(i + 1) * per].iter().copied())
            .collect();
        // Positioning over all valid joints of the sampled frames.
        let mut positions = sampled.positions().to_vec();
        let valid = sampled.valid();
        let offset = if authors_positioning {
            authors_offset(&positions, valid)
        } else {
            fit_view_offset(&positions, valid)
        }
        .ok_or(crate::Error::NoJointPresent)?;
        for (i, &v) in valid.iter().enumerate() {
            if v {
                for c in 0..3 {
                    positions[i * 3 + c] += offset[c];
                }
            }
        }
        // Canonical pose: the first sampled frame, each joint from the first frame it is in.
        let mut canon = vec![[0.0f32; 3]; j];
        let mut present = vec![false; j];
        for t in 0..f {
            for ji in 0..j {
                let i = t * j + ji;
                if !present[ji] && sampled.valid()[i] {
                    canon[ji] = [positions[i * 3], positions[i * 3 + 1], positions[i * 3 + 2]];
                    present[ji] = true;
                }
            }
        }
        let tables = topology::cross_topology(sampled.layout(), &canon, &present);
        Ok(Clip {
            frames: f,
            persons: 1,
            joints: j,
            positions,
            velocities,
            joint_valid: sampled.valid().to_vec(),
            indices,
            topology: Topology::Cross(tables),
            layout: sampled.layout().clone(),
        })
    }

    /// Number of Gaussians per body (`k_exact` is the checkpoint's count, used on the exact
    /// path).
    pub fn gaussians(&self, k_exact: usize) -> usize {
        match &self.topology {
            Topology::Exact => k_exact,
            Topology::Cross(t) => t.len(),
        }
    }

    /// Per-Gaussian visibility `[F, P, K]` (1 or 0): on the exact path the body's presence; on
    /// the cross path a joint's presence, and for bone samples both ends'.
    pub fn gaussian_visibility(&self, k_exact: usize) -> Vec<f32> {
        let k = self.gaussians(k_exact);
        let j = self.joints;
        let mut out = Vec::with_capacity(self.frames * self.persons * k);
        for b in 0..self.frames * self.persons {
            let jv = &self.joint_valid[b * j..(b + 1) * j];
            match &self.topology {
                Topology::Exact => {
                    let present = jv.iter().any(|&v| v);
                    out.extend(std::iter::repeat_n(if present { 1.0 } else { 0.0 }, k));
                }
                Topology::Cross(t) => {
                    out.extend(jv.iter().map(|&v| if v { 1.0 } else { 0.0 }));
                    for &(a, bb, n) in &t.bones {
                        let v = if jv[a] && jv[bb] { 1.0 } else { 0.0 };
                        out.extend(std::iter::repeat_n(v, n));
                    }
                }
            }
        }
        out
    }
}

/// Whether `skel` is NTU-25 Kinect data that the exact path renders as the authors do: the
/// `ntu25` layout, every body either whole or absent in each frame (Kinect tracks all 25 joints;
/// a clip retargeted from another layout lacks some), and, unless it was read from an NTU
/// `.skeleton` file, in metres (a body under 3 m tall, as in camera space). Everything else takes
/// the cross-topology path, which skips missing joints and normalises units and placement.
pub fn is_kinect_ntu(skel: &Skeleton) -> bool {
    if skel.layout().name != "ntu25" || skel.joints() != 25 {
        return false;
    }
    let j = skel.joints();
    let valid = skel.valid();
    let whole = valid
        .chunks(j)
        .all(|b| b.iter().all(|&v| v) || b.iter().all(|&v| !v));
    if !whole {
        return false;
    }
    if skel.source.format == Some(Format::Ntu) {
        return true;
    }
    // Metric: every present body's vertical extent in one frame is under 3 m.
    skel.positions()
        .chunks(j * 3)
        .zip(valid.chunks(j))
        .all(|(b, v)| {
            if !v[0] {
                return true;
            }
            let ys = b.chunks(3).map(|p| p[1]);
            let (lo, hi) = ys.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), y| {
                (lo.min(y), hi.max(y))
            });
            hi - lo < 3.0
        })
}

/// Valid coordinate `c` of every present joint.
fn coords(positions: &[f32], valid: &[bool], c: usize) -> Vec<f32> {
    valid
        .iter()
        .enumerate()
        .filter(|(_, v)| **v)
        .map(|(i, _)| positions[i * 3 + c])
        .collect()
}

/// The authors' HumanML3D positioning: y to a median of 0, z to a median of 2.5 m; x as is.
fn authors_offset(positions: &[f32], valid: &[bool]) -> Option<[f32; 3]> {
    let ys = coords(positions, valid, 1);
    if ys.is_empty() {
        return None;
    }
    let zs = coords(positions, valid, 2);
    Some([
        0.0,
        -prep::lower_median(ys),
        CROSS_Z_TARGET - prep::lower_median(zs),
    ])
}

/// The half-width, as a tangent, of the part of the camera's view a positioned body is kept
/// in: 90 % of the 60° field of view.
pub(crate) fn view_tan() -> f32 {
    0.9 * (30.0f32).to_radians().tan()
}

/// Positioning that keeps a whole trajectory in view: x and y centred on their medians, then
/// the body pushed back until its median depth is at least 2.5 m and every joint lies inside
/// 90 % of the 60° field of view and at least 1.5 m from the camera.
fn fit_view_offset(positions: &[f32], valid: &[bool]) -> Option<[f32; 3]> {
    let xs = coords(positions, valid, 0);
    if xs.is_empty() {
        return None;
    }
    let (ys, zs) = (coords(positions, valid, 1), coords(positions, valid, 2));
    let (xo, yo) = (
        -prep::lower_median(xs.clone()),
        -prep::lower_median(ys.clone()),
    );
    let tan = view_tan();
    let mut zo = CROSS_Z_TARGET - prep::lower_median(zs.clone());
    for ((x, y), z) in xs.iter().zip(&ys).zip(&zs) {
        let lateral = (x + xo).abs().max((y + yo).abs());
        zo = zo.max(lateral / tan - z).max(1.5 - z);
    }
    Some([xo, yo, zo])
}

/// Brings a skeleton of unknown units and orientation to metres, y up, facing the camera: 2-D
/// image coordinates get y flipped; formats without metric units are scaled to a 1.7 m body;
/// motion-capture formats are turned to face the camera.
fn normalise_units(body: &mut Skeleton, format: Option<Format>) -> crate::Result<()> {
    let flat = body
        .valid()
        .iter()
        .enumerate()
        .filter(|(_, v)| **v)
        .all(|(i, _)| body.positions()[i * 3 + 2] == 0.0);
    if flat {
        body.map_positions(|p| [p[0], -p[1], p[2]]);
    }
    let metric = matches!(
        format,
        Some(Format::Ntu) | Some(Format::DeepMimic) | Some(Format::HumanMl3d)
    );
    let face = matches!(format, Some(Format::Bvh) | Some(Format::DeepMimic));
    let opts = Normalize {
        center: false,
        height: (!metric).then_some(DEFAULT_HEIGHT),
        face_forward: face,
        up: UpAxis::Y,
    };
    match prep::normalize(body, &opts) {
        // A body with no head or feet cannot be measured: keep its units.
        Err(_) if opts.height.is_some() => prep::normalize(
            body,
            &Normalize {
                height: None,
                ..opts
            },
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ntu_skel(frames: usize, bodies: usize, z: f32) -> Skeleton {
        let l = Layout::builtin("ntu25").unwrap();
        let mut pos = Vec::new();
        for t in 0..frames {
            for b in 0..bodies {
                for j in 0..25 {
                    pos.extend_from_slice(&[j as f32 * 0.01 + b as f32, t as f32 * 0.1, z]);
                }
            }
        }
        Skeleton::from_dense(pos, frames, bodies, l).unwrap()
    }

    #[test]
    fn exact_path_pads_to_two_bodies_and_samples_velocities_on_raw() {
        let s = ntu_skel(30, 1, 3.0);
        let c = Clip::prepare(&s, 25, &ClipOptions::default()).unwrap();
        assert_eq!((c.frames, c.persons, c.joints), (12, 2, 25));
        assert_eq!(c.indices, Sampler::Official.indices(30, 12));
        let i0 = c.indices[0];
        assert!((c.positions[1] - i0 as f32 * 0.1).abs() < 1e-6);
        // Velocity of frame idx = x[idx + 4] − x[idx] = 0.4 in y (clamped at the end).
        let want = ((i0 + 4).min(29) - i0) as f32 * 0.1;
        assert!((c.velocities[1] - want).abs() < 1e-5);
        assert!(c.joint_valid[0] && !c.joint_valid[25]);
        let vis = c.gaussian_visibility(265);
        assert_eq!(vis.len(), 12 * 2 * 265);
        assert_eq!((vis[0], vis[265]), (1.0, 0.0));
    }

    #[test]
    fn exact_path_z_shift_rule() {
        let near = Clip::prepare(&ntu_skel(12, 1, 0.2), 25, &ClipOptions::default()).unwrap();
        assert!((near.positions[2] - 1.2).abs() < 1e-6);
        assert_eq!(near.positions[25 * 3 + 2], 0.0); // absent slot untouched
        let far = Clip::prepare(&ntu_skel(12, 1, 3.0), 25, &ClipOptions::default()).unwrap();
        assert_eq!(far.positions[2], 3.0);
    }

    #[test]
    fn cross_path_positions_and_tables() {
        let l = Layout::builtin("smpl22").unwrap();
        let mut pos = Vec::new();
        for t in 0..20 {
            for j in 0..22 {
                pos.extend_from_slice(&[
                    j as f32 * 0.05,
                    0.9 + j as f32 * 0.02,
                    0.3 + t as f32 * 0.01,
                ]);
            }
        }
        let mut s = Skeleton::from_dense(pos, 20, 1, l).unwrap();
        s.source.format = Some(Format::HumanMl3d);
        let c = Clip::prepare(
            &s,
            25,
            &ClipOptions {
                frames: 4,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((c.frames, c.persons, c.joints), (4, 1, 22));
        let Topology::Cross(t) = &c.topology else {
            panic!("cross expected")
        };
        assert_eq!(t.bones.len(), 21);
        let mut zs: Vec<f32> = c.positions.chunks(3).map(|p| p[2]).collect();
        zs.sort_by(f32::total_cmp);
        assert!((zs[(zs.len() - 1) / 2] - 2.5).abs() < 1e-5);
        assert!((c.positions[0] - 0.0).abs() < 1e-6); // x untouched
        assert_eq!(c.gaussian_visibility(265).len(), 4 * t.len());
        let bad = ClipOptions {
            indices: Some(vec![3, 25]),
            ..Default::default()
        };
        assert!(Clip::prepare(&s, 25, &bad).is_err());
    }

    #[test]
    fn two_d_keypoints_without_a_head_become_a_metric_body() {
        // COCO-17 in pixels (y down), head keypoints missing, 300 px from shoulder to ankle.
        let l = Layout::builtin("coco17").unwrap();
        let mut pos = Vec::new();
        let mut valid = Vec::new();
        for t in 0..8 {
            for j in 0..17 {
                let (x, y) = match j {
                    5 | 6 => (300.0 + 40.0 * (j as f32 - 5.5), 100.0),
                    7..=10 => (
                        300.0 + 60.0 * ((j % 2) as f32 - 0.5),
                        180.0 + 10.0 * t as f32,
                    ),
                    11 | 12 => (300.0 + 20.0 * (j as f32 - 11.5), 230.0),
                    _ => (
                        300.0 + 20.0 * ((j % 2) as f32 - 0.5),
                        310.0 + 45.0 * ((j >= 15) as i32 as f32),
                    ),
                };
                pos.extend_from_slice(&[x, y, 0.0]);
                valid.push(j >= 5);
            }
        }
        let mut s = Skeleton::new(pos, valid, 8, 1, l).unwrap();
        s.source.format = Some(Format::Coco);
        let c = Clip::prepare(
            &s,
            25,
            &ClipOptions {
                frames: 4,
                ..Default::default()
            },
        )
        .unwrap();
        let ys: Vec<f32> = (0..17)
            .filter(|&j| c.joint_valid[j])
            .map(|j| c.positions[j * 3 + 1])
            .collect();
        let extent = ys.iter().cloned().fold(f32::MIN, f32::max)
            - ys.iter().cloned().fold(f32::MAX, f32::min);
        assert!(
            (extent - DEFAULT_HEIGHT).abs() < 1e-3,
            "body extent {extent} m"
        );
        // y up after the flip: shoulders (joint 5) above ankles (joint 15).
        assert!(c.positions[5 * 3 + 1] > c.positions[15 * 3 + 1]);
        // In front of the camera at a sensible distance.
        assert!(
            (2.0..4.0).contains(&c.positions[5 * 3 + 2]),
            "{}",
            c.positions[5 * 3 + 2]
        );
    }
}

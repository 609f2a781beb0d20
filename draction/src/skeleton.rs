//! [`Skeleton`]: a sequence of 3-D joint positions of one or more people, in any layout.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::layout::Layout;

/// A skeleton file format known to `draction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// NTU RGB+D `.skeleton` text (Kinect v2).
    Ntu,
    /// Biovision hierarchy motion capture.
    Bvh,
    /// HumanML3D `new_joints/*.npy`, `[T, 22, 3]`.
    HumanMl3d,
    /// A generic NumPy array, `[T, J, 3]`, `[T, P, J, 3]` or `[T, J, 2]`.
    Npy,
    /// OpenPose per-frame JSON files (a folder or a single file).
    OpenPose,
    /// COCO keypoint annotations JSON.
    Coco,
    /// DeepMimic motion `.txt`.
    DeepMimic,
    /// `draction`'s own JSON (and the authors' `{"skeletons": …}` JSON).
    Json,
}

impl Format {
    /// All formats, in CLI order.
    pub const ALL: [Format; 8] = [
        Format::Ntu,
        Format::Bvh,
        Format::HumanMl3d,
        Format::Npy,
        Format::OpenPose,
        Format::Coco,
        Format::DeepMimic,
        Format::Json,
    ];

    /// The format's CLI name (`ntu`, `bvh`, `humanml3d`, …).
    pub fn name(self) -> &'static str {
        match self {
            Format::Ntu => "ntu",
            Format::Bvh => "bvh",
            Format::HumanMl3d => "humanml3d",
            Format::Npy => "npy",
            Format::OpenPose => "openpose",
            Format::Coco => "coco",
            Format::DeepMimic => "deepmimic",
            Format::Json => "json",
        }
    }

    /// Parses a CLI name.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a skeleton came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Source {
    /// The file format, if read from a file.
    pub format: Option<Format>,
    /// The file or folder it was read from.
    pub path: Option<PathBuf>,
    /// Free-form metadata (NTU setup/camera/subject/action ids, BVH frame time, …).
    pub meta: BTreeMap<String, String>,
}

/// Joint positions `[frames, persons, joints, 3]` with a validity mask `[frames, persons,
/// joints]`, a [`Layout`], the frame rate and the source.
///
/// Invalid (missing) joints hold `[0, 0, 0]` in `positions` but must be recognised by the mask,
/// never by their value.
#[derive(Debug, Clone, PartialEq)]
pub struct Skeleton {
    positions: Vec<f32>,
    valid: Vec<bool>,
    frames: usize,
    persons: usize,
    layout: Layout,
    /// Frames per second, if the format says.
    pub fps: Option<f32>,
    /// Where the skeleton came from.
    pub source: Source,
}

impl Skeleton {
    /// A skeleton from row-major `positions` `[frames, persons, joints, 3]` and `valid`
    /// `[frames, persons, joints]`. Invalid joints are zeroed; non-finite coordinates are marked
    /// invalid.
    pub fn new(
        mut positions: Vec<f32>,
        mut valid: Vec<bool>,
        frames: usize,
        persons: usize,
        layout: Layout,
    ) -> Result<Skeleton> {
        let joints = layout.num_joints();
        let n = frames
            .checked_mul(persons)
            .and_then(|x| x.checked_mul(joints))
            .ok_or_else(|| Error::Invalid("skeleton size overflows".into()))?;
        if valid.len() != n || positions.len() != n * 3 {
            return Err(Error::Invalid(format!(
                "positions has {} values and valid {}, expected {} and {} for [{frames}, {persons}, {joints}, 3]",
                positions.len(),
                valid.len(),
                n * 3,
                n
            )));
        }
        for (i, v) in valid.iter_mut().enumerate() {
            let p = &mut positions[i * 3..i * 3 + 3];
            if !p.iter().all(|x| x.is_finite()) {
                *v = false;
            }
            if !*v {
                p.fill(0.0);
            }
        }
        Ok(Skeleton {
            positions,
            valid,
            frames,
            persons,
            layout,
            fps: None,
            source: Source::default(),
        })
    }

    /// A skeleton where a joint is valid iff its body is present in that frame, and a body is
    /// present iff any of its coordinates is non-zero (the NTU convention).
    pub fn from_dense(
        positions: Vec<f32>,
        frames: usize,
        persons: usize,
        layout: Layout,
    ) -> Result<Skeleton> {
        let joints = layout.num_joints();
        let mut valid = Vec::with_capacity(positions.len() / 3);
        for body in positions.chunks(joints * 3) {
            let present = body.iter().any(|&x| x != 0.0);
            valid.extend(std::iter::repeat_n(present, joints));
        }
        Skeleton::new(positions, valid, frames, persons, layout)
    }

    /// Sets the frame rate.
    pub fn with_fps(mut self, fps: Option<f32>) -> Self {
        self.fps = fps;
        self
    }

    /// Sets the source.
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// `[frames, persons, joints]`.
    pub fn dims(&self) -> [usize; 3] {
        [self.frames, self.persons, self.layout.num_joints()]
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Number of body slots.
    pub fn persons(&self) -> usize {
        self.persons
    }

    /// Number of joints per body.
    pub fn joints(&self) -> usize {
        self.layout.num_joints()
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Row-major positions `[frames, persons, joints, 3]`; invalid joints are zero.
    pub fn positions(&self) -> &[f32] {
        &self.positions
    }

    /// Row-major validity mask `[frames, persons, joints]`.
    pub fn valid(&self) -> &[bool] {
        &self.valid
    }

    fn index(&self, t: usize, p: usize, j: usize) -> usize {
        assert!(
            t < self.frames && p < self.persons && j < self.joints(),
            "index out of range"
        );
        (t * self.persons + p) * self.joints() + j
    }

    /// Position of joint `j` of body `p` at frame `t`.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn position(&self, t: usize, p: usize, j: usize) -> [f32; 3] {
        let i = self.index(t, p, j) * 3;
        [
            self.positions[i],
            self.positions[i + 1],
            self.positions[i + 2],
        ]
    }

    /// Whether joint `j` of body `p` at frame `t` is present.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn is_valid(&self, t: usize, p: usize, j: usize) -> bool {
        self.valid[self.index(t, p, j)]
    }

    /// Whether any joint of body `p` is present at frame `t`.
    pub fn body_present(&self, t: usize, p: usize) -> bool {
        let start = self.index(t, p, 0);
        self.valid[start..start + self.joints()].iter().any(|&v| v)
    }

    /// Mutable access to positions and mask together, for in-place transforms. Callers keep
    /// invalid joints at zero.
    pub(crate) fn parts_mut(&mut self) -> (&mut [f32], &[bool]) {
        (&mut self.positions, &self.valid)
    }

    /// A skeleton made of the frames at `indices` (in that order, repeats allowed).
    pub fn select_frames(&self, indices: &[usize]) -> Result<Skeleton> {
        let per = self.persons * self.joints();
        let mut pos = Vec::with_capacity(indices.len() * per * 3);
        let mut valid = Vec::with_capacity(indices.len() * per);
        for &t in indices {
            if t >= self.frames {
                return Err(Error::Invalid(format!(
                    "frame index {t} out of range (0..{})",
                    self.frames
                )));
            }
            pos.extend_from_slice(&self.positions[t * per * 3..(t + 1) * per * 3]);
            valid.extend_from_slice(&self.valid[t * per..(t + 1) * per]);
        }
        let mut out = Skeleton::new(pos, valid, indices.len(), self.persons, self.layout.clone())?;
        out.fps = self.fps;
        out.source = self.source.clone();
        Ok(out)
    }

    /// The first `n` body slots (all of them if there are fewer).
    pub fn select_persons(&self, n: usize) -> Skeleton {
        let keep = n.min(self.persons);
        let j = self.joints();
        let mut pos = Vec::with_capacity(self.frames * keep * j * 3);
        let mut valid = Vec::with_capacity(self.frames * keep * j);
        for t in 0..self.frames {
            let start = t * self.persons * j;
            pos.extend_from_slice(&self.positions[start * 3..(start + keep * j) * 3]);
            valid.extend_from_slice(&self.valid[start..start + keep * j]);
        }
        Skeleton {
            positions: pos,
            valid,
            frames: self.frames,
            persons: keep,
            layout: self.layout.clone(),
            fps: self.fps,
            source: self.source.clone(),
        }
    }

    /// Applies `f` to the position of every present joint (missing joints stay at zero; a
    /// non-finite result makes the joint missing).
    pub fn map_positions(&mut self, f: impl Fn([f32; 3]) -> [f32; 3]) {
        for i in 0..self.valid.len() {
            if self.valid[i] {
                let p = &mut self.positions[i * 3..i * 3 + 3];
                let q = f([p[0], p[1], p[2]]);
                if q.iter().all(|x| x.is_finite()) {
                    p.copy_from_slice(&q);
                } else {
                    p.fill(0.0);
                    self.valid[i] = false;
                }
            }
        }
    }

    /// This skeleton in another layout: each target joint is copied from the source joint with
    /// the same canonical counterpart; target joints without one are missing (mask false).
    pub fn retarget(&self, target: &Layout) -> Skeleton {
        let map = target.retarget_map(&self.layout);
        let jt = target.num_joints();
        let n = self.frames * self.persons;
        let mut pos = vec![0.0f32; n * jt * 3];
        let mut valid = vec![false; n * jt];
        for b in 0..n {
            for (j, src) in map.iter().enumerate() {
                if let Some(s) = *src {
                    let si = b * self.joints() + s;
                    let di = b * jt + j;
                    valid[di] = self.valid[si];
                    pos[di * 3..di * 3 + 3].copy_from_slice(&self.positions[si * 3..si * 3 + 3]);
                }
            }
        }
        Skeleton {
            positions: pos,
            valid,
            frames: self.frames,
            persons: self.persons,
            layout: target.clone(),
            fps: self.fps,
            source: self.source.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Skeleton {
        let l = Layout::builtin("coco17").unwrap();
        let mut pos = vec![0.0; 2 * 17 * 3];
        for (i, x) in pos.iter_mut().enumerate() {
            *x = i as f32 + 1.0;
        }
        Skeleton::from_dense(pos, 2, 1, l).unwrap()
    }

    #[test]
    fn dense_marks_absent_bodies() {
        let l = Layout::builtin("coco17").unwrap();
        let mut pos = vec![1.0; 2 * 2 * 17 * 3];
        pos[17 * 3..2 * 17 * 3].fill(0.0); // frame 0, body 1 absent
        let s = Skeleton::from_dense(pos, 2, 2, l).unwrap();
        assert!(s.body_present(0, 0));
        assert!(!s.body_present(0, 1));
        assert!(s.body_present(1, 1));
    }

    #[test]
    fn non_finite_is_invalid_and_zeroed() {
        let l = Layout::builtin("coco17").unwrap();
        let mut pos = vec![1.0; 17 * 3];
        pos[4] = f32::NAN;
        let s = Skeleton::new(pos, vec![true; 17], 1, 1, l).unwrap();
        assert!(!s.is_valid(0, 0, 1));
        assert_eq!(s.position(0, 0, 1), [0.0; 3]);
        assert!(s.is_valid(0, 0, 0));
    }

    #[test]
    fn wrong_length_is_an_error() {
        let l = Layout::builtin("coco17").unwrap();
        assert!(Skeleton::new(vec![0.0; 5], vec![true; 17], 1, 1, l).is_err());
    }

    #[test]
    fn retarget_round_trip_keeps_shared_joints() {
        let s = tiny();
        let ntu = Layout::builtin("ntu25").unwrap();
        let r = s.retarget(&ntu);
        assert_eq!(r.dims(), [2, 1, 25]);
        // NTU left shoulder (4) comes from COCO left shoulder (5).
        assert_eq!(r.position(1, 0, 4), s.position(1, 0, 5));
        assert!(!r.is_valid(0, 0, 0)); // spine base: COCO has no pelvis
        let back = r.retarget(s.layout());
        assert_eq!(back.position(1, 0, 16), s.position(1, 0, 16));
        assert!(!back.is_valid(0, 0, 0)); // nose lost through NTU
    }

    #[test]
    fn select_frames_repeats() {
        let s = tiny();
        let r = s.select_frames(&[1, 1, 0]).unwrap();
        assert_eq!(r.frames(), 3);
        assert_eq!(r.position(0, 0, 0), s.position(1, 0, 0));
        assert_eq!(r.position(2, 0, 0), s.position(0, 0, 0));
        assert!(s.select_frames(&[2]).is_err());
    }
}

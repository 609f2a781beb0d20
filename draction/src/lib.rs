//! # draction
//!
//! Format-agnostic human skeleton I/O and DrAction, the differentiable
//! Gaussian-splat skeleton renderer of SkeletonLLM.
//!
//! - [`Skeleton`]: joint positions `[frames, persons, joints, 3]` with a validity mask, a
//!   [`Layout`] and the frame rate.
//! - [`layout`]: the layout registry (`ntu25`, `smpl22`, `smpl24`, `coco17`, `openpose18`,
//!   `openpose25`, `h36m17`, `deepmimic15`, BVH hierarchies) and retargeting through a
//!   canonical joint set.
//! - [`io`]: parsers for NTU RGB+D, BVH, HumanML3D, npy, OpenPose, COCO, DeepMimic and JSON,
//!   with format detection and typed errors that name the file and line.
//! - [`prep`]: frame sampling (uniform, seeded, and the authors' exact sampler), velocities,
//!   normalisation and resampling.
//! - [`kinematics`]: 3×3 rotations, Euler angles and vector maths for forward kinematics.
//! - [`synthetic`]: a walking figure and procedural actions by sampled people
//!   ([`synthetic::motions`]), drawn from the seeded [`rng`].
//! - [`render`]: the DrAction renderer, and [`render::images`] to write its frames as PNGs and
//!   GIFs.
//!
//! ```
//! use draction::{Layout, Skeleton};
//!
//! // Two frames of one COCO-17 body, every joint at (1, 2, 3).
//! let coco = Layout::builtin("coco17")?;
//! let skel = Skeleton::from_dense(vec![1.0; 2 * 17 * 3], 2, 1, coco)?;
//! // Retarget to NTU-25: shared joints are copied, the others are marked missing.
//! let ntu = skel.retarget(&Layout::builtin("ntu25")?);
//! assert_eq!(ntu.dims(), [2, 1, 25]);
//! assert!(ntu.is_valid(0, 0, 4)); // left shoulder
//! assert!(!ntu.is_valid(0, 0, 0)); // spine base: COCO has no pelvis
//! # Ok::<(), draction::Error>(())
//! ```

#![warn(missing_docs)]

pub mod checkpoint;
pub mod error;
pub mod io;
pub mod kinematics;
pub mod layout;
pub mod prep;
pub mod render;
pub mod rng;
pub mod skeleton;
pub mod synthetic;

/// Writing rendered frames (`frames.npy`, PNGs, a contact sheet, a GIF): the former home of
/// [`render::images`], kept as an alias.
pub mod export {
    pub use crate::render::images::*;
}
#[cfg(any(test, feature = "testing"))]
pub mod testdata;

pub use burn;
pub use error::{Error, ParseError, Result};
pub use layout::{BodyPart, Canonical, Layout};
pub use skeleton::{Format, Skeleton, Source};

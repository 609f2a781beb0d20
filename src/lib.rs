//! # skeletonllm
//!
//! SkeletonLLM in Rust on Burn: skeleton sequences of any format are rendered by DrAction into
//! a few frames that a multimodal LLM (InternVL3) reads. This root crate holds the
//! `skeletonllm` command-line tool and re-exports the workspace crates:
//!
//! - [`draction`]: skeleton I/O, layouts, retargeting, preparation (and the renderer);
//! - [`skeletonllm_model`]: the InternVL3 port;
//! - [`skeletonllm_train`]: datasets, the training stages and evaluation.
//!
//! ```
//! use skeletonllm::draction::{Layout, Skeleton};
//!
//! let skel = Skeleton::from_dense(vec![0.5; 3 * 25 * 3], 3, 1, Layout::builtin("ntu25")?)?;
//! assert_eq!(skel.dims(), [3, 1, 25]);
//! # Ok::<(), skeletonllm::draction::Error>(())
//! ```

#![warn(missing_docs)]

pub mod flags;

pub use draction;
pub use skeletonllm_model;
pub use skeletonllm_train;

/// The compute device for the enabled backend feature (CUDA, then wgpu, then the CPU `flex`
/// backend).
pub fn device() -> draction::burn::tensor::Device {
    draction::burn::tensor::Device::default()
}

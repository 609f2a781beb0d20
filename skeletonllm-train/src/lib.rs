//! # skeletonllm-train
//!
//! Datasets, annotation builders, the four SkeletonLLM training stages, losses, metrics and
//! evaluation.
//!
//! Status: the crate is part of the workspace layout; the training stages are tracked by their
//! own issue and are not in this crate yet. Today it only re-exports the skeleton crate it
//! builds on.
//!
//! ```
//! assert_eq!(skeletonllm_train::draction::Layout::builtin("smpl22")?.num_joints(), 22);
//! # Ok::<(), skeletonllm_train::draction::Error>(())
//! ```

pub mod align;
pub mod augment;
pub mod data;
pub mod error;
pub mod eval;
pub mod metrics;
pub mod motions;
pub mod tiny;
pub mod train;

pub use error::{Result, TrainError};

pub use draction;
pub use skeletonllm_model;

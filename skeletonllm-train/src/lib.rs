//! # skeletonllm-train
//!
//! Everything that turns data into a trained SkeletonLLM and measures it:
//!
//! - [`data`]: NTU RGB+D names, splits and hard negatives, the authors' conversation JSONL,
//!   the per-stage sample builders (recognition, Disc-FT YES/NO, reasoning, captions) and a
//!   resumable seeded loader.
//! - [`train`]: the four stages ([`train::Stage`]), samples and their encoding, the losses of
//!   one step ([`train::step`], over `SkeletonLlm::input` → `SkeletonLlm::forward`), run by
//!   burn-train's `Learner` on one or several devices, with the cosine schedule, atomic
//!   checkpoints and exact resumption ([`train::train`]).
//! - [`align`]: the render warm-up that pulls image tokens towards label embeddings.
//! - [`metrics`]: top-k accuracy, the zero-shot harmonic mean, BLEU-4 / ROUGE-L / CIDEr,
//!   confusion heatmaps and reports; [`eval`]: a model over a JSONL test set.
//! - [`augment`], [`tiny`]: augmentation and the bundled model's data (real recordings and
//!   the procedural actions of `draction::synthetic::motions`).
//!
//! ```
//! use skeletonllm_train::data::{NtuDataset, NtuSample};
//! use skeletonllm_train::train::Stage;
//!
//! let sample = NtuSample::parse("S001C002P003R002A060")?;
//! assert_eq!(NtuDataset::Ntu120.label(sample.action)?, "walking apart from each other");
//! assert_eq!(Stage::from_number(2), Some(Stage::DiscFt));
//! # Ok::<(), skeletonllm_train::data::DataError>(())
//! ```

#![warn(missing_docs)]

pub mod align;
pub mod augment;
pub mod data;
pub mod error;
pub mod eval;
pub mod metrics;
pub mod recipe;
pub mod tiny;
pub mod train;

pub use error::{Result, TrainError};

pub use draction;
pub use skeletonllm_model;

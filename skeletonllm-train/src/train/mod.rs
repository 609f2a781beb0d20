//! Training on burn-train: the four stages of the authors' recipe ([`Stage`]), samples and their
//! encoding, the losses of one step ([`step`]) as burn-train's `TrainStep` ([`StageModel`]),
//! the loader whose epochs are the chunks between checkpoints ([`loader`]), atomic checkpoints
//! ([`checkpoint`]), metrics and the step log ([`journal`]), devices ([`parse_devices`]), the
//! learning-rate schedule and the resumable run ([`train`]).

pub mod checkpoint;
pub mod devices;
pub mod journal;
pub mod learner;
pub mod loader;
pub mod loss;
pub mod run;
pub mod sample;
pub mod schedule;
pub mod stage;
pub mod step;
pub mod trainer;

pub use devices::parse_devices;
pub use learner::StageModel;
pub use run::{RunSummary, export_config, run_stage};
pub use sample::{Encoded, Sample, SkeletonRef, encode};
pub use schedule::{CosineWarmup, CosineWarmupScheduler};
pub use stage::{Stage, Trainable, prepare_for_stage};
pub use trainer::{StepLog, TrainConfig, TrainReport, strategy, train};

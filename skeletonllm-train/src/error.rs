//! Errors of training and evaluation.

use std::path::PathBuf;

/// What can go wrong while training or evaluating.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model crate failed (loading, tokenizer, prompt/image mismatch…).
    #[error(transparent)]
    Model(#[from] skeletonllm_model::Error),
    /// A skeleton could not be read, prepared or rendered.
    #[error("{context}: {source}")]
    Skeleton {
        /// Which skeleton: the sample, file or recording.
        context: String,
        /// The cause.
        #[source]
        source: draction::Error,
    },
    /// A skeleton file could not be read (the error names the file and line).
    #[error(transparent)]
    SkeletonFile(draction::Error),
    /// The model failed on one sample (its id in `sample`).
    #[error("sample {sample}: {source}")]
    SampleModel {
        /// The sample's id.
        sample: String,
        /// The cause.
        #[source]
        source: skeletonllm_model::Error,
    },
    /// Dataset files or records could not be read or built.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Metrics could not be computed.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// A sample cannot be used.
    #[error("{0}")]
    Sample(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A checkpoint could not be written or read back.
    #[error("{}: checkpoint: {msg}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// burn-train stopped the run with an error of its own.
    #[error("training failed: {0}")]
    Training(String),
    /// The run was stopped (from the dashboard) before its last step.
    #[error(
        "training stopped after step {step}; run again with --resume to continue from the last checkpoint in {}",
        run_dir.display()
    )]
    Interrupted {
        /// Steps done.
        step: usize,
        /// The run folder holding the checkpoint.
        run_dir: PathBuf,
    },
    /// A training setting is invalid.
    #[error("invalid training setting: {0}")]
    Config(String),
}

impl TrainError {
    /// A [`TrainError::Skeleton`] for the skeleton named by `context`.
    pub fn skeleton(context: impl std::fmt::Display, source: draction::Error) -> Self {
        Self::Skeleton {
            context: context.to_string(),
            source,
        }
    }
}

/// Shorthand for results of this crate's training and evaluation.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

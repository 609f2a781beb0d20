//! The one error type of the `data` module.

use std::path::PathBuf;

/// Everything that can go wrong while reading, building or loading training data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read, written or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A line of a JSONL file is not a valid record.
    #[error("{}:{line}: {reason}", path.display())]
    Line {
        /// The file read.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// A JSON (non-line-oriented) file is malformed or inconsistent.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file read.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A name is not an NTU sample name `SsssCcccPpppRrrrAaaa`.
    #[error("'{0}' is not an NTU sample name (expected SsssCcccPpppRrrrAaaa)")]
    SampleName(String),
    /// An action id outside the dataset's classes.
    #[error("action id {id} is not a class of {dataset} (1..={max})")]
    ActionId {
        /// Dataset name (`ntu60`, `ntu120`).
        dataset: &'static str,
        /// The offending id.
        id: u16,
        /// The largest valid id.
        max: u16,
    },
    /// A split name or preset that does not exist.
    #[error("unknown split '{name}'; choices: {choices}")]
    UnknownSplit {
        /// The name given.
        name: String,
        /// Every accepted name, comma separated.
        choices: String,
    },
    /// A protocol that the dataset does not define (e.g. cross-setup on NTU-60).
    #[error("protocol '{protocol}' is not defined for {dataset}")]
    Protocol {
        /// Dataset name.
        dataset: &'static str,
        /// Protocol short name.
        protocol: &'static str,
    },
    /// An invalid option value (zero batch size, zero frames, …).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Preparing a dataset item failed (returned by a loader's map function).
    #[error("item {item}: {reason}")]
    Prepare {
        /// Index of the item in the loader's item list.
        item: usize,
        /// What went wrong.
        reason: String,
    },
    /// A loader worker thread panicked or disappeared.
    #[error("loader worker failed: {0}")]
    Worker(String),
}

/// Result alias of the `data` module.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

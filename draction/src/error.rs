//! The typed error of the `draction` crate.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::io::frames::FrameProblem;

/// Everything that can go wrong in `draction`, each naming the file involved where there is one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}: {source}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file's content is malformed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The file's format could not be recognised.
    #[error("{path}: cannot tell the skeleton format ({reason}); pass --format", path = .path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Why detection failed.
        reason: String,
    },
    /// A layout name is not in the registry.
    #[error(
        "unknown layout '{0}' (known: ntu25, smpl22, smpl24, coco17, openpose18, openpose25, h36m17, deepmimic15, mocap53)"
    )]
    UnknownLayout(String),
    /// A checkpoint file is malformed or does not fit the model.
    #[error("{path}: {msg}", path = .path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What was wrong (every missing, unexpected or mis-shaped tensor).
        msg: String,
    },
    /// An in-memory argument is inconsistent (wrong length, bad shape, …).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The frames to render hold no joint at all (all missing, NaN or zero): nothing to see.
    #[error("no joint is present in the sampled frames")]
    NoJointPresent,
    /// An input is larger than the renderer accepts (joints, frames, image size).
    #[error("{0}")]
    TooLarge(String),
    /// A line of JSON-lines frames ([`crate::io::frames`]) that cannot be used.
    #[error("line {line}: {problem}")]
    Frame {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        problem: FrameProblem,
    },
    /// Reading a line of JSON-lines frames failed.
    #[error("line {line}: {source}")]
    FrameRead {
        /// 1-based number of the line being read.
        line: usize,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A procedural motion class ([`crate::synthetic::motions`]) that does not exist.
    #[error("unknown motion class {class:?} (known: {})", known.join(", "))]
    UnknownMotionClass {
        /// The class asked for.
        class: String,
        /// The classes that exist.
        known: &'static [&'static str],
    },
    /// A procedural motion whose duration or frame rate is not a positive number.
    #[error("motion length {seconds} s at {fps} fps: both must be positive")]
    MotionLength {
        /// The duration asked for, seconds.
        seconds: f32,
        /// The frame rate asked for.
        fps: f32,
    },
    /// A procedural motion of more frames than the generator makes (at most 1e6).
    #[error("{seconds} s at {fps} fps is {frames} frames: at most 1e6")]
    MotionTooLong {
        /// The duration asked for, seconds.
        seconds: f32,
        /// The frame rate asked for.
        fps: f32,
        /// The frames that would make.
        frames: f32,
    },
}

/// A malformed input file: which file, where in it (line, when known) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number, when the format is line-oriented.
    pub line: Option<usize>,
    /// What was wrong.
    pub msg: String,
}

impl ParseError {
    /// A parse error at `line` (1-based) of `path`.
    pub fn at(path: &Path, line: usize, msg: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            line: Some(line),
            msg: msg.into(),
        }
    }

    /// A parse error for the whole of `path`.
    pub fn file(path: &Path, msg: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            line: None,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.msg),
            None => write!(f, "{}: {}", self.path.display(), self.msg),
        }
    }
}

impl std::error::Error for ParseError {}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads a whole file, mapping failures to [`Error::Io`].
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a whole file as UTF-8 text, without a leading byte-order mark (editors on Windows
/// write one).
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let mut bytes = read_bytes(path)?;
    if bytes.starts_with(b"\xef\xbb\xbf") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        ParseError::at(path, line, "not UTF-8 text").into()
    })
}

//! Reading and writing skeleton files of every supported format, with format detection.
//!
//! [`read`] is the entry point: it detects the format (or takes the one given) and returns a
//! [`Skeleton`]. Every parser checks declared sizes against the file's size before allocating,
//! and reports errors as [`ParseError`]s naming the file, the line and what was wrong.
//! Skeleton frames arriving one JSON line at a time (live input) are read by [`frames`].

pub mod bvh;
pub mod coco;
pub mod deepmimic;
pub mod frames;
pub mod json;
pub mod npy;
pub mod ntu;
pub mod openpose;
pub mod staged;
mod tokens;

pub use staged::StagedDir;

use std::path::Path;

use crate::error::{Error, ParseError, Result};
use crate::layout::Layout;
use crate::skeleton::{Format, Skeleton};

/// Options that apply across formats.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Force a built-in layout for formats whose layout is guessed (npy, json).
    pub layout: Option<String>,
    /// NTU: keep at most this many bodies per frame (the authors keep the first two).
    pub max_bodies: Option<usize>,
}

/// Reads a skeleton file, detecting its format when `format` is `None`.
pub fn read(path: &Path, format: Option<Format>) -> Result<Skeleton> {
    read_with(path, format, &ReadOptions::default())
}

/// [`read`] with options.
pub fn read_with(path: &Path, format: Option<Format>, opts: &ReadOptions) -> Result<Skeleton> {
    let format = match format {
        Some(f) => f,
        None => detect(path)?,
    };
    let layout = match &opts.layout {
        Some(name) => Some(Layout::builtin(name)?),
        None => None,
    };
    let mut skel = match format {
        Format::Ntu => ntu::read(
            path,
            &ntu::NtuOptions {
                max_bodies: opts.max_bodies,
            },
        )?,
        Format::Bvh => bvh::read(path)?,
        Format::HumanMl3d => npy::read_humanml3d(path)?,
        Format::Npy => npy::read(path, layout.clone())?,
        Format::OpenPose => openpose::read(path)?,
        Format::Coco => coco::read(path)?,
        Format::DeepMimic => deepmimic::read(path)?,
        Format::Json => json::read(path, layout.clone())?,
    };
    skel.source.format = Some(format);
    skel.source.path = Some(path.to_path_buf());
    Ok(skel)
}

/// Detects a file's format from its extension and, where that is ambiguous, its content.
pub fn detect(path: &Path) -> Result<Format> {
    let unknown = |reason: &str| Error::UnknownFormat {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    if path.is_dir() {
        // Only OpenPose comes as a folder; a folder named like a file is a mistake to name.
        if matches!(ext.as_str(), "skeleton" | "bvh" | "npy" | "txt" | "json") {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(format!(
                    "is a folder, not a .{ext} file (only OpenPose input is a folder)"
                )),
            });
        }
        return Ok(Format::OpenPose);
    }
    match ext.as_str() {
        "skeleton" => return Ok(Format::Ntu),
        "bvh" => return Ok(Format::Bvh),
        "npy" => {
            return Ok(match npy::peek_shape(path)?.as_slice() {
                [_, 22, 3] => Format::HumanMl3d,
                _ => Format::Npy,
            });
        }
        _ => {}
    }
    // Content sniffing on the first bytes.
    let head = read_head(path, 4096)?;
    let text = String::from_utf8_lossy(&head);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let trimmed = text.trim_start();
    if trimmed.starts_with("HIERARCHY") {
        return Ok(Format::Bvh);
    }
    if head.starts_with(b"\x93NUMPY") {
        return Ok(Format::Npy);
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.contains("\"Frames\":") && (compact.contains("\"Loop\"") || ext == "txt") {
            return Ok(Format::DeepMimic);
        }
        if compact.contains("\"pose_keypoints_2d\"") || compact.contains("\"people\":") {
            return Ok(Format::OpenPose);
        }
        if compact.contains("\"annotations\":") || compact.contains("\"keypoints\":") {
            return Ok(Format::Coco);
        }
        return Ok(Format::Json);
    }
    if trimmed
        .split_whitespace()
        .next()
        .is_some_and(|t| t.parse::<u64>().is_ok())
    {
        return Ok(Format::Ntu);
    }
    Err(unknown("not NTU, BVH, npy or JSON by extension or content"))
}

/// The most joints of a skeleton whose hierarchy comes from the file (BVH, our JSON's
/// `"joints"`): far more than any real rig, and few enough that checking the hierarchy
/// ([`Layout::check`](crate::layout::Layout::check) walks every joint's parent chain) stays fast.
pub(crate) const MAX_HIERARCHY_JOINTS: usize = 10_000;

/// Joint slots (`frames × persons × joints`) that any input may expand to, however small.
const DENSE_MIN_SLOTS: usize = 1 << 22;
/// Joint slots allowed per byte of input beyond [`DENSE_MIN_SLOTS`].
const DENSE_SLOTS_PER_BYTE: usize = 16;

/// Checks, before the dense `[frames, persons, joints, 3]` output is allocated, that it is in
/// proportion to the `input_len` bytes it is read from: `persons` is the most bodies of any
/// frame, so a small file with one crowded frame and many empty ones would otherwise expand
/// quadratically. The limit, 2^22 joint slots or 16 per input byte, is far above what real
/// recordings need.
pub(crate) fn check_dense_size(
    path: &Path,
    line: Option<usize>,
    [frames, persons, joints]: [usize; 3],
    input_len: usize,
) -> Result<(), ParseError> {
    let limit = DENSE_MIN_SLOTS.max(input_len.saturating_mul(DENSE_SLOTS_PER_BYTE));
    let slots = frames
        .checked_mul(persons)
        .and_then(|n| n.checked_mul(joints));
    if slots.is_some_and(|n| n <= limit) {
        return Ok(());
    }
    let msg = format!(
        "{frames} frames × {persons} bodies × {joints} joints is too large for a \
         {input_len}-byte input (at most {limit} joint slots)"
    );
    Err(ParseError {
        path: path.to_path_buf(),
        line,
        msg,
    })
}

fn read_head(path: &Path, n: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::with_capacity(n);
    f.by_ref()
        .take(n as u64)
        .read_to_end(&mut buf)
        .map_err(io)?;
    Ok(buf)
}

/// Writes a skeleton: `.npy` (float32 `[T, P, J, 3]`, absent = 0) or `.json` (our JSON).
pub fn write(skel: &Skeleton, path: &Path) -> Result<()> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("npy") => npy::write_joints(skel, path),
        Some("json") => json::write(skel, path),
        _ => Err(ParseError::file(path, "output must end in .npy or .json").into()),
    }
}

/// The facts `skeletonllm inspect` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// Format name.
    pub format: String,
    /// Layout name.
    pub layout: String,
    /// Frame count.
    pub frames: usize,
    /// Body slots.
    pub persons: usize,
    /// Joints per body.
    pub joints: usize,
    /// Frames per second, if known.
    pub fps: Option<f32>,
    /// Joint names.
    pub joint_names: Vec<String>,
    /// Fraction of joints present.
    pub valid_fraction: f32,
    /// Source metadata.
    pub meta: std::collections::BTreeMap<String, String>,
}

impl Summary {
    /// Summarises a skeleton.
    pub fn of(skel: &Skeleton) -> Summary {
        let valid = skel.valid();
        let frac = if valid.is_empty() {
            0.0
        } else {
            valid.iter().filter(|&&v| v).count() as f32 / valid.len() as f32
        };
        Summary {
            format: skel
                .source
                .format
                .map(|f| f.name().to_string())
                .unwrap_or_default(),
            layout: skel.layout().name.clone(),
            frames: skel.frames(),
            persons: skel.persons(),
            joints: skel.joints(),
            fps: skel.fps,
            joint_names: skel.layout().joints.clone(),
            valid_fraction: frac,
            meta: skel.source.meta.clone(),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// crash never leaves a half-written file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file_atomic(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// [`write_atomic`] with a plain I/O error, for callers with error types of their own: the
/// bytes go to a temporary sibling (unique per process and call), are synced to disk, then
/// renamed over `path`; the temporary file is removed if anything fails.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file path"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

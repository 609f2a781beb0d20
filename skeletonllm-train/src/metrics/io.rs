//! Atomic file writes (temp file in the same directory, fsync, rename).

use std::path::Path;

use super::MetricsError;

/// Writes `bytes` to `path` atomically ([`draction::io::write_file_atomic`]: a synced temporary
/// sibling renamed over `path`).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MetricsError> {
    if path.file_name().is_none() {
        return Err(MetricsError::InvalidPath {
            path: path.to_path_buf(),
        });
    }
    draction::io::write_file_atomic(path, bytes).map_err(|source| MetricsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

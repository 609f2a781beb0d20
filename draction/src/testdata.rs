//! Test support (the `testing` feature): where the real motion data fetched by
//! `scripts/fetch-data.sh` lives, for the tests of every crate of the workspace.

use std::path::PathBuf;

/// `$SKELETONLLM_DATA/<sub>` (default `<repo>/.data/<sub>`); fails the test with instructions
/// when the folder is missing (never a silent pass).
pub fn data_dir(sub: &str) -> PathBuf {
    let root = std::env::var_os("SKELETONLLM_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.data")));
    let dir = root.join(sub);
    assert!(
        dir.is_dir(),
        "test data {} is missing: run scripts/fetch-data.sh (or set SKELETONLLM_DATA)",
        dir.display()
    );
    dir
}

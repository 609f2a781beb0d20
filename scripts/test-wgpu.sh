#!/usr/bin/env bash
# Runs the CubeCL rasteriser kernels through wgpu on a CPU adapter: Mesa's software Vulkan
# driver (lavapipe, Debian package `mesa-vulkan-drivers`, installed beforehand; this script
# installs nothing). Without the adapter the tests fail with a message saying so.
#
# Usage: scripts/test-wgpu.sh [extra cargo test args]
# Honours CARGO_TARGET_DIR and CARGO_BUILD_JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    echo "warning: no lavapipe ICD in /usr/share/vulkan/icd.d (install mesa-vulkan-drivers);" \
        "the wgpu tests will fail" >&2
fi

# The kernel tests (tests/wgpu_kernels.rs); there are no wgpu-only lib tests.
cargo test -p draction --features wgpu --test wgpu_kernels "$@" -- --test-threads=1 --nocapture

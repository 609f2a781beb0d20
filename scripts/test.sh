#!/usr/bin/env bash
# The project's test command: fetch the real motion data (scripts/fetch-data.sh, and the extra
# recordings the bundled model is trained and evaluated on: scripts/fetch-motions.sh) and the
# bundled model's base language model (all cached, sha256-checked), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-data.sh
scripts/fetch-motions.sh
scripts/fetch-smollm2.sh >/dev/null
cargo test --workspace "$@"

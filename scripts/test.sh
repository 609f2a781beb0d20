#!/usr/bin/env bash
# The project's test command: fetch the real motion data and the bundled model's base language
# model (both cached, sha256-checked), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-data.sh
scripts/fetch-smollm2.sh >/dev/null
cargo test --workspace "$@"

#!/usr/bin/env bash
# The project's test command: fetch the real motion data (cached), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-data.sh
cargo test --workspace "$@"

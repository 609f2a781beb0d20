#!/usr/bin/env bash
# DrAction speed, Rust vs the same maths vectorised in PyTorch (benches/draction_torch.py), on
# this machine in one run: 12 frames, 2 bodies, 224² and 448², forward and forward+backward.
# Prints each implementation's JSON lines, then a ratio table. Needs: pip install torch
# safetensors numpy. Usage: benches/compare_torch.sh [threads] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
runs=${2:-3}
export RAYON_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
cargo build --release --quiet --example bench_render
bin="${CARGO_TARGET_DIR:-target}/release/examples/bench_render"
out=$(mktemp -d)
for size in 224 448; do
  for case in fast-fwd fast-fwdbwd; do
    "$bin" --case "$case" --size "$size" --runs "$runs" | tee -a "$out/rust.jsonl"
  done
done
# The reference rasteriser at 224² (448² backward needs tens of GB as in PyTorch).
"$bin" --case reference-fwd --size 224 --runs 1 | tee -a "$out/rust.jsonl"
python3 benches/draction_torch.py bench --weights tests/fixtures/draction/random_nfm.safetensors --threads "$threads" --runs "$runs" --sizes 224,448 | tee "$out/torch.jsonl"
python3 - "$out/rust.jsonl" "$out/torch.jsonl" <<'PY'
import json, sys
rust = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
torch = [json.loads(l) for l in open(sys.argv[2]) if l.strip().startswith("{")]
name = {"forward": "fast-fwd", "forward_backward": "fast-fwdbwd"}
print(f"\n{'case':<14}{'size':>6}{'rust s':>10}{'torch s':>10}{'ratio':>8}{'rust MB':>9}{'torch MB':>9}")
for t in torch:
    r = next((r for r in rust if r["case"] == name.get(t["case"]) and r["size"] == t["size"]), None)
    if r:
        print(f"{r['case']:<14}{r['size']:>6}{r['median_s']:>10.4f}{t['median_s']:>10.4f}"
              f"{t['median_s'] / r['median_s']:>7.1f}×{r['peak_rss_mb']:>9.0f}{t['peak_rss_mb']:>9.0f}")
PY

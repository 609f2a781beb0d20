#!/usr/bin/env bash
# InternVL3-1B-sized model with random weights (no download) on CPU, Rust (Burn, examples/
# bench_internvl.rs) vs transformers (benches/internvl_torch.py) on this machine in one run:
# image encode latency, prefill and decode tokens/s, end-to-end generate, peak RSS.
# Prints each implementation's JSON lines, then a ratio table (Rust speed / transformers
# speed; >= 1 means Rust is faster). Needs: pip install torch transformers.
# Usage: benches/compare_internvl.sh [threads] [layers] [runs]   (defaults 2 24 2; full size
# takes ~3 min on 2 cores. Run on a quiet machine: a concurrent job slows torch's OpenMP far
# more than Rust. Burn's flex backend threads with rayon: RAYON_NUM_THREADS sets its pool.)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
layers=${2:-24}
runs=${3:-2}
export RAYON_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
cargo build --release --quiet --example bench_internvl
bin="${CARGO_TARGET_DIR:-target}/release/examples/bench_internvl"
out=$(mktemp -d)
"$bin" --layers "$layers" --runs "$runs" --warmup 1 | tee "$out/rust.jsonl"
python3 benches/internvl_torch.py --threads "$threads" --layers "$layers" --runs "$runs" --warmup 1 \
  2> >(grep -v -i warn >&2) | tee "$out/torch.jsonl"
python3 - "$out/rust.jsonl" "$out/torch.jsonl" <<'PY'
import json, sys
load = lambda p: {d["metric"]: d for d in (json.loads(l) for l in open(p) if l.startswith("{"))}
rust, torch = load(sys.argv[1]), load(sys.argv[2])
print(f"\n{'metric':<14}{'unit':>7}{'rust':>11}{'transformers':>14}{'rust speed / tf':>17}")
for m in ["image_encode", "prefill", "decode", "e2e_generate", "peak_rss"]:
    if m not in rust or m not in torch:
        continue
    r, t, unit = rust[m]["value"], torch[m]["value"], rust[m]["unit"]
    if unit == "s":          # latency: speed ratio = t_tf / t_rust
        ratio = f"{t / r:.2f}x"
    elif unit == "tok/s":    # throughput: speed ratio = rust / tf
        ratio = f"{r / t:.2f}x"
    else:                    # memory: shown as rust / tf (lower is better)
        ratio = f"(mem {r / t:.2f}x)"
    print(f"{m:<14}{unit:>7}{r:>11.3f}{t:>14.3f}{ratio:>17}")
PY

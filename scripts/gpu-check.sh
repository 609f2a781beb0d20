#!/usr/bin/env bash
# The one prepared GPU check (about 8 minutes on one GPU, Vulkan through wgpu). It
#   1. builds the release binaries with --features wgpu,
#   2. runs the CubeCL kernel tests on the GPU's wgpu adapter,
#   3. times DrAction forward+backward at 12 frames x 448²,
#   4. times an InternVL3-1B-sized model with random weights (image encode, prefill, decode,
#      generate),
#   5. trains the tiny recipe for 20 optimizer steps on the GPU (4 stages x 5 steps, f16 bases),
#   6. measures the GPU memory of one InternVL3-1B training sample (12 x 448² frames, f16
#      bases, gradients back to the pixels) with 1 and 2 ViT / LM layers: the cost per layer,

# and prints one summary table (markdown) to stdout and to $OUT/gpu-check.md (default
# target/gpu-check). Logs of every step are kept there too.
#
# It needs the crates downloaded (run `cargo fetch` where the registry is reachable) and the
# GPU's Vulkan driver. `--features cuda` is not checked here: CubeCL's CUDA backend downloads
# LLVM at build time, so build it where that download is possible.
#
# Usage: scripts/gpu-check.sh            (honours CARGO_TARGET_DIR and OUT)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-target/gpu-check}"
mkdir -p "$out"
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/examples"
rows=()
row() { rows+=("| $1 | $2 | $3 |"); }
t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }
# The value of "key" in the first JSON line of a file that has it (no jq needed).
json() { grep -o "\"$2\":[^,}]*" "$1" | head -1 | cut -d: -f2 | tr -d '"'; }

gpu=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)
row "GPU" "${gpu:-unknown (no nvidia-smi)}" ""

echo "== build (--release --features wgpu)" >&2
if cargo build --release --features wgpu --examples >"$out/build.log" 2>&1; then
    row "build --features wgpu" "ok" "$(elapsed) s"
else
    row "build --features wgpu" "FAILED" "see $out/build.log"
    printf '%s\n' "| check | result | note |" "|---|---|---|" "${rows[@]}" | tee "$out/gpu-check.md"
    exit 1
fi

echo "== wgpu kernel tests" >&2
if cargo test --release -p draction --features wgpu --test wgpu_kernels -- --test-threads=1 \
    >"$out/wgpu_kernels.log" 2>&1; then
    row "wgpu kernel tests" "$(grep -o '[0-9]* passed' "$out/wgpu_kernels.log" | tail -1)" "ok"
else
    row "wgpu kernel tests" "FAILED" "see $out/wgpu_kernels.log"
fi

echo "== DrAction fwd+bwd 12 x 448²" >&2
if "$bin/bench_render" --case fast-fwdbwd --size 448 --runs 10 >"$out/draction.jsonl" 2>"$out/draction.log"; then
    row "DrAction fwd+bwd, 12 frames 448², median" "$(json "$out/draction.jsonl" median_s) s" "min $(json "$out/draction.jsonl" min_s) s"
else
    row "DrAction fwd+bwd" "FAILED" "see $out/draction.log"
fi

echo "== InternVL3-1B-sized forward / generate" >&2
# wgpu adapters that cap a buffer binding at 128 MiB cannot hold the 543 MB embedding table:
# then the same model with a 32 000-token vocabulary (noted in the table).
vocab_note=""
if ! "$bin/bench_internvl" --runs 3 --warmup 1 >"$out/internvl.jsonl" 2>"$out/internvl.log"; then
    vocab_note="vocab 32000 (the full one failed, see internvl.log)"
    "$bin/bench_internvl" --runs 3 --warmup 1 --vocab 32000 >"$out/internvl.jsonl" 2>"$out/internvl-32k.log"
fi
if [ -s "$out/internvl.jsonl" ]; then
    while IFS= read -r line; do
        metric=$(echo "$line" | grep -o '"metric":"[^"]*"' | cut -d'"' -f4)
        value=$(echo "$line" | grep -o '"value":[^,}]*' | cut -d: -f2)
        unit=$(echo "$line" | grep -o '"unit":"[^"]*"' | cut -d'"' -f4)
        row "InternVL3-1B (random) $metric" "$value $unit" "$vocab_note"
    done <"$out/internvl.jsonl"
else
    row "InternVL3-1B forward/generate" "FAILED" "see $out/internvl.log"
fi

echo "== tiny recipe, 20 steps" >&2
rm -rf "$out/train"
if "$bin/train_ntu" --tiny --max-steps 5 --checkpoint-every 5 --out "$out/train" \
    >"$out/train.log" 2>&1; then
    steps=$(cat "$out"/train/*/log.jsonl 2>/dev/null | wc -l)
    secs=$(cat "$out"/train/*/log.jsonl | grep -o '"seconds":[^,}]*' | cut -d: -f2 |
        awk '{s+=$1} END {if (NR) printf "%.3f", s/NR}')
    row "tiny recipe on the GPU" "$steps steps" "$secs s/step (mean)"
else
    row "tiny recipe on the GPU" "FAILED" "see $out/train.log"
fi

echo "== memory of one InternVL3-1B training sample" >&2
# GPU memory in use (MiB), sampled while each probe runs; the peak minus the idle level.
gpu_mem() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1; }
: >"$out/memory.jsonl"
peaks=()
idle=$(gpu_mem)
for layers in "1 1" "2 1" "1 2"; do
    set -- $layers
    "$bin/memory_probe" --model 1b --vit-layers "$1" --lm-layers "$2" --base-dtype f16 --vocab 32000 \
        >>"$out/memory.jsonl" 2>>"$out/memory.log" &
    pid=$!
    peak=0
    while kill -0 "$pid" 2>/dev/null; do
        m=$(gpu_mem)
        [ -n "$m" ] && [ "$m" -gt "$peak" ] && peak=$m
        sleep 0.2
    done
    wait "$pid" || row "memory probe $1 ViT / $2 LM layers" "FAILED" "see $out/memory.log"
    peaks+=($(( peak - ${idle:-0} )))
done
if [ -n "$idle" ] && [ "${#peaks[@]}" -eq 3 ]; then
    row "GPU memory, 1 ViT + 1 LM layer, f16 bases" "${peaks[0]} MiB" "weights (vocab 32000) + activations of 12 x 448²"
    row "per ViT layer" "$(( peaks[1] - peaks[0] )) MiB" "x 24 layers in InternViT-300M"
    row "per LM layer" "$(( peaks[2] - peaks[0] )) MiB" "x 24 layers in Qwen2.5-0.5B"
fi

row "total" "$(elapsed) s" ""
printf '%s\n' "| check | result | note |" "|---|---|---|" "${rows[@]}" | tee "$out/gpu-check.md"

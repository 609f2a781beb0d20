#!/usr/bin/env bash
# The main job on the bundled samples: inspect, export joints, retarget, render with DrAction.
# Outputs go to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/demo
mkdir -p "$out"
cargo build --quiet --bin skeletonllm
bin="${CARGO_TARGET_DIR:-target}/debug/skeletonllm"
run() { echo "\$ skeletonllm $*" >&2; "$bin" "$@"; }
for f in assets/samples/cmu_01_01.bvh assets/samples/deepmimic_walk.txt; do
  run inspect "$f" | python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("joint_names"); print(json.dumps(d))'
done
run export-joints assets/samples/cmu_01_01.bvh --out "$out/cmu_01_01_joints.npy"
run convert assets/samples/cmu_01_01.bvh --to ntu25 --out "$out/cmu_01_01_ntu25.json"
run convert assets/samples/deepmimic_walk.txt --to smpl22 --out "$out/walk_smpl22.npy"
run inspect "$out/walk_smpl22.npy" --format npy | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d[k] for k in ("format","layout","frames","persons","joints","valid_fraction")})'
# Render the CMU clip and the DeepMimic walk with the bundled DrAction weights.
run render assets/samples/cmu_01_01.bvh --weights assets/draction_default.safetensors --size 224 --out "$out/cmu_01_01_render"
run render assets/samples/deepmimic_walk.txt --weights assets/draction_default.safetensors --size 224 --out "$out/walk_render"
echo "wrote $(ls "$out" | tr '\n' ' ')to $out/ — open $out/cmu_01_01_render/animation.gif" >&2

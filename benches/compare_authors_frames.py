#!/usr/bin/env python3
"""Compare `skeletonllm render` with frames rendered by the authors' DrAction code.

The reference folder holds, per input `<name>`: `<name>/indices.json` ({"indices": [...]}) and
`<name>/c<cand>_<size>.npy` (the authors' float32 [12, S, S, 3] frames), and the inputs in
`inputs/<name>.skeleton` or `inputs/<name>.json`. Such frames are made by running the authors'
released code (not part of this project) on files you write; see the DrAction issue notes.

    python3 benches/compare_authors_frames.py REF_DIR WEIGHTS_DIR [--sizes 224,448] [--paths exact,fast]

Prints one JSON line per (input, candidate, size, path) with max/mean absolute differences.
"""
import argparse, json, os, subprocess, sys, tempfile

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("ref"); p.add_argument("weights")
p.add_argument("--sizes", default="224"); p.add_argument("--paths", default="exact,fast")
p.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "skeletonllm"))
a = p.parse_args()
out_root = tempfile.mkdtemp()
for name in sorted(os.listdir(a.ref)):
    idx_file = os.path.join(a.ref, name, "indices.json")
    if not os.path.isfile(idx_file):
        continue
    inputs = [f for f in os.listdir(os.path.join(a.ref, "inputs")) if f.split(".")[0] == name and not f.endswith(".npy")]
    if not inputs:
        continue
    src = os.path.join(a.ref, "inputs", inputs[0])
    idx = ",".join(map(str, json.load(open(idx_file))["indices"]))
    for cand in ("01", "02", "03"):
        for size in a.sizes.split(","):
            ref = os.path.join(a.ref, name, f"c{cand}_{size}.npy")
            if not os.path.isfile(ref):
                continue
            for path in a.paths.split(","):
                out = os.path.join(out_root, f"{name}_{cand}_{size}_{path}")
                cmd = [a.bin, "render", src, "--weights", os.path.join(a.weights, f"draction_candidate_{cand}.safetensors"),
                       "--size", size, "--frame-indices", idx, "--out", out] + (["--exact"] if path == "exact" else [])
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode:
                    print(json.dumps({"input": name, "cand": cand, "size": int(size), "path": path, "error": r.stderr.strip()}))
                    continue
                d = np.abs(np.load(os.path.join(out, "frames.npy")) - np.load(ref))
                print(json.dumps({"input": name, "cand": cand, "size": int(size), "path": path,
                                  "max_abs": float(d.max()), "mean_abs": float(d.mean())}), flush=True)

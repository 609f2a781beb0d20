#!/usr/bin/env python3
"""DrAction (SkeletonLLM's differentiable skeleton renderer) in vectorised PyTorch.

An independent implementation of the renderer's *model path* as described in
`shared/reference/draction-spec.md` (section numbers below refer to it).  It is
the PyTorch comparison point for the Rust renderer: the same maths, vectorised
over frames, bodies, Gaussians and pixels, differentiable with respect to the
learnable tensors (`canonical_features`, `appearance_head.*`, `nfm.*`,
`depth_mix_logit`, and optionally `canonical_means` / `canonical_scales`).

Requirements: Python 3.9+, `pip install torch safetensors numpy`.

Usage:
    # render 12 frames of a clip exported by the Rust CLI
    skeletonllm export-joints clip.skeleton --max-bodies 2 --out joints.npy
    python3 benches/draction_torch.py render --weights W.safetensors \
        --joints joints.npy [--layout ntu25|smpl22] [--frames 12] [--size 448] \
        [--frame-indices 0,5,...] [--threads N] [--dtype float32|float64] --out frames.npy

    # time forward and forward+backward, 12 frames, 2 bodies, 224² and 448²
    python3 benches/draction_torch.py bench [--weights W] [--joints J.npy] \
        [--threads N] [--runs 3] [--sizes 224,448]

    # self checks (sampler table, custom backward vs autograd)
    python3 benches/draction_torch.py check

`render` writes a float32 `[F, S, S, 3]` RGB array in [0, 1] and prints one
JSON line (indices, shape, seconds).  `bench` prints one JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# Constants (spec §13)
# ---------------------------------------------------------------------------

FORMAT = "skeletonllm-draction-v1"
FOV_DEG = 60.0
NEAR_Z = 1e-4
COV2D_REG = 1e-5
DEPTH_EPS = 1e-6
VEL_STRIDE = 4
TORCH_DEFAULT_SEED = 67280421310721  # seed of a fresh torch.Generator (model path)
Z_SHIFT_THRESHOLD = 0.5
Z_SHIFT = 1.0
NTU_LINE_SAMPLES = 10
HML_BASE_SAMPLES = 24
HML_MIN_SAMPLES = 2
HML_Z_TARGET = 2.5
HML_JOINT_SCALE = 0.026
HML_LINE_SCALE = 0.016
LBS_FOCUS = 10.0
LBS_OTHER = -10.0
LBS_LOG_FLOOR = 1e-6
W_LOG_FLOOR = -60.0  # compositing: lower bound on -q/2 (see _block_terms)

# 1-based bone lists, in the order that defines Gaussian indices (§1, §11).
NTU_BONES = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7),
             (9, 21), (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14),
             (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 23), (23, 8),
             (24, 25), (25, 12)]
SMPL22_BONES = [(1, 3), (3, 6), (6, 9), (9, 12), (1, 2), (2, 5), (5, 8), (8, 11),
                (1, 4), (4, 7), (7, 10), (10, 13), (13, 16), (10, 15), (15, 18),
                (18, 20), (20, 22), (10, 14), (14, 17), (17, 19), (19, 21)]
LAYOUTS = {"ntu25": (25, NTU_BONES), "smpl22": (22, SMPL22_BONES)}

LEARNABLE = ["canonical_features",
             "appearance_head.0.weight", "appearance_head.0.bias",
             "appearance_head.2.weight", "appearance_head.2.bias",
             "nfm.0.weight", "nfm.0.bias", "nfm.2.weight", "nfm.2.bias",
             "depth_mix_logit"]
GEOMETRY_LEARNABLE = ["canonical_means", "canonical_scales"]
TOPOLOGY = ["canonical_joints", "canonical_means", "canonical_scales",
            "canonical_quats", "canonical_opacities", "lbs_weights_logits"]


# ---------------------------------------------------------------------------
# Checkpoints (§12)
# ---------------------------------------------------------------------------

def load_checkpoint(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Read a skeletonllm-draction-v1 safetensors file; every tensor widened to f32."""
    from safetensors import safe_open
    tensors = {}
    with safe_open(path, framework="pt", device="cpu") as f:
        meta = dict(f.metadata() or {})
        for k in f.keys():
            tensors[k] = f.get_tensor(k).to(torch.float32)  # bf16 -> f32 is exact
    if meta.get("format", FORMAT) != FORMAT:
        raise ValueError(f"{path}: format {meta.get('format')!r} is not {FORMAT}")
    return tensors, meta


_ST_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64",
              torch.bfloat16: "BF16", torch.float16: "F16", torch.int32: "I32", torch.uint8: "U8"}


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor], meta: Dict[str, str]) -> None:
    """Byte-deterministic safetensors writer (sorted names, sorted metadata keys).

    (safetensors' own writer orders `__metadata__` by a hash map, so two runs differ.)
    """
    header: Dict[str, object] = {"__metadata__": {k: str(meta[k]) for k in sorted(meta)}}
    blobs, off = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(len(js).to_bytes(8, "little"))
        f.write(js)
        for b in blobs:
            f.write(b)


def save_checkpoint(path: str, tensors: Dict[str, torch.Tensor], meta: Dict[str, str]) -> None:
    """Write a skeletonllm-draction-v1 checkpoint (all tensors f32)."""
    write_safetensors(path, {k: v.to(torch.float32) for k, v in tensors.items()},
                      {"format": FORMAT, **meta})


# ---------------------------------------------------------------------------
# Frame sampling (§3), velocities (§2), preprocessing (§4, §11)
# ---------------------------------------------------------------------------

def sample_indices(t_raw: int, target: int = 12, seed: Optional[int] = None) -> List[int]:
    """The authors' segment sampler; `seed=None` is the model path (a fresh generator)."""
    target = max(1, int(target))
    if t_raw <= 0:
        return [0] * target
    if target == 1:
        return [max(0, min(t_raw - 1, t_raw // 2))]
    gen = torch.Generator(device="cpu")
    gen.manual_seed(TORCH_DEFAULT_SEED if seed is None else seed)
    if t_raw == target:
        return list(range(target))
    if t_raw < target:
        draws = torch.randint(0, t_raw, (target,), generator=gen)
        return sorted(int(x) for x in draws)
    bounds = torch.linspace(0, t_raw, steps=target + 1, dtype=torch.float32)
    out = []
    for i in range(target):
        lo = int(math.floor(float(bounds[i])))
        hi = int(math.ceil(float(bounds[i + 1]))) - 1
        lo = max(0, min(lo, t_raw - 1))
        hi = max(lo, min(hi, t_raw - 1))
        out.append(int(torch.randint(lo, hi + 1, (1,), generator=gen)))
    return out


def velocities(raw: torch.Tensor, stride: int = VEL_STRIDE) -> torch.Tensor:
    """vel[t] = raw[min(t+stride, T-1)] - raw[t] over the raw sequence [T,P,J,3]."""
    t = raw.shape[0]
    fut = torch.clamp(torch.arange(t) + stride, max=t - 1)
    return raw[fut] - raw


def valid_slots(poses: torch.Tensor, thresh: float = 1e-6) -> torch.Tensor:
    return poses.abs().sum(dim=(-1, -2)) > thresh


def lower_median(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1).median()  # torch.median = lower middle element


def preprocess_ntu(poses: torch.Tensor) -> torch.Tensor:
    """§4: shift z of valid slots by +1 when the median z is near the camera."""
    valid = valid_slots(poses)
    if not bool(valid.any()):
        return poses
    zmed = lower_median(poses[valid][..., 2])
    if bool(zmed.abs() < Z_SHIFT_THRESHOLD):
        poses = poses.clone()
        shift = torch.zeros(3, dtype=poses.dtype)
        shift[2] = Z_SHIFT
        poses[valid] = poses[valid] + shift
    return poses


def position_smpl22(poses: torch.Tensor) -> torch.Tensor:
    """§11.2: y_off = -median(y), z_off = 2.5 - median(z) over valid frames; x untouched."""
    valid = valid_slots(poses)
    if not bool(valid.any()):
        return poses
    sel = poses[valid]
    y_off = -float(lower_median(sel[..., 1]))
    z_off = HML_Z_TARGET - float(lower_median(sel[..., 2]))
    off = torch.tensor([0.0, y_off, z_off], dtype=torch.float32).to(poses.dtype)
    poses = poses.clone()
    poses[valid] = poses[valid] + off
    return poses


def prepare_clip(raw: torch.Tensor, layout: str, frames: int = 12,
                 indices: Optional[Sequence[int]] = None
                 ) -> Tuple[torch.Tensor, torch.Tensor, List[int]]:
    """Raw joints [T,P,J,3] -> (sampled preprocessed poses, sampled velocities, indices)."""
    t_raw = raw.shape[0]
    idx = list(indices) if indices is not None else sample_indices(t_raw, frames, seed=None)
    if any(i < 0 or i >= t_raw for i in idx):
        raise ValueError(f"frame index out of range [0, {t_raw})")
    vel = velocities(raw)[idx]
    poses = raw[idx]
    poses = preprocess_ntu(poses) if layout == "ntu25" else position_smpl22(poses)
    return poses, vel, idx


# ---------------------------------------------------------------------------
# Topologies (§5, §11)
# ---------------------------------------------------------------------------

def lbs_logits_for(num_joints: int, sample_defs: Sequence[Tuple[int, int, float]],
                   dtype=torch.float32) -> torch.Tensor:
    """Joint rows +10 at j / -10 elsewhere; line rows log(1-a)+10 at a, log(a)+10 at b."""
    k = num_joints + len(sample_defs)
    logits = torch.full((k, num_joints), LBS_OTHER, dtype=torch.float64)
    logits[torch.arange(num_joints), torch.arange(num_joints)] = LBS_FOCUS
    for i, (a, b, alpha) in enumerate(sample_defs):
        logits[num_joints + i, a] = math.log(max(LBS_LOG_FLOOR, 1.0 - alpha)) + LBS_FOCUS
        logits[num_joints + i, b] = math.log(max(LBS_LOG_FLOOR, alpha)) + LBS_FOCUS
    return logits.to(dtype)


def ntu_sample_defs(num_line_samples: int = NTU_LINE_SAMPLES) -> List[Tuple[int, int, float]]:
    n = num_line_samples
    return [(a - 1, b - 1, s / (n + 1)) for a, b in NTU_BONES for s in range(1, n + 1)]


def smpl22_sample_defs(canonical: torch.Tensor) -> List[Tuple[int, int, float]]:
    """§11.4: length-proportional samples, n = clamp(round(24 L/Lmax), 2, 24)."""
    lengths = [float((canonical[a - 1] - canonical[b - 1]).to(torch.float32).norm())
               for a, b in SMPL22_BONES]
    lmax = max(max(lengths), 1e-6)
    defs = []
    for (a, b), length in zip(SMPL22_BONES, lengths):
        n = int(round(HML_BASE_SAMPLES * (length / lmax)))
        n = max(HML_MIN_SAMPLES, min(HML_BASE_SAMPLES, n))
        defs.extend((a - 1, b - 1, s / (n + 1)) for s in range(1, n + 1))
    return defs


def resample_linear(x: torch.Tensor, n_out: int) -> torch.Tensor:
    """1-D linear resampling with align_corners=True along dim 0 ([N_in, C] -> [n_out, C])."""
    return F.interpolate(x.t().unsqueeze(0), size=n_out, mode="linear",
                         align_corners=True).squeeze(0).t()


def quat_to_mat(q: torch.Tensor) -> torch.Tensor:
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z,
    ], dim=-1).reshape(q.shape[:-1] + (3, 3))


# ---------------------------------------------------------------------------
# Compositing (§9): exclusive-cumsum transmittance over pixel blocks
# ---------------------------------------------------------------------------
#
# For the depth-sorted Gaussians of one frame, with e_k = o_k w_k (w_k = exp(-q_k/2)):
#   a_k = 1 - exp(-e_k),  T_k = Π_{i<k} (1 - a_i) = exp(-Σ_{i<k} e_i),
#   C = Σ_k T_k a_k c_k = Σ_k (T_k - T_{k+1}) c_k,
# so the whole front-to-back loop is one cumsum and one exp per pixel block.  The
# blocks (a few image rows of one frame) are small enough to stay in cache, and the
# backward recomputes a block instead of storing it, so memory stays bounded.

def _column_terms(u, qa2, qb2, xs):
    """Per frame: dx = x - u [S, N] and the two column-only terms of -q/2."""
    dx = xs.unsqueeze(1) - u
    return dx, (qa2 * dx) * dx, qb2 * dx


def _block_terms(cols, v, qd2, o_neg, xs, r0, r1):
    """One frame, rows r0..r1: returns (dy [R,N], w [R,S,N], T_incl [R,S,N], wgt [R,S,N]).

    qa2, qb2, qd2 are -Q00/2, -(Q01+Q10)/2, -Q11/2: an exact power-of-two scaling of
    the spec's q = Q00 dx² + (Q01+Q10) dx dy + Q11 dy², evaluated in the same order.
    """
    _, a_t, b_t = cols
    dy = xs[r0:r1].unsqueeze(1) - v                           # [R, N]
    d_t = (qd2 * dy) * dy
    w = torch.addcmul(a_t.unsqueeze(0), b_t.unsqueeze(0), dy.unsqueeze(1))
    w += d_t.unsqueeze(1)                                     # -q/2, [R, S, N]
    # clamp(exp(-q/2), 0, 1) = exp(min(-q/2, 0)).  The floor keeps exp's argument in
    # range and its products out of subnormals (both take ~50x slower CPU paths); it
    # only raises w where w < 8.8e-27, and there o·w changes neither a (0 in f32 and
    # f64) nor T (exp of a sum below 1e-23 is exactly 1), so frames are unchanged.
    w.clamp_(min=W_LOG_FLOOR, max=0.0)
    w.exp_()
    t_incl = torch.mul(w, o_neg)                              # -o·w
    torch.cumsum(t_incl, dim=-1, out=t_incl)                  # -Σ_{i<=k} o_i w_i
    t_incl.exp_()                                             # T_{k+1}
    wgt = torch.empty_like(t_incl)
    torch.sub(t_incl[..., :-1], t_incl[..., 1:], out=wgt[..., 1:])  # T_k - T_{k+1}
    torch.sub(1.0, t_incl[..., 0], out=wgt[..., 0])
    return dy, w, t_incl, wgt


class _FlushDenormal:
    """Flush subnormals to zero inside compositing (values < 1.2e-38 only; subnormal
    arithmetic is ~50x slower on x86 and the backward's far-field products hit it)."""

    def __enter__(self):
        torch.set_flush_denormal(True)

    def __exit__(self, *exc):
        torch.set_flush_denormal(False)  # PyTorch's default (it has no getter)


def _rows_per_block(n, size, budget):
    return max(1, min(size, budget // max(1, size * n)))


class _CompositeFrame(torch.autograd.Function):
    """One frame: sorted Gaussians u, v, Q00, Q01+Q10, Q11, o [N], c [N,3] -> [S, S, 3]."""

    @staticmethod
    def forward(ctx, u, v, qa, qb, qd, o, c, size, budget):
        n = u.shape[0]
        out = u.new_zeros(size, size, 3)
        ctx.save_for_backward(u, v, qa, qb, qd, o, c)
        ctx.size, ctx.budget = size, budget
        if n == 0:
            return out
        xs = torch.arange(size, dtype=u.dtype)
        qa2, qb2, qd2, o_neg = qa * -0.5, qb * -0.5, qd * -0.5, -o
        rows = _rows_per_block(n, size, budget)
        with _FlushDenormal():
            cols = _column_terms(u, qa2, qb2, xs)
            for r0 in range(0, size, rows):
                r1 = min(size, r0 + rows)
                wgt = _block_terms(cols, v, qd2, o_neg, xs, r0, r1)[3]
                torch.mm(wgt.view(-1, n), c, out=out[r0:r1].view(-1, 3))
        return out

    @staticmethod
    def backward(ctx, g_out):
        u, v, qa, qb, qd, o, c = ctx.saved_tensors
        size, budget = ctx.size, ctx.budget
        n = u.shape[0]
        grads = [torch.zeros_like(t) for t in (u, v, qa, qb, qd, o, c)]
        if n == 0:
            return (*grads, None, None)
        gu, gv, gqa, gqb, gqd, go, gc = grads
        xs = torch.arange(size, dtype=u.dtype)
        qa2, qb2, qd2, o_neg = qa * -0.5, qb * -0.5, qd * -0.5, -o
        g_out = g_out.contiguous()
        ct = c.t().contiguous()
        rows = _rows_per_block(n, size, budget)
        with _FlushDenormal():
            _CompositeFrame._backward_blocks(u, v, qa2, qb2, qd2, o, o_neg, c, ct, xs, g_out,
                                             size, rows, grads)
        gqa *= -0.5
        gqb *= -0.5
        gqd *= -0.5
        return gu, gv, gqa, gqb, gqd, go, gc, None, None

    @staticmethod
    def _backward_blocks(u, v, qa2, qb2, qd2, o, o_neg, c, ct, xs, g_out, size, rows, grads):
        gu, gv, gqa, gqb, gqd, go, gc = grads
        n = u.shape[0]
        cols = _column_terms(u, qa2, qb2, xs)
        dx = cols[0]
        col_g = torch.zeros_like(dx)      # Σ_rows gw          [S, N]
        col_gdy = torch.zeros_like(dx)    # Σ_rows gw · dy     [S, N]
        for r0 in range(0, size, rows):
            r1 = min(size, r0 + rows)
            dy, w, t_incl, wgt = _block_terms(cols, v, qd2, o_neg, xs, r0, r1)
            gy = g_out[r0:r1].reshape(-1, 3)                              # [R*S, 3]
            gc += wgt.view(-1, n).t() @ gy
            cdot = (gy @ ct).view(wgt.shape)                              # c_k · dL/dC
            contrib = wgt.mul_(cdot)                                      # (T_k - T_{k+1}) c_k·dC
            g_e = torch.cumsum(contrib, dim=-1)
            g_e.sub_(g_e[..., -1:].clone())                               # -Σ_{j>k} contrib_j
            # dL/de_k = T_{k+1} (c_k·dC) - Σ_{j>k} (T_j - T_{j+1}) (c_j·dC),  e = o·w
            g_e.addcmul_(t_incl, cdot)
            gw = g_e.mul_(w)                  # summand of dL/do; dL/d(-q/2) = gw·o (w < 1)
            col_g += gw.sum(dim=0)
            col_gdy += (gw * dy.unsqueeze(1)).sum(dim=0)
            row_g = gw.sum(dim=1)                                         # Σ_cols gw  [R, N]
            # -q/2 = qa2 dx² + qb2 dx dy + qd2 dy², dx = x - u, dy = y - v (dy-only terms)
            gqd += (row_g * dy * dy).sum(0)
            gv -= 2 * qd2 * (row_g * dy).sum(0)
        # the dx terms, once per frame (they are linear in the row sums)
        sx = (col_g * dx).sum(0)
        go += col_g.sum(0)
        gqa += (col_g * dx * dx).sum(0)
        gqb += (col_gdy * dx).sum(0)
        gu -= 2 * qa2 * sx + qb2 * col_gdy.sum(0)
        gv -= qb2 * sx
        for g in (gu, gv, gqa, gqb, gqd):
            g.mul_(o)


def composite(u, v, qa, qb, qd, o, c, size: int, budget: int = 1 << 18,
              plain_autograd: bool = False, live: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Front-to-back compositing of depth-sorted Gaussians [F, N] -> image [F, S, S, 3].

    `plain_autograd=True` evaluates the spec's per-Gaussian formula
    (C += T·a·c, T *= 1 - a) on whole images with autograd (slow; a test oracle).
    """
    if plain_autograd:
        f, n = u.shape
        xs = torch.arange(size, dtype=u.dtype)
        dx = xs.view(1, 1, size, 1) - u.view(f, 1, 1, n)
        dy = xs.view(1, size, 1, 1) - v.view(f, 1, 1, n)
        q = qa.view(f, 1, 1, n) * dx * dx + qb.view(f, 1, 1, n) * dx * dy + qd.view(f, 1, 1, n) * dy * dy
        a = 1.0 - torch.exp(-o.view(f, 1, 1, n) * torch.exp(-0.5 * q).clamp(0.0, 1.0))
        img = u.new_zeros(f, size, size, 3)
        trans = u.new_ones(f, size, size, 1)
        for k in range(n):
            ak = a[..., k:k + 1]
            img = img + trans * ak * c[:, k].view(f, 1, 1, 3)
            trans = trans * (1.0 - ak)
        return img
    frames = []
    for i in range(u.shape[0]):
        args = (u[i], v[i], qa[i], qb[i], qd[i], o[i], c[i])
        if live is not None:  # Gaussians of absent bodies (o = 0) contribute exactly nothing
            args = tuple(t[live[i]] for t in args)
        frames.append(_CompositeFrame.apply(*args, size, budget))
    return torch.stack(frames)


# ---------------------------------------------------------------------------
# The renderer
# ---------------------------------------------------------------------------

def _nan_to_zero_if_any(x: torch.Tensor, dims: Tuple[int, ...]) -> torch.Tensor:
    """The authors replace NaN (and ±inf) by 0 only in calls whose output holds a NaN."""
    has = torch.isnan(x)
    for d in sorted(dims, reverse=True):
        has = has.any(d, keepdim=True)
    if not bool(has.any()):
        return x
    return torch.where(has, torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), x)


class DrAction(nn.Module):
    """DrAction renderer state (state_dict keys = the checkpoint's tensor names)."""

    def __init__(self, tensors: Dict[str, torch.Tensor], enable_nfm: bool,
                 learn_geometry: bool = False):
        super().__init__()
        t = {k: v.clone() for k, v in tensors.items()}
        for k in ("canonical_joints", "canonical_quats", "canonical_opacities", "lbs_weights_logits"):
            self.register_buffer(k, t[k])
        for k in ("canonical_means", "canonical_scales"):
            if learn_geometry:
                self.register_parameter(k, nn.Parameter(t[k]))
            else:
                self.register_buffer(k, t[k])
        self.canonical_features = nn.Parameter(t["canonical_features"])
        fdim = t["canonical_features"].shape[1]
        hidden = t["appearance_head.0.weight"].shape[0]
        self.appearance_head = nn.Sequential(nn.Linear(fdim, hidden), nn.ReLU(), nn.Linear(hidden, 4))
        self.enable_nfm = bool(enable_nfm)
        if self.enable_nfm:
            nh = t["nfm.0.weight"].shape[0]
            self.nfm = nn.Sequential(nn.Linear(10, nh), nn.ReLU(), nn.Linear(nh, 5))
        else:
            self.nfm = None
        self.depth_mix_logit = nn.Parameter(t["depth_mix_logit"].reshape(()))
        sd = {k: v for k, v in t.items() if k.startswith(("appearance_head.", "nfm."))}
        self.load_state_dict(sd, strict=False)
        want = [k for k in self.state_dict() if k.startswith(("appearance_head.", "nfm."))]
        absent = [k for k in want if k not in sd]
        extra = [k for k in sd if k not in want]
        if absent or extra:
            raise ValueError(f"checkpoint mismatch: missing {absent}, unexpected {extra}")

    @classmethod
    def from_checkpoint(cls, path: str, learn_geometry: bool = False) -> "DrAction":
        tensors, meta = load_checkpoint(path)
        nfm = meta.get("enable_nfm", "true" if "nfm.0.weight" in tensors else "false")
        return cls(tensors, enable_nfm=(str(nfm).lower() == "true"), learn_geometry=learn_geometry)

    # -- topology ---------------------------------------------------------
    def ntu_topology(self) -> Dict[str, torch.Tensor]:
        """§5: exact topology, every tensor verbatim from the checkpoint."""
        return {"joints": self.canonical_joints, "means": self.canonical_means,
                "scales": self.canonical_scales, "quats": self.canonical_quats,
                "logits": self.lbs_weights_logits, "features": self.canonical_features}

    def smpl22_topology(self, canonical: torch.Tensor) -> Dict[str, torch.Tensor]:
        """§11.3-6: a fresh topology for SMPL-22 built from the clip's first sampled frame.

        The features are resampled from the NTU `canonical_features` (differentiably,
        so gradients reach the checkpoint's parameter through the resampling).
        """
        dt = self.canonical_features.dtype
        c = canonical.to(dt)
        defs = smpl22_sample_defs(canonical)
        if dt == torch.float32:
            lines = [torch.tensor(1.0 - al, dtype=dt) * c[a] + torch.tensor(al, dtype=dt) * c[b]
                     for a, b, al in defs]
        else:
            lines = [(1.0 - al) * c[a] + al * c[b] for a, b, al in defs]
        means = torch.cat([c, torch.stack(lines)], dim=0)
        nj, nl = c.shape[0], len(defs)
        sj = self.canonical_joints.shape[0]
        feats = self.canonical_features
        feats = torch.cat([resample_linear(feats[:sj], nj), resample_linear(feats[sj:], nl)], dim=0)
        scales = torch.cat([torch.full((nj, 3), HML_JOINT_SCALE, dtype=torch.float32),
                            torch.full((nl, 3), HML_LINE_SCALE, dtype=torch.float32)]).to(dt)
        quats = torch.zeros(nj + nl, 4, dtype=dt)
        quats[:, 0] = 1.0
        logits = lbs_logits_for(nj, defs, dtype=torch.float32).to(dt)
        return {"joints": c, "means": means, "scales": scales, "quats": quats,
                "logits": logits, "features": feats}

    # -- forward ----------------------------------------------------------
    def forward(self, poses: torch.Tensor, vels: torch.Tensor, size: int,
                topo: Optional[Dict[str, torch.Tensor]] = None,
                budget: int = 1 << 18, plain_autograd: bool = False) -> torch.Tensor:
        """Preprocessed sampled poses [F,P,J,3] + velocities -> frames [F,S,S,3]."""
        topo = topo if topo is not None else self.ntu_topology()
        dt = self.canonical_features.dtype
        poses, vels = poses.to(dt), vels.to(dt)
        f, p, j, _ = poses.shape
        k = topo["means"].shape[0]

        # §6 geometry.  Blended rotation = polar(Σ_j W_kj I) = I, so μ = means0 + t and
        # Σ = R0 diag(s²) R0ᵀ with R0 from the canonical quaternion.
        wts = torch.softmax(topo["logits"], dim=-1)                       # [K, J]
        valid = (poses.abs().sum(dim=(-1, -2)) > 0)                       # [F, P]
        tau = poses - topo["joints"]                                      # [F, P, J, 3]
        means = topo["means"] + torch.einsum("kj,fpjc->fpkc", wts, tau)   # [F, P, K, 3]
        r0 = quat_to_mat(topo["quats"])
        cov = r0 @ torch.diag_embed(topo["scales"] * topo["scales"]) @ r0.transpose(-1, -2)

        # §7 appearance.
        a_raw = self.appearance_head(topo["features"])                    # [K, 4]
        a_raw = _nan_to_zero_if_any(a_raw, (0, 1))
        base_rgb = torch.sigmoid(a_raw[:, 0:3])
        base_a = torch.sigmoid(a_raw[:, 3])
        lam = torch.sigmoid(self.depth_mix_logit)

        z = means[..., 2].clamp(min=NEAR_Z)                               # [F, P, K]
        zmin = z.amin(dim=-1, keepdim=True)
        zmax = z.amax(dim=-1, keepdim=True)
        d = (z - zmin) / (zmax - zmin + DEPTH_EPS)
        depth_rgb = torch.stack([d, 1.0 - torch.abs(d - 0.5) * 2.0, 1.0 - d], -1).clamp(0.0, 1.0)

        if self.nfm is not None:
            pos = torch.einsum("kj,fpjc->fpkc", wts, poses)
            vel = torch.einsum("kj,fpjc->fpkc", wts, vels)
            m = torch.cat([pos, vel, a_raw.expand(f, p, k, 4)], dim=-1)   # [F, P, K, 10]
            delta = _nan_to_zero_if_any(self.nfm(m), (2, 3))
            rgb = (base_rgb + delta[..., 0:3]).clamp(0.0, 1.0)
            alpha = torch.sigmoid(base_a + delta[..., 3]) * torch.sigmoid(delta[..., 4])
        else:
            rgb = base_rgb.expand(f, p, k, 3)
            alpha = base_a.expand(f, p, k)
        colour = (1.0 - lam) * rgb + lam * depth_rgb
        opac = alpha * valid.to(dt).unsqueeze(-1)

        n = p * k
        colour = torch.nan_to_num(colour.reshape(f, n, 3), nan=0.0, posinf=0.0, neginf=0.0).clamp(0.0, 1.0)
        opac = torch.nan_to_num(opac.reshape(f, n), nan=0.0, posinf=0.0, neginf=0.0).clamp(min=0.0)

        # §8 projection (camera = identity, pinhole, fov 60°; fx stored as f32).
        fx = float(np.float32(size / (2.0 * math.tan(math.radians(FOV_DEG) * 0.5))))
        cx = size / 2.0
        means = means.reshape(f, n, 3)
        xc, yc, zc = means[..., 0], means[..., 1], z.reshape(f, n)
        u = fx * (xc / zc) + cx
        v = -fx * (yc / zc) + cx
        zz = zc * zc
        zero = torch.zeros_like(zc)
        jac = torch.stack([torch.stack([fx / zc, zero, -fx * (xc / zz)], -1),
                           torch.stack([zero, -fx / zc, fx * (yc / zz)], -1)], -2)  # [F, N, 2, 3]
        cov_n = cov.unsqueeze(0).expand(p, k, 3, 3).reshape(1, n, 3, 3)
        s2 = jac @ cov_n @ jac.transpose(-1, -2)
        s00 = s2[..., 0, 0] + COV2D_REG
        s01, s10 = s2[..., 0, 1], s2[..., 1, 0]
        s11 = s2[..., 1, 1] + COV2D_REG
        det = s00 * s11 - s01 * s10
        qa, qb, qd = s11 / det, -(s01 + s10) / det, s00 / det             # Q00, Q01+Q10, Q11

        # Gaussians of absent bodies (o = 0 exactly) contribute nothing: leave them out.
        live = valid.unsqueeze(-1).expand(f, p, k).reshape(f, n)

        # §9 depth sort, front to back, with PyTorch's default (unstable) sort over all
        # 2K Gaussians of the frame as the authors do: exact ties (e.g. Gaussians clamped
        # to the near plane) then come out in their order.  (A stable sort agrees
        # whenever no two visible Gaussians share a depth.)
        order = torch.argsort(zc.detach(), dim=1)
        take = lambda t: torch.gather(t, 1, order)
        idx3 = order.unsqueeze(-1).expand(f, n, 3)
        img = composite(take(u), take(v), take(qa), take(qb), take(qd), take(opac),
                        torch.gather(colour, 1, idx3), size, budget, plain_autograd,
                        None if plain_autograd else take(live))
        img = torch.nan_to_num(img, nan=0.0, posinf=0.0, neginf=0.0)
        return img.clamp(0.0, 1.0)

    def render_clip(self, raw: torch.Tensor, layout: str, size: int, frames: int = 12,
                    indices: Optional[Sequence[int]] = None, budget: int = 1 << 18,
                    plain_autograd: bool = False) -> Tuple[torch.Tensor, List[int]]:
        """Raw joints [T,P,J,3] (absent body = zeros) -> (frames [F,S,S,3], indices)."""
        nj, _ = LAYOUTS[layout]
        if raw.shape[2] != nj:
            raise ValueError(f"{layout} needs {nj} joints, got {raw.shape[2]}")
        raw = raw.to(torch.float32) if self.canonical_features.dtype == torch.float32 else raw
        poses, vels, idx = prepare_clip(raw, layout, frames, indices)
        if layout == "ntu25":
            if self.canonical_joints.shape[0] != 25:
                raise ValueError("checkpoint is not an NTU-25 topology")
            topo = self.ntu_topology()
        else:
            topo = self.smpl22_topology(poses[0, 0])
        return self.forward(poses, vels, size, topo, budget, plain_autograd), idx


# ---------------------------------------------------------------------------
# Synthetic skeletons (benchmarks, fixtures)
# ---------------------------------------------------------------------------

def ntu_standing_pose(x: float = 0.0, z: float = 3.0, floor_y: float = -0.9) -> np.ndarray:
    """A plausible NTU-25 standing pose (metres, Kinect camera space), arms slightly out."""
    p = {
        1: (0.00, 0.95, 0.00), 2: (0.00, 1.22, 0.01), 3: (0.00, 1.50, 0.02), 4: (0.00, 1.62, 0.02),
        5: (-0.18, 1.42, 0.02), 6: (-0.26, 1.17, 0.04), 7: (-0.30, 0.93, 0.03), 8: (-0.31, 0.86, 0.02),
        9: (0.18, 1.42, 0.02), 10: (0.26, 1.17, 0.05), 11: (0.30, 0.93, 0.03), 12: (0.31, 0.86, 0.01),
        13: (-0.09, 0.93, 0.01), 14: (-0.10, 0.50, 0.03), 15: (-0.11, 0.08, 0.05), 16: (-0.11, 0.02, -0.07),
        17: (0.09, 0.93, 0.01), 18: (0.10, 0.50, 0.02), 19: (0.11, 0.08, 0.06), 20: (0.11, 0.02, -0.06),
        21: (0.00, 1.43, 0.02), 22: (-0.32, 0.79, 0.02), 23: (-0.27, 0.85, -0.01),
        24: (0.32, 0.79, 0.00), 25: (0.27, 0.85, -0.02),
    }
    a = np.array([p[i] for i in range(1, 26)], dtype=np.float64)
    return a + np.array([x, floor_y, z])


def synthetic_ntu_clip(t: int = 60, bodies: int = 2, seed: int = 0) -> np.ndarray:
    """[T, 2, 25, 3] float32: bodies standing ~3 m away, swaying and waving."""
    rng = np.random.default_rng(seed)
    out = np.zeros((t, 2, 25, 3), dtype=np.float64)
    for b in range(bodies):
        base = ntu_standing_pose(x=-0.5 + 1.0 * b, z=3.0 + 0.4 * b)
        for i in range(t):
            ph = 2 * math.pi * i / 30.0 + b
            pose = base.copy()
            pose[:, 0] += 0.05 * math.sin(ph)
            for jj in (9, 10, 11, 23, 24):  # right arm waves about the shoulder
                r = pose[jj] - pose[8]
                ang = 0.6 * math.sin(ph)
                ca, sa = math.cos(ang), math.sin(ang)
                pose[jj] = pose[8] + np.array([ca * r[0] - sa * r[1], sa * r[0] + ca * r[1], r[2]])
            out[i, b] = pose + rng.normal(0, 0.002, size=(25, 3))
    return out.astype(np.float32)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def _layout_for(arr: np.ndarray, layout: Optional[str]) -> str:
    if layout:
        return layout
    if arr.shape[2] == 25:
        return "ntu25"
    if arr.shape[2] == 22:
        return "smpl22"
    raise ValueError(f"cannot guess the layout of {arr.shape[2]} joints; pass --layout")


def _load_joints(path: str) -> np.ndarray:
    arr = np.load(path)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"{path}: expected [T, P, J, 3], got {arr.shape}")
    return arr.astype(np.float32)


def cmd_render(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    model = DrAction.from_checkpoint(args.weights).to(dtype)
    arr = _load_joints(args.joints)
    layout = _layout_for(arr, args.layout)
    if arr.shape[2] != LAYOUTS[layout][0]:
        raise ValueError(f"{args.joints}: {layout} needs {LAYOUTS[layout][0]} joints, got {arr.shape[2]}")
    if layout == "ntu25" and arr.shape[1] < 2:  # the model path always has two slots
        arr = np.concatenate([arr, np.zeros((arr.shape[0], 2 - arr.shape[1], 25, 3), np.float32)], 1)
    if layout == "ntu25":
        arr = arr[:, :2]
    raw = torch.from_numpy(arr)
    if dtype == torch.float64:
        raw = raw.to(torch.float64)
    idx = [int(s) for s in args.frame_indices.split(",")] if args.frame_indices else None
    t0 = time.perf_counter()
    with torch.no_grad():
        frames, idx = model.render_clip(raw, layout, args.size, args.frames, idx)
    dt = time.perf_counter() - t0
    np.save(args.out, frames.to(torch.float32).numpy())
    print(json.dumps({"out": args.out, "layout": layout, "indices": idx,
                      "shape": list(frames.shape), "seconds": round(dt, 4)}))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _bench_case(args, size: int, mode: str) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    model = DrAction.from_checkpoint(args.weights)
    if args.joints:
        arr = _load_joints(args.joints)
    else:
        arr = synthetic_ntu_clip(60, 2)
    raw = torch.from_numpy(arr[:, :2])
    poses, vels, idx = prepare_clip(raw, "ntu25", 12)
    base_rss = _peak_rss_mb()  # interpreter + torch + model, before any rendering
    times = []
    for _ in range(args.warmup + args.runs):
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        if mode == "forward":
            with torch.no_grad():
                out = model(poses, vels, size)
        else:
            out = model(poses, vels, size)
            out.sum().backward()
        times.append(time.perf_counter() - t0)
    times = times[args.warmup:]
    return {"impl": "draction_torch", "case": mode, "frames": len(idx), "size": size,
            "bodies": int(valid_slots(poses).any(0).sum()), "threads": torch.get_num_threads(),
            "runs": len(times), "median_s": round(statistics.median(times), 4),
            "min_s": round(min(times), 4), "peak_rss_mb": round(_peak_rss_mb(), 1),
            "base_rss_mb": round(base_rss, 1),
            "torch": torch.__version__}


def cmd_bench(args) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = [m for m in args.modes.split(",")]
    for size in sizes:
        for mode in modes:
            if args.in_process:
                print(json.dumps(_bench_case(args, size, mode)), flush=True)
                continue
            # one fresh process per case so that peak RSS belongs to that case alone
            cmd = [sys.executable, os.path.abspath(__file__), "bench-case", "--size", str(size),
                   "--mode", mode, "--weights", args.weights, "--runs", str(args.runs),
                   "--warmup", str(args.warmup), "--threads", str(args.threads or 0)]
            if args.joints:
                cmd += ["--joints", args.joints]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                sys.stderr.write(res.stderr)
                raise SystemExit(f"bench case {mode} {size} failed")
            print(res.stdout.strip(), flush=True)


def cmd_bench_case(args) -> None:
    print(json.dumps(_bench_case(args, args.size, args.mode)))


def cmd_check(args) -> None:
    """Self checks: sampler vs the reference table, custom backward vs plain autograd."""
    ok = True
    table = args.table
    if table and os.path.exists(table):
        ref = json.load(open(table))
        bad = [t for t in range(1, 401) if sample_indices(t, 12, None) != ref["seed_None"][str(t)]
               or sample_indices(t, 12, 0) != ref["seed_0"][str(t)]]
        print(json.dumps({"check": "sampler_table", "mismatches": bad[:10], "ok": not bad}))
        ok &= not bad
    torch.manual_seed(0)
    f, n, s = 2, 7, 9
    u = (torch.rand(f, n, dtype=torch.float64) * s).requires_grad_()
    v = (torch.rand(f, n, dtype=torch.float64) * s).requires_grad_()
    qa = (0.2 + torch.rand(f, n, dtype=torch.float64) * 0.3).requires_grad_()
    qb = (torch.rand(f, n, dtype=torch.float64) * 0.1 - 0.05).requires_grad_()
    qd = (0.2 + torch.rand(f, n, dtype=torch.float64) * 0.3).requires_grad_()
    o = (torch.rand(f, n, dtype=torch.float64) * 2).requires_grad_()
    c = torch.rand(f, n, 3, dtype=torch.float64).requires_grad_()
    ins = (u, v, qa, qb, qd, o, c)
    gw = torch.rand(f, s, s, 3, dtype=torch.float64)
    outs = []
    for plain in (False, True):
        img = composite(*ins, s, budget=s * n * 2, plain_autograd=plain)  # 2-row blocks
        grads = torch.autograd.grad((img * gw).sum(), ins)
        outs.append((img, grads))
    err = max(float((a - b).detach().abs().max()) for a, b in zip((outs[0][0],) + outs[0][1], (outs[1][0],) + outs[1][1]))
    print(json.dumps({"check": "composite_backward_vs_autograd", "max_abs": err, "ok": err < 1e-10}))
    ok &= err < 1e-10
    gc_ok = torch.autograd.gradcheck(lambda *a: composite(*a, s, budget=s * n * 3), ins)
    print(json.dumps({"check": "composite_gradcheck", "ok": bool(gc_ok)}))
    if not ok:
        raise SystemExit(1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    default_w = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                             "reference", "draction_weights", "draction_candidate_01.safetensors")
    r = sub.add_parser("render", help="render frames from a joints .npy")
    r.add_argument("--weights", required=True)
    r.add_argument("--joints", required=True)
    r.add_argument("--layout", choices=sorted(LAYOUTS))
    r.add_argument("--frames", type=int, default=12)
    r.add_argument("--size", type=int, default=448)
    r.add_argument("--frame-indices", default=None)
    r.add_argument("--threads", type=int, default=0)
    r.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    r.add_argument("--out", required=True)
    r.set_defaults(fn=cmd_render)
    for name, fn in (("bench", cmd_bench), ("bench-case", cmd_bench_case)):
        b = sub.add_parser(name, help="time forward / forward+backward" if name == "bench"
                           else "(internal) one bench case in this process")
        b.add_argument("--weights", default=os.path.normpath(default_w))
        b.add_argument("--joints", default=None, help="[T,P,25,3] .npy (default: synthetic 2-body clip)")
        b.add_argument("--threads", type=int, default=0, help="0 = torch default (all cores)")
        b.add_argument("--runs", type=int, default=3)
        b.add_argument("--warmup", type=int, default=1)
        if name == "bench":
            b.add_argument("--sizes", default="224,448")
            b.add_argument("--modes", default="forward,forward_backward")
            b.add_argument("--in-process", action="store_true")
        else:
            b.add_argument("--size", type=int, required=True)
            b.add_argument("--mode", required=True)
        b.set_defaults(fn=fn)
    c = sub.add_parser("check", help="self checks")
    c.add_argument("--table", default=os.path.normpath(os.path.join(
        os.path.dirname(default_w), "..", "frame_indices_table.json")))
    c.set_defaults(fn=cmd_check)
    args = ap.parse_args(argv)
    try:
        args.fn(args)
    except (ValueError, OSError) as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""CPU speed of an InternVL3-1B-sized transformers model with random weights (no download).

The transformers side of `benches/compare_internvl.sh`; mirrors `examples/bench_internvl.rs`
(same sizes, same prompt, same stages, same JSON keys, one line per metric):

- image_encode: 1 image 448² -> InternViT-300M -> pixel shuffle + projector -> 256 tokens
- prefill: a --prompt-token prompt (256 <IMG_CONTEXT> included, image features precomputed)
  through the decoder into an empty DynamicCache, last-position logits only (what
  `generate` does with logits_to_keep=1)
- decode: --new-tokens greedy steps with the cache (the first token comes from the prefill)
- e2e_generate: `model.generate(..., max_new_tokens, do_sample=False)` end to end
- peak_rss: the process's VmHWM

float32, eager attention, torch.inference_mode(), torch.set_num_threads(--threads).

Usage: python3 benches/internvl_torch.py [--threads 2] [--layers 24] [--prompt 300]
           [--new-tokens 32] [--runs 1] [--warmup 1] [--no-e2e]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

IMG_CONTEXT = 151667
VOCAB = 151674


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--prompt", type=int, default=300)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--no-e2e", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    import transformers
    from transformers import DynamicCache, InternVLConfig, InternVLForConditionalGeneration

    tag = {"layers": a.layers, "threads": str(a.threads)}

    def emit(metric, value, unit, **extra):
        print(json.dumps({"impl": "transformers", "metric": metric, "value": round(value, 6),
                          "unit": unit, **tag, **extra}), flush=True)

    vision = dict(
        hidden_size=1024, num_hidden_layers=a.layers, num_attention_heads=16,
        intermediate_size=4096, attention_bias=True, use_qk_norm=False, hidden_act="gelu",
        norm_type="layer_norm", layer_norm_eps=1e-6, image_size=[448, 448], patch_size=[14, 14],
        num_channels=3, layer_scale_init_value=0.1, use_mean_pooling=True,
        use_absolute_position_embeddings=True,
    )
    text = dict(
        model_type="qwen2", vocab_size=VOCAB, hidden_size=896, intermediate_size=4864,
        num_hidden_layers=a.layers, num_attention_heads=14, num_key_value_heads=2,
        hidden_act="silu", max_position_embeddings=32768, rms_norm_eps=1e-6,
        tie_word_embeddings=False, use_sliding_window=False,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        rope_theta=1000000.0, bos_token_id=151643, eos_token_id=151645, pad_token_id=151643,
    )
    cfg = InternVLConfig(
        vision_config=vision, text_config=text, image_token_id=IMG_CONTEXT, image_seq_length=256,
        downsample_ratio=0.5, projector_hidden_act="gelu", vision_feature_layer=-1,
        vision_feature_select_strategy="default", tie_word_embeddings=False,
    )
    cfg._attn_implementation = "eager"
    cfg.text_config._attn_implementation = "eager"
    cfg.vision_config._attn_implementation = "eager"

    t0 = time.perf_counter()
    model = InternVLForConditionalGeneration(cfg).eval().to(torch.float32)
    emit("init", time.perf_counter() - t0, "s", transformers=transformers.__version__,
         torch=torch.__version__)

    prompt, tpi = a.prompt, 256
    before = min(20, prompt - tpi - 1)
    ids = [1000 + i * 37 for i in range(before)] + [IMG_CONTEXT] * tpi
    while len(ids) < prompt:
        ids.append(2000 + (len(ids) * 53) % 100_000)
    input_ids = torch.tensor([ids], dtype=torch.int64)
    pixels = torch.randn(1, 3, 448, 448)
    inner = model.model  # InternVLModel
    lm = inner.language_model
    head = model.lm_head

    t_img, t_pre, t_dec, t_e2e = [], [], [], []
    first = None
    with torch.inference_mode():
        for run in range(a.warmup + a.runs):
            t = time.perf_counter()
            feats = inner.get_image_features(
                pixel_values=pixels, vision_feature_layer=-1,
                vision_feature_select_strategy="default")
            if not torch.is_tensor(feats):  # transformers 5 may return an output object
                po = getattr(feats, "pooler_output", None)
                feats = po if po is not None else feats[0]
            img = time.perf_counter() - t

            t = time.perf_counter()
            embeds = inner.get_input_embeddings()(input_ids)
            mask = (input_ids == IMG_CONTEXT).unsqueeze(-1).expand_as(embeds)
            embeds = embeds.masked_scatter(mask, feats.reshape(-1, feats.shape[-1]).to(embeds.dtype))
            cache = DynamicCache(config=cfg.text_config)
            out = lm(inputs_embeds=embeds, past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            logits = head(out.last_hidden_state[:, -1:, :])
            nxt = int(logits[0, -1].argmax())
            pre = time.perf_counter() - t

            toks = [nxt]
            t = time.perf_counter()
            for _ in range(a.new_tokens - 1):
                e = inner.get_input_embeddings()(torch.tensor([[nxt]]))
                out = lm(inputs_embeds=e, past_key_values=cache, use_cache=True)
                cache = out.past_key_values
                nxt = int(head(out.last_hidden_state)[0, -1].argmax())
                toks.append(nxt)
            dec = time.perf_counter() - t
            print(f"run {run}: image {img:.3f}s prefill {pre:.3f}s decode {dec:.3f}s",
                  file=sys.stderr)
            if run >= a.warmup:
                t_img.append(img)
                t_pre.append(pre)
                t_dec.append(dec)
            first = toks

        emit("image_encode", statistics.median(t_img), "s", tokens=tpi)
        p = statistics.median(t_pre)
        emit("prefill", prompt / p, "tok/s", tokens=prompt, seconds=round(p, 6))
        d = statistics.median(t_dec)
        emit("decode", (a.new_tokens - 1) / d, "tok/s", tokens=a.new_tokens - 1,
             seconds=round(d, 6))

        if not a.no_e2e:
            for _ in range(a.runs):
                t = time.perf_counter()
                out = model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                    pixel_values=pixels, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens,
                    do_sample=False, eos_token_id=None, pad_token_id=151643, use_cache=True)
                t_e2e.append(time.perf_counter() - t)
                got = out[0, prompt:].tolist()
                if got != first:
                    print("note: generate() tokens differ from the staged loop", file=sys.stderr)
            emit("e2e_generate", statistics.median(t_e2e), "s", prompt=prompt,
                 new_tokens=a.new_tokens)
    emit("peak_rss", peak_rss_mb(), "MB")


if __name__ == "__main__":
    main()

"""Proves that qwen2vl.py is the Qwen2-VL architecture: loads ../shared/fixtures/tiny-qwen2-vl
into it and compares vision embeddings and last-position logits with the Hugging Face goldens.
Exit status 1 on any mismatch (NaN counts as a mismatch)."""
import json
import os
import sys

import numpy as np
import torch

from qwen2vl import Qwen2VL, load_hf

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "fixtures")


def max_diff(a, b):
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return float("inf") if not np.all(np.isfinite(d)) else float(d.max())


def main():
    torch.set_num_threads(2)
    d = os.path.join(FIX, "tiny-qwen2-vl")
    model = Qwen2VL(json.load(open(os.path.join(d, "config.json"))))
    load_hf(model, os.path.join(d, "model.safetensors"))
    g = os.path.join(d, "golden")
    img_tok = model.config["image_token_id"]
    worst = 0.0
    with torch.no_grad():
        for case in ["demo_sq392", "tall_native"]:
            pv = torch.from_numpy(np.load(os.path.join(FIX, "preprocess", case + ".pixel_values.npy")))
            _, gh, gw = np.load(os.path.join(FIX, "preprocess", case + ".image_grid_thw.npy")).reshape(-1)
            emb = model.visual(pv[None], int(gh), int(gw))[0]
            e1 = max_diff(emb, np.load(os.path.join(g, case + ".vision_embeds.npy")))
            for turn in ["turn1", "turn2"]:
                ids = torch.from_numpy(np.load(os.path.join(g, f"{case}.{turn}.input_ids.npy")).reshape(-1))
                pos = torch.from_numpy(np.load(os.path.join(g, f"{case}.{turn}.position_ids.npy")).reshape(3, -1))
                x = model.embed_tokens(ids)
                x[ids == img_tok] = emb
                logits = model.logits(model.hidden(x[None], pos[None]))[0, -1]
                e2 = max_diff(logits, np.load(os.path.join(g, f"{case}.{turn}.last_logits.npy")))
                print(f"{case} {turn}: vision_embeds max|diff| {e1:.2e}, last_logits max|diff| {e2:.2e}")
                worst = max(worst, e1, e2)
        ids = torch.from_numpy(np.load(os.path.join(g, "text_only.input_ids.npy")).reshape(-1))
        pos = torch.from_numpy(np.load(os.path.join(g, "text_only.position_ids.npy")).reshape(3, -1))
        logits = model.logits(model.hidden(model.embed_tokens(ids)[None], pos[None]))[0, -1]
        e = max_diff(logits, np.load(os.path.join(g, "text_only.last_logits.npy")))
        print(f"text_only: last_logits max|diff| {e:.2e}")
        worst = max(worst, e)
    ok = worst < 1e-3
    print("architecture matches the HF goldens" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

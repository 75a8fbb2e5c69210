"""After training: draws the shipped example picture and saves the training code's own forward
pass on it (the bf16 weights as saved, computed in float32) for edgevl's logits test.

    python3 tools/demo_model/export_reference.py --model models/shapes-qwen2-vl --tests tests/data/shapes_reference

Writes <model>/example.png (2·SIZE square, held out: drawn by hand here, never in training) and in
--tests: ids.npy (int32: every token id the model was trained on, plus a few untrained ones),
turn1_logits.npy / turn2_logits.npy (float32, the last-position logits at those ids) and
manifest.json (questions, the greedy reply of turn 1, its ids). Turn 1 = the picture +
"What is in the image?"; turn 2 = the ids-append history + "What colour was the first shape?"."""
import argparse
import json
import os

import numpy as np
import torch
from PIL import Image

import scenes
from bpe import Tokenizer
from qwen2vl import Qwen2VL, load_hf, pixel_values
from train import GRID, IM_END, MERGED, SYSTEM, TOKDIR, build_sequence

EXAMPLE = {"bg": ["white"], "split": "h", "seed": 4242,
           "shapes": [{"kind": "circle", "color": "red", "cell": 0},
                      {"kind": "square", "color": "blue", "cell": 4},
                      {"kind": "triangle", "color": "yellow", "cell": 8}]}
Q1, Q2 = "What is in the image?", "What colour was the first shape?"


def last_logits(model, tok, ids, pos, slots, pix):
    with torch.no_grad():
        x = model.embed_tokens(torch.tensor(ids))[None].clone()
        v = model.visual(pix, GRID, GRID)
        for k, s in enumerate(slots):
            x[0, s:s + MERGED * MERGED] = v[k]
        h = model.hidden(x, torch.tensor(pos).t()[None])
        return model.logits(h)[0, -1]


def prompt(tok, turns):
    """ids/pos/slots up to the assistant header of the last turn (its answer left out)."""
    ids, pos, _, slots, _ = build_sequence(tok, [dict(t, answer="") for t in turns])
    cut = len(ids) - 2  # drop the empty answer's <|im_end|> and "\n"
    return ids[:cut], pos[:cut], slots


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tests", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    tok = Tokenizer(os.path.join(TOKDIR, "tokenizer.json"))
    model = Qwen2VL(json.load(open(os.path.join(args.model, "config.json"))))
    load_hf(model, os.path.join(args.model, "model.safetensors"))

    big = scenes.render(EXAMPLE, size=2 * scenes.SIZE, noise=False)
    path = os.path.join(args.model, "example.png")
    Image.fromarray(big).save(path, optimize=True)
    # what edgevl's preprocessing does to it: PIL BICUBIC down to the model's SIZE x SIZE
    small = np.asarray(Image.open(path).convert("RGB").resize((scenes.SIZE, scenes.SIZE), Image.BICUBIC))
    pix = torch.from_numpy(pixel_values(small))[None]

    # turn 1 + greedy reply (full recompute each step)
    t1 = [{"image": 0, "question": Q1, "answer": ""}]
    ids, pos, slots = prompt(tok, t1)
    logits1 = last_logits(model, tok, ids, pos, slots, pix)
    reply = []
    cur_ids, cur_pos = list(ids), list(pos)
    lg = logits1
    for _ in range(48):
        nxt = int(lg.argmax())
        if nxt == IM_END:
            break
        reply.append(nxt)
        p = cur_pos[-1][0] + 1
        cur_ids.append(nxt)
        cur_pos.append((p, p, p))
        lg = last_logits(model, tok, cur_ids, cur_pos, slots, pix)
    # turn 2: history = prompt + reply ids + <|im_end|> + "\n" (ids-append), then the question
    hist_ids = cur_ids + [IM_END] + tok.encode("\n")
    p = cur_pos[-1][0] + 1
    hist_pos = cur_pos + [(p, p, p), (p + 1, p + 1, p + 1)]
    p += 2
    for i in tok.encode("<|im_start|>user\n" + Q2 + "<|im_end|>\n<|im_start|>assistant\n"):
        hist_ids.append(i)
        hist_pos.append((p, p, p))
        p += 1
    logits2 = last_logits(model, tok, hist_ids, hist_pos, slots, pix)

    emb = model.embed_tokens.weight
    trained = torch.nonzero(emb.abs().sum(1) > 0)[:, 0].tolist()
    untrained = [0, 100, 1000, 50000, 151642, 151935]
    keep = np.array(sorted(set(trained) | set(untrained)), np.int32)
    os.makedirs(args.tests, exist_ok=True)
    np.save(os.path.join(args.tests, "ids.npy"), keep)
    np.save(os.path.join(args.tests, "turn1_logits.npy"), logits1[keep].numpy().astype(np.float32))
    np.save(os.path.join(args.tests, "turn2_logits.npy"), logits2[keep].numpy().astype(np.float32))
    manifest = {"model": os.path.basename(os.path.normpath(args.model)), "image": "example.png (in the model directory)",
                "turn1_question": Q1, "turn1_reply_ids": reply, "turn1_reply": tok.decode(reply),
                "turn2_question": Q2, "turn2_greedy": tok.decode([int(logits2.argmax())]),
                "note": "logits of the last prompt position at ids.npy, from tools/demo_model/qwen2vl.py (float32 on the bf16 weights)"}
    with open(os.path.join(args.tests, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
    print(json.dumps(manifest, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

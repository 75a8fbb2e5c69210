"""Writes held-out dialogue sets for `edgevl eval`: one .jsonl per language plus PNG pictures.

    python3 tools/demo_model/make_eval.py --out /tmp/shapes-eval --n 500            # the measured set
    python3 tools/demo_model/make_eval.py --out tests/data/shapes_eval --n 20 --no-noise  # the ctest slice

Pictures and dialogues come from seeds the training never draws from (training:
random.Random(train seed); here: random.Random(EVAL_SEED + language)), so no scene or
dialogue of these sets was seen in training. Every dialogue has 2-4 turns so that the
history and new-picture turns are well represented."""
import argparse
import json
import os
import random

from PIL import Image

import scenes

EVAL_SEED = 990000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=500, help="dialogues per language")
    ap.add_argument("--seed", type=int, default=EVAL_SEED)
    ap.add_argument("--no-noise", action="store_true", help="no pixel noise: small PNGs (the committed ctest slice)")
    ap.add_argument("--turns", default="2,3,4", help="turns per dialogue, drawn from this comma-separated list")
    args = ap.parse_args()
    n_turns = [int(t) for t in args.turns.split(",")]
    os.makedirs(os.path.join(args.out, "img"), exist_ok=True)
    for li, lang in enumerate(["en", "zh"]):
        rng = random.Random(args.seed + li)
        with open(os.path.join(args.out, f"{lang}.jsonl"), "w", encoding="utf-8") as f:
            for i in range(args.n):
                scs, turns = scenes.dialogue(rng, zh=lang == "zh", n_turns=rng.choice(n_turns))
                out = []
                for t in turns:
                    row = {}
                    if t["image"] is not None:
                        name = f"img/{lang}-{i:04d}-{t['image']}.png"
                        Image.fromarray(scenes.render(scs[t["image"]], noise=not args.no_noise)).save(os.path.join(args.out, name), optimize=True)
                        row["image"] = name
                    row.update({"question": t["question"], "answer": t["answer"], "type": t["type"]})
                    out.append(row)
                f.write(json.dumps({"id": f"{lang}-{i:04d}", "lang": lang, "turns": out}, ensure_ascii=False) + "\n")
    print(f"wrote {args.n} dialogues per language to {args.out}")


if __name__ == "__main__":
    main()

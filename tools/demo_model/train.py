"""Trains edgevl's demo model: a small Qwen2-VL that answers questions about synthetic pictures.

    python3 tools/demo_model/train.py --out models/shapes-qwen2-vl [--steps N] [--seed S]

Deterministic from --seed (torch.manual_seed, seeded data, --threads 1 by default). The defaults
are the committed model's run. The vocabulary stays the
real Qwen2 one (151936 ids): only the rows of tokens the data uses are trained, every other row
stays zero. Because zero rows give logit 0, the full-vocabulary softmax is computed exactly as
softmax over [used logits, (V - n_used) zeros], so greedy and sampled replies are both clean."""
import argparse
import ctypes
import json
import math
import os
import random
import shutil
import time

# Speed only, no effect on the result: numpy's BLAS threads would only contend with torch's one
# thread, and glibc returning freed tensor memory to the kernel after every step (then faulting
# it back in) took a third of the run's CPU time in the kernel on the 2-core development VM.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
try:
    _libc = ctypes.CDLL("libc.so.6")
    _libc.mallopt(-3, 32 << 20)      # M_MMAP_THRESHOLD: tensors up to 32 MiB come from the heap
    _libc.mallopt(-1, (1 << 31) - 1)  # M_TRIM_THRESHOLD: never give the heap back
    _libc.mallopt(-2, 256 << 20)     # M_TOP_PAD: grow it in large steps
except OSError:
    pass

import numpy as np
import torch

import scenes
from bpe import Tokenizer
from qwen2vl import Qwen2VL, make_config, pixel_values, save_hf, load_hf

HERE = os.path.dirname(os.path.abspath(__file__))
TOKDIR = os.path.join(HERE, "..", "..", "..", "shared", "fixtures", "tokenizer")
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
VISION_START, VISION_END, IMAGE_PAD, IM_END = 151652, 151653, 151655, 151645
GRID = scenes.SIZE // 14          # 6x6 patches
MERGED = GRID // 2                # 3x3 image tokens: token k covers exactly cell k of the scene grid
assert MERGED == 3, "the per-token perception probe needs one image token per cell"


def build_sequence(tok, turns):
    """Token ids, (t,h,w) positions, answer labels (-1 = no loss), image slots and attention targets
    for one dialogue, laid out exactly as edgevl's Session lays out a chat (image first in the user
    message). An attention target (query, key) pairs each position that predicts a token of a
    reply with the image token of the shape the reply is about (turns with a "cell")."""
    ids, pos, labels, image_slots, attn_targets = [], [], [], [], []
    p = 0

    def text(s, label=False):
        nonlocal p
        for i in tok.encode(s):
            ids.append(i); pos.append((p, p, p)); labels.append(-1); p += 1

    text(SYSTEM)
    for turn in turns:
        if turn.get("image") is not None:
            text("<|im_start|>user\n")
            ids.append(VISION_START); pos.append((p, p, p)); labels.append(-1); p += 1
            image_slots.append(len(ids))
            for i in range(MERGED):
                for j in range(MERGED):
                    ids.append(IMAGE_PAD); pos.append((p, p + i, p + j)); labels.append(-1)
            p += MERGED
            ids.append(VISION_END); pos.append((p, p, p)); labels.append(-1); p += 1
            text(turn["question"] + "<|im_end|>\n<|im_start|>assistant\n")
        else:
            text("<|im_start|>user\n" + turn["question"] + "<|im_end|>\n<|im_start|>assistant\n")
        # the reply: each token is predicted from the one before it
        for i in tok.encode(turn["answer"]) + [IM_END]:
            if turn.get("cell") is not None:
                attn_targets.append((len(ids) - 1, image_slots[-1] + turn["cell"]))
            labels[-1] = i
            ids.append(i); pos.append((p, p, p)); labels.append(-1); p += 1
        text("\n")
    return ids, pos, labels, image_slots, attn_targets


# Auxiliary perception targets: what a picture holds, as class ids. Training-only probes must
# read these out of the visual tokens, which teaches the vision tower to see much faster than
# the answer tokens alone (their gradient reaches the tower only through the language model):
# one linear layer shared by the 9 tokens reads each token's own cell (shape kind and colour,
# and with --cell-probe which cell it is), so every token carries what its cell holds and
# where; one over all 9 tokens reads the background.
# The probes are dropped at save: the saved model is plain Qwen2-VL.
KINDS = ["none"] + scenes.SHAPES
COLOURS = ["none"] + sorted(scenes.COLORS)
BGS = sorted(scenes.BACKGROUNDS)
CELL_CLASSES = [len(KINDS), len(COLOURS), 9]  # the last: the token's own cell (only with --cell-probe)
BG_CLASSES = [len(BGS), len(BGS) + 1, 2]


def perception_targets(scene):
    """-> [kind of cell 0..8, colour of cell 0..8, first background, second background, split]
    (each token's own cell index, the third per-token target, is its position: no data needed)"""
    kind, colour = [0] * 9, [0] * 9
    for sh in scene["shapes"]:
        kind[sh["cell"]] = KINDS.index(sh["kind"])
        colour[sh["cell"]] = COLOURS.index(sh["color"])
    bg = scene["bg"]
    second = BGS.index(bg[1]) + 1 if len(bg) == 2 else 0
    return kind + colour + [BGS.index(bg[0]), second, int(scene["split"] == "h" and len(bg) == 2)]


class Probes(torch.nn.Module):
    def __init__(self, dim, cell_index):
        super().__init__()
        self.cell_index = cell_index
        self.cell = torch.nn.Linear(dim, sum(CELL_CLASSES))
        self.bg = torch.nn.Linear(9 * dim, sum(BG_CLASSES))

    def loss(self, v, aux):
        """v: [n_img, 9, dim] visual tokens; aux: [n_img, 21] perception_targets."""
        ce = torch.nn.functional.cross_entropy
        zc = self.cell(v)                                   # [n, 9, kinds + colours]
        nk, nc, ncell = CELL_CLASSES
        cells = torch.arange(9).repeat(v.shape[0])
        terms = [ce(zc[..., :nk].reshape(-1, nk), aux[:, :9].reshape(-1)),
                 ce(zc[..., nk:nk + nc].reshape(-1, nc), aux[:, 9:18].reshape(-1))]
        if self.cell_index:
            terms.append(ce(zc[..., nk + nc:].reshape(-1, ncell), cells))
        zb = self.bg(v.reshape(v.shape[0], -1))
        off = 0
        for k, n in enumerate(BG_CLASSES):
            terms.append(ce(zb[:, off:off + n], aux[:, 18 + k]))
            off += n
        return sum(terms) / len(terms)


def make_dialogues(seed, n):
    rng = random.Random(seed)
    return [scenes.dialogue(rng, zh=(rng.random() < 0.5)) for _ in range(n)]


def batch_tensors(tok, dialogues, remap):
    seqs = [build_sequence(tok, turns) for _, turns in dialogues]
    targets = torch.tensor([(b, q, k) for b, s in enumerate(seqs) for q, k in s[4]], dtype=torch.long).reshape(-1, 3)
    n = max(len(s[0]) for s in seqs)
    B = len(seqs)
    ids = torch.zeros(B, n, dtype=torch.long)
    pos = torch.zeros(B, 3, n, dtype=torch.long)
    lab = torch.full((B, n), -1, dtype=torch.long)
    keym = torch.zeros(B, n, dtype=torch.bool)
    slots, pix, aux = [], [], []
    for b, ((sids, spos, slab, sslots, _), (scs, turns)) in enumerate(zip(seqs, dialogues)):
        L = len(sids)
        ids[b, :L] = torch.tensor([remap[i] for i in sids])
        pos[b, :, :L] = torch.tensor(spos).t()
        pos[b, :, L:] = pos[b, :, L - 1:L] + 1 + torch.arange(n - L)
        lab[b, :L] = torch.tensor([remap[i] if i >= 0 else -1 for i in slab])
        keym[b, :L] = True
        imgs = [t["image"] for t in turns if t.get("image") is not None]
        for slot, k in zip(sslots, imgs):
            slots.append((b, slot))
            pix.append(pixel_values(scenes.render(scs[k])))
            aux.append(perception_targets(scs[k]))
    return ids, pos, lab, keym, slots, torch.from_numpy(np.stack(pix)), torch.tensor(aux), targets


def forward_loss(model, E, n_unused, ids, pos, lab, keym, slots, pix, aux, targets, probe, aux_weight, attn_layer, attn_heads):
    x = E[ids]
    v = model.visual(pix, GRID, GRID)  # [n_img, 9, H]
    aux_loss = probe.loss(v, aux) if aux_weight > 0 else torch.zeros(())
    x = x.clone()
    for k, (b, s) in enumerate(slots):
        x[b, s:s + MERGED * MERGED] = v[k]
    h = model.hidden(x, pos, keym)
    attn_loss = torch.zeros(())
    if attn_layer >= 0 and len(targets):
        # -log of the attention the supervised heads pay, from each position that predicts a
        # token of the reply, to the image token of the shape the reply is about: it teaches the
        # language model to look a shape up by what the question names (its kind), which the
        # answers alone did not teach
        a = model.layers[attn_layer].attn[targets[:, 0], :, targets[:, 1], targets[:, 2]][:, attn_heads]
        attn_loss = -torch.log(a.float() + 1e-6).mean()
    sel = lab >= 0
    hs = h[sel]
    logits = hs @ E.t()
    # full-vocabulary partition function: the unused (zero) rows each contribute exp(0)
    const = torch.full((logits.shape[0], 1), math.log(n_unused))
    logz = torch.logsumexp(torch.cat([logits, const], 1), 1)
    tgt = lab[sel]
    loss = (logz - logits.gather(1, tgt[:, None])[:, 0]).mean()
    acc = (logits.argmax(1) == tgt).float().mean()
    return loss, acc, aux_loss, attn_loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=12000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--init", help="continue from a model directory this script wrote (a second stage)")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--layers", type=int, default=4, help="decoder layers (hidden 64 keeps the file small)")
    ap.add_argument("--rope-theta", type=float, default=100.0,
                    help="M-RoPE base. With head_dim 16 and sections [2, 3, 3] the width section gets the three "
                         "lowest of 8 frequencies: at Qwen2-VL's 1e6 one image column turns them by <2e-4 rad, "
                         "too little to tell left from right; at 100 by 0.02-0.06 rad, while a text token "
                         "turns the slowest one by 0.018 rad (no wrap-around within 300 tokens)")
    ap.add_argument("--turns", help="turns per training dialogue, drawn from this comma-separated list "
                    "(default: scenes.dialogue's own mix, 1-4 turns)")
    ap.add_argument("--type-mix", default=",".join(scenes.FIRST_TYPES),
                    help="question types a fresh question is drawn from, comma-separated, repeats weight them "
                         "(default: the held-out mix)")
    ap.add_argument("--aux-weight", type=float, default=1.0,
                    help="weight of the training-only perception probe's loss (0: answers only)")
    ap.add_argument("--cell-probe", action=argparse.BooleanOptionalAction, default=True,
                    help="the perception probe also reads each visual token's own cell index, so that a token "
                         "carries where it is (what \"where is the circle?\" needs)")
    ap.add_argument("--attn-weight", type=float, default=0.5,
                    help="weight of the attention loss (0: none): the --attn-heads of --attn-layer must attend "
                         "from each position that predicts a token of a reply to the image token of the shape the "
                         "reply is about")
    ap.add_argument("--attn-layer", type=int, default=1, help="decoder layer of the supervised heads")
    ap.add_argument("--attn-heads", default="0,2",
                    help="query heads of --attn-layer that are supervised, comma-separated (0 and 2 read different "
                         "key/value heads, so the looked-up token reaches the answer through two value vectors)")
    ap.add_argument("--save-every", type=int, default=0, help="also save the model every N steps")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()
    tok = Tokenizer(os.path.join(TOKDIR, "tokenizer.json"))

    cfg = make_config(hidden=64, layers=args.layers, heads=4, kv_heads=2, inter=256, mrope=(2, 3, 3), rope_theta=args.rope_theta,
                      v_dim=64, v_depth=3, v_heads=4)
    model = Qwen2VL(cfg)
    # the vocabulary the data uses: a large sample of dialogues (training and held-out use the same templates)
    used = set(tok.encode(SYSTEM + "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n\n"))
    used |= {VISION_START, VISION_END, IMAGE_PAD, IM_END}
    for _, turns in make_dialogues(args.seed + 1, 20000):
        for t in turns:
            used |= set(tok.encode(t["question"] + "<|im_end|>\n<|im_start|>assistant\n"))
            used |= set(tok.encode(t["answer"]))
    used = sorted(used)
    remap = {i: k for k, i in enumerate(used)}
    V = cfg["vocab_size"]
    print(f"vocabulary in use: {len(used)} of {V} ids", flush=True)

    E = torch.nn.Parameter(torch.randn(len(used), 64) * 0.5)
    del model.embed_tokens  # trained as E (used rows only), scattered into the full table at save
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            torch.nn.init.normal_(p, 0.0, 0.02 if "patch" in name else 1.0 / math.sqrt(p.shape[-1]) * 0.7)
        elif name.endswith("bias"):
            torch.nn.init.zeros_(p)
    if args.init:
        prev = Qwen2VL(cfg)
        load_hf(prev, os.path.join(args.init, "model.safetensors"))
        with torch.no_grad():
            E.copy_(prev.embed_tokens.weight[torch.tensor(used)])
            state = {k: v for k, v in prev.state_dict().items() if not k.startswith("embed_tokens")}
            model.load_state_dict(state)
        print(f"continuing from {args.init}", flush=True)
    probe = Probes(64, args.cell_probe)
    attn_layer = args.attn_layer if args.attn_weight > 0 else -1
    if attn_layer >= 0:
        model.layers[attn_layer].keep_attn = True
    params = [E] + list(model.parameters()) + list(probe.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    warm = args.warmup
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))

    turn_choices = [int(x) for x in args.turns.split(",")] if args.turns else None
    attn_heads = [int(h) for h in args.attn_heads.split(",")]
    mix = args.type_mix.split(",")
    assert set(mix) <= set(scenes.FIRST_TYPES), f"--type-mix: unknown type in {mix}"
    rng = random.Random(args.seed)
    ema_l, ema_a = None, None
    for step in range(args.steps):
        if turn_choices:
            batch = [scenes.dialogue(rng, zh=(rng.random() < 0.5), n_turns=rng.choice(turn_choices), first_types=mix)
                     for _ in range(args.batch)]
        else:
            batch = [scenes.dialogue(rng, zh=(rng.random() < 0.5), first_types=mix) for _ in range(args.batch)]
        tensors = batch_tensors(tok, batch, remap)
        loss, acc, aux_loss, attn_loss = forward_loss(model, E, V - len(used), *tensors, probe, args.aux_weight,
                                                      attn_layer, attn_heads)
        opt.zero_grad()
        (loss + args.aux_weight * aux_loss + args.attn_weight * attn_loss).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        ema_l = loss.item() if ema_l is None else 0.95 * ema_l + 0.05 * loss.item()
        ema_a = acc.item() if ema_a is None else 0.95 * ema_a + 0.05 * acc.item()
        ema_x = aux_loss.item() if step == 0 else 0.95 * ema_x + 0.05 * aux_loss.item()
        ema_t = attn_loss.item() if step == 0 else 0.95 * ema_t + 0.05 * attn_loss.item()
        if step % 20 == 0 or step == args.steps - 1:
            print(f"step {step} loss {ema_l:.4f} token-acc {ema_a:.4f} aux {ema_x:.4f} attn {ema_t:.3f} lr {sched.get_last_lr()[0]:.2e} "
                  f"t {time.time() - t0:.0f}s", flush=True)
        if args.save_every and (step + 1) % args.save_every == 0 and step + 1 < args.steps:
            save(args.out, cfg, model, E, used)
            print(f"saved {args.out} at step {step + 1}", flush=True)

    save(args.out, cfg, model, E, used)
    print(f"saved {args.out} after {time.time() - t0:.0f}s", flush=True)


def save(out, cfg, model, E, used):
    """HF directory with the full vocabulary (unused rows zero), bf16."""
    os.makedirs(out, exist_ok=True)
    full = Qwen2VL(cfg)
    with torch.no_grad():
        full.load_state_dict(model.state_dict(), strict=False)
        full.embed_tokens.weight.zero_()
        full.embed_tokens.weight[torch.tensor(used)] = E.detach()
    save_hf(full, os.path.join(out, "model.safetensors"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for name in ["tokenizer.json", "tokenizer_config.json", "chat_template.json"]:
        shutil.copyfile(os.path.join(TOKDIR, name), os.path.join(out, name))
    fix = os.path.join(TOKDIR, "..", "tiny-qwen2-vl")
    shutil.copyfile(os.path.join(fix, "generation_config.json"), os.path.join(out, "generation_config.json"))
    pp = json.load(open(os.path.join(fix, "preprocessor_config.json")))
    px = scenes.SIZE * scenes.SIZE
    pp.update({"min_pixels": 3136, "max_pixels": px, "size": {"longest_edge": px, "shortest_edge": 3136}})
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(pp, f, indent=2)


if __name__ == "__main__":
    main()

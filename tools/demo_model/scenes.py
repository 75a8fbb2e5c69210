"""Synthetic pictures and dialogues for edgevl's demo model, deterministic from a seed.

A scene: 1-3 shapes of different kinds and colours, each in its own cell of a 3x3 grid (so
"where" has one answer), on a plain or two-tone background. Drawn at 2x with small rotations,
then downscaled (anti-aliasing) and given pixel noise. Dialogues in English or Chinese ask about
it over several turns, with follow-ups that need earlier turns and new pictures later on."""
import math
import random

import numpy as np
from PIL import Image, ImageDraw

SIZE = 84  # the model's image size: 6x6 patches, 3x3 image tokens, one per cell of the 3x3 grid

SHAPES = ["circle", "square", "triangle", "star", "cross"]
SHAPES_ZH = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "star": "星形", "cross": "十字形"}
COLORS = {"red": (215, 35, 35), "green": (35, 165, 60), "blue": (35, 80, 220), "yellow": (245, 215, 30),
          "black": (20, 20, 20), "white": (245, 245, 245), "orange": (250, 135, 20), "purple": (140, 55, 185)}
COLORS_ZH = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "black": "黑色", "white": "白色",
             "orange": "橙色", "purple": "紫色", "gray": "灰色"}
BACKGROUNDS = {"white": (250, 250, 250), "black": (10, 10, 10), "gray": (140, 140, 140), "blue": (70, 110, 230),
               "green": (60, 170, 80), "yellow": (245, 225, 60)}
CELLS = ["top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"]
CELLS_ZH = ["左上", "上方", "右上", "左边", "中间", "右边", "左下", "下方", "右下"]


# ---- scenes ------------------------------------------------------------------------------------

def random_scene(rng):
    two_tone = rng.random() < 0.35
    bg = rng.sample(sorted(BACKGROUNDS), 2 if two_tone else 1)
    n = rng.choice([1, 2, 2, 3, 3])
    kinds = rng.sample(SHAPES, n)
    colors = rng.sample([c for c in sorted(COLORS) if c not in bg], n)
    cells = sorted(rng.sample(range(9), n))  # reading order = describe order
    rng.shuffle(kinds)
    shapes = [{"kind": k, "color": c, "cell": cell} for k, c, cell in zip(kinds, colors, cells)]
    return {"bg": bg, "split": rng.choice(["h", "v"]), "shapes": shapes, "seed": rng.randrange(1 << 30)}


def _jitter(rgb, rng, amount):
    return tuple(max(0, min(255, v + rng.randint(-amount, amount))) for v in rgb)


def _polygon(kind, cx, cy, r, rot):
    if kind == "square":
        pts = [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]
    elif kind == "triangle":
        pts = [(math.cos(math.radians(a)), math.sin(math.radians(a))) for a in (-90, 30, 150)]
    elif kind == "star":
        pts = [((1.0 if i % 2 == 0 else 0.45) * math.cos(math.radians(-90 + 36 * i)),
                (1.0 if i % 2 == 0 else 0.45) * math.sin(math.radians(-90 + 36 * i))) for i in range(10)]
    else:  # cross
        a, b = 0.3, 0.95
        pts = [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a)]
    c, s = math.cos(rot), math.sin(rot)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in pts]


def render(scene, size=SIZE, noise=True):
    """-> uint8 [size, size, 3]. Drawn at 2x, downscaled with PIL BICUBIC (what edgevl does to a 2x picture),
    plus Gaussian pixel noise (sigma up to 6) unless noise=False."""
    rng = random.Random(scene["seed"])
    big = 2 * size
    img = Image.new("RGB", (big, big), _jitter(BACKGROUNDS[scene["bg"][0]], rng, 12))
    d = ImageDraw.Draw(img)
    if len(scene["bg"]) == 2:
        col = _jitter(BACKGROUNDS[scene["bg"][1]], rng, 12)
        if scene["split"] == "h":
            d.rectangle([0, big // 2, big, big], fill=col)   # first colour on top
        else:
            d.rectangle([big // 2, 0, big, big], fill=col)   # first colour on the left
    cell = big / 3
    for s in scene["shapes"]:
        r = rng.uniform(0.30, 0.45) * cell
        row, colm = divmod(s["cell"], 3)
        slack = cell / 2 - r
        cx = (colm + 0.5) * cell + rng.uniform(-slack, slack) * 0.8
        cy = (row + 0.5) * cell + rng.uniform(-slack, slack) * 0.8
        fill = _jitter(COLORS[s["color"]], rng, 25)
        if s["kind"] == "circle":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        else:
            d.polygon(_polygon(s["kind"], cx, cy, r, math.radians(rng.uniform(-15, 15))), fill=fill)
    img = img.resize((size, size), Image.BICUBIC)
    a = np.asarray(img).astype(np.float32)
    sigma = rng.uniform(0, 6)
    if noise:
        a += np.random.default_rng(scene["seed"]).normal(0, sigma, a.shape)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


# ---- answers -------------------------------------------------------------------------------------

def describe(scene, zh):
    items = [(f"一个{COLORS_ZH[s['color']]}的{SHAPES_ZH[s['kind']]}" if zh else f"a {s['color']} {s['kind']}")
             for s in scene["shapes"]]
    if zh:
        text = items[0] if len(items) == 1 else "、".join(items[:-1]) + "和" + items[-1]
        return text + "。"
    text = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return text[0].upper() + text[1:] + "."


def color_name(c, zh):
    return COLORS_ZH[c] if zh else c


def background(scene, zh):
    names = [color_name(c, zh) for c in scene["bg"]]
    return ("和" if zh else " and ").join(names)


EN_Q = {
    "describe": ["What is in the image?", "What is in the picture?", "What do you see?", "Describe the image.",
                 "What can you see in this picture?"],
    "count": ["How many shapes are there?", "How many shapes do you see?", "How many shapes are in the picture?",
              "Count the shapes."],
    "color": ["What color is the {s}?", "Which colour is the {s}?", "What colour is the {s}?",
              "What is the color of the {s}?"],
    "shape": ["Which shape is {c}?", "What shape is {c}?", "Which shape is the {c} one?"],
    "position": ["Where is the {s}?", "Where is the {s} in the picture?", "In which part of the image is the {s}?"],
    "presence": ["Is there a {s}?", "Is there a {s} in the picture?", "Do you see a {s}?"],
    "background": ["What color is the background?", "What colour is the background?",
                   "Which colour is the background?"],
    "followup_other": ["And the other one?", "What about the other one?", "And the other shape?"],
    "followup_first": ["What colour was the first shape?", "What color was the first shape?",
                       "What was the color of the first shape?"],
    "new_image": ["And this one?", "What about this one?", "And this picture?"],
}
ZH_Q = {
    "describe": ["这张图片中有什么？", "图片里有什么？", "你看到了什么？", "描述一下这张图片。"],
    "count": ["有几个形状？", "图片中有多少个形状？", "一共有几个形状？"],
    "color": ["{s}是什么颜色？", "{s}是什么颜色的？", "{s}是哪种颜色？"],
    "shape": ["哪个形状是{c}的？", "{c}的是什么形状？"],
    "position": ["{s}在哪里？", "{s}在图片的什么位置？"],
    "presence": ["有{s}吗？", "图片中有{s}吗？", "你看到{s}了吗？"],
    "background": ["背景是什么颜色？", "背景是什么颜色的？"],
    "followup_other": ["另一个呢？", "那另一个呢？", "另一个形状呢？"],
    "followup_first": ["第一个形状是什么颜色？", "第一个形状是什么颜色的？"],
    "new_image": ["这张呢？", "那这张呢？", "这张图片呢？"],
}


def ask(rng, qtype, scene, zh, shape=None, color=None):
    """-> (question, answer, subject) for a question type that only needs the current picture."""
    q = rng.choice((ZH_Q if zh else EN_Q)[qtype])
    by_kind = {s["kind"]: s for s in scene["shapes"]}
    if qtype == "describe":
        return q, describe(scene, zh), None
    if qtype == "count":
        n = len(scene["shapes"])
        return q, f"{n}个" if zh else str(n), None
    if qtype == "background":
        return q, background(scene, zh), None
    if qtype == "presence":
        kind = shape or rng.choice(SHAPES)
        yes = kind in by_kind
        return q.format(s=SHAPES_ZH[kind] if zh else kind), ("有" if yes else "没有") if zh else ("yes" if yes else "no"), kind
    if qtype == "shape":
        s = next(x for x in scene["shapes"] if x["color"] == color) if color else rng.choice(scene["shapes"])
        return q.format(c=color_name(s["color"], zh)), SHAPES_ZH[s["kind"]] if zh else s["kind"], s["kind"]
    s = by_kind[shape] if shape else rng.choice(scene["shapes"])
    name = SHAPES_ZH[s["kind"]] if zh else s["kind"]
    if qtype == "color":
        return q.format(s=name), color_name(s["color"], zh), s["kind"]
    if qtype == "position":
        return q.format(s=name), CELLS_ZH[s["cell"]] if zh else CELLS[s["cell"]], s["kind"]
    raise ValueError(qtype)


FIRST_TYPES = ["describe", "describe", "count", "color", "shape", "position", "presence", "background"]


def cell_of(scene, kind):
    """The cell of the shape of this kind in the scene, or None (no such shape, or no kind)."""
    return next((s["cell"] for s in scene["shapes"] if s["kind"] == kind), None)


def dialogue(rng, zh, n_turns=None, first_types=FIRST_TYPES):
    """-> (scenes, turns). Each turn: {"image": scene index or None, "question", "answer", "type",
    "cell"}; "cell" is the grid cell of the shape the answer is about (None when it is about no
    single shape), for training only.
    first_types: the question types a fresh question is drawn from (repeats weight them); the
    held-out sets use the default mix, training may ask some types more often."""
    scenes = [random_scene(rng)]
    turns = []
    n_turns = n_turns or rng.choice([1, 2, 3, 3, 4])
    cur = 0
    described = False     # the current picture was described in this dialogue
    last = None           # (qtype, subject) of the previous turn
    for t in range(n_turns):
        scene = scenes[cur]
        options = []
        if t > 0:
            options += ["single"] * 3 + ["new_image"] * 2
            if last and last[0] in ("color", "position") and len(scene["shapes"]) == 2:
                options += ["followup_other"] * 3
            if described:
                options += ["followup_first"] * 2
        kind = rng.choice(options) if options else "single"
        if kind == "single":
            qtype = rng.choice(first_types)
            q, a, subj = ask(rng, qtype, scene, zh)
            turns.append({"image": cur if t == 0 else None, "question": q, "answer": a, "type": qtype,
                          "cell": cell_of(scene, subj)})
            last = (qtype, subj)
            described = described or qtype == "describe"
        elif kind == "followup_other":
            other = next(s for s in scene["shapes"] if s["kind"] != last[1])
            _, a, subj = ask(rng, last[0], scene, zh, shape=other["kind"])
            q = rng.choice((ZH_Q if zh else EN_Q)["followup_other"])
            turns.append({"image": None, "question": q, "answer": a, "type": "followup_other", "cell": other["cell"]})
            last = (last[0], subj)
        elif kind == "followup_first":
            q = rng.choice((ZH_Q if zh else EN_Q)["followup_first"])
            turns.append({"image": None, "question": q, "answer": color_name(scene["shapes"][0]["color"], zh),
                          "type": "followup_first", "cell": scene["shapes"][0]["cell"]})
            last = ("first_color", None)
        else:  # a new picture; the question is the previous one, asked about it
            qtype, subj = last
            while True:
                new = random_scene(rng)
                kinds = [s["kind"] for s in new["shapes"]]
                if qtype not in ("color", "position") or subj in kinds:
                    break
            scenes.append(new)
            cur = len(scenes) - 1
            if qtype != "first_color":
                _, a, subj = ask(rng, qtype, new, zh, shape=subj if qtype in ("color", "position", "presence") else None)
            if qtype == "first_color":
                _, a, subj = None, color_name(new["shapes"][0]["color"], zh), None
            elif qtype == "shape":  # "which shape is <colour>" does not carry over; ask for a description
                qtype, a = "describe", describe(new, zh)
            q = rng.choice((ZH_Q if zh else EN_Q)["new_image"])
            cell = (new["shapes"][0]["cell"] if qtype == "first_color" else
                    None if qtype == "describe" else cell_of(new, subj))
            turns.append({"image": cur, "question": q, "answer": a, "type": "new_image", "cell": cell})
            last = (qtype, subj)
            described = qtype == "describe"
    return scenes, turns

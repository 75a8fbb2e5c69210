"""Qwen2 byte-level BPE tokenizer in pure Python (reads tokenizer.json), used to turn
the synthetic dialogues into token ids exactly as edgevl's tokenizer does.
Checked against ../shared/fixtures/tokenizer/golden.jsonl by `python3 bpe.py`."""
import json
import unicodedata

import regex

PATTERN = regex.compile(
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")


def _byte_to_unicode():
    # GPT-2's reversible byte -> printable character table.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


class Tokenizer:
    def __init__(self, path):
        t = json.load(open(path, encoding="utf-8"))
        self.vocab = t["model"]["vocab"]
        merges = t["model"]["merges"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.added = {a["content"]: a["id"] for a in t["added_tokens"]}
        self.id_to_token = {v: k for k, v in self.vocab.items()}
        self.id_to_token.update({v: k for k, v in self.added.items()})
        self.b2u = _byte_to_unicode()
        self.u2b = {u: b for b, u in self.b2u.items()}
        self.special = regex.compile("(" + "|".join(regex.escape(s) for s in sorted(self.added, key=len, reverse=True)) + ")")
        self.cache = {}

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            best, bi = None, -1
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            parts[bi:bi + 2] = [parts[bi] + parts[bi + 1]]
        ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for chunk in self.special.split(text):
            if not chunk:
                continue
            if chunk in self.added:
                ids.append(self.added[chunk])
                continue
            chunk = unicodedata.normalize("NFC", chunk)
            for piece in PATTERN.findall(chunk):
                ids += self._bpe("".join(self.b2u[b] for b in piece.encode("utf-8")))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            tok = self.id_to_token[i]
            if tok in self.added:
                out += tok.encode("utf-8")
            else:
                out += bytes(self.u2b[c] for c in tok)
        return out.decode("utf-8", errors="replace")


if __name__ == "__main__":
    import os
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "fixtures", "tokenizer")
    tok = Tokenizer(os.path.join(root, "tokenizer.json"))
    bad = 0
    n = 0
    for line in open(os.path.join(root, "golden.jsonl"), encoding="utf-8"):
        case = json.loads(line)
        n += 1
        if tok.encode(case["text"]) != case["ids"]:
            bad += 1
            print("MISMATCH", repr(case["text"][:60]))
    print(f"{n - bad}/{n} golden strings tokenize identically")
    raise SystemExit(1 if bad else 0)

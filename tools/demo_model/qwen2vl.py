"""Qwen2-VL in plain torch (written for edgevl's demo model; mirrors the maths of Hugging Face
transformers' Qwen2VLForConditionalGeneration as documented in ../shared/fixtures/README.md):
vision tower (Conv3d patch embed as a matmul, 2-D rotary attention, QuickGELU MLP, 2x2 merger),
Qwen2 decoder with M-RoPE, tied lm_head. check_fixture.py proves it against the HF goldens.

Safetensors are read and written here by hand (no safetensors package on Debian 12)."""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


# ---- configuration -------------------------------------------------------------------------

def make_config(hidden, layers, heads, kv_heads, inter, mrope, v_dim, v_depth, v_heads, rope_theta=1000000.0):
    return {
        "architectures": ["Qwen2VLForConditionalGeneration"], "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": hidden,
        "image_token_id": 151655, "initializer_range": 0.02, "intermediate_size": inter,
        "max_position_embeddings": 32768, "max_window_layers": layers, "model_type": "qwen2_vl",
        "num_attention_heads": heads, "num_hidden_layers": layers, "num_key_value_heads": kv_heads,
        "rms_norm_eps": 1e-06, "rope_scaling": {"type": "mrope", "mrope_section": list(mrope)},
        "rope_theta": float(rope_theta), "sliding_window": 32768, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16", "transformers_version": "4.50.0", "use_cache": True,
        "use_sliding_window": False, "video_token_id": 151656,
        "vision_config": {"depth": v_depth, "embed_dim": v_dim, "hidden_act": "quick_gelu", "hidden_size": hidden,
                          "in_channels": 3, "in_chans": 3, "mlp_ratio": 4, "model_type": "qwen2_vl",
                          "num_heads": v_heads, "patch_size": 14, "spatial_merge_size": 2,
                          "spatial_patch_size": 14, "temporal_patch_size": 2},
        "vision_end_token_id": 151653, "vision_start_token_id": 151652, "vision_token_id": 151654,
        "vocab_size": 151936,
    }


# ---- vision tower --------------------------------------------------------------------------

def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class VisionBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.fc1 = nn.Linear(dim, dim * mlp_ratio)
        self.fc2 = nn.Linear(dim * mlp_ratio, dim)

    def forward(self, x, cos, sin, mask):
        # x [B, n, dim]; mask [B, 1, n, n] additive (block-diagonal per image) or None
        B, n, d = x.shape
        hd = d // self.heads
        qkv = self.qkv(self.norm1(x)).view(B, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, heads, n, hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        if mask is not None:
            a = a + mask
        a = torch.softmax(a.float(), dim=-1).to(q.dtype)
        o = (a @ v).transpose(1, 2).reshape(B, n, d)
        x = x + self.proj(o)
        h = self.fc1(self.norm2(x))
        h = h * torch.sigmoid(1.702 * h)  # quick_gelu
        return x + self.fc2(h)


def vision_rope_angles(gh, gw, head_dim, merge=2):
    """[gh*gw, head_dim/2] angles: first half from the patch row, second from the column, rows in 2x2-block order."""
    dim = head_dim // 2
    inv = 1.0 / (10000 ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
    hpos = torch.arange(gh).unsqueeze(1).expand(gh, gw)
    wpos = torch.arange(gw).unsqueeze(0).expand(gh, gw)
    def block_order(p):
        return p.reshape(gh // merge, merge, gw // merge, merge).permute(0, 2, 1, 3).flatten()
    hpos, wpos = block_order(hpos), block_order(wpos)
    return torch.cat([hpos[:, None].float() * inv, wpos[:, None].float() * inv], dim=-1)


class Vision(nn.Module):
    def __init__(self, vc):
        super().__init__()
        d = vc["embed_dim"]
        self.dim, self.heads = d, vc["num_heads"]
        self.patch = nn.Parameter(torch.zeros(d, 3, 2, 14, 14))
        self.blocks = nn.ModuleList([VisionBlock(d, vc["num_heads"], vc["mlp_ratio"]) for _ in range(vc["depth"])])
        self.ln_q = nn.LayerNorm(d, eps=1e-6)
        self.mlp0 = nn.Linear(4 * d, 4 * d)
        self.mlp2 = nn.Linear(4 * d, vc["hidden_size"])

    def forward(self, pixel_values, gh, gw):
        """pixel_values [B, gh*gw, 1176] (B images of the same grid) -> [B, gh*gw/4, hidden]."""
        B, n, _ = pixel_values.shape
        x = pixel_values @ self.patch.reshape(self.dim, -1).t()
        ang = vision_rope_angles(gh, gw, self.dim // self.heads)
        emb = torch.cat([ang, ang], dim=-1)
        cos, sin = emb.cos(), emb.sin()
        for b in self.blocks:
            x = b(x, cos, sin, None)
        x = self.ln_q(x).reshape(B, n // 4, 4 * self.dim)
        return self.mlp2(F.gelu(self.mlp0(x)))


# ---- decoder -------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        v = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x.float() * torch.rsqrt(v + self.eps)).to(x.dtype)


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.nh, self.nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = h // self.nh
        self.input_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.q_proj = nn.Linear(h, self.nh * self.hd)
        self.k_proj = nn.Linear(h, self.nkv * self.hd)
        self.v_proj = nn.Linear(h, self.nkv * self.hd)
        self.o_proj = nn.Linear(self.nh * self.hd, h, bias=False)
        self.gate_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], h, bias=False)
        self.keep_attn, self.attn = False, None

    def forward(self, x, cos, sin, mask):
        B, n, _ = x.shape
        y = self.input_layernorm(x)
        q = self.q_proj(y).view(B, n, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(y).view(B, n, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(y).view(B, n, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        a = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        a = torch.softmax(a.float(), dim=-1).to(q.dtype)
        self.attn = a if self.keep_attn else None  # [B, heads, n, n], for train.py's attention loss
        o = (a @ v).transpose(1, 2).reshape(B, n, -1)
        x = x + self.o_proj(o)
        y = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(y)) * self.up_proj(y))


def mrope_cos_sin(position_ids, head_dim, theta, section):
    """position_ids [B, 3, n] -> cos, sin [B, 1, n, head_dim] (chunk k of cat(f, f) takes axis k % 3)."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))
    f = position_ids.float().unsqueeze(-1) * inv  # [B, 3, n, hd/2]
    emb = torch.cat([f, f], dim=-1)              # [B, 3, n, hd]
    chunks = emb.split(list(section) * 2, dim=-1)
    emb = torch.cat([c[:, i % 3] for i, c in enumerate(chunks)], dim=-1)  # [B, n, hd]
    return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)


class Qwen2VL(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = c = config
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.visual = Vision(c["vision_config"])

    def hidden(self, inputs_embeds, position_ids, key_mask=None):
        """inputs_embeds [B, n, H], position_ids [B, 3, n]; key_mask [B, n] bool (False = padding)."""
        c = self.config
        B, n, _ = inputs_embeds.shape
        hd = c["hidden_size"] // c["num_attention_heads"]
        cos, sin = mrope_cos_sin(position_ids, hd, c["rope_theta"], c["rope_scaling"]["mrope_section"])
        causal = torch.full((n, n), float("-inf")).triu(1)
        mask = causal.expand(B, 1, n, n)
        if key_mask is not None:
            mask = mask.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        x = inputs_embeds
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)

    def logits(self, h):
        return h @ self.embed_tokens.weight.t()


# ---- weights I/O (HF names) ----------------------------------------------------------------

def hf_names(model):
    """Our parameter -> HF tensor name."""
    m = {"embed_tokens.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
         "visual.patch": "visual.patch_embed.proj.weight",
         "visual.ln_q.weight": "visual.merger.ln_q.weight", "visual.ln_q.bias": "visual.merger.ln_q.bias",
         "visual.mlp0.weight": "visual.merger.mlp.0.weight", "visual.mlp0.bias": "visual.merger.mlp.0.bias",
         "visual.mlp2.weight": "visual.merger.mlp.2.weight", "visual.mlp2.bias": "visual.merger.mlp.2.bias"}
    for name, _ in model.named_parameters():
        p = name.split(".")
        if p[0] == "layers":
            sub = "mlp" if p[2] in ("gate_proj", "up_proj", "down_proj") else (
                "self_attn" if p[2].endswith("_proj") else None)
            m[name] = f"model.layers.{p[1]}." + (f"{sub}.{p[2]}.{p[3]}" if sub else f"{p[2]}.{p[3]}")
        elif p[0] == "visual" and p[1] == "blocks":
            sub = {"qkv": "attn.qkv", "proj": "attn.proj", "fc1": "mlp.fc1", "fc2": "mlp.fc2"}.get(p[3], p[3])
            m[name] = f"visual.blocks.{p[2]}.{sub}.{p[4]}"
    return m


_DT = {"BF16": (torch.bfloat16, 2), "F16": (torch.float16, 2), "F32": (torch.float32, 4)}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        dt, _ = _DT[v["dtype"]]
        a, b = v["data_offsets"]
        raw = torch.frombuffer(bytearray(data[a:b]), dtype=torch.uint8)
        out[k] = raw.view(dt).reshape(v["shape"]).float()
    return out


def write_safetensors(path, tensors, dtype=torch.bfloat16):
    name = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}[dtype]
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for k in sorted(tensors):
        t = tensors[k].detach().to(dtype).contiguous()
        b = t.numpy().tobytes() if dtype == torch.float32 else t.view(torch.int16).numpy().tobytes()
        header[k] = {"dtype": name, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_hf(model, path):
    t = read_safetensors(path)
    names = hf_names(model)
    with torch.no_grad():
        for ours, p in model.named_parameters():
            p.copy_(t[names[ours]].reshape(p.shape))


def save_hf(model, path, dtype=torch.bfloat16):
    names = hf_names(model)
    write_safetensors(path, {names[k]: p for k, p in model.named_parameters()}, dtype)


# ---- preprocessing (the Qwen2VLImageProcessor steps for an image already at its grid size) ----

def pixel_values(img_u8):
    """img_u8 uint8 [h, w, 3] with h, w multiples of 28 -> float32 [gh*gw, 1176] in 2x2-block row order."""
    x = (img_u8.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    x = x.transpose(2, 0, 1)  # CHW
    h, w = x.shape[1:]
    gh, gw = h // 14, w // 14
    x = np.stack([x, x])  # 2 temporal frames
    x = x.reshape(1, 2, 3, gh // 2, 2, 14, gw // 2, 2, 14).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gh * gw, 1176)

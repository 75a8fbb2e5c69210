#!/usr/bin/env python3
"""Prints `name<TAB>ggml type<TAB>shape` for every tensor of a GGUF file (stdlib only).

    python3 scripts/gguf_tensor_types.py FILE.gguf

Used by scripts/check_llama_quantize.sh to diff the per-tensor type mix of two files
(GGUF v2/v3 layout as documented in ggml's docs/gguf.md).
"""
import struct
import sys

# ggml_type ids (ggml.h); the ones a Qwen-VL file can hold, the rest print as their number.
TYPES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0", 9: "q8_1",
         10: "q2_K", 11: "q3_K", 12: "q4_K", 13: "q5_K", 14: "q6_K", 15: "q8_K", 30: "bf16"}
# GGUF metadata value types -> struct format of a scalar (8 = string, 9 = array).
SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


class Reader:
    def __init__(self, f):
        self.f = f

    def take(self, fmt):
        size = struct.calcsize("<" + fmt)
        data = self.f.read(size)
        if len(data) != size:
            raise ValueError("truncated file")
        return struct.unpack("<" + fmt, data)[0]

    def string(self):
        n = self.take("Q")
        if n > 1 << 30:
            raise ValueError("string length %d is not plausible" % n)
        return self.f.read(n).decode("utf-8", "replace")

    def skip_value(self, vtype):
        if vtype == 8:
            self.string()
        elif vtype == 9:
            etype, count = self.take("I"), self.take("Q")
            if etype in SCALAR:  # seek over a scalar array at once (vocabularies are large)
                self.f.seek(count * struct.calcsize("<" + SCALAR[etype]), 1)
            else:
                for _ in range(count):
                    self.skip_value(etype)
        elif vtype in SCALAR:
            self.take(SCALAR[vtype])
        else:
            raise ValueError("unknown metadata value type %d" % vtype)


def main(path):
    with open(path, "rb") as f:
        r = Reader(f)
        if f.read(4) != b"GGUF":
            raise ValueError("%s: not a GGUF file" % path)
        version = r.take("I")
        if version < 2:
            raise ValueError("%s: GGUF version %d is not supported" % (path, version))
        n_tensors, n_kv = r.take("Q"), r.take("Q")
        for _ in range(n_kv):
            r.string()
            r.skip_value(r.take("I"))
        for _ in range(n_tensors):
            name = r.string()
            dims = [r.take("Q") for _ in range(r.take("I"))]
            ggml_type = r.take("I")
            r.take("Q")  # data offset
            print("%s\t%s\t%s" % (name, TYPES.get(ggml_type, str(ggml_type)), "x".join(map(str, dims))))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        main(sys.argv[1])
    except (OSError, ValueError, struct.error) as e:
        sys.exit("gguf_tensor_types: %s" % e)

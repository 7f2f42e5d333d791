#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_plan (tests/fuzz/corpus): a few valid problems of every pattern, small enough
that fuzz_plan runs them (see kMaxRunWork), plus two that it only plans, in the input layout fuzz_plan.cpp describes (8 control bytes, the sattn_attention_desc as x86-64 lays it out, prefs, a backend
name, tensor contents). Run it again after changing that layout: python3 tests/fuzz/make_corpus.py"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DESC_SIZE = 344
PATTERNS = {"auto": 0, "dense": 1, "sliding_window": 2, "block_topk": 3, "block_local_global": 4,
            "nm_structured": 5, "topk_per_query": 6, "lsh": 7, "landmark": 8, "block_mask": 9}
CAUSAL, WANT_LSE = 1, 2


def desc(pattern, B=1, Hq=2, Hk=1, Lq=21, Lk=29, D=8, Dv=8, dtype=1, precision=0, flags=0, scale=0.0, **params):
    p = {"window_size": 0, "dilation": 1, "wrap": 0, "global_tokens": 0, "block_size": 0, "keep_ratio": 0.0,
         "scale_q": 0.0, "topk_blocks": 0, "local_blocks": 1, "comp_block_size": 0, "nm_n": 0, "nm_m": 0, "topk_k": 0,
         "lsh_buckets": 0, "lsh_seed": 0, "num_landmarks": 0, "landmark_iters": 0, "scale_k": 0.0, "scale_v": 0.0}
    unknown = set(params) - set(p)
    assert not unknown, unknown
    p.update(params)
    head = struct.pack("<IIqqqqqqqiiif", DESC_SIZE, flags, B, Hq, Hk, Lq, Lk, D, Dv, dtype, precision,
                       PATTERNS[pattern], scale)
    body = struct.pack("<qqqqqffqqqqqqqQqqff16q", p["window_size"], p["dilation"], p["wrap"], p["global_tokens"],
                       p["block_size"], p["keep_ratio"], p["scale_q"], p["topk_blocks"], p["local_blocks"],
                       p["comp_block_size"], p["nm_n"], p["nm_m"], p["topk_k"], p["lsh_buckets"], p["lsh_seed"],
                       p["num_landmarks"], p["landmark_iters"], p["scale_k"], p["scale_v"], *([0] * 16))
    blob = head + body
    assert len(blob) == DESC_SIZE
    return blob


def unit(description, run=0x10, prefs=0, tame=0, extra=0, data_bytes=512, seed=0):
    # control: desc_size, tame, prefs, run, mutate (1: nothing spoiled), detail, info, extra
    control = bytes([0, tame, prefs, run, 1, 0, 0, extra])
    prefs_bytes = struct.pack("<IIii", 24, 0, 0, 1)
    backend = b"cpu".ljust(32, b"\0")
    rng = random.Random(seed)
    return control + description + prefs_bytes + backend + bytes(rng.randrange(256) for _ in range(data_bytes))


SEEDS = {
    "dense": unit(desc("dense")),
    "dense_causal_lse_bhld": unit(desc("dense", B=2, Hq=4, Hk=2, Lq=13, Lk=20, flags=CAUSAL | WANT_LSE), run=0x11),
    "sliding_window_ring": unit(desc("sliding_window", flags=CAUSAL, dtype=3, window_size=5, dilation=2, wrap=1,
                                     global_tokens=3)),
    "sliding_window_long": unit(desc("sliding_window", Lq=1024, Lk=1024, D=4, Dv=4, window_size=64), run=0),
    "block_topk": unit(desc("block_topk", dtype=2, precision=3, flags=WANT_LSE, block_size=8, keep_ratio=0.3,
                            comp_block_size=4, global_tokens=5), run=0x30),
    "block_local_global": unit(desc("block_local_global", Hq=4, Hk=2, block_size=7, local_blocks=2,
                                    global_tokens=9, precision=1)),
    "block_mask": unit(desc("block_mask", block_size=16), run=0x50),
    "nm_structured": unit(desc("nm_structured", nm_n=2, nm_m=4, precision=2)),
    "topk_per_query": unit(desc("topk_per_query", flags=CAUSAL, topk_k=5, precision=4)),
    "lsh": unit(desc("lsh", lsh_buckets=8, lsh_seed=7)),
    "landmark": unit(desc("landmark", num_landmarks=4, landmark_iters=2)),
    "auto_window_or_blocks": unit(desc("auto", window_size=16, keep_ratio=0.25), prefs=0x05),
    "topk_huge_lengths": unit(desc("topk_per_query", Lq=1 << 30, Lk=1 << 30, D=1, Dv=1, topk_k=8,
                                   block_size=1 << 12)),
    "tamed_dense": unit(desc("dense"), tame=0x0F),
}


def main():
    folder = os.path.join(HERE, "corpus")
    os.makedirs(folder, exist_ok=True)
    for name, blob in SEEDS.items():
        with open(os.path.join(folder, name), "wb") as out:
            out.write(blob)
    print(f"wrote {len(SEEDS)} seeds to {folder}")


if __name__ == "__main__":
    main()

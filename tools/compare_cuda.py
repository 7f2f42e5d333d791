#!/usr/bin/env python3
"""The peers of the cuda backend on the same problems as tests/cuda/bench_cuda.cpp (sattn_bench_cuda): torch SDPA
(its flash kernel) and FlexAttention (torch.compile'd, with a block mask) for B4 H16 L8192 D128 bf16, dense, causal
and a causal sliding window of 512 keys plus 64 global tokens. Prints a markdown table: median ms of 20 runs timed
with CUDA events, and TFLOP/s over the kept (query, key) pairs (4 * D flops each), as sattn_bench_cuda counts them.
Usage: python3 tools/compare_cuda.py [batch heads length head_dim]"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

B, H, L, D = (int(x) for x in (sys.argv[1:5] if len(sys.argv) >= 5 else (4, 16, 8192, 128)))
WINDOW, GLOBAL = 512, 64


def median_ms(fn, runs=20):
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return sorted(times)[len(times) // 2]


def kept_pairs(name):
    if name == "dense":
        return B * H * L * L
    if name == "causal":
        return B * H * L * (L + 1) // 2
    i = torch.arange(L, device="cuda")
    window = torch.clamp(i + 1, max=WINDOW + 1)  # keys i - 512 .. i
    extra = torch.clamp(torch.clamp(i - WINDOW, min=0), max=GLOBAL)  # global keys left of the window
    return B * H * int((window + extra).sum())


def mask_mod(name):
    def causal(b, h, q, kv):
        return q >= kv

    def sliding(b, h, q, kv):
        return (q >= kv) & ((q - kv <= WINDOW) | (kv < GLOBAL))

    return None if name == "dense" else causal if name == "causal" else sliding


def main():
    torch.manual_seed(0)
    q, k, v = (torch.rand(B, H, L, D, device="cuda", dtype=torch.bfloat16) * 2 - 1 for _ in range(3))
    flex = torch.compile(flex_attention)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, B{B} H{H} L{L} D{D} bf16")
    print("| problem | peer | ms (median of 20) | TFLOP/s (kept pairs) |\n|---|---|---|---|")
    for name in ("dense", "causal", "sliding_window_512_global_64"):
        flops = 4.0 * D * kept_pairs(name)
        if name != "sliding_window_512_global_64":
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=name == "causal"))
            print(f"| {name} | torch SDPA (flash) | {ms:.3f} | {flops / ms / 1e9:.1f} |", flush=True)
        mod = mask_mod(name)
        block_mask = None if mod is None else create_block_mask(mod, None, None, L, L, device="cuda")
        ms = median_ms(lambda: flex(q, k, v, block_mask=block_mask))
        print(f"| {name} | FlexAttention | {ms:.3f} | {flops / ms / 1e9:.1f} |", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The cuda backend against its peers on one GPU, in one run: for each shape (B x H x L x D, bf16) it runs
sattn_bench_cuda (libsattn's times, CUDA events, median of 20) and times torch SDPA (flash and cuDNN kernels),
FlexAttention (torch.compile'd, with a BlockMask) on the same problems:
  dense, causal (bottom-right aligned; Lq == Lk here), window |i - j| <= 512 plus 64 global tokens (non-causal),
  block_mask_12 (the user mask of 12% of the 128 x 128 blocks plus the diagonal, the same mask for both),
  block_topk_12 (libsattn's data-dependent selection, block 128, keep 12%, timed in; compared with Flex on the
  user mask of the same density, Flex having no data-dependent selection),
and decode (B1 Hq32 Hk8 D128, Lq 1/4/16 against Lk 8192 and 131072) against SDPA with enable_gqa.
Prints markdown tables: milliseconds, effective TFLOP/s (4 * kept pairs * D / time) and the ratios peer / libsattn
(above 1: libsattn is faster).
Usage: python3 tools/compare_cuda.py [--bench PATH] [--shapes 4x16x8192x128,...] [--quick] [--no-decode]"""
import argparse
import os
import subprocess
import sys

BLOCK = 128
WINDOW, GLOBAL = 512, 64
SHAPES = "4x16x8192x128,1x16x32768x128,4x16x8192x64"


def block_mask_keeps(qb, kb):
    """The user block mask of sattn_bench_cuda's block_mask_keeps, bit for bit (uint32 arithmetic)."""
    h = ((qb * 73856093) & 0xFFFFFFFF) ^ ((kb * 19349663) & 0xFFFFFFFF)
    h = (h * 0x9E3779B1) & 0xFFFFFFFF
    return qb == kb or (h >> 8) % 1000 < 120


def window_pairs(L):
    """Kept pairs of one head of the window problem: |i - j| <= WINDOW, or j < GLOBAL, or i < GLOBAL."""
    total = 0
    for i in range(L):
        if i < GLOBAL:
            total += L
            continue
        lo, hi = max(0, i - WINDOW), min(L - 1, i + WINDOW)
        total += hi - lo + 1 + min(GLOBAL, lo)
    return total


def parse_bench(text):
    """{problem: (ms or None, kept pairs or None, kernel)} from sattn_bench_cuda's lines."""
    rows = {}
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        name, ms, kept, kernel = parts
        rows[name] = (None if ms == "n/a" else float(ms), None if int(kept) < 0 else int(kept), kernel)
    return rows


def fmt(ms):
    return "n/a" if ms is None else f"{ms:.3f}"


def ratio(peer, ours):
    return "" if peer is None or ours is None else f"{peer / ours:.2f}x"


def tflops(kept, D, ms):
    return "" if kept is None or ms is None else f"{4.0 * D * kept / ms / 1e9:.0f}"


def median_ms(torch, fn, runs=20):
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


def peers(torch, B, H, L, D):
    """{problem: {peer: ms}} for the prefill problems."""
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    torch.manual_seed(0)
    q, k, v = (torch.rand(B, H, L, D, device="cuda", dtype=torch.bfloat16) * 2 - 1 for _ in range(3))
    torch._dynamo.reset()  # a fresh compilation per shape: otherwise the recompile limit sends later shapes to eager
    flex = torch.compile(flex_attention)
    blocks = (L + BLOCK - 1) // BLOCK
    keep = torch.tensor([[block_mask_keeps(qb, kb) for kb in range(blocks)] for qb in range(blocks)], device="cuda")
    mods = {
        "dense": None,
        "causal": lambda b, h, i, j: i >= j,
        "window_512_global_64": lambda b, h, i, j: ((i - j).abs() <= WINDOW) | (j < GLOBAL) | (i < GLOBAL),
        "block_mask_12": lambda b, h, i, j: keep[i // BLOCK, j // BLOCK],
    }
    out = {}
    for name, mod in mods.items():
        times = {}
        if name in ("dense", "causal"):
            for peer, backend in (("SDPA flash", SDPBackend.FLASH_ATTENTION), ("SDPA cuDNN", SDPBackend.CUDNN_ATTENTION)):
                try:
                    with sdpa_kernel(backend):
                        times[peer] = median_ms(
                            torch, lambda: F.scaled_dot_product_attention(q, k, v, is_causal=name == "causal"))
                except RuntimeError as error:
                    print(f"{peer} {name}: {str(error)[:100]}", file=sys.stderr)
        mask = None if mod is None else create_block_mask(mod, None, None, L, L, device="cuda", BLOCK_SIZE=BLOCK)
        times["Flex"] = median_ms(torch, lambda: flex(q, k, v, block_mask=mask))
        out[name] = times
    out["block_topk_12"] = {"Flex": out["block_mask_12"]["Flex"]}  # the same density, chosen by the caller
    return out


def decode_peers(torch, lq, lk):
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q = torch.randn(1, 32, lq, 128, device="cuda", dtype=torch.bfloat16)
    k, v = (torch.randn(1, 8, lk, 128, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    times = {}
    for peer, backend in (("SDPA flash", SDPBackend.FLASH_ATTENTION), ("SDPA cuDNN", SDPBackend.CUDNN_ATTENTION)):
        try:
            with sdpa_kernel(backend):
                # All keys: libsattn's bottom-right causal mask keeps all of them for Lq = 1 and all but a few for
                # Lq <= 16 (torch's is_causal is top-left aligned, which would drop most).
                times[peer] = median_ms(torch, lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True))
        except RuntimeError as error:
            print(f"{peer} decode: {str(error)[:100]}", file=sys.stderr)
    return times


def run_bench(bench, *args):
    result = subprocess.run([bench, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{bench} failed: {result.stderr}")
    return parse_bench(result.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--bench", default=os.path.join(here, "sattn_bench_cuda"), help="sattn_bench_cuda to run")
    parser.add_argument("--shapes", default=SHAPES, help="comma-separated BxHxLxD")
    parser.add_argument("--quick", action="store_true", help="one small shape (a smoke run)")
    parser.add_argument("--no-decode", action="store_true")
    args = parser.parse_args()
    import torch

    shapes = "1x4x2048x128" if args.quick else args.shapes
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, bf16; ms are medians of 20 runs; "
          "ratios are peer time / libsattn time\n")
    print("| B x H x L x D | problem | libsattn ms | TFLOP/s | Flex ms | SDPA flash ms | SDPA cuDNN ms | "
          "Flex / libsattn | cuDNN / libsattn |\n|---|---|---|---|---|---|---|---|---|")
    for shape in shapes.split(","):
        B, H, L, D = (int(x) for x in shape.split("x"))
        ours = run_bench(args.bench, str(B), str(H), str(L), str(D))
        theirs = peers(torch, B, H, L, D)
        for name, times in theirs.items():
            ms, kept, _ = ours.get(name, (None, None, ""))
            if name == "window_512_global_64" and kept is None:
                kept = B * H * window_pairs(L)
            print(f"| {shape} | {name} | {fmt(ms)} | {tflops(kept, D, ms)} | {fmt(times.get('Flex'))} | "
                  f"{fmt(times.get('SDPA flash'))} | {fmt(times.get('SDPA cuDNN'))} | "
                  f"{ratio(times.get('Flex'), ms)} | {ratio(times.get('SDPA cuDNN'), ms)} |", flush=True)
    if args.no_decode or args.quick:
        return
    print("\n| decode B1 Hq32 Hk8 D128 | libsattn ms | GB/s of K+V | SDPA flash ms | SDPA cuDNN ms | "
          "flash / libsattn | cuDNN / libsattn |\n|---|---|---|---|---|---|---|")
    ours = run_bench(args.bench, "--decode")
    for name, (ms, _, _) in ours.items():
        lq, lk = (int(x[2:]) for x in name.split("_")[1:])
        theirs = decode_peers(torch, lq, lk)
        gbs = "" if ms is None else f"{2 * 8 * lk * 128 * 2 / ms / 1e6:.0f}"
        print(f"| Lq {lq} Lk {lk} | {fmt(ms)} | {gbs} | {fmt(theirs.get('SDPA flash'))} | "
              f"{fmt(theirs.get('SDPA cuDNN'))} | {ratio(theirs.get('SDPA flash'), ms)} | "
              f"{ratio(theirs.get('SDPA cuDNN'), ms)} |", flush=True)


if __name__ == "__main__":
    main()

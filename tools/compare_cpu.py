#!/usr/bin/env python3
"""Side-by-side CPU comparison: libsattn against its peers on the same problems, in one run.

Peers, each measured in this same run on this same machine:
  * numpy's BLAS: the fp32 GEMM rate (2048^3, all threads) that the targets of docs/performance.md are ratios of;
  * PyTorch's scaled_dot_product_attention on the CPU (enable_gqa), when torch can be imported: dense attention of
    the same shape, dtype and causality (the sparse rows compare libsattn's sparse pattern with torch's dense one).
For sparse patterns the table also gives libsattn's speedup over its own dense causal run of the same shape and
the ideal one, 0.5 / density (density = kept pairs over all Lq x Lk pairs, from the plan), and their ratio.

  tools/compare_cpu.py                      # the 2-core target set (docs/performance.md), numpy peer, torch if any
  tools/compare_cpu.py --set=xeon           # the shapes of the Xeon table (issue targets against torch)
  tools/compare_cpu.py --set=decode         # decode: a few query rows over 32k keys, against memory speed and torch
  tools/compare_cpu.py --json=FILE          # also write the rows as JSON
Run from a checkout with the Release build (build/default) or with the sattn package installed. Timings are medians
of --reps runs after a warm-up; plan creation is outside the timing, as is the workspace (one per plan, reused).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
import sattn  # noqa: E402  (the checkout's package, unless an installed one comes first on sys.path)

# (label, shape, pattern, params, causal, precision) - shape = (B, Hq, Hk, L, D)
TARGET_SET = [
    ("dense fp32", (1, 8, 2, 4096, 64), "dense", {}, False, "fp32"),
    ("dense causal bf16", (1, 8, 2, 4096, 64), "dense", {}, True, "bf16"),
    ("sliding window 256 causal bf16", (1, 8, 2, 4096, 64), "sliding_window", {"window_size": 256}, True, "bf16"),
    ("block_topk 12% causal bf16", (1, 8, 2, 4096, 64), "block_topk", {"block_size": 64, "keep_ratio": 0.12}, True,
     "bf16"),
    ("block_local_global causal bf16", (1, 8, 2, 4096, 64), "block_local_global",
     {"block_size": 64, "local_blocks": 1, "global_tokens": 64}, True, "bf16"),
]
# Small and quick: what the test of this script runs.
SMOKE_SET = [
    ("dense causal fp32", (1, 4, 2, 320, 32), "dense", {}, True, "fp32"),
    ("dense causal bf16", (1, 4, 2, 320, 32), "dense", {}, True, "bf16"),
    ("sliding window 64 causal bf16", (1, 4, 2, 320, 32), "sliding_window", {"window_size": 64}, True, "bf16"),
]
XEON_SET = [
    ("dense causal fp32", (1, 8, 2, 2048, 64), "dense", {}, True, "fp32"),
    ("dense causal bf16", (1, 8, 2, 2048, 64), "dense", {}, True, "bf16"),
    ("dense causal bf16", (1, 8, 2, 8192, 64), "dense", {}, True, "bf16"),
    ("block_topk 12% causal bf16", (1, 8, 2, 8192, 64), "block_topk", {"block_size": 64, "keep_ratio": 0.12}, True,
     "bf16"),
    ("dense causal fp32", (1, 16, 16, 4096, 128), "dense", {}, True, "fp32"),
    ("dense causal bf16", (1, 16, 16, 4096, 128), "dense", {}, True, "bf16"),
    ("dense causal int8", (1, 8, 2, 8192, 64), "dense", {}, True, "int8"),
]


# Decode (label, (B, Hq, Hk, Lq, Lk, D), precision): causal, bottom-right (a new row sees every key before it). Bound
# by reading K and V, so the peers are numpy reading the same number of bytes and torch's SDPA over all keys.
DECODE_SET = [
    ("decode Lq 1 bf16", (1, 32, 8, 1, 32768, 128), "bf16"),
    ("decode Lq 4 bf16", (1, 32, 8, 4, 32768, 128), "bf16"),
    ("decode Lq 16 bf16", (1, 32, 8, 16, 32768, 128), "bf16"),
    ("decode Lq 1 fp32", (1, 32, 8, 1, 32768, 128), "fp32"),
]
DECODE_SMOKE_SET = [("decode Lq 1 bf16", (1, 8, 2, 1, 2048, 64), "bf16")]


def median_seconds(fn, reps, budget_s):
    fn()  # warm-up: first touch of outputs, thread pools
    times = []
    started = time.perf_counter()
    while len(times) < reps or (len(times) < 3 * reps and time.perf_counter() - started < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= reps and time.perf_counter() - started >= budget_s:
            break
    return statistics.median(times)


def numpy_gemm_gflops(reps, n):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return 2.0 * n**3 / median_seconds(lambda: a @ b, reps, 2.0) / 1e9


def bf16_dtype():
    import ml_dtypes  # the bf16 extra of the sattn package

    return ml_dtypes.bfloat16


def make_inputs(shape, precision, seed=1, q_len=None):
    batch, hq, hk, length, dim = shape
    rng = np.random.default_rng(seed)
    q, k, v = (rng.uniform(-1, 1, (batch, h, n, dim)).astype(np.float32)
               for h, n in ((hq, length if q_len is None else q_len), (hk, length), (hk, length)))
    if precision == "bf16":
        q, k, v = (x.astype(bf16_dtype()) for x in (q, k, v))
    return q, k, v


class Sattn:
    """One libsattn plan with its inputs, output and workspace, ready to time."""

    def __init__(self, shape, pattern, params, causal, precision, backend, q_len=None):
        self.q, self.k, self.v = make_inputs(shape, precision, q_len=q_len)
        self.plan = sattn.Plan.for_arrays(self.q, self.k, self.v, pattern=pattern, params=params, causal=causal,
                                          precision=precision, backend=backend)
        self.out = np.empty(self.q.shape[:3] + (self.v.shape[3],), dtype=self.q.dtype)
        self.workspace = self.plan.new_workspace()

    def __call__(self):
        self.plan.run(self.q, self.k, self.v, out=self.out, workspace=self.workspace)


def torch_sdpa(shape, causal, precision, q_len=None):
    """A callable running torch's CPU SDPA on the problem's dense shape, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    q, k, v = make_inputs(shape, "fp32", q_len=q_len)
    # torch's CPU SDPA has no integer path: int8/int4 rows compare with its bf16, the fastest it has.
    dtype = torch.float32 if precision == "fp32" else torch.bfloat16
    tq, tk, tv = (torch.from_numpy(x).to(dtype) for x in (q, k, v))
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def run():
        with torch.inference_mode():
            sdpa(tq, tk, tv, is_causal=causal, enable_gqa=shape[1] != shape[2])

    return run


def describe_machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs"


def numpy_read_gbps(nbytes, reps):
    """numpy summing an array of nbytes (one thread): the speed at which memory streams in."""
    data = np.ones(nbytes // 4, dtype=np.float32)
    return nbytes / median_seconds(lambda: np.add.reduce(data), reps, 1.0) / 1e9


def decode_main(options, problems, have_torch):
    """The decode table: libsattn's time, the K and V bytes it reads per second, numpy's read speed, torch."""
    smoke = options.set == "decode-smoke"
    header = (f"{'problem':<20} {'B Hq Hk Lq Lk D':<22} {'libsattn ms':>11} {'K+V GB/s':>9} {'numpy read':>10} "
              f"{'x read':>7} {'torch ms':>9} {'torch/ours':>10}  kernel")
    print(header)
    print("-" * len(header))
    rows = []
    for label, (batch, hq, hk, q_len, kv_len, dim), precision in problems:
        shape = (batch, hq, hk, kv_len, dim)
        run = Sattn(shape, "dense", {}, True, precision, options.backend, q_len=q_len)
        budget_s = 0.2 if smoke else 2.0
        ms = median_seconds(run, options.reps, budget_s) * 1e3
        kv_bytes = run.k.nbytes + run.v.nbytes
        gbps = kv_bytes / (ms * 1e-3) / 1e9
        read = numpy_read_gbps(kv_bytes, options.reps)
        torch_ms = None
        if have_torch:  # all keys (torch's is_causal aligns top-left; bottom-right causal keeps them all for Lq 1)
            torch_ms = median_seconds(torch_sdpa(shape, False, precision, q_len=q_len), options.reps, budget_s) * 1e3
        row = dict(problem=label, shape=dict(B=batch, Hq=hq, Hk=hk, Lq=q_len, Lk=kv_len, D=dim), precision=precision,
                   ms=ms, kv_gbps=gbps, numpy_read_gbps=read, of_numpy_read=gbps / read, torch_ms=torch_ms,
                   kernel=f"{run.plan.info['backend']}:{run.plan.info['kernel']}")
        rows.append(row)
        torch_text = f"{torch_ms:>9.3f} {torch_ms / ms:>10.2f}" if torch_ms else f"{'-':>9} {'-':>10}"
        print(f"{label:<20} {' '.join(map(str, (batch, hq, hk, q_len, kv_len, dim))):<22} {ms:>11.3f} {gbps:>9.1f} "
              f"{read:>10.1f} {gbps / read:>7.2f} {torch_text}  {row['kernel']}")
        run.plan.close()
    print("\nK+V GB/s = bytes of K and V over the time (what a decode step must read); numpy read = numpy summing "
          "an array of as many bytes (one thread); torch runs SDPA over all keys; torch/ours > 1: libsattn is faster.")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("targets", "xeon", "smoke", "decode", "decode-smoke"), default="targets")
    parser.add_argument("--backend", default=None, help="libsattn backend (default: automatic selection)")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per measurement (median), at least")
    parser.add_argument("--no-torch", action="store_true", help="leave torch out even when it is installed")
    parser.add_argument("--json", default=None, help="also write the rows as JSON to this file")
    options = parser.parse_args()

    have_torch = not options.no_torch and torch_sdpa((1, 1, 1, 8, 8), False, "fp32") is not None
    print(f"machine: {describe_machine()}; libsattn {sattn.version()}; "
          f"torch: {__import__('torch').__version__ if have_torch else 'not installed'}")
    if options.set.startswith("decode"):
        rows = decode_main(options, DECODE_SET if options.set == "decode" else DECODE_SMOKE_SET, have_torch)
        if options.json:
            with open(options.json, "w", encoding="utf-8") as f:
                json.dump(dict(machine=describe_machine(), rows=rows), f, indent=2)
        return
    problems = {"targets": TARGET_SET, "xeon": XEON_SET, "smoke": SMOKE_SET}[options.set]
    gemm = numpy_gemm_gflops(options.reps, 256 if options.set == "smoke" else 2048)
    print(f"numpy fp32 GEMM ({256 if options.set == 'smoke' else 2048}^3, all threads): {gemm:.1f} GFLOP/s\n")

    header = (f"{'problem':<34} {'B Hq Hk L D':<18} {'libsattn ms':>11} {'GFLOP/s':>8} {'x GEMM':>7} "
              f"{'speedup':>8} {'ideal':>6} {'of ideal':>8} {'torch ms':>9} {'torch/ours':>10}  kernel")
    print(header)
    print("-" * len(header))
    rows = []
    dense_causal_ms = {}
    for label, shape, pattern, params, causal, precision in problems:
        run = Sattn(shape, pattern, params, causal, precision, options.backend)
        budget_s = 0.2 if options.set == "smoke" else 2.0
        ms = median_seconds(run, options.reps, budget_s) * 1e3
        stats = run.plan.stats
        batch, hq, hk, length, dim = shape
        kept = stats["kept_pairs"] if stats["kept_pairs"] > 0 else batch * hq * length * length * (0.5 if causal else 1)
        density = kept / (batch * hq * length * length)
        gflops = 4.0 * kept * dim / (ms * 1e-3) / 1e9
        key = (shape, precision, causal)
        if pattern == "dense" and causal:
            dense_causal_ms[key] = ms
        speedup = ideal = None
        if pattern != "dense" and key in dense_causal_ms:
            speedup, ideal = dense_causal_ms[key] / ms, 0.5 / density
        torch_ms = None
        if have_torch:
            torch_ms = median_seconds(torch_sdpa(shape, causal, precision), options.reps, budget_s) * 1e3
        row = dict(problem=label, shape=dict(zip(("B", "Hq", "Hk", "L", "D"), shape)), pattern=pattern, params=params,
                   causal=causal, precision=precision, ms=ms, gflops=gflops, of_numpy_gemm=gflops / gemm,
                   density=density, speedup_over_dense_causal=speedup, ideal_speedup=ideal, torch_ms=torch_ms,
                   kernel=f"{run.plan.info['backend']}:{run.plan.info['kernel']}")
        rows.append(row)

        def fmt(x, spec):  # spec: ">W.2f"; a missing value is a dash of the same width
            return format(x, spec) if x is not None else format("-", spec.split(".")[0])

        print(f"{label:<34} {' '.join(map(str, shape)):<18} {ms:>11.2f} {gflops:>8.1f} {gflops / gemm:>7.2f} "
              f"{fmt(speedup, '>8.2f')} {fmt(ideal, '>6.2f')} "
              f"{fmt(speedup / ideal if speedup else None, '>8.2f')} {fmt(torch_ms, '>9.2f')} "
              f"{fmt(torch_ms / ms if torch_ms else None, '>10.2f')}  {row['kernel']}")
        run.plan.close()
    print("\nGFLOP/s = 4 * kept pairs * D / time; x GEMM = that over numpy's fp32 GEMM rate; speedup = over "
          "libsattn's dense causal of the same shape; ideal = 0.5 / density; torch/ours > 1: libsattn is faster "
          "(torch runs dense attention of the same shape and causality; int8/int4 rows: torch in bf16).")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as f:
            json.dump(dict(machine=describe_machine(), numpy_gemm_gflops=gemm, rows=rows), f, indent=2)


if __name__ == "__main__":
    main()

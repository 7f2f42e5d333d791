// sattn-bench --help: the options and the problem grammar.
#include "enum_names.hpp"
#include "options.hpp"

namespace sattn_bench {

std::string help_text() {
  return R"(usage: sattn-bench [OPTIONS] [PROBLEM ...]
A driver in the spirit of oneDNN's benchdnn: runs attention problems through libsattn in correctness mode
(against the exact CPU backend) or performance mode (median time, TFLOP/s, speedup over dense attention).

Options:
  --mode=perf|corr|both|plan
                         perf (default): time each problem; corr: compare with the exact backend; both: corr, then
                         perf; plan: time sattn_plan_create alone (no tensors are made, so any length works) and
                         report the host memory and spans the plan holds. Without problems the default set runs in
                         mode both.
  --backend=NAME         run on this backend only (sattn-info lists them); default: automatic selection (the best backend)
                         for the default set. $SATTN_BACKEND overrides it as it does for every libsattn program.
                         --backend=cuda puts the tensors on the GPU (through the CUDA driver, loaded at run time)
                         and times each run with CUDA events; outputs come back to the host for the correctness check.
  --reps=N               timed runs per problem; the median is reported, after one untimed warm-up run. Default:
                         as many as fit in about two seconds (at most 100; at least 3 unless a run takes
                         more than 1.7 s).
  --threads=N            CPU threads (default: all cores).
  --compare-dense=yes|no perf: also time the problem with pattern=dense for the speedup column (default yes); no
                         runs only the problem itself (tools/count-insns.sh counts its instructions that way).
  --warm-up=yes|no       perf with --reps: the untimed warm-up run before the timed ones (default yes).
  --seed=S               seed of the random inputs (default 1). The inputs depend only on the seed and the shapes.
  --json=FILE            also write the results as JSON to FILE ("-" for standard output).
  --batch=FILE           read problems from FILE, one per line; '#' starts a comment. May be repeated.
  --help                 this text.

Problems:
  A problem is one line of words, e.g.
    b1hq8hk2lq4096lk4096d64 pattern=block_topk block_size=64 keep_ratio=0.12 causal precision=bf16 dtype=f32
  On the command line an argument that starts with a shape word, or holds several words (quote it), starts a new
  problem; the following plain arguments add words to it.

  Shape word: <dim><N> repeated, in any order: b (batch), hq (num_q_heads), hk (num_kv_heads), lq (q_len),
    lk (kv_len), d (head_dim), dv (head_dim_v). lq and d are required; b and hq default to 1, hk to hq, lk to lq,
    dv to d. Each is also accepted as key=value by either name (hq=8 or num_q_heads=8).
  Descriptor fields (sattn_attention_desc):
    pattern=NAME         )" +
         sattn_tools::accepted_pattern_names() + R"(
                         (sliding_global is sliding_window, bsr is block_topk; default auto)
    precision=NAME       )" +
         sattn_tools::accepted_precision_names() + R"( (default fp32)
    dtype=NAME           of Q, K, V and O: )" +
         sattn_tools::accepted_dtype_names() + R"( (default f32)
    scale=X              softmax scale (default 0 = 1/sqrt(head_dim))
    causal, want_lse     the flags; or flags=causal|want_lse, or flags=N
  Pattern parameters (sattn_pattern_params, docs/patterns.md says what each means; unset ones keep the header
  defaults):
    window_size=N dilation=N wrap=0|1 global_tokens=N          sliding_window (dilation defaults to 1)
    block_size=N keep_ratio=X topk_blocks=N comp_block_size=N  block_topk (block_size also block_local_global,
                                                               block_mask; a tile hint to the reference backend)
    local_blocks=N                                             block_local_global (default 1)
    nm_n=N nm_m=N, or nm=N:M                                   nm_structured
    topk_k=N                                                   topk_per_query
    lsh_buckets=N lsh_seed=N                                   lsh
    num_landmarks=N landmark_iters=N                           landmark (not defined with causal)
    scale_q=X scale_k=X scale_v=X                              int8/int4 quantisation scales (0 = computed)
  Bench-only field:
    mask_density=X       block_mask: the bench passes a random [B, 1, ceil(Lq/b), ceil(Lk/b)] block mask keeping
                         each block with probability X (default 0.25) and every block on the diagonal.
  Integers may be written in hexadecimal (0x...). A problem text the grammar or the library rejects as invalid
  stops the run before anything runs, with exit code 2.

Correctness: inputs are uniform in [-2, 2]; the problem runs on the chosen backend and on the exact backend (reference,
  precision fp32, the same pattern and inputs). rel.err = max |O - O_exact| / max |O_exact|; it passes within the
  tolerance of the problem's precision (docs/patterns.md): fp32 1e-4, bf16 and fp16 2e-2, int8 4e-2, int4 5e-1;
  with 16-bit tensors at least one unit in the last place of the output type (bf16 2^-7, f16 2^-10), since both
  outputs are rounded to it.
Performance: TFLOP/s counts only kept (query, key) pairs: 2 * kept_pairs * (head_dim + head_dim_v) per run, with
  kept_pairs from sattn_plan_get_stats. The speedup is over the same problem with pattern=dense on the same backend
  and precision, timed in the same run.
Results: PASS / FAIL (correctness), OK (timed), UNSUPPORTED (the backend does not implement it: not a failure),
  ERROR (a run failed).
Exit codes: 0 all passed; 1 a problem failed or hit an error; 2 bad options or problem text.
)";
}

}  // namespace sattn_bench

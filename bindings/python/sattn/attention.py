"""sparse_attention: one call from numpy arrays to the attention output."""
from ._arrays import as_inputs
from ._names import pattern_code, pattern_code_of
from .errors import SattnNotSupported
from .plan import Plan


def sparse_attention(Q, K, V, pattern="dense", params=None, precision="fp32", training=False, *, causal=False,
                     scale=None, backend=None, return_lse=False, block_mask=None):
    """Sparse attention forward pass on numpy arrays.

    Q [B, Hq, Lq, D], K [B, Hk, Lk, D], V [B, Hk, Lk, Dv] of any strides ([B, L, H, D] memory works as
    np.transpose(x, (0, 2, 1, 3))), float32, float16 or ml_dtypes.bfloat16 (float64 is converted to float32).
    Returns a new O [B, Hq, Lq, Dv] with the dtype of Q, or (O, LSE) with return_lse (LSE float32 [B, Hq, Lq],
    natural log).

    pattern: a docs/patterns.md name ("dense", "sliding_window", "block_topk", "block_local_global", "nm_structured",
    "topk_per_query", "lsh", "landmark", "block_mask", "auto") or alias ("sliding_global", "bsr").
    params: dict keyed by sattn_pattern_params field names, e.g. {"block_size": 64, "keep_ratio": 0.12}.
    precision: "fp32", "bf16", "fp16", "int8" or "int4". scale: None = 1/sqrt(D). backend: a backend name or None
    (automatic). block_mask: uint8/bool [B or 1, Hq or 1, ceil(Lq/b), ceil(Lk/b)] for pattern "block_mask" (a
    batch-1 or one-head mask applies to every batch or head).
    training=True asks for the backward pass, which is not supported yet (raises SattnNotSupported).
    """
    if training:
        raise SattnNotSupported("backward pass not supported yet: libsattn computes the forward pass only "
                                "(call with training=False)")
    code = pattern_code(pattern)
    block_mask_code = pattern_code_of("block_mask")
    if block_mask is not None and code != block_mask_code:
        raise ValueError(f"block_mask is only read by pattern 'block_mask', not {pattern!r}")
    if block_mask is None and code == block_mask_code:
        raise ValueError("pattern 'block_mask' needs block_mask=[B or 1, Hq or 1, ceil(Lq/b), ceil(Lk/b)] and "
                         "params={'block_size': b}")
    Q, K, V = as_inputs(Q, K, V)
    with Plan.for_arrays(Q, K, V, pattern=code, params=params, precision=precision, causal=causal, scale=scale,
                         want_lse=return_lse, backend=backend) as plan:
        return plan.run(Q, K, V, block_mask=block_mask)

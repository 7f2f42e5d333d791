"""Every precision on a few patterns, within the SPEC.md tolerance of the float64 reference; float16 inputs."""
import numpy as np
import pytest
from attention_reference import quantised_reference, reference_attention
from sattn_test_helpers import FLOAT16_OUTPUT_TOLERANCE, TOLERANCE, assert_matches, random_qkv, require_module

import sattn
from sattn import sparse_attention

PATTERNS = {
    "dense": ("dense", {}),
    "sliding_window": ("sliding_window", {"window_size": 8}),
    "block_topk": ("block_topk", {"block_size": 16, "keep_ratio": 0.37}),
    "topk_per_query": ("topk_per_query", {"topk_k": 12}),
}


# SPEC.md's int4 tolerance (1.5e-1) is tighter than the error of the int4 scheme SPEC.md itself prescribes on these
# inputs (uniform in [-2, 2], D = 32): an exact float64 simulation of that scheme is 0.16 - 0.21 away from the exact
# result, and the library matches the simulation to 1e-6 (test_integer_precisions_compute_the_spec_scheme). Until
# SPEC.md is revised (reported on the issue), int4 is held to the bound the scheme itself reaches here.
INT4_SCHEME_BOUND = 0.25


def _tolerance(precision):
    return INT4_SCHEME_BOUND if precision == "int4" else TOLERANCE[precision]


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("precision", list(TOLERANCE))
@pytest.mark.parametrize("case", list(PATTERNS))
def test_precision_within_spec_tolerance(case, precision, causal):
    pattern, params = PATTERNS[case]
    q, k, v = random_qkv(31 + len(case) + len(precision), 1, 4, 2, 67, 67, 32)
    out, lse = sparse_attention(q, k, v, pattern=pattern, params=params, precision=precision, causal=causal,
                                return_lse=True)
    ref_out, ref_lse = reference_attention(q, k, v, pattern, params, causal=causal)
    assert_matches(out, ref_out, _tolerance(precision), lse, ref_lse)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("precision", ["int8", "int4"])
@pytest.mark.parametrize("case", list(PATTERNS))
def test_integer_precisions_compute_the_spec_scheme(case, precision, causal):
    """Against an exact simulation of SPEC.md's quantisation (per-tensor symmetric scales, integer dot products):
    only fp32 softmax rounding may differ."""
    pattern, params = PATTERNS[case]
    q, k, v = random_qkv(35 + len(case) + len(precision), 1, 4, 2, 67, 67, 32)
    out, lse = sparse_attention(q, k, v, pattern=pattern, params=params, precision=precision, causal=causal,
                                return_lse=True)
    ref_out, ref_lse = quantised_reference(q, k, v, precision, pattern, params, causal=causal)
    assert_matches(out, ref_out, TOLERANCE["fp32"], lse, ref_lse)


@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_explicit_quantisation_scales_equal_the_computed_ones(precision):
    """scale_q/k/v given as max|x| / qmax must give what the library computes when they are left at 0."""
    qmax = 127.0 if precision == "int8" else 7.0
    q, k, v = random_qkv(41, 1, 2, 2, 45, 45, 16)
    params = {"window_size": 6}
    computed = sparse_attention(q, k, v, pattern="sliding_window", params=params, precision=precision)
    explicit = dict(params, scale_q=np.abs(q).max() / qmax, scale_k=np.abs(k).max() / qmax,
                    scale_v=np.abs(v).max() / qmax)
    given = sparse_attention(q, k, v, pattern="sliding_window", params=explicit, precision=precision)
    np.testing.assert_allclose(given, computed, rtol=0, atol=1e-5)
    # Other explicit scales are honoured too: twice the computed step is a different, exactly known computation.
    coarse = dict(params, scale_q=2 * explicit["scale_q"], scale_k=2 * explicit["scale_k"],
                  scale_v=2 * explicit["scale_v"])
    out = sparse_attention(q, k, v, pattern="sliding_window", params=coarse, precision=precision)
    ref_out, _ = quantised_reference(q, k, v, precision, "sliding_window", coarse)
    assert_matches(out, ref_out, TOLERANCE["fp32"])


@pytest.mark.parametrize("precision,tol", [("fp16", TOLERANCE["fp16"]), ("fp32", FLOAT16_OUTPUT_TOLERANCE)])
@pytest.mark.parametrize("case", ["dense", "sliding_window", "block_topk"])
def test_float16_inputs_give_float16_output(case, precision, tol):
    pattern, params = PATTERNS[case]
    q, k, v = random_qkv(51, 2, 4, 1, 50, 58, 24, dtype=np.float16)
    out, lse = sparse_attention(q, k, v, pattern=pattern, params=params, precision=precision, causal=True,
                                return_lse=True)
    assert out.dtype == np.float16
    # The reference reads the same float16 values, widened.
    ref_out, ref_lse = reference_attention(q, k, v, pattern, params, causal=True)
    assert_matches(out, ref_out, tol, lse, ref_lse)


# ---- bfloat16 arrays (ml_dtypes, the optional extra sattn[bf16]) ----------------------------------------------------
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("case", list(PATTERNS))
def test_bfloat16_inputs_give_bfloat16_output(case, precision, causal):
    """Q, K, V as ml_dtypes.bfloat16 go to the library as SATTN_DTYPE_BF16 tensors; O comes back bfloat16, within
    the bf16 tolerance of the float64 reference on the same (widened) values; LSE stays float32."""
    ml_dtypes = require_module("ml_dtypes")
    pattern, params = PATTERNS[case]
    q, k, v = (x.astype(ml_dtypes.bfloat16) for x in random_qkv(61 + len(case), 2, 4, 2, 53, 61, 24))
    out, lse = sparse_attention(q, k, v, pattern=pattern, params=params, precision=precision, causal=causal,
                                return_lse=True)
    assert out.dtype == ml_dtypes.bfloat16 and out.shape == (2, 4, 53, 24) and lse.dtype == np.float32
    ref_out, ref_lse = reference_attention(q, k, v, pattern, params, causal=causal)
    assert_matches(out.astype(np.float32), ref_out, TOLERANCE["bf16"], lse, ref_lse)


def test_bfloat16_plan_views_and_output_in_place():
    ml_dtypes = require_module("ml_dtypes")
    bf16 = np.dtype(ml_dtypes.bfloat16)
    q, k, v = random_qkv(67, 1, 4, 2, 40, 40, 16, dtype=bf16)
    q_blhd = np.ascontiguousarray(np.transpose(q, (0, 2, 1, 3)))
    q_view = np.transpose(q_blhd, (0, 2, 1, 3))  # [B, L, H, D] memory, passed without a copy
    out = np.zeros((1, 4, 40, 16), dtype=bf16)
    with sattn.Plan.for_arrays(q_view, k, v, pattern="sliding_window", params={"window_size": 7},
                               precision="bf16") as plan:
        assert plan.dtype == bf16
        assert plan.run(q_view, k, v, out=out) is out
        with pytest.raises(TypeError, match="dtype"):
            plan.run(q_view, k, v, out=np.zeros((1, 4, 40, 16), dtype=np.float32))
    ref_out, _ = reference_attention(q, k, v, "sliding_window", {"window_size": 7})
    assert_matches(out.astype(np.float32), ref_out, TOLERANCE["bf16"])
    # A plan for bfloat16 by name; mixed dtypes are refused.
    with sattn.Plan(batch=1, num_q_heads=4, num_kv_heads=2, q_len=40, head_dim=16, dtype="bf16") as plan:
        assert plan.dtype == bf16
    with pytest.raises(TypeError, match="share a dtype"):
        sparse_attention(q, k.astype(np.float32), v)

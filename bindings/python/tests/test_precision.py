"""Every precision on a few patterns, within the docs/patterns.md tolerance of the float64 reference; int8 and int4
also against the float64 simulation of their quantised computation, on keys with a per-channel bias (what K
smoothing is for), with given scales, and refusing non-finite inputs; float16 inputs."""
import numpy as np
import pytest
from attention_reference import quantised_reference, reference_attention
from sattn_test_helpers import (FLOAT16_OUTPUT_TOLERANCE, SIMULATION_TOLERANCE, TOLERANCE, assert_matches, random_qkv,
                                 require_module)

import sattn
from sattn import SattnError, sparse_attention

PATTERNS = {
    "dense": ("dense", {}),
    "sliding_window": ("sliding_window", {"window_size": 8}),
    "block_topk": ("block_topk", {"block_size": 16, "keep_ratio": 0.37}),
    "topk_per_query": ("topk_per_query", {"topk_k": 12}),
    "landmark": ("landmark", {"num_landmarks": 7, "landmark_iters": 2}),
}
INTEGER = ["int8", "int4"]
# B, Hq, Hk, Lq, Lk, D, Dv: GQA with Lq < Lk and odd sizes; Lq > Lk without GQA.
AWKWARD_SHAPES = {"gqa": (1, 6, 2, 45, 59, 37, 21), "lq>lk": (2, 3, 3, 61, 40, 24, 24)}


def _skip_undefined(case, causal):
    if case == "landmark" and causal:
        pytest.skip("landmark is not defined with causal")


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("precision", list(TOLERANCE))
@pytest.mark.parametrize("case", list(PATTERNS))
def test_precision_within_tolerance(case, precision, causal):
    _skip_undefined(case, causal)
    pattern, params = PATTERNS[case]
    key_bias = 3.0 if precision in INTEGER else 0.0
    q, k, v = random_qkv(31 + len(case) + len(precision), 1, 4, 2, 67, 67, 32, key_bias=key_bias)
    out, lse = sparse_attention(q, k, v, pattern=pattern, params=params, precision=precision, causal=causal,
                                return_lse=True)
    ref_out, ref_lse = reference_attention(q, k, v, pattern, params, causal=causal)
    assert_matches(out, ref_out, TOLERANCE[precision], lse, ref_lse)


@pytest.mark.parametrize("shape", list(AWKWARD_SHAPES))
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("precision", INTEGER)
@pytest.mark.parametrize("case", list(PATTERNS))
def test_integer_precisions_compute_the_quantised_simulation(case, precision, causal, shape):
    """Against the float64 simulation: only fp32 rounding of the softmax and P.V may differ. A key bias of 3 is
    about what trained keys carry; the exact result stays within the precision's tolerance too."""
    _skip_undefined(case, causal)
    pattern, params = PATTERNS[case]
    b, hq, hk, lq, lk, d, dv = AWKWARD_SHAPES[shape]
    q, k, v = random_qkv(35 + len(case) + len(precision) + len(shape), b, hq, hk, lq, lk, d, dv, key_bias=3.0)
    out, lse = sparse_attention(q, k, v, pattern=pattern, params=params, precision=precision, causal=causal,
                                return_lse=True)
    sim_out, sim_lse = quantised_reference(q, k, v, precision, pattern, params, causal=causal)
    assert_matches(out, sim_out, SIMULATION_TOLERANCE, lse, sim_lse)
    ref_out, _ = reference_attention(q, k, v, pattern, params, causal=causal)
    assert_matches(out, ref_out, TOLERANCE[precision])


@pytest.mark.parametrize("precision", INTEGER)
@pytest.mark.parametrize("case", ["sliding_window", "landmark"])
def test_given_quantisation_scales(case, precision):
    """Static (calibrated) scales: every row of Q and of the smoothed K, every channel of V shares the given one. A
    little above max |x| / qmax, nothing is clamped; at a third of that, much is, and the simulation still holds."""
    qmax = 127.0 if precision == "int8" else 7.0
    pattern, params = PATTERNS[case]
    q, k, v = random_qkv(41, 1, 4, 2, 45, 52, 16, key_bias=3.0)
    smoothed = k - k.mean(axis=2, keepdims=True)
    # Landmark quantises its landmarks, means of about seven keys and values: well inside these bounds.
    calibrated = dict(params, scale_q=2.1 / qmax, scale_k=1.05 * np.abs(smoothed).max() / qmax, scale_v=2.1 / qmax)
    out = sparse_attention(q, k, v, pattern=pattern, params=calibrated, precision=precision)
    sim_out, _ = quantised_reference(q, k, v, precision, pattern, calibrated)
    assert_matches(out, sim_out, SIMULATION_TOLERANCE)
    ref_out, _ = reference_attention(q, k, v, pattern, params)
    assert_matches(out, ref_out, TOLERANCE[precision])

    clamped = dict(params, scale_q=calibrated["scale_q"] / 3, scale_k=calibrated["scale_k"] / 3,
                   scale_v=calibrated["scale_v"] / 3)
    out = sparse_attention(q, k, v, pattern=pattern, params=clamped, precision=precision)
    sim_out, _ = quantised_reference(q, k, v, precision, pattern, clamped)
    assert_matches(out, sim_out, SIMULATION_TOLERANCE)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("tensor", ["q", "k", "v"])
@pytest.mark.parametrize("precision", INTEGER)
def test_integer_precisions_refuse_non_finite_inputs(precision, tensor, value):
    q, k, v = random_qkv(43, 2, 4, 2, 20, 30, 8)
    arrays = {"q": q, "k": k, "v": v}
    arrays[tensor][1, 1, 3, 2] = value
    with pytest.raises(SattnError, match=rf"{tensor} holds a non-finite value at \[1, 1, 3, 2\]") as excinfo:
        sparse_attention(q, k, v, pattern="sliding_window", params={"window_size": 4}, precision=precision)
    assert isinstance(excinfo.value, ValueError)  # SATTN_ERROR_INVALID_ARGUMENT


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
    _skip_undefined(case, causal)
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

"""Strided memory: [B, L, H, D] as transposed views, slices, broadcasts; what is copied and what is not."""
import numpy as np
import pytest
from attention_reference import reference_attention
from sattn_test_helpers import TOLERANCE, assert_matches, random_qkv, uniform

from sattn import Plan, _arrays, sparse_attention

BLHD_TO_BHLD = (0, 2, 1, 3)


def _blhd(rng, batch, length, heads, dim):
    """A [B, L, H, D] array seen as [B, H, L, D] (the strided view the library reads in place)."""
    return np.transpose(uniform(rng, (batch, length, heads, dim)), BLHD_TO_BHLD)


@pytest.mark.parametrize("pattern,params", [("dense", {}), ("block_topk", {"block_size": 16, "keep_ratio": 0.37}),
                                            ("sliding_window", {"window_size": 7})])
def test_blhd_views_match_and_are_not_copied(pattern, params):
    rng = np.random.default_rng(61)
    q, k, v = _blhd(rng, 2, 45, 6, 16), _blhd(rng, 2, 59, 2, 16), _blhd(rng, 2, 59, 2, 12)
    for name, view in (("Q", q), ("K", k), ("V", v)):
        assert _arrays.as_input(view, name) is view, "a transposed view must be passed in place"
    out, lse = sparse_attention(q, k, v, pattern=pattern, params=params, causal=True, return_lse=True)
    ref_out, ref_lse = reference_attention(q, k, v, pattern, params, causal=True)
    assert_matches(out, ref_out, TOLERANCE["fp32"], lse, ref_lse)


def test_output_written_into_a_blhd_view():
    rng = np.random.default_rng(62)
    q, k, v = _blhd(rng, 1, 33, 4, 16), _blhd(rng, 1, 33, 4, 16), _blhd(rng, 1, 33, 4, 16)
    out_blhd = np.full((1, 33, 4, 16), 123.0, dtype=np.float32)
    out_view = np.transpose(out_blhd, BLHD_TO_BHLD)
    with Plan.for_arrays(q, k, v, pattern="dense", causal=True) as plan:
        result = plan.run(q, k, v, out=out_view)
    assert result is out_view
    ref_out, _ = reference_attention(q, k, v, "dense", causal=True)
    assert_matches(np.transpose(out_blhd, BLHD_TO_BHLD), ref_out, TOLERANCE["fp32"])


def test_sliced_views_with_offsets_and_steps():
    rng = np.random.default_rng(63)
    big_q = uniform(rng, (2, 5, 90, 40))
    big_k = uniform(rng, (2, 3, 70, 50))
    big_v = uniform(rng, (2, 3, 70, 50))
    q = big_q[:, 1:5:2, 3:87:2, 5:29]  # 2 heads, rows 3, 5, ..., 85, D = 24
    k = big_k[:, 2:3, 1:66, ::2][..., :24]  # column step 2
    v = big_v[:, 2:3, 1:66, 10:30]
    for name, view in (("Q", q), ("K", k), ("V", v)):
        assert _arrays.as_input(view, name) is view
    out = sparse_attention(q, k, v, pattern="topk_per_query", params={"topk_k": 10}, causal=True)
    ref_out, _ = reference_attention(q, k, v, "topk_per_query", {"topk_k": 10}, causal=True)
    assert_matches(out, ref_out, TOLERANCE["fp32"])


def test_kv_broadcast_over_batch_with_zero_stride():
    rng = np.random.default_rng(64)
    q = uniform(rng, (3, 2, 40, 16))
    k = np.broadcast_to(uniform(rng, (1, 1, 52, 16)), (3, 1, 52, 16))
    v = np.broadcast_to(uniform(rng, (1, 1, 52, 16)), (3, 1, 52, 16))
    assert _arrays.as_input(k, "K") is k and k.strides[0] == 0
    out = sparse_attention(q, k, v, pattern="sliding_window", params={"window_size": 4})
    ref_out, _ = reference_attention(q, k, v, "sliding_window", {"window_size": 4})
    assert_matches(out, ref_out, TOLERANCE["fp32"])


def test_negative_strides_are_copied():
    q, k, v = random_qkv(65, 1, 2, 2, 30, 30, 16)
    q_reversed, k_reversed = q[:, :, ::-1], k[:, ::-1, :, ::-1]
    assert _arrays.as_input(q_reversed, "Q") is not q_reversed
    out = sparse_attention(q_reversed, k_reversed, v, pattern="dense", causal=True)
    ref_out, _ = reference_attention(q_reversed, k_reversed, v, "dense", causal=True)
    assert_matches(out, ref_out, TOLERANCE["fp32"])


def test_strides_that_are_not_element_multiples_are_copied():
    """A float32 field of a packed record has a 5-byte stride: not addressable in elements."""
    rng = np.random.default_rng(66)
    packed = np.zeros((1, 2, 24, 16), dtype=np.dtype([("value", "<f4"), ("tag", "u1")]))
    packed["value"] = uniform(rng, packed.shape)
    q = packed["value"]
    assert q.strides[-1] == 5
    _, k, v = random_qkv(67, 1, 2, 2, 24, 24, 16)
    assert _arrays.as_input(q, "Q") is not q
    out = sparse_attention(q, k, v)
    ref_out, _ = reference_attention(q, k, v, "dense")
    assert_matches(out, ref_out, TOLERANCE["fp32"])


def test_float64_and_big_endian_inputs_are_converted():
    q, k, v = random_qkv(68, 1, 2, 1, 20, 26, 8)
    out = sparse_attention(q.astype(np.float64), k.astype(">f4"), v)
    assert out.dtype == np.float32
    ref_out, _ = reference_attention(q, k, v, "dense")
    assert_matches(out, ref_out, TOLERANCE["fp32"])


def test_outputs_that_cannot_be_addressed_are_refused():
    q, k, v = random_qkv(69, 1, 1, 1, 16, 16, 8)
    with Plan.for_arrays(q, k, v) as plan:
        with pytest.raises(ValueError, match="strides"):
            plan.run(q, k, v, out=np.zeros((1, 1, 16, 8), dtype=np.float32)[:, :, ::-1])
        with pytest.raises(TypeError, match="dtype"):
            plan.run(q, k, v, out=np.zeros((1, 1, 16, 8), dtype=np.float64))

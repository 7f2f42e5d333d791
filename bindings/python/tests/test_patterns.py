"""Every pattern, with and without causal, on GQA and on Lq < Lk / Lq > Lk, against the float64 reference."""
import zlib

import numpy as np
import pytest
from attention_reference import kept_mask, reference_attention
from sattn_test_helpers import TOLERANCE, assert_matches, random_qkv

import sattn
from sattn import Plan, sparse_attention

# (batch, Hq, Hk, Lq, Lk, D, Dv): lengths are not multiples of any block size used below.
SHAPES = {
    "gqa_square": (2, 4, 2, 77, 77, 24, 24),
    "q_shorter": (1, 3, 1, 29, 83, 16, 20),
    "q_longer": (1, 2, 2, 70, 45, 32, 32),
    "long_gqa4": (1, 8, 2, 203, 203, 40, 40),  # many blocks to choose among, 4 query heads per kv head
}

CASES = {
    "dense": ("dense", {}),
    "sliding_window": ("sliding_window", {"window_size": 5}),
    "sliding_window_dilated": ("sliding_window", {"window_size": 4, "dilation": 3}),
    "sliding_window_wrap": ("sliding_window", {"window_size": 6, "wrap": 1}),
    # 5 * 7 reaches past half of every Lk used: wrapped positions coincide and must count once.
    "sliding_window_wrap_dilated": ("sliding_window", {"window_size": 5, "dilation": 7, "wrap": 1}),
    "sliding_global": ("sliding_global", {"window_size": 3, "global_tokens": 5}),
    "block_topk_ratio": ("block_topk", {"block_size": 16, "keep_ratio": 0.37}),
    "block_topk_fixed_global": ("block_topk", {"block_size": 16, "topk_blocks": 2, "global_tokens": 20}),
    "block_topk_compressed": ("block_topk", {"block_size": 16, "keep_ratio": 0.37, "comp_block_size": 12}),
    "bsr": ("bsr", {"block_size": 8, "topk_blocks": 3, "comp_block_size": 4}),
    "block_local_global": ("block_local_global", {"block_size": 16, "global_tokens": 7}),
    "block_local_global_wide": ("block_local_global", {"block_size": 13, "local_blocks": 2}),
    "nm_structured": ("nm_structured", {"nm_n": 2, "nm_m": 5}),
    "topk_per_query": ("topk_per_query", {"topk_k": 9}),
    "lsh": ("lsh", {"lsh_buckets": 6, "lsh_seed": 1234}),
    "lsh_large_seed": ("lsh", {"lsh_buckets": 8, "lsh_seed": 2**63 + 12345}),
    "landmark": ("landmark", {"num_landmarks": 7}),
    "landmark_kmeans": ("landmark", {"num_landmarks": 6, "landmark_iters": 3}),
}


def _combinations():
    for case, (pattern, _) in CASES.items():
        for shape in SHAPES:
            for causal in (False, True):
                if pattern == "landmark" and causal:
                    continue  # not defined: tested as an error in test_errors.py
                yield pytest.param(case, shape, causal, id=f"{case}-{shape}-{'causal' if causal else 'full'}")


@pytest.mark.parametrize("case,shape,causal", list(_combinations()))
def test_pattern_matches_reference(case, shape, causal):
    pattern, params = CASES[case]
    b, hq, hk, lq, lk, d, dv = SHAPES[shape]
    q, k, v = random_qkv(zlib.crc32(f"{case}/{shape}/{causal}".encode()), b, hq, hk, lq, lk, d, dv)
    out, lse = sparse_attention(q, k, v, pattern=pattern, params=params, causal=causal, return_lse=True)
    assert out.dtype == np.float32 and out.shape == (b, hq, lq, dv)
    ref_out, ref_lse = reference_attention(q, k, v, pattern, params, causal=causal)
    assert_matches(out, ref_out, TOLERANCE["fp32"], lse, ref_lse)


@pytest.mark.parametrize("heads", ["per_head", "shared"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_block_mask(shape, causal, heads):
    b, hq, hk, lq, lk, d, dv = SHAPES[shape]
    block = 16
    q, k, v = random_qkv(7 + len(shape), b, hq, hk, lq, lk, d, dv)
    layout_heads = hq if heads == "per_head" else 1
    rng = np.random.default_rng(99)
    # Any non-zero byte keeps a block; 0 drops it (about half the blocks, some rows of blocks entirely).
    mask = rng.choice(np.array([0, 0, 1, 7], dtype=np.uint8),
                      size=sattn.block_mask_shape(b, layout_heads, lq, lk, block))
    params = {"block_size": block}
    out, lse = sparse_attention(q, k, v, pattern="block_mask", params=params, causal=causal, return_lse=True,
                                block_mask=mask)
    ref_out, ref_lse = reference_attention(q, k, v, "block_mask", params, causal=causal, block_mask=mask)
    assert_matches(out, ref_out, TOLERANCE["fp32"], lse, ref_lse)


@pytest.mark.parametrize("heads", ["per_head", "shared"])
@pytest.mark.parametrize("causal", [False, True])
def test_block_mask_of_batch_one_applies_to_every_batch(causal, heads):
    b, hq, hk, lq, lk, d, dv = SHAPES["gqa_square"]
    assert b > 1
    block = 16
    q, k, v = random_qkv(13 + len(heads), b, hq, hk, lq, lk, d, dv)
    layout_heads = hq if heads == "per_head" else 1
    mask = np.random.default_rng(5).choice(np.array([0, 1, 3], dtype=np.uint8),
                                           size=sattn.block_mask_shape(1, layout_heads, lq, lk, block))
    params = {"block_size": block}
    out, lse = sparse_attention(q, k, v, pattern="block_mask", params=params, causal=causal, return_lse=True,
                                block_mask=mask)
    ref_out, ref_lse = reference_attention(q, k, v, "block_mask", params, causal=causal, block_mask=mask)
    assert_matches(out, ref_out, TOLERANCE["fp32"], lse, ref_lse)
    # Exactly what the same mask repeated for every batch gives.
    expanded = np.repeat(mask, b, axis=0)
    out_expanded, lse_expanded = sparse_attention(q, k, v, pattern="block_mask", params=params, causal=causal,
                                                  return_lse=True, block_mask=expanded)
    np.testing.assert_array_equal(out, out_expanded)
    np.testing.assert_array_equal(lse, lse_expanded)


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_])
def test_block_mask_of_batch_one_is_passed_as_it_is(dtype):
    """No expansion to B and no copy: the library is given the caller's memory with shape[0] = 1."""
    q, k, v = random_qkv(14, 3, 2, 1, 40, 40, 16)
    mask = (np.random.default_rng(6).random(sattn.block_mask_shape(1, 2, 40, 40, 8)) < 0.5).astype(dtype)
    with Plan.for_arrays(q, k, v, pattern="block_mask", params={"block_size": 8}) as plan:
        args, _, _, keepalive = plan._prepare(q, k, v, None, None, mask)
        tensor = args.block_mask.contents
        assert tuple(tensor.shape) == mask.shape and tensor.data == mask.ctypes.data
        assert tuple(tensor.strides) == tuple(s // mask.itemsize for s in mask.strides)
        del keepalive
        assert plan.can_implement(q, k, v, block_mask=mask)
        out = plan.run(q, k, v, block_mask=mask)
    ref_out, _ = reference_attention(q, k, v, "block_mask", {"block_size": 8}, block_mask=mask)
    assert_matches(out, ref_out, TOLERANCE["fp32"])


def test_block_mask_accepts_bool():
    q, k, v = random_qkv(8, 1, 2, 1, 40, 40, 16)
    mask = np.random.default_rng(3).random(sattn.block_mask_shape(1, 2, 40, 40, 8)) < 0.4
    params = {"block_size": 8}
    out = sparse_attention(q, k, v, pattern="block_mask", params=params, block_mask=mask)
    ref_out, _ = reference_attention(q, k, v, "block_mask", params, block_mask=mask)
    assert_matches(out, ref_out, TOLERANCE["fp32"])


@pytest.mark.parametrize("causal", [False, True])
def test_empty_rows_give_zero_and_minus_inf(causal):
    """Lq > Lk: with causal the first Lq - Lk queries sit at negative positions and keep nothing; a block mask
    with a zero row of blocks empties rows without causal."""
    q, k, v = random_qkv(11, 1, 2, 1, 50, 30, 16)
    block = 10
    mask = np.ones(sattn.block_mask_shape(1, 1, 50, 30, block), dtype=np.uint8)
    mask[:, :, 1, :] = 0  # query rows 10..19 keep no block
    out, lse = sparse_attention(q, k, v, pattern="block_mask", params={"block_size": block}, causal=causal,
                                return_lse=True, block_mask=mask)
    empty = np.zeros(50, dtype=bool)
    empty[10:20] = True
    if causal:
        empty[:20] = True
    assert np.all(out[:, :, empty] == 0)
    assert np.all(np.isneginf(lse[:, :, empty]))
    assert np.all(np.isfinite(lse[:, :, ~empty]))
    assert not np.isnan(out).any()


def _auto_cases():
    yield "block_local_global", {"global_tokens": 5, "block_size": 16}
    yield "nm_structured", {"nm_n": 2, "nm_m": 4}
    yield "topk_per_query", {"topk_k": 6}
    yield "lsh", {"lsh_buckets": 4, "lsh_seed": 9}


@pytest.mark.parametrize("expected,params", list(_auto_cases()), ids=[name for name, _ in _auto_cases()])
def test_auto_follows_the_selection_rules(expected, params):
    q, k, v = random_qkv(21, 1, 4, 2, 61, 61, 16)
    with Plan.for_arrays(q, k, v, pattern="auto", params=params, want_lse=True) as plan:
        assert plan.info["pattern"] == expected, plan.info
        assert plan.info["reason"], "the plan says why it chose the pattern"
        out, lse = plan.run(q, k, v)
    ref_out, ref_lse = reference_attention(q, k, v, expected, params)
    assert_matches(out, ref_out, TOLERANCE["fp32"], lse, ref_lse)


def test_auto_cost_model_picks_a_pattern_and_computes_it():
    q, k, v = random_qkv(22, 1, 2, 2, 96, 96, 16)
    params = {"window_size": 8, "block_size": 16, "keep_ratio": 0.37}
    with Plan.for_arrays(q, k, v, pattern="auto", params=params, causal=True) as plan:
        chosen = plan.info["pattern"]
        assert chosen in ("sliding_window", "block_topk"), plan.info
        out = plan.run(q, k, v)
    ref_out, _ = reference_attention(q, k, v, chosen, params, causal=True)
    assert_matches(out, ref_out, TOLERANCE["fp32"])


@pytest.mark.parametrize("forced", ["sliding_window", "block_topk"])
def test_force_spec_overrides_auto(monkeypatch, forced):
    monkeypatch.setenv("SATTN_FORCE_SPEC", forced)
    q, k, v = random_qkv(23, 1, 2, 1, 48, 48, 16)
    params = {"window_size": 4, "block_size": 16, "keep_ratio": 0.37}
    with Plan.for_arrays(q, k, v, pattern="auto", params=params) as plan:
        assert plan.info["pattern"] == forced, plan.info


def test_plan_stats_count_the_kept_pairs():
    q, k, v = random_qkv(24, 2, 4, 2, 37, 53, 16)
    params = {"window_size": 3, "dilation": 2, "global_tokens": 2}
    expected = int(kept_mask(q, k, v, "sliding_window", params, causal=True).sum())
    with Plan.for_arrays(q, k, v, pattern="sliding_window", params=params, causal=True) as plan:
        plan.run(q, k, v)
        stats = plan.stats
    assert stats["kept_pairs"] == expected
    assert stats["density"] == pytest.approx(expected / (2 * 4 * 37 * 53))

"""The Plan lifecycle: reuse, info, workspace, can_implement, in-place outputs, closing, threads."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from attention_reference import reference_attention
from sattn_test_helpers import TOLERANCE, assert_matches, random_qkv

import sattn
from sattn import Plan, SattnError

SIZES = dict(batch=2, num_q_heads=4, num_kv_heads=2, q_len=57, kv_len=57, head_dim=16)
PARAMS = {"block_size": 16, "keep_ratio": 0.37, "global_tokens": 3}


def _inputs(seed):
    return random_qkv(seed, 2, 4, 2, 57, 57, 16)


def test_plan_is_reused_across_inputs():
    with Plan(**SIZES, pattern="block_topk", params=PARAMS, causal=True, want_lse=True) as plan:
        for seed in (101, 102, 103):
            q, k, v = _inputs(seed)
            out, lse = plan.run(q, k, v)
            ref_out, ref_lse = reference_attention(q, k, v, "block_topk", PARAMS, causal=True)
            assert_matches(out, ref_out, TOLERANCE["fp32"], lse, ref_lse)
        assert plan.stats["runs"] == 3


def test_a_reused_workspace_gives_the_same_results():
    with Plan(**SIZES, pattern="dense", causal=True) as plan:
        workspace = plan.new_workspace()
        assert workspace is None or workspace.size >= plan.workspace_size
        for seed in (105, 106):
            q, k, v = _inputs(seed)
            np.testing.assert_array_equal(plan.run(q, k, v, workspace=workspace), plan.run(q, k, v))
            # Any contiguous uint8 array of workspace_size + 64 bytes will do, wherever it starts.
            unaligned = np.empty(plan.workspace_size + 64 + 3, dtype=np.uint8)[3:]
            np.testing.assert_array_equal(plan.run(q, k, v, workspace=unaligned), plan.run(q, k, v))


def test_a_workspace_of_the_wrong_kind_or_size_is_refused():
    q, k, v = _inputs(107)
    with Plan(**SIZES, pattern="dense") as plan:
        with pytest.raises(ValueError, match="smaller"):
            plan.run(q, k, v, workspace=np.empty(plan.workspace_size + 63, dtype=np.uint8))
        with pytest.raises(TypeError, match="uint8"):
            plan.run(q, k, v, workspace=np.empty(plan.workspace_size + 64, dtype=np.float32))
        with pytest.raises(TypeError, match="uint8"):
            plan.run(q, k, v, workspace=bytearray(plan.workspace_size + 64))


def test_info_describes_the_plan():
    with Plan(**SIZES, pattern="bsr", params=PARAMS) as plan:
        info = plan.info
        assert info["pattern"] == "block_topk"
        assert info["backend"] in [b["name"] for b in sattn.backends()]
        assert info["kernel"] and info["reason"]
        assert 0.0 < info["density"] <= 1.0
        assert info["estimated_flops"] > 0 and info["estimated_bytes"] > 0
        assert info["workspace_size"] == plan.workspace_size >= 0
        assert plan.params["block_size"] == 16 and plan.params["dilation"] == 1
        assert plan.shape["num_kv_heads"] == 2
        assert "block_topk" in repr(plan)


def test_dense_plan_density_is_one():
    with Plan(**SIZES, pattern="dense") as plan:
        assert plan.info["density"] == pytest.approx(1.0)


def test_can_implement_and_check():
    q, k, v = _inputs(104)
    with Plan(**SIZES, pattern="dense") as plan:
        assert plan.can_implement(q, k, v)
        assert not plan.can_implement(q[:, :, :50], k, v)  # q_len differs from the plan's
        assert not plan.can_implement(q, k, v, out=np.empty((2, 4, 57, 8), dtype=np.float32))
        with pytest.raises(SattnError) as excinfo:
            plan.check(q, k[:, :, :50], v)
        assert str(excinfo.value)
        with pytest.raises(SattnError):
            plan.run(q[:1], k[:1], v[:1])


def test_outputs_are_written_in_place():
    q, k, v = _inputs(105)
    out = np.empty((2, 4, 57, 16), dtype=np.float32)
    lse = np.empty((2, 4, 57), dtype=np.float32)
    with Plan(**SIZES, pattern="sliding_window", params={"window_size": 5}) as plan:
        result = plan.run(q, k, v, out=out, lse=lse)  # lse optional although the plan did not ask for it
    assert result[0] is out and result[1] is lse
    ref_out, ref_lse = reference_attention(q, k, v, "sliding_window", {"window_size": 5})
    assert_matches(out, ref_out, TOLERANCE["fp32"], lse, ref_lse)


def test_close_and_context_manager():
    q, k, v = _inputs(106)
    with Plan(**SIZES) as plan:
        assert not plan.closed
    assert plan.closed and "closed" in repr(plan)
    with pytest.raises(SattnError, match="closed"):
        plan.run(q, k, v)
    plan.close()  # twice is harmless
    Plan(**SIZES).close()
    unclosed = Plan(**SIZES)
    del unclosed  # __del__ destroys it


def test_one_plan_runs_from_many_threads():
    inputs = [_inputs(110 + i) for i in range(6)]
    with Plan(**SIZES, pattern="topk_per_query", params={"topk_k": 7}, causal=True) as plan:
        with ThreadPoolExecutor(max_workers=3) as pool:
            outputs = list(pool.map(lambda qkv: plan.run(*qkv), inputs))
    for (q, k, v), out in zip(inputs, outputs):
        ref_out, _ = reference_attention(q, k, v, "topk_per_query", {"topk_k": 7}, causal=True)
        assert_matches(out, ref_out, TOLERANCE["fp32"])


def test_explicit_scale():
    q, k, v = _inputs(107)
    with Plan(**SIZES, pattern="dense", scale=0.05, want_lse=True) as plan:
        out, lse = plan.run(q, k, v)
    ref_out, ref_lse = reference_attention(q, k, v, "dense", scale=0.05)
    assert_matches(out, ref_out, TOLERANCE["fp32"], lse, ref_lse)


def test_cpu_backend_by_name():
    q, k, v = _inputs(108)
    with Plan(**SIZES, pattern="dense", backend="reference", strict=True, num_threads=1) as plan:
        assert plan.info["backend"] == "reference"
        out = plan.run(q, k, v)
    ref_out, _ = reference_attention(q, k, v, "dense")
    assert_matches(out, ref_out, TOLERANCE["fp32"])

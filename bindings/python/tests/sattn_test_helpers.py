"""Inputs and comparisons shared by the tests."""
import importlib
import os

import numpy as np
import pytest

# docs/patterns.md: max abs error / max abs of the float64 reference, per precision (CPU figures).
TOLERANCE = {"fp32": 1e-4, "bf16": 2e-2, "fp16": 2e-2, "int8": 4e-2, "int4": 5e-1}
# int8 / int4 against the float64 simulation of the quantised computation (attention_reference.quantised_reference):
# 2e-3 in general, 1e-4 for the CPU backend, which accumulates P.V in fp32.
SIMULATION_TOLERANCE = 1e-4
# fp32 computation whose output is stored as float16: the output rounding (2^-11 relative) dominates.
FLOAT16_OUTPUT_TOLERANCE = 2e-3


def uniform(rng, shape, dtype=np.float32):
    """Uniform in [-2, 2]: never zeros, never tiny."""
    return rng.uniform(-2.0, 2.0, size=shape).astype(dtype)


def biased_keys(rng, shape, bias, dtype=np.float32):
    """N(0, 1) plus, per (batch, kv head, channel), an offset of random sign and magnitude in [bias / 2, bias]: keys
    shaped like those of trained models, which the int8 / int4 smoothing of K is for."""
    batch, heads, _, d = shape
    signs = rng.choice([-1.0, 1.0], size=(batch, heads, 1, d))
    offsets = signs * rng.uniform(bias / 2, bias, size=(batch, heads, 1, d))
    return (rng.standard_normal(shape) + offsets).astype(dtype)


def random_qkv(seed, batch, hq, hk, lq, lk, d, dv=None, dtype=np.float32, key_bias=0.0):
    """Q [B, Hq, Lq, D], K [B, Hk, Lk, D], V [B, Hk, Lk, Dv] from a fixed seed; K from biased_keys when key_bias > 0."""
    rng = np.random.default_rng(seed)
    dv = d if dv is None else dv
    q = uniform(rng, (batch, hq, lq, d), dtype)
    if key_bias > 0:
        k = biased_keys(rng, (batch, hk, lk, d), key_bias, dtype)
    else:
        k = uniform(rng, (batch, hk, lk, d), dtype)
    return q, k, uniform(rng, (batch, hk, lk, dv), dtype)


def relative_error(actual, expected):
    """max |actual - expected| / max |expected| (the measure of docs/patterns.md)."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    err = np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected)) if expected.size else 0.0
    return err / scale if scale > 0 else err


def assert_matches(out, expected_out, tol, lse=None, expected_lse=None):
    """O within tol (relative_error); empty rows exactly O = 0 and LSE = -inf; LSE within tol of its own scale."""
    assert out.shape == expected_out.shape, (out.shape, expected_out.shape)
    assert not np.isnan(out).any(), "O contains NaN"
    err = relative_error(out, expected_out)
    assert err <= tol, f"O: max abs err / max abs ref = {err:.3g} > {tol:.3g}"
    if expected_lse is None:
        return
    assert lse is not None and lse.shape == expected_lse.shape, (None if lse is None else lse.shape)
    assert lse.dtype == np.float32
    assert not np.isnan(lse).any(), "LSE contains NaN"
    empty = np.isneginf(expected_lse)
    np.testing.assert_array_equal(np.isneginf(lse), empty, err_msg="LSE = -inf exactly on the empty rows")
    assert np.all(out[empty] == 0), "empty rows must give O = 0"
    if (~empty).any():
        lse_scale = max(1.0, float(np.max(np.abs(expected_lse[~empty]))))
        lse_err = float(np.max(np.abs(lse[~empty].astype(np.float64) - expected_lse[~empty])))
        assert lse_err <= tol * lse_scale, f"LSE: max abs err {lse_err:.3g} > {tol * lse_scale:.3g}"


# Modules some tests need beyond numpy and pytest (tools/install-deps.sh puts them in .venv). Without one, its tests
# are skipped, unless SATTN_REQUIRE_TEST_MODULES=1 (ctest sets it): then a missing module fails them.
def require_module(name):
    """The imported module, or a skip (a failure under SATTN_REQUIRE_TEST_MODULES=1) when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        message = f"needs the Python module {name} (tools/install-deps.sh installs it into .venv)"
        if os.environ.get("SATTN_REQUIRE_TEST_MODULES") == "1":
            pytest.fail(message)
        pytest.skip(message)

"""Errors: the library's refusals arrive as SattnError with the C message; Python-side misuse as ValueError /
TypeError with a useful message."""
import numpy as np
import pytest
from sattn_test_helpers import random_qkv

import sattn
from sattn import SattnError, SattnNotSupported, sparse_attention


def _assert_c_message(error, *keywords):
    """The message is the library's detail (not merely the status name) and mentions what is wrong."""
    message = str(error)
    assert message and message != error.status_name, f"no detail from sattn_last_error(): {message!r}"
    assert error.status_name.startswith("SATTN_ERROR_"), error.status_name
    assert error.status > 0
    if keywords:
        assert any(word in message.lower() for word in keywords), f"{message!r} names none of {keywords}"


@pytest.mark.parametrize("what", ["batch", "heads_not_divisible", "head_dim", "value_length", "value_batch"])
def test_bad_shapes_are_refused_by_the_library(what):
    q, k, v = random_qkv(71, 2, 4, 2, 20, 24, 16)
    if what == "batch":
        k = k[:1]
    elif what == "heads_not_divisible":
        q = np.concatenate([q, q[:, :1]], axis=1)  # 5 query heads over 2 kv heads
    elif what == "head_dim":
        k = k[..., :12]
    elif what == "value_length":
        v = v[:, :, :20]
    elif what == "value_batch":
        v = v[:1]
    with pytest.raises(SattnError) as excinfo:
        sparse_attention(q, k, v)
    _assert_c_message(excinfo.value)
    assert excinfo.value.status == 1 and excinfo.value.status_name == "SATTN_ERROR_INVALID_ARGUMENT"
    assert isinstance(excinfo.value, ValueError)


def test_nan_scale():
    q, k, v = random_qkv(72, 1, 1, 1, 8, 8, 8)
    with pytest.raises(SattnError) as excinfo:
        sparse_attention(q, k, v, scale=float("nan"))
    _assert_c_message(excinfo.value, "scale")


def test_zero_scale_is_refused_rather_than_read_as_the_default():
    q, k, v = random_qkv(82, 1, 1, 1, 8, 8, 8)
    with pytest.raises(ValueError, match="scale=None"):
        sparse_attention(q, k, v, scale=0.0)


def test_odd_lsh_buckets():
    q, k, v = random_qkv(73, 1, 1, 1, 8, 8, 8)
    with pytest.raises(SattnError) as excinfo:
        sparse_attention(q, k, v, pattern="lsh", params={"lsh_buckets": 5})
    _assert_c_message(excinfo.value, "bucket")


def test_landmark_with_causal_is_not_supported():
    q, k, v = random_qkv(74, 1, 1, 1, 16, 16, 8)
    with pytest.raises(SattnError) as excinfo:
        sparse_attention(q, k, v, pattern="landmark", params={"num_landmarks": 4}, causal=True)
    _assert_c_message(excinfo.value, "landmark", "causal")
    assert excinfo.value.status_name == "SATTN_ERROR_NOT_SUPPORTED"
    assert isinstance(excinfo.value, SattnNotSupported)


def test_block_mask_of_the_wrong_shape():
    q, k, v = random_qkv(75, 1, 2, 1, 32, 32, 8)
    mask = np.ones((1, 2, 3, 4), dtype=np.uint8)  # block 8 needs [1, 2 or 1, 4, 4]
    with pytest.raises(SattnError) as excinfo:
        sparse_attention(q, k, v, pattern="block_mask", params={"block_size": 8}, block_mask=mask)
    _assert_c_message(excinfo.value)


def test_block_mask_of_another_batch_count():
    """A mask's batch is B or 1: any other count is refused by the library."""
    q, k, v = random_qkv(77, 3, 2, 1, 32, 32, 8)
    mask = np.ones((2, 2, 4, 4), dtype=np.uint8)
    with pytest.raises(SattnError) as excinfo:
        sparse_attention(q, k, v, pattern="block_mask", params={"block_size": 8}, block_mask=mask)
    _assert_c_message(excinfo.value, "block_mask")


def test_unknown_backend():
    q, k, v = random_qkv(76, 1, 1, 1, 8, 8, 8)
    with pytest.raises(SattnError) as excinfo:
        sattn.Plan.for_arrays(q, k, v, backend="no-such-backend", strict=True)
    _assert_c_message(excinfo.value, "no-such-backend")


def test_training_raises_not_supported():
    q, k, v = random_qkv(77, 1, 1, 1, 8, 8, 8)
    with pytest.raises(SattnNotSupported, match="backward pass not supported yet") as excinfo:
        sparse_attention(q, k, v, training=True)
    assert isinstance(excinfo.value, NotImplementedError) and isinstance(excinfo.value, SattnError)
    assert excinfo.value.status_name == "SATTN_ERROR_NOT_SUPPORTED"


def test_unknown_params_key_lists_the_valid_ones():
    q, k, v = random_qkv(78, 1, 1, 1, 8, 8, 8)
    with pytest.raises(ValueError, match="window_sizes") as excinfo:
        sparse_attention(q, k, v, pattern="sliding_window", params={"window_sizes": 4})
    for field in ("window_size", "keep_ratio", "lsh_seed", "landmark_iters", "scale_v"):
        assert field in str(excinfo.value)
    assert "reserved" not in str(excinfo.value)


@pytest.mark.parametrize("params,error", [({"window_size": 2.5}, ValueError), ({"window_size": "4"}, TypeError),
                                          ({"lsh_seed": -1}, ValueError), ({"nm_n": 2**63}, ValueError)])
def test_bad_params_values(params, error):
    q, k, v = random_qkv(79, 1, 1, 1, 8, 8, 8)
    with pytest.raises(error):
        sparse_attention(q, k, v, pattern="sliding_window", params=params)


def test_unknown_pattern_and_precision():
    q, k, v = random_qkv(80, 1, 1, 1, 8, 8, 8)
    with pytest.raises(ValueError, match="sliding_global"):
        sparse_attention(q, k, v, pattern="sliding")
    with pytest.raises(ValueError, match="int4"):
        sparse_attention(q, k, v, precision="int2")


def test_python_side_misuse():
    q, k, v = random_qkv(81, 1, 1, 1, 8, 8, 8)
    with pytest.raises(ValueError, match="4-D"):
        sparse_attention(q[0], k, v)
    with pytest.raises(TypeError, match="dtype"):
        sparse_attention(q.astype(np.int32), k, v)
    with pytest.raises(TypeError, match="share a dtype"):
        sparse_attention(q, k.astype(np.float16), v)
    with pytest.raises(ValueError, match="block_mask"):
        sparse_attention(q, k, v, pattern="block_mask", params={"block_size": 4})
    with pytest.raises(ValueError, match="block_mask"):
        sparse_attention(q, k, v, block_mask=np.ones((1, 1, 2, 2), dtype=np.uint8))


def test_struct_size_larger_than_the_library_knows_is_refused():
    """The guard that catches a ctypes mirror drifting from the header: an unknown larger struct_size errors."""
    import ctypes

    from sattn import _loader, _structs

    desc = _structs.attention_desc_init()
    desc.q_len = desc.kv_len = desc.head_dim = desc.head_dim_v = 8
    desc.pattern = 1
    size = ctypes.sizeof(desc)
    padded = (ctypes.c_char * (size + 64))()  # room for the bytes a library might read: all zero
    ctypes.memmove(padded, ctypes.byref(desc), size)
    grown = ctypes.cast(padded, ctypes.POINTER(_structs.sattn_attention_desc))
    grown.contents.struct_size = size + 8
    handle = ctypes.c_void_p()
    lib = _loader.library()
    status = lib.sattn_plan_create(grown, None, ctypes.byref(handle))
    if status == 0:
        lib.sattn_plan_destroy(handle)
    assert status != 0, "a struct_size larger than the library's must be refused"
    assert lib.sattn_last_error().decode(), "with a message"

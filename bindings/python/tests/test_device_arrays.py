"""Device arrays in the Python package: objects with __cuda_array_interface__ (and torch CUDA tensors) become
CUDA tensors for the library, without copies. Without a GPU, a stand-in exposing the interface over host memory checks
the conversion and that host backends refuse it; with torch and a GPU the cuda backend is checked against the
reference backend."""
import numpy as np
import pytest
from sattn_test_helpers import TOLERANCE, assert_matches, random_qkv

from sattn import Plan, SattnError
from sattn import _structs as S
from sattn._device import DeviceArray, is_device_array


class FakeDeviceArray:
    """__cuda_array_interface__ (version 3) over a numpy array: what CuPy or Numba would describe."""

    def __init__(self, array, strides=True, readonly=False):
        self.array = array
        self.device = None
        typestr = {np.dtype(np.float32): "<f4", np.dtype(np.float16): "<f2", np.dtype(np.uint8): "|u1"}.get(
            array.dtype, "<V2")
        self.__cuda_array_interface__ = {
            "version": 3,
            "shape": array.shape,
            "typestr": typestr,
            "data": (array.ctypes.data, readonly),
            "strides": array.strides if strides else None,
        }


def test_interface_objects_become_cuda_tensors_with_element_strides():
    host = np.zeros((2, 3, 5, 8), dtype=np.float32).transpose(0, 2, 1, 3)  # [B, L, H, D] memory seen as BHLD
    fake = FakeDeviceArray(host)
    assert is_device_array(fake) and not is_device_array(host)
    tensor = DeviceArray(fake, "q").tensor()
    assert tensor.data == host.ctypes.data
    assert tensor.device_type == S.DEVICE_CUDA and tensor.device_id == 0
    assert tensor.dtype == S.DTYPE_F32 and tensor.ndim == 4
    assert list(tensor.shape) == [2, 5, 3, 8]
    assert list(tensor.strides) == [s // 4 for s in host.strides]


def test_contiguous_interface_without_strides_and_half_precision():
    host = np.zeros((1, 2, 3, 4), dtype=np.float16)
    view = DeviceArray(FakeDeviceArray(host, strides=False), "k")
    assert view.code == S.DTYPE_F16 and view.strides == (24, 12, 4, 1)


def test_unaddressable_strides_and_unknown_types_are_refused_by_name():
    host = np.zeros((1, 1, 4, 4), dtype=np.float32)
    fake = FakeDeviceArray(host)
    fake.__cuda_array_interface__["strides"] = (64, 64, 16, 2)  # 2 bytes is not a float32 element
    with pytest.raises(ValueError, match="q has strides"):
        DeviceArray(fake, "q")
    odd = FakeDeviceArray(np.zeros((1, 1, 2, 2), dtype=np.int16))
    with pytest.raises(TypeError, match="v has typestr"):
        DeviceArray(odd, "v")
    with pytest.raises(ValueError, match="out is read-only"):
        DeviceArray(FakeDeviceArray(host, readonly=True), "out", output=True)


def test_host_backends_refuse_device_arrays_naming_the_device():
    q, k, v = random_qkv(5, 1, 2, 2, 16, 16, 8)
    out = np.empty_like(q)
    with Plan(batch=1, num_q_heads=2, q_len=16, head_dim=8, backend="reference", strict=True) as plan:
        with pytest.raises(SattnError, match="device"):
            plan.run(FakeDeviceArray(q), FakeDeviceArray(k), FakeDeviceArray(v), out=FakeDeviceArray(out),
                     stream=0)


def test_mixed_host_and_device_arrays_are_refused_by_name():
    q, k, v = random_qkv(6, 1, 2, 2, 16, 16, 8)
    with Plan(batch=1, num_q_heads=2, q_len=16, head_dim=8) as plan:
        with pytest.raises(TypeError, match="k, v are host memory"):
            plan.run(FakeDeviceArray(q), k, v, out=FakeDeviceArray(np.empty_like(q)))
        with pytest.raises(TypeError, match="cannot allocate device memory"):
            plan.run(FakeDeviceArray(q), FakeDeviceArray(k), FakeDeviceArray(v))
        with pytest.raises(TypeError, match="stream is for device arrays"):
            plan.run(q, k, v, stream=0)


def _torch_cuda():
    torch = pytest.importorskip("torch", reason="torch is not installed (the device test needs torch with CUDA)")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device for torch")
    return torch


@pytest.mark.parametrize("pattern,params", [("dense", None), ("block_topk", {"block_size": 64, "keep_ratio": 0.3}),
                                            ("sliding_window", {"window_size": 20, "global_tokens": 4})])
def test_torch_tensors_on_the_cuda_backend_match_the_reference(pattern, params):
    torch = _torch_cuda()
    q, k, v = random_qkv(7, 2, 4, 2, 150, 190, 64)
    expected, expected_lse = None, None
    with Plan.for_arrays(q, k, v, pattern=pattern, params=params, causal=True, want_lse=True,
                         backend="reference") as plan:
        expected, expected_lse = plan.run(q, k, v)
    with Plan.for_arrays(q, k, v, pattern=pattern, params=params, causal=True, want_lse=True, backend="cuda",
                         strict=True) as plan:
        out, lse = plan.run(*[torch.from_numpy(x).cuda() for x in (q, k, v)])
        torch.cuda.synchronize()
    assert_matches(out.cpu().numpy(), expected, TOLERANCE["fp32"], lse.cpu().numpy(), expected_lse)


def test_a_device_workspace_and_stream_can_be_given():
    torch = _torch_cuda()
    q, k, v = random_qkv(8, 1, 4, 4, 3, 3000, 128)  # a decode shape: the plan needs a workspace
    with Plan.for_arrays(q, k, v, causal=True, backend="reference") as plan:
        expected = plan.run(q, k, v)
    tq, tk, tv = (torch.from_numpy(x).cuda() for x in (q, k, v))
    with Plan.for_arrays(q, k, v, causal=True, backend="cuda", strict=True) as plan:
        assert plan.workspace_size > 0
        workspace = torch.empty(plan.workspace_size, dtype=torch.uint8, device="cuda")
        stream = torch.cuda.Stream()
        out = torch.empty_like(tq)
        plan.run(tq, tk, tv, out=out, workspace=workspace, stream=stream)
        stream.synchronize()
        with pytest.raises(ValueError, match="smaller than"):
            plan.run(tq, tk, tv, workspace=workspace[:1])
    assert_matches(out.cpu().numpy(), expected, TOLERANCE["fp32"])


def test_plans_for_device_arrays_take_their_shapes_and_dtype():
    q, k, v = random_qkv(9, 2, 4, 2, 10, 12, 8)
    v = np.ascontiguousarray(v[..., :6])
    with Plan.for_arrays(FakeDeviceArray(q), FakeDeviceArray(k), FakeDeviceArray(v), backend="reference") as plan:
        info = plan.info
        assert (info["backend"], plan.dtype) == ("reference", np.float32)
        with pytest.raises(SattnError, match="device"):
            plan.run(FakeDeviceArray(q), FakeDeviceArray(k), FakeDeviceArray(v),
                     out=FakeDeviceArray(np.empty((2, 4, 10, 6), dtype=np.float32)))

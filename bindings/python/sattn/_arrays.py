"""numpy arrays <-> sattn_tensor views.

Arrays are passed with their own strides (converted to elements), so transposed or sliced views cost no copy. A copy
is made only when the library cannot address the memory: float64 (converted to float32), a byte order other than
the machine's, a data pointer or stride that is not a multiple of the element size, or a negative stride (sattn_tensor
strides are non-negative). Outputs are never copied: an output the library cannot address is an error.
Inputs are float32, float16 or bfloat16 (ml_dtypes.bfloat16, the optional extra `sattn[bf16]`).
"""
import numpy as np

from . import _structs as S
from ._names import compute_dtypes, dtype_code


def _addressable(array):
    """True when data pointer and strides are element multiples and non-negative (size-1 axes do not matter)."""
    itemsize = array.dtype.itemsize
    if not array.dtype.isnative or array.ctypes.data % itemsize:
        return False
    return all(extent <= 1 or (stride >= 0 and stride % itemsize == 0)
               for extent, stride in zip(array.shape, array.strides))


def _require_ndim(array, name, ndim, layout):
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {tuple(array.shape)}")


def as_input(array, name):
    """An input Q/K/V: 4-D float32, float16 or bfloat16 that the library can address, copied only when it must be."""
    array = np.asarray(array)
    _require_ndim(array, name, 4, "[B, H, L, D]")
    supported = compute_dtypes()
    if array.dtype == np.float64:
        array = array.astype(np.float32, order="K")
    elif array.dtype.kind == "f" and array.dtype.newbyteorder("=") in supported and not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="), order="K")
    if array.dtype not in supported:
        raise TypeError(f"{name} has dtype {array.dtype}; use float32, float16 or ml_dtypes.bfloat16 "
                        "(float64 is converted to float32)")
    if not _addressable(array):
        array = np.ascontiguousarray(array)
    return array


def as_inputs(q, k, v):
    """Q, K, V prepared by as_input; they must share a dtype (that of the computation and of the output)."""
    q, k, v = as_input(q, "Q"), as_input(k, "K"), as_input(v, "V")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"Q, K and V must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    return q, k, v


def as_output(array, name, dtype, ndim, layout):
    """A caller's output array, used in place: it must have the dtype and be writeable and addressable."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}")
    _require_ndim(array, name, ndim, layout)
    if array.dtype != np.dtype(dtype):
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {array.dtype}")
    if not array.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if not _addressable(array):
        raise ValueError(f"{name} has strides {array.strides} (bytes) that libsattn cannot address: "
                         "they must be non-negative multiples of the element size")
    return array


def as_block_mask(mask):
    """A block mask as uint8 [B or 1, Hq or 1, ceil(Lq/b), ceil(Lk/b)]; non-zero keeps the block.

    A mask of batch 1 (or of one head) is passed as it is: the library applies it to every batch (head), so it is
    neither expanded nor copied. uint8 and bool masks the library can address are not copied at all.
    """
    mask = np.asarray(mask)
    _require_ndim(mask, "block_mask", 4, "[B or 1, Hq or 1, ceil(Lq/b), ceil(Lk/b)]")
    if mask.dtype == np.bool_:
        mask = mask.view(np.uint8)
    elif mask.dtype != np.uint8:
        mask = (mask != 0).astype(np.uint8)  # astype alone would wrap 256 to 0
    if not _addressable(mask):
        mask = np.ascontiguousarray(mask)
    return mask


def make_tensor(array, dtype=None):
    """A sattn_tensor viewing a numpy array (the array must outlive every use of the tensor)."""
    code = S.DTYPE_U8 if array.dtype == np.uint8 else dtype_code(array.dtype) if dtype is None else dtype
    tensor = S.sattn_tensor()
    tensor.data = array.ctypes.data
    tensor.device_type = S.DEVICE_CPU
    tensor.device_id = 0
    tensor.dtype = code
    tensor.ndim = array.ndim
    itemsize = array.dtype.itemsize
    inner = 1  # extent of the axes to the right: a harmless stride for a size-1 axis numpy left odd
    for axis in reversed(range(array.ndim)):
        extent, stride = array.shape[axis], array.strides[axis]
        tensor.shape[axis] = extent
        usable = stride >= 0 and stride % itemsize == 0
        tensor.strides[axis] = stride // itemsize if usable else inner
        inner *= max(extent, 1)
    return tensor

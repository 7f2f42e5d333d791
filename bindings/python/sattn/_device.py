"""GPU arrays <-> sattn_tensor views, for plans on a device backend (backend="cuda").

Accepted: torch CUDA tensors (read directly: data_ptr, stride, dtype, device index; their __cuda_array_interface__
does not describe bfloat16) and any object exposing __cuda_array_interface__ (versions 2 and 3: CuPy, Numba, ...),
whose typestr names float32 ('<f4'), float16 ('<f2'), uint8 ('|u1') or bool ('|b1'). Nothing is copied: device
memory is passed as it is, with its strides converted to elements. Outputs the caller does not give are allocated by
the library the inputs come from (torch or CuPy) on the same device.
"""
from . import _structs as S

_TYPESTR_CODES = {"<f4": S.DTYPE_F32, "<f2": S.DTYPE_F16, "|u1": S.DTYPE_U8, "<u1": S.DTYPE_U8, "|b1": S.DTYPE_U8}
_TORCH_NAMES = {"float32": S.DTYPE_F32, "float16": S.DTYPE_F16, "bfloat16": S.DTYPE_BF16, "uint8": S.DTYPE_U8,
                "bool": S.DTYPE_U8}
_ITEMSIZE = {S.DTYPE_F32: 4, S.DTYPE_F16: 2, S.DTYPE_BF16: 2, S.DTYPE_U8: 1}


def _is_torch(array):
    return type(array).__module__.split(".")[0] == "torch" and hasattr(array, "data_ptr")


def is_device_array(array):
    """True for a torch CUDA tensor or an object exposing __cuda_array_interface__."""
    if _is_torch(array):
        return bool(getattr(array, "is_cuda", False))
    return hasattr(array, "__cuda_array_interface__")


class DeviceArray:
    """What libsattn needs of a device array: address, shape, strides in elements, dtype code, device id."""

    def __init__(self, array, name, output=False):
        self.owner = array  # kept alive as long as the view
        self.name = name
        if _is_torch(array):
            dtype = str(array.dtype).replace("torch.", "")
            if dtype not in _TORCH_NAMES:
                raise TypeError(f"{name} has dtype torch.{dtype}; use float32, float16, bfloat16 (uint8/bool masks)")
            self.code = _TORCH_NAMES[dtype]
            self.address = int(array.data_ptr())
            self.shape = tuple(int(x) for x in array.shape)
            self.strides = tuple(int(x) for x in array.stride())
            self.device_id = int(array.device.index or 0)
            return
        interface = array.__cuda_array_interface__
        typestr = interface["typestr"]
        if typestr not in _TYPESTR_CODES:
            raise TypeError(f"{name} has typestr {typestr!r}; libsattn reads float32 ('<f4'), float16 ('<f2') and "
                            "uint8/bool block masks (bfloat16 is read from torch tensors)")
        self.code = _TYPESTR_CODES[typestr]
        itemsize = int(typestr[2:]) if typestr[2:].isdigit() else 1
        self.address = int(interface["data"][0])
        if output and interface["data"][1]:
            raise ValueError(f"{name} is read-only device memory")
        self.shape = tuple(int(x) for x in interface["shape"])
        strides = interface.get("strides")
        if strides is None:  # C-contiguous
            strides, step = [], 1
            for extent in reversed(self.shape):
                strides.append(step)
                step *= max(extent, 1)
            self.strides = tuple(reversed(strides))
        else:
            if any(s < 0 or s % itemsize for s in strides):
                raise ValueError(f"{name} has strides {tuple(strides)} (bytes) that libsattn cannot address: they "
                                 "must be non-negative multiples of the element size")
            self.strides = tuple(int(s) // itemsize for s in strides)
        device = getattr(array, "device", None)
        self.device_id = int(getattr(device, "id", getattr(device, "index", 0)) or 0)

    @property
    def itemsize(self):
        return _ITEMSIZE[self.code]

    def tensor(self):
        """The sattn_tensor viewing this array (valid while the array lives)."""
        tensor = S.sattn_tensor()
        tensor.data = self.address
        tensor.device_type = S.DEVICE_CUDA
        tensor.device_id = self.device_id
        tensor.dtype = self.code
        tensor.ndim = len(self.shape)
        for axis, (extent, stride) in enumerate(zip(self.shape, self.strides)):
            tensor.shape[axis] = extent
            tensor.strides[axis] = stride
        return tensor


def empty_like_library(template, shape, dtype_code, name):
    """A new device array of `shape` made by the library `template` comes from, on its device."""
    if _is_torch(template):
        import torch

        torch_dtype = {S.DTYPE_F32: torch.float32, S.DTYPE_F16: torch.float16, S.DTYPE_BF16: torch.bfloat16,
                       S.DTYPE_U8: torch.uint8}[dtype_code]
        return torch.empty(shape, dtype=torch_dtype, device=template.device)
    module = type(template).__module__.split(".")[0]
    if module == "cupy":
        import cupy

        numpy_name = {S.DTYPE_F32: "float32", S.DTYPE_F16: "float16", S.DTYPE_U8: "uint8"}.get(dtype_code)
        if numpy_name is None:
            raise TypeError(f"{name}: CuPy has no bfloat16; pass {name}= explicitly")
        with cupy.cuda.Device(template.device.id):
            return cupy.empty(shape, dtype=numpy_name)
    raise TypeError(f"{name} is not given and libsattn cannot allocate device memory of a {type(template).__name__};"
                    f" pass {name}= (a device array)")


def stream_handle(stream, template):
    """The cudaStream_t to run on: an int handle, an object with .cuda_stream (torch) or .ptr (CuPy); by default the
    current torch stream for torch tensors, else 0 (the legacy default stream)."""
    if stream is None:
        if _is_torch(template):
            import torch

            return int(torch.cuda.current_stream(template.device).cuda_stream)
        return 0
    if isinstance(stream, int):
        return stream
    for attribute in ("cuda_stream", "ptr"):
        if hasattr(stream, attribute):
            return int(getattr(stream, attribute))
    raise TypeError(f"stream must be an int handle or have .cuda_stream / .ptr, got {type(stream).__name__}")

"""Plan: the C plan lifecycle (create, can_implement, workspace_size, run, destroy) as a Python object."""
import ctypes

import numpy as np

from . import _structs as S
from . import _device
from ._arrays import as_block_mask, as_inputs, as_output, make_tensor
from ._loader import check, library
from ._names import dtype_code, numpy_dtype, pattern_code, pattern_name, precision_code
from ._params import make_pattern_params, params_to_dict
from .errors import SattnError, SattnInvalidArgument

_WORKSPACE_ALIGNMENT = 64  # sattn_plan_run wants 64-byte aligned workspace


def _aligned_workspace(nbytes):
    """(buffer, address): a fresh buffer of nbytes starting at a 64-byte aligned address."""
    if nbytes == 0:
        return None, None
    buffer = np.empty(nbytes + _WORKSPACE_ALIGNMENT, dtype=np.uint8)
    offset = -buffer.ctypes.data % _WORKSPACE_ALIGNMENT
    return buffer, buffer.ctypes.data + offset


def _decode(raw):
    return raw.decode("utf-8", "replace") if raw else ""


class Plan:
    """A prepared attention problem; run it on any number of inputs of its shape.

    Shapes follow docs/patterns.md: Q [B, Hq, Lq, D], K [B, Hk, Lk, D], V [B, Hk, Lk, Dv], O [B, Hq, Lq, Dv]. A plan
    is immutable after creation and may be run from several threads at once (each run gets its own workspace). Close
    it with close() or a `with` block; it is also closed when garbage collected.
    """

    def __init__(self, *, batch, num_q_heads, q_len, head_dim, num_kv_heads=None, kv_len=None, head_dim_v=None,
                 pattern="dense", params=None, precision="fp32", dtype=np.float32, causal=False, scale=None,
                 want_lse=False, backend=None, strict=False, num_threads=0, device_id=0):
        self._handle = None
        desc = S.attention_desc_init()
        desc.batch = batch
        desc.num_q_heads = num_q_heads
        desc.num_kv_heads = num_q_heads if num_kv_heads is None else num_kv_heads
        desc.q_len = q_len
        desc.kv_len = q_len if kv_len is None else kv_len
        desc.head_dim = head_dim
        desc.head_dim_v = head_dim if head_dim_v is None else head_dim_v
        desc.dtype = dtype if isinstance(dtype, int) else dtype_code(dtype)  # an int: a sattn_dtype already
        desc.precision = precision_code(precision)
        desc.pattern = pattern_code(pattern)
        desc.flags = (S.FLAG_CAUSAL if causal else 0) | (S.FLAG_WANT_LSE if want_lse else 0)
        if scale is not None and float(scale) == 0.0:
            # The ABI reads 0 as "default"; honouring a literal 0 silently as 1/sqrt(D) would be a surprise.
            raise ValueError("scale = 0 cannot be expressed (the C ABI reads 0 as 1/sqrt(head_dim)); "
                             "pass scale=None for that default")
        desc.scale = 0.0 if scale is None else float(scale)  # NaN and inf are the library's to refuse
        desc.params = make_pattern_params(params)

        prefs = S.plan_prefs_init()
        self._backend_name = None if backend is None else str(backend).encode()  # kept alive with the plan
        prefs.backend = self._backend_name
        prefs.flags = S.PREF_STRICT if strict else 0
        prefs.num_threads = num_threads
        prefs.device_id = device_id

        handle = ctypes.c_void_p()
        lib = library()
        check(lib.sattn_plan_create(ctypes.byref(desc), ctypes.byref(prefs), ctypes.byref(handle)))
        self._lib = lib  # keeps the library loaded as long as a plan may need destroying
        self._handle = handle
        self._desc = desc
        try:
            self.dtype = numpy_dtype(desc.dtype)
        except (TypeError, ImportError):  # bfloat16 for device arrays without ml_dtypes installed
            self.dtype = None
        self.want_lse = bool(want_lse)
        self._info = self._read_info()

    @classmethod
    def for_arrays(cls, q, k, v, **options):
        """A plan for these Q, K, V (shapes and dtype taken from them; numpy or device arrays); options as for
        Plan()."""
        if any(_device.is_device_array(array) for array in (q, k, v)):
            views = [_device.DeviceArray(array, name) for array, name in ((q, "q"), (k, "k"), (v, "v"))]
            (b, hq, lq, d), (_, hk, lk, _), dv = views[0].shape, views[1].shape, views[2].shape[3]
            options.setdefault("device_id", views[0].device_id)
            return cls(batch=b, num_q_heads=hq, q_len=lq, head_dim=d, num_kv_heads=hk, kv_len=lk, head_dim_v=dv,
                       dtype=views[0].code, **options)
        q, k, v = as_inputs(q, k, v)
        return cls(batch=q.shape[0], num_q_heads=q.shape[1], q_len=q.shape[2], head_dim=q.shape[3],
                   num_kv_heads=k.shape[1], kv_len=k.shape[2], head_dim_v=v.shape[3], dtype=q.dtype, **options)

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def closed(self):
        return self._handle is None

    def close(self):
        """Destroys the C plan; further use raises. Closing twice is harmless."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.sattn_plan_destroy(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown may have torn ctypes down already
            pass

    def _live_handle(self):
        if self._handle is None:
            raise SattnInvalidArgument("the plan is closed")
        return self._handle

    # ---- what the plan is --------------------------------------------------------------------------------------
    def _read_info(self):
        info = S.plan_info_init()
        check(self._lib.sattn_plan_get_info(self._live_handle(), ctypes.byref(info)))
        # Strings are owned by the plan: decode them now, while it lives.
        return {
            "backend": _decode(info.backend),
            "kernel": _decode(info.kernel),
            "pattern": pattern_name(info.pattern),
            "reason": _decode(info.reason),
            "block_size_q": int(info.block_size_q),
            "block_size_k": int(info.block_size_k),
            "density": float(info.density),
            "estimated_flops": float(info.estimated_flops),
            "estimated_bytes": float(info.estimated_bytes),
            "workspace_size": int(info.workspace_size),
            "plan_bytes": int(info.plan_bytes),
            "num_spans": int(info.num_spans),
        }

    @property
    def info(self):
        """dict: backend, kernel, pattern (the one chosen), reason, block_size_q/k, density, estimated_flops/bytes,
        workspace_size, plan_bytes (host memory the plan holds), num_spans (of the static layout; 0 for
        data-dependent patterns)."""
        return dict(self._info)

    @property
    def shape(self):
        """dict of the descriptor's sizes."""
        d = self._desc
        return {"batch": d.batch, "num_q_heads": d.num_q_heads, "num_kv_heads": d.num_kv_heads, "q_len": d.q_len,
                "kv_len": d.kv_len, "head_dim": d.head_dim, "head_dim_v": d.head_dim_v}

    @property
    def params(self):
        """The pattern parameters the plan was created with (dict of sattn_pattern_params fields)."""
        return params_to_dict(self._desc.params)

    @property
    def workspace_size(self):
        """Bytes of workspace a run needs (run() allocates it)."""
        size = ctypes.c_size_t()
        check(self._lib.sattn_plan_workspace_size(self._live_handle(), ctypes.byref(size)))
        return int(size.value)

    @property
    def stats(self):
        """dict of the counters of the last run (runs, kept_pairs, density, simulated_cycles, instructions,
        energy_pj); a counter the backend lacks is -1."""
        stats = S.plan_stats_init()
        check(self._lib.sattn_plan_get_stats(self._live_handle(), ctypes.byref(stats)))
        return {name: getattr(stats, name) for name, _ in S.sattn_plan_stats._fields_
                if name not in ("struct_size", "reserved0")}

    def __repr__(self):
        if self.closed:
            return "<sattn.Plan closed>"
        info = self._info
        return f"<sattn.Plan {info['pattern']} on {info['backend']} ({info['kernel']}), density {info['density']:.3g}>"

    # ---- running -----------------------------------------------------------------------------------------------
    def _output_shape(self):
        d = self._desc
        return (d.batch, d.num_q_heads, d.q_len, d.head_dim_v)

    def _prepare_device(self, q, k, v, out, lse, block_mask):
        """_prepare for GPU arrays (torch CUDA tensors, __cuda_array_interface__ objects): no copies."""
        named = (("q", q), ("k", k), ("v", v), ("out", out), ("lse", lse), ("block_mask", block_mask))
        host = [name for name, array in named if array is not None and not _device.is_device_array(array)]
        if host:
            raise TypeError(f"{', '.join(host)} {'is' if len(host) == 1 else 'are'} host memory while q, k or v is "
                            "device memory: pass every array on the same device")
        views = {name: _device.DeviceArray(array, name) for name, array in (("q", q), ("k", k), ("v", v))}
        for name, view in views.items():
            if len(view.shape) != 4:
                raise ValueError(f"{name} must be 4-D [B, H, L, D], got shape {view.shape}")
        codes = {view.code for view in views.values()}
        if len(codes) != 1:
            raise TypeError("q, k and v must share a dtype")
        if out is None:
            out = _device.empty_like_library(q, self._output_shape(), views["q"].code, "out")
        views["o"] = _device.DeviceArray(out, "out", output=True)
        if lse is None and self.want_lse:
            lse = _device.empty_like_library(q, self._output_shape()[:3], S.DTYPE_F32, "lse")
        if lse is not None:
            views["lse"] = _device.DeviceArray(lse, "lse", output=True)
        if block_mask is not None:
            views["block_mask"] = _device.DeviceArray(block_mask, "block_mask")
        tensors = {name: view.tensor() for name, view in views.items()}
        args = S.run_args_init()
        for name, tensor in tensors.items():
            setattr(args, name, ctypes.pointer(tensor))
        return args, out, lse, (views, tensors)

    def _prepare(self, q, k, v, out, lse, block_mask):
        """(args, out, lse, keepalive): the sattn_run_args, the output arrays, and everything args points into,
        which the caller holds until the C call returns."""
        if any(_device.is_device_array(array) for array in (q, k, v)):
            return self._prepare_device(q, k, v, out, lse, block_mask)
        q, k, v = as_inputs(q, k, v)
        if out is None:
            out = np.empty(self._output_shape(), dtype=q.dtype)
        else:
            out = as_output(out, "out", q.dtype, 4, "[B, Hq, Lq, Dv]")
        if lse is None and self.want_lse:
            lse = np.empty(self._output_shape()[:3], dtype=np.float32)
        elif lse is not None:
            lse = as_output(lse, "lse", np.float32, 3, "[B, Hq, Lq]")
        if block_mask is not None:
            block_mask = as_block_mask(block_mask)
        tensors = {name: make_tensor(array) for name, array in
                   (("q", q), ("k", k), ("v", v), ("o", out), ("lse", lse), ("block_mask", block_mask))
                   if array is not None}
        args = S.run_args_init()
        for name, tensor in tensors.items():
            setattr(args, name, ctypes.pointer(tensor))
        return args, out, lse, (q, k, v, block_mask, tensors)

    def can_implement(self, q, k, v, out=None, lse=None, block_mask=None):
        """True when run() would accept these arrays (shapes, strides, dtypes); False otherwise.
        check() raises the library's explanation instead."""
        try:
            self.check(q, k, v, out=out, lse=lse, block_mask=block_mask)
        except (SattnError, ValueError, TypeError):
            return False
        return True

    def check(self, q, k, v, out=None, lse=None, block_mask=None):
        """Raises SattnError (with the library's message) when run() would refuse these arrays."""
        # _arrays holds what args points into: it must outlive the C call, hence the named local.
        args, _, _, _arrays = self._prepare(q, k, v, out, lse, block_mask)
        check(self._lib.sattn_plan_can_implement(self._live_handle(), ctypes.byref(args)))

    def new_workspace(self):
        """A workspace for run(workspace=...): reuse one across runs (one per thread running the plan at once) to
        spare each run allocating and first touching it."""
        return _aligned_workspace(self.workspace_size)[0]

    def run(self, q, k, v, out=None, lse=None, block_mask=None, workspace=None, stream=None):
        """Runs the plan. Returns O, or (O, LSE) when the plan wants LSE or an lse array is given.

        out / lse, when given, are written in place (any strides the library can address); otherwise new arrays are
        returned, O with the dtype of Q and LSE float32. block_mask is required by the block_mask pattern.
        workspace: from new_workspace() (or any writable uint8 array of workspace_size + 64 bytes); by default each
        run allocates its own.

        Device arrays (a plan with backend="cuda"): torch CUDA tensors or __cuda_array_interface__ objects, every
        array on the plan's device. New outputs and the workspace (when not given: a uint8 device array of at least
        workspace_size bytes) come from the inputs' library. The run is queued on `stream` (an int cudaStream_t, or
        an object with .cuda_stream / .ptr; default: torch's current stream for torch tensors, else stream 0) and
        returns without waiting for it.
        """
        handle = self._live_handle()
        if any(_device.is_device_array(array) for array in (q, k, v)):
            return self._run_device(handle, q, k, v, out, lse, block_mask, workspace, stream)
        if stream is not None:
            raise TypeError("stream is for device arrays; host arrays run synchronously")
        # _arrays holds what args points into: it must outlive the C call, hence the named local.
        args, out, lse, _arrays = self._prepare(q, k, v, out, lse, block_mask)
        if workspace is None:
            workspace, address = _aligned_workspace(self.workspace_size)
        else:
            if (not isinstance(workspace, np.ndarray) or workspace.dtype != np.uint8 or not workspace.flags.writeable
                    or not workspace.flags.c_contiguous):
                raise TypeError("workspace must be a writable, contiguous uint8 numpy array (Plan.new_workspace())")
            if workspace.size < self.workspace_size + _WORKSPACE_ALIGNMENT:
                raise ValueError(f"workspace of {workspace.size} bytes is smaller than the "
                                 f"{self.workspace_size + _WORKSPACE_ALIGNMENT} bytes this plan needs "
                                 "(workspace_size + 64 for alignment)")
            address = workspace.ctypes.data + (-workspace.ctypes.data % _WORKSPACE_ALIGNMENT)
        size = 0 if workspace is None else workspace.size - (address - workspace.ctypes.data)
        check(self._lib.sattn_plan_run(handle, ctypes.byref(args), address, size, None))
        return out if lse is None else (out, lse)


    def _run_device(self, handle, q, k, v, out, lse, block_mask, workspace, stream):
        # _arrays holds what args points into: it must outlive the C call, hence the named local.
        args, out, lse, _arrays = self._prepare_device(q, k, v, out, lse, block_mask)
        # The library's own checks first (shapes, devices: a host backend refuses device memory by name), before
        # a workspace is allocated for a run that cannot happen.
        check(self._lib.sattn_plan_can_implement(handle, ctypes.byref(args)))
        size = self.workspace_size
        address = None
        if size > 0:
            if workspace is None:
                workspace = _device.empty_like_library(q, (size,), S.DTYPE_U8, "workspace")
            if not _device.is_device_array(workspace):
                raise TypeError("workspace must be a device array (uint8) for a run on device arrays")
            view = _device.DeviceArray(workspace, "workspace", output=True)
            available = view.itemsize
            for extent in view.shape:
                available *= extent
            if available < size:
                raise ValueError(f"workspace of {available} bytes is smaller than the {size} bytes this plan needs")
            address, size = view.address, available
        check(self._lib.sattn_plan_run(handle, ctypes.byref(args), address, size,
                                       ctypes.c_void_p(_device.stream_handle(stream, q))))
        return out if lse is None else (out, lse)


def _ceil_div(a, b):
    return -(-a // b)


def block_mask_shape(batch, heads, q_len, kv_len, block_size):
    """Shape of a block_mask for these sizes: [batch, heads (Hq or 1), ceil(q_len/b), ceil(kv_len/b)]."""
    if block_size <= 0:
        raise ValueError(f"block_size must be > 0, got {block_size}")
    return (batch, heads, _ceil_div(q_len, block_size), _ceil_div(kv_len, block_size))


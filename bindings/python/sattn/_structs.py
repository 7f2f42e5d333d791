"""ctypes mirrors of the structs in include/sattn.h, field for field, and their ..._INIT defaults.

The library accepts only a struct_size it knows, so a mirror that drifts from the header fails loudly at plan creation
(and tests/test_library.py compares every field offset with what a C compiler makes of the header).
Class names are the C names so that the two read side by side.
"""
import ctypes
from ctypes import POINTER, c_char_p, c_double, c_float, c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p

# sattn_dtype
DTYPE_F32 = 1
DTYPE_F16 = 2
DTYPE_BF16 = 3
DTYPE_U8 = 4

# sattn_device_type (DLPack codes)
DEVICE_CPU = 1
DEVICE_CUDA = 2
DEVICE_CUDA_HOST = 3
DEVICE_CUDA_MANAGED = 13

# descriptor and plan preference flags
FLAG_CAUSAL = 0x1
FLAG_WANT_LSE = 0x2
PREF_STRICT = 0x1


class sattn_pattern_params(ctypes.Structure):
    _fields_ = [
        ("window_size", c_int64),
        ("dilation", c_int64),
        ("wrap", c_int64),
        ("global_tokens", c_int64),
        ("block_size", c_int64),
        ("keep_ratio", c_float),
        ("scale_q", c_float),
        ("topk_blocks", c_int64),
        ("local_blocks", c_int64),
        ("comp_block_size", c_int64),
        ("nm_n", c_int64),
        ("nm_m", c_int64),
        ("topk_k", c_int64),
        ("lsh_buckets", c_int64),
        ("lsh_seed", c_uint64),
        ("num_landmarks", c_int64),
        ("landmark_iters", c_int64),
        ("scale_k", c_float),
        ("scale_v", c_float),
        ("reserved", c_int64 * 16),
    ]


class sattn_attention_desc(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("flags", c_uint32),
        ("batch", c_int64),
        ("num_q_heads", c_int64),
        ("num_kv_heads", c_int64),
        ("q_len", c_int64),
        ("kv_len", c_int64),
        ("head_dim", c_int64),
        ("head_dim_v", c_int64),
        ("dtype", c_int32),
        ("precision", c_int32),
        ("pattern", c_int32),
        ("scale", c_float),
        ("params", sattn_pattern_params),
    ]


class sattn_tensor(ctypes.Structure):
    _fields_ = [
        ("data", c_void_p),
        ("device_type", c_int32),
        ("device_id", c_int32),
        ("dtype", c_int32),
        ("ndim", c_int32),
        ("shape", c_int64 * 4),
        ("strides", c_int64 * 4),
    ]


class sattn_run_args(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("q", POINTER(sattn_tensor)),
        ("k", POINTER(sattn_tensor)),
        ("v", POINTER(sattn_tensor)),
        ("o", POINTER(sattn_tensor)),
        ("lse", POINTER(sattn_tensor)),
        ("block_mask", POINTER(sattn_tensor)),
    ]


class sattn_plan_prefs(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("flags", c_uint32),
        ("backend", c_char_p),
        ("device_id", c_int32),
        ("num_threads", c_int32),
    ]


class sattn_plan_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("pattern", c_int32),
        ("backend", c_char_p),
        ("kernel", c_char_p),
        ("reason", c_char_p),
        ("block_size_q", c_int64),
        ("block_size_k", c_int64),
        ("density", c_double),
        ("estimated_flops", c_double),
        ("estimated_bytes", c_double),
        ("workspace_size", c_size_t),
        ("plan_bytes", c_size_t),
        ("num_spans", c_int64),
    ]


class sattn_plan_stats(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved0", c_uint32),
        ("runs", c_int64),
        ("kept_pairs", c_int64),
        ("density", c_double),
        ("simulated_cycles", c_int64),
        ("instructions", c_int64),
        ("energy_pj", c_double),
    ]


class sattn_backend_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("available", c_int32),
        ("name", c_char_p),
        ("description", c_char_p),
        ("path", c_char_p),
        ("device_type", c_int32),
        ("is_plugin", c_int32),
        ("pattern_mask", c_uint32),
        ("precision_mask", c_uint32),
    ]


# Every mirrored struct, by its C name (the layout test walks this).
ALL_STRUCTS = (
    sattn_pattern_params,
    sattn_attention_desc,
    sattn_tensor,
    sattn_run_args,
    sattn_plan_prefs,
    sattn_plan_info,
    sattn_plan_stats,
    sattn_backend_info,
)


def pattern_params_init():
    """SATTN_PATTERN_PARAMS_INIT: zero except dilation = 1 and local_blocks = 1."""
    params = sattn_pattern_params()
    params.dilation = 1
    params.local_blocks = 1
    return params


def attention_desc_init():
    """SATTN_ATTENTION_DESC_INIT."""
    desc = sattn_attention_desc()
    desc.struct_size = ctypes.sizeof(sattn_attention_desc)
    desc.batch = 1
    desc.num_q_heads = 1
    desc.num_kv_heads = 1
    desc.dtype = DTYPE_F32
    desc.precision = 0  # SATTN_PRECISION_FP32
    desc.pattern = 0  # SATTN_PATTERN_AUTO
    desc.params = pattern_params_init()
    return desc


def run_args_init():
    """SATTN_RUN_ARGS_INIT."""
    return sattn_run_args(struct_size=ctypes.sizeof(sattn_run_args))


def plan_prefs_init():
    """SATTN_PLAN_PREFS_INIT."""
    return sattn_plan_prefs(struct_size=ctypes.sizeof(sattn_plan_prefs))


def plan_info_init():
    """SATTN_PLAN_INFO_INIT."""
    return sattn_plan_info(struct_size=ctypes.sizeof(sattn_plan_info))


def plan_stats_init():
    """SATTN_PLAN_STATS_INIT."""
    return sattn_plan_stats(struct_size=ctypes.sizeof(sattn_plan_stats))


def backend_info_init():
    """SATTN_BACKEND_INFO_INIT."""
    return sattn_backend_info(struct_size=ctypes.sizeof(sattn_backend_info))

"""Names of the C enums (pattern, precision, dtype, device) and their conversions."""
import numpy as np

from . import _structs as S

# sattn_pattern, names as in docs/patterns.md.
PATTERNS = {
    "auto": 0,
    "dense": 1,
    "sliding_window": 2,
    "block_topk": 3,
    "block_local_global": 4,
    "nm_structured": 5,
    "topk_per_query": 6,
    "lsh": 7,
    "landmark": 8,
    "block_mask": 9,
}
PATTERN_ALIASES = {"sliding_global": "sliding_window", "bsr": "block_topk"}
PATTERN_NAMES = {code: name for name, code in PATTERNS.items()}

# sattn_precision.
PRECISIONS = {"fp32": 0, "bf16": 1, "fp16": 2, "int8": 3, "int4": 4}
PRECISION_ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}
PRECISION_NAMES = {code: name for name, code in PRECISIONS.items()}

DEVICE_NAMES = {
    S.DEVICE_CPU: "cpu",
    S.DEVICE_CUDA: "cuda",
    S.DEVICE_CUDA_HOST: "cuda_host",
    S.DEVICE_CUDA_MANAGED: "cuda_managed",
}

# numpy dtypes the library reads and writes; float64 inputs are converted to float32 before they get here.
DTYPES = {np.dtype(np.float32): S.DTYPE_F32, np.dtype(np.float16): S.DTYPE_F16}


def _lookup(value, table, aliases, what):
    if isinstance(value, str):
        key = value.strip().lower()
        key = aliases.get(key, key)
        if key in table:
            return table[key]
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) in table.values():
        return int(value)
    valid = sorted(table) + sorted(aliases)
    raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


def pattern_code(pattern):
    """sattn_pattern value of a pattern name (or alias, or code)."""
    return _lookup(pattern, PATTERNS, PATTERN_ALIASES, "pattern")


def precision_code(precision):
    """sattn_precision value of a precision name (or alias, or code)."""
    return _lookup(precision, PRECISIONS, PRECISION_ALIASES, "precision")


def pattern_name(code):
    return PATTERN_NAMES.get(int(code), f"unknown({int(code)})")


def names_in_mask(mask, names):
    """Names whose bit (1 << code) is set in a backend's capability mask."""
    return [name for code, name in sorted(names.items()) if mask & (1 << code)]


def dtype_code(dtype):
    """sattn_dtype of a numpy dtype the library computes on."""
    dtype = np.dtype(dtype)
    if dtype not in DTYPES:
        raise TypeError(f"unsupported dtype {dtype}; use float32 or float16 (float64 is converted to float32)")
    return DTYPES[dtype]

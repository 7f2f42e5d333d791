"""Conversion of a params dict to sattn_pattern_params. Keys are the C field names; values not given keep the
defaults of SATTN_PATTERN_PARAMS_INIT (dilation = 1, local_blocks = 1, everything else 0 = not set)."""
import ctypes
import math
import operator
from collections.abc import Mapping

from . import _structs as S

PARAM_FIELDS = tuple(name for name, _ in S.sattn_pattern_params._fields_ if name != "reserved")
_FLOAT_FIELDS = frozenset(name for name, ctype in S.sattn_pattern_params._fields_ if ctype is ctypes.c_float)
_UNSIGNED_FIELDS = frozenset(name for name, ctype in S.sattn_pattern_params._fields_ if ctype is ctypes.c_uint64)


def _integer(name, value):
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"pattern parameter {name!r} must be an integer, got {value!r}")
        value = int(value)
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"pattern parameter {name!r} must be an integer, got {type(value).__name__}") from None
    low, high = (0, 2**64) if name in _UNSIGNED_FIELDS else (-(2**63), 2**63)
    if not low <= value < high:
        raise ValueError(f"pattern parameter {name!r} = {value} does not fit its C type")
    return value


def _real(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"pattern parameter {name!r} must be a number, got {value!r}") from None
    if math.isfinite(value) and abs(value) > 3.4028234663852886e38:
        raise ValueError(f"pattern parameter {name!r} = {value} does not fit a float")
    return value  # NaN and inf pass through: the library decides and says what is wrong


def make_pattern_params(params):
    """sattn_pattern_params from a dict (None: all defaults). Unknown keys raise ValueError listing the valid ones."""
    struct = S.pattern_params_init()
    if params is None:
        return struct
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of pattern parameters, got {type(params).__name__}")
    unknown = sorted(str(key) for key in params if key not in PARAM_FIELDS)
    if unknown:
        raise ValueError(f"unknown pattern parameter(s) {', '.join(unknown)}; valid keys: {', '.join(PARAM_FIELDS)}")
    for name, value in params.items():
        if value is None:
            continue  # explicitly "not set": keep the default
        setattr(struct, name, _real(name, value) if name in _FLOAT_FIELDS else _integer(name, value))
    return struct


def params_to_dict(struct):
    """The fields of a sattn_pattern_params as a dict (reserved words left out)."""
    return {name: getattr(struct, name) for name in PARAM_FIELDS}

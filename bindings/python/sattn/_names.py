"""Names of the C enums (pattern, precision, dtype, device) and their conversions, read from the loaded library.

libsattn exports its one table of names (sattn_pattern_name, sattn_pattern_from_name, ...; include/sattn.h), so the
package keeps no copy: the tables below are built on first use by asking the library for the name of every value in
a small range, and user strings are resolved by the library's _from_name functions (which ignore case and know the
aliases). Only the alias spellings listed in error messages are written here; each is checked against the library
when the tables are built (an alias the library does not accept is left out) and by the tests.

The tables need the library, which `import sattn` does not load: PATTERNS, PATTERN_ALIASES, PRECISIONS, ... are
module attributes computed on first access (PEP 562), here and in the `sattn` package.
"""
import functools

import numpy as np

from ._loader import library

# Every enum's values lie in [0, 64): patterns 0-9, precisions 0-4, dtypes 1-4, device types 1-13 (DLPack codes).
_VALUE_RANGE = range(64)

# Spellings besides the canonical names that error messages offer; the library may accept more.
_ALIAS_CANDIDATES = {
    "pattern": ("sliding_global", "bsr"),
    "precision": ("f32", "f16", "float32", "bfloat16", "float16", "half"),
    "dtype": ("fp32", "fp16", "float32", "bfloat16", "float16", "half", "uint8"),
}


def _decode(raw):
    return raw.decode("utf-8", "replace") if raw else None


@functools.lru_cache(maxsize=None)
def _names_of(kind):
    """{canonical name: value} of one enum ("pattern", "precision", "dtype", "device_type"), from the library."""
    name_of = getattr(library(), f"sattn_{kind}_name")
    return {name: value for value in _VALUE_RANGE if (name := _decode(name_of(value))) is not None}


def _value_from_name(kind, name):
    """The library's reading of a user string (any case, aliases included); -1 when it does not know it."""
    try:
        encoded = str(name).encode("utf-8")
    except UnicodeEncodeError:
        return -1
    return int(getattr(library(), f"sattn_{kind}_from_name")(encoded))


@functools.lru_cache(maxsize=None)
def _aliases_of(kind):
    """{alias: canonical name} for the listed aliases the library accepts."""
    codes = {value: name for name, value in _names_of(kind).items()}
    aliases = {}
    for alias in _ALIAS_CANDIDATES[kind]:
        value = _value_from_name(kind, alias)
        if value in codes and alias != codes[value]:
            aliases[alias] = codes[value]
    return aliases


# ---- the public tables (dict copies: callers may not change the cached ones) -------------------------------------
def patterns():
    """{name: sattn_pattern value} for every pattern the library names (the names of docs/patterns.md)."""
    return dict(_names_of("pattern"))


def pattern_aliases():
    """{alias: pattern name}, e.g. "bsr" -> "block_topk"."""
    return dict(_aliases_of("pattern"))


def precisions():
    """{name: sattn_precision value}."""
    return dict(_names_of("precision"))


def precision_aliases():
    """{alias: precision name}, e.g. "bfloat16" -> "bf16"."""
    return dict(_aliases_of("precision"))


def pattern_names():
    """{sattn_pattern value: name}."""
    return {value: name for name, value in _names_of("pattern").items()}


def precision_names():
    """{sattn_precision value: name}."""
    return {value: name for name, value in _names_of("precision").items()}


def device_names():
    """{sattn_device_type value: name}."""
    return {value: name for name, value in _names_of("device_type").items()}


_LAZY_TABLES = {
    "PATTERNS": patterns,
    "PATTERN_ALIASES": pattern_aliases,
    "PATTERN_NAMES": pattern_names,
    "PRECISIONS": precisions,
    "PRECISION_ALIASES": precision_aliases,
    "PRECISION_NAMES": precision_names,
    "DEVICE_NAMES": device_names,
}


def __getattr__(name):
    if name in _LAZY_TABLES:
        return _LAZY_TABLES[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- conversions -------------------------------------------------------------------------------------------------
def _lookup(value, kind, what):
    table = _names_of(kind)
    if isinstance(value, str):
        code = _value_from_name(kind, value.strip())
        if code >= 0:
            return code
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) in table.values():
        return int(value)
    valid = sorted(table) + sorted(_aliases_of(kind))
    raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


def pattern_code(pattern):
    """sattn_pattern value of a pattern name (or alias, any case, or code)."""
    return _lookup(pattern, "pattern", "pattern")


def precision_code(precision):
    """sattn_precision value of a precision name (or alias, any case, or code)."""
    return _lookup(precision, "precision", "precision")


def pattern_code_of(name):
    """sattn_pattern value of a canonical pattern name (for the package's own checks, e.g. "block_mask")."""
    return _names_of("pattern")[name]


def pattern_name(code):
    name = _decode(library().sattn_pattern_name(int(code)))
    return name if name is not None else f"unknown({int(code)})"


def device_name(code):
    name = _decode(library().sattn_device_type_name(int(code)))
    return name if name is not None else f"device{int(code)}"


def names_in_mask(mask, kind):
    """Names whose bit (1 << value) is set in a backend's capability mask ("pattern" or "precision" values)."""
    return [name for name, value in sorted(_names_of(kind).items(), key=lambda item: item[1]) if mask & (1 << value)]


# ---- numpy dtypes ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def bfloat16_dtype():
    """numpy's bfloat16 (ml_dtypes.bfloat16), or None without ml_dtypes (the optional extra `sattn[bf16]`)."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


def compute_dtypes():
    """numpy dtypes the library computes on: float32, float16 and, with ml_dtypes, bfloat16."""
    dtypes = [np.dtype(np.float32), np.dtype(np.float16)]
    bf16 = bfloat16_dtype()
    return tuple(dtypes if bf16 is None else dtypes + [bf16])


_DTYPE_HINT = "use float32, float16 or ml_dtypes.bfloat16 (float64 is converted to float32)"


def dtype_code(dtype):
    """sattn_dtype of a numpy dtype the library computes on, or of a library dtype name ("f32", "bf16", ...).

    numpy's dtype names (float32, float16, bfloat16) are among the library's own spellings, so the library maps them.
    """
    if isinstance(dtype, str) and _value_from_name("dtype", dtype.strip()) >= 0:
        dtype = numpy_dtype(_value_from_name("dtype", dtype.strip()))
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"unsupported dtype {dtype!r}; {_DTYPE_HINT}") from exc
    if dtype not in compute_dtypes():
        raise TypeError(f"unsupported dtype {dtype}; {_DTYPE_HINT}")
    return _value_from_name("dtype", dtype.name)


def numpy_dtype(code):
    """The numpy dtype of a sattn_dtype value that the library computes on (bfloat16 needs ml_dtypes)."""
    for dtype in compute_dtypes():
        if _value_from_name("dtype", dtype.name) == code:
            return dtype
    name = _decode(library().sattn_dtype_name(int(code)))
    if name == "bf16":
        raise TypeError("bfloat16 needs ml_dtypes (pip install 'sattn[bf16]')")
    raise TypeError(f"sattn dtype {name or code} is not an input dtype; {_DTYPE_HINT}")

"""Enum names come from the library (sattn_pattern_name, ..._from_name), not from a copy in the package."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sattn
from sattn import _loader, _names, _structs


def _library_name(kind, value):
    raw = getattr(_loader.library(), f"sattn_{kind}_name")(value)
    return raw.decode() if raw else None


def _library_value(kind, name):
    return int(getattr(_loader.library(), f"sattn_{kind}_from_name")(name.encode()))


@pytest.mark.parametrize("kind,table", [("pattern", "PATTERNS"), ("precision", "PRECISIONS")])
def test_tables_are_the_library_names(kind, table):
    names = getattr(sattn, table)
    assert names == {_library_name(kind, value): value for value in range(64) if _library_name(kind, value)}
    for name, value in names.items():
        assert _library_value(kind, name) == value
    assert len(set(names.values())) == len(names)


def test_pattern_and_precision_tables_hold_the_spec_names():
    assert set(sattn.PATTERNS) == {"auto", "dense", "sliding_window", "block_topk", "block_local_global",
                                   "nm_structured", "topk_per_query", "lsh", "landmark", "block_mask"}
    assert sattn.PRECISIONS == {"fp32": 0, "bf16": 1, "fp16": 2, "int8": 3, "int4": 4}


def test_every_listed_alias_is_accepted_by_the_library():
    """The alias spellings written in _names.py (for error messages) must all be the library's."""
    for kind, aliases in _names._ALIAS_CANDIDATES.items():
        canonical = {value: name for name, value in _names._names_of(kind).items()}
        for alias in aliases:
            value = _library_value(kind, alias)
            assert value in canonical, f"the library does not know {kind} alias {alias!r}"
        assert set(_names._aliases_of(kind)) == set(aliases)
    assert sattn.PATTERN_ALIASES == {"sliding_global": "sliding_window", "bsr": "block_topk"}
    assert sattn.PRECISION_ALIASES["bfloat16"] == "bf16"


def test_user_strings_are_read_by_the_library():
    """Case and surrounding blanks do not matter; aliases resolve; codes are accepted as they are."""
    assert _names.pattern_code(" Block_TopK ") == _names.pattern_code("bsr") == sattn.PATTERNS["block_topk"]
    assert _names.precision_code("BFLOAT16") == _names.precision_code("bf16") == sattn.PRECISIONS["bf16"]
    assert _names.pattern_code(sattn.PATTERNS["lsh"]) == sattn.PATTERNS["lsh"]
    assert _names.pattern_code(np.int32(2)) == 2
    for bad in ("sliding", "", "dense\u00e9", 99, True, 2.0):
        with pytest.raises(ValueError, match="valid: .*sliding_window"):
            _names.pattern_code(bad)


def test_ctypes_constants_have_the_library_names():
    """The #define mirrors in _structs.py name the values the library names."""
    assert [_library_name("dtype", code) for code in (_structs.DTYPE_F32, _structs.DTYPE_F16, _structs.DTYPE_BF16,
                                                      _structs.DTYPE_U8)] == ["f32", "f16", "bf16", "u8"]
    devices = {_structs.DEVICE_CPU: "cpu", _structs.DEVICE_CUDA: "cuda", _structs.DEVICE_CUDA_HOST: "cuda_host",
               _structs.DEVICE_CUDA_MANAGED: "cuda_managed"}
    assert _names.DEVICE_NAMES == devices


def test_numpy_dtypes_map_through_the_library_names():
    assert _names.dtype_code(np.float32) == _structs.DTYPE_F32
    assert _names.dtype_code(np.float16) == _structs.DTYPE_F16
    assert _names.dtype_code("f16") == _names.dtype_code("HALF") == _structs.DTYPE_F16
    for bad in (np.float64, np.int32, "u8", "nonsense"):
        with pytest.raises(TypeError, match="float32, float16 or ml_dtypes.bfloat16"):
            _names.dtype_code(bad)


def test_backend_capabilities_are_named_by_the_library():
    cpu = next(b for b in sattn.backends() if b["name"] == "reference")
    assert cpu["patterns"] == [name for name, value in sorted(sattn.PATTERNS.items(), key=lambda item: item[1])
                               if cpu["pattern_mask"] & (1 << value)]
    assert cpu["device"] == _library_name("device_type", cpu["device_type"])


def test_import_does_not_load_the_library(tmp_path):
    """`import sattn` works without a library; the tables then raise SattnLibraryNotFound on first access."""
    script = ("import sattn\n"
              "print(sattn.__version__)\n"
              "try:\n"
              "    sattn.PATTERNS\n"
              "except sattn.SattnLibraryNotFound:\n"
              "    print('not found')\n")
    env = dict(os.environ, SATTN_LIBRARY=str(tmp_path / "missing" / "libsattn.so"),
               PYTHONPATH=str(Path(sattn.__file__).resolve().parents[1]))
    result = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    assert result.stdout.split() == [sattn.__version__, "not", "found"]


def test_unknown_module_attribute():
    with pytest.raises(AttributeError):
        sattn.NOT_A_TABLE  # noqa: B018
    with pytest.raises(AttributeError):
        _names.NOT_A_TABLE  # noqa: B018

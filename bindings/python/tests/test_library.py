"""The loaded library: version, backends, how it is found, and the ctypes mirrors against the C header."""
import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sattn_test_helpers import random_qkv

import sattn
from sattn import _loader, _structs

REPO_ROOT = Path(__file__).resolve().parents[3]
HEADER_DIR = REPO_ROOT / "include"


def test_version():
    text = sattn.version()
    major, minor, patch = sattn.version_info()
    assert text == f"{major}.{minor}.{patch}"
    version_file = REPO_ROOT / "VERSION"
    if version_file.is_file():
        assert text == version_file.read_text().strip()
    package_major, package_minor = (int(x) for x in sattn.__version__.split(".")[:2])
    assert major == package_major and minor >= package_minor


def test_backends():
    backends = sattn.backends()
    assert backends, "at least the built-in CPU backend"
    keys = {"name", "description", "path", "available", "device", "device_type", "is_plugin", "patterns",
            "precisions", "pattern_mask", "precision_mask"}
    for backend in backends:
        assert set(backend) == keys
        assert backend["name"]
    cpu = next(b for b in backends if b["name"] == "reference")
    assert cpu["available"] and cpu["device"] == "cpu" and not cpu["is_plugin"] and cpu["path"] == ""
    assert {"dense", "sliding_window", "block_topk", "landmark", "block_mask"} <= set(cpu["patterns"])
    assert {"fp32", "bf16", "fp16", "int8", "int4"} <= set(cpu["precisions"])


def test_plan_creates_with_the_ctypes_structs():
    """The library checks struct_size: creating a plan proves the descriptor and prefs sizes are the header's."""
    plan = sattn.Plan(batch=1, num_q_heads=2, q_len=9, head_dim=8, pattern="dense", backend="reference")
    assert plan.info["backend"] == "reference"
    plan.close()


def _c_layout_program():
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <sattn.h>", "int main(void) {"]
    for struct in _structs.ALL_STRUCTS:
        name = struct.__name__
        lines.append(f'  printf("{name} sizeof %zu\\n", sizeof({name}));')
        for field, _ in struct._fields_:
            lines.append(f'  printf("{name} {field} %zu\\n", offsetof({name}, {field}));')
    lines += ["  return 0;", "}"]
    return "\n".join(lines) + "\n"


def test_struct_layouts_match_the_header(tmp_path):
    """Every field offset and struct size of the ctypes mirrors equals what a C compiler makes of sattn.h."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if compiler is None or not (HEADER_DIR / "sattn.h").is_file():
        pytest.skip("needs a C compiler and include/sattn.h")
    source = tmp_path / "layout.c"
    source.write_text(_c_layout_program())
    binary = tmp_path / "layout"
    subprocess.run([compiler, "-std=c99", "-I", str(HEADER_DIR), str(source), "-o", str(binary)], check=True)
    c_layout = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout.splitlines()
    py_layout = []
    for struct in _structs.ALL_STRUCTS:
        py_layout.append(f"{struct.__name__} sizeof {ctypes.sizeof(struct)}")
        py_layout += [f"{struct.__name__} {field} {getattr(struct, field).offset}" for field, _ in struct._fields_]
    assert py_layout == c_layout


def test_init_defaults_follow_the_macros():
    params = _structs.pattern_params_init()
    assert params.dilation == 1 and params.local_blocks == 1 and params.window_size == 0 and params.keep_ratio == 0
    desc = _structs.attention_desc_init()
    assert desc.struct_size == ctypes.sizeof(desc) and desc.batch == desc.num_q_heads == desc.num_kv_heads == 1
    assert desc.dtype == _structs.DTYPE_F32 and desc.pattern == 0 and desc.precision == 0


# ---- finding the library -------------------------------------------------------------------------------------------
def test_explicit_library_variable_is_the_only_candidate(tmp_path):
    path = str(tmp_path / "libsattn.so")
    assert _loader.candidates({"SATTN_LIBRARY": path}) == [("$SATTN_LIBRARY", path)]
    with pytest.raises(sattn.SattnError) as excinfo:
        _loader.open_library({"SATTN_LIBRARY": path})
    assert isinstance(excinfo.value, sattn.SattnLibraryNotFound) and isinstance(excinfo.value, OSError)
    assert path in str(excinfo.value) and "no such file" in str(excinfo.value)


def test_search_order_bundled_then_build_trees_then_system(tmp_path):
    root = tmp_path / "repo"
    package = root / "bindings" / "python" / "sattn"
    (package / "_lib").mkdir(parents=True)
    (root / "include").mkdir()
    (root / "include" / "sattn.h").write_text("")
    for build in ("default", "older", "newer"):
        (root / "build" / build / "src").mkdir(parents=True)
        (root / "build" / build / "src" / "libsattn.so").write_text("")
    os.utime(root / "build" / "older" / "src" / "libsattn.so", (1, 1))
    (package / "_lib" / "libsattn.so.0").write_text("")
    (package / "_lib" / "libsattn.so").write_text("")
    found = _loader.candidates({}, package)
    assert found[:5] == [
        ("bundled", str(package / "_lib" / "libsattn.so")),
        ("bundled", str(package / "_lib" / "libsattn.so.0")),
        ("build tree", str(root / "build" / "default" / "src" / "libsattn.so")),
        ("build tree", str(root / "build" / "newer" / "src" / "libsattn.so")),
        ("build tree", str(root / "build" / "older" / "src" / "libsattn.so")),
    ]
    assert found[5] == ("system loader", "libsattn.so.0")


def test_bundled_copy_loads(tmp_path):
    package = tmp_path / "site-packages" / "sattn"
    (package / "_lib").mkdir(parents=True)
    shutil.copyfile(Path(_loader.library_path()).resolve(), package / "_lib" / "libsattn.so")
    lib, path = _loader.open_library({}, package)
    assert path == str(package / "_lib" / "libsattn.so")
    assert lib.sattn_version_string  # the symbol resolves


_NOTHING_FOUND_SCRIPT = """
import ctypes, sys
from sattn import _loader, errors
try:
    ctypes.CDLL("libsattn.so.0")
    print("SYSTEM")
except OSError:
    try:
        _loader.open_library({}, sys.argv[1])
    except errors.SattnLibraryNotFound as exc:
        print(exc)
"""


def test_nothing_found_says_where_it_looked(tmp_path):
    """In a fresh interpreter: this one has libsattn loaded, and the loader then resolves its SONAME by itself."""
    package = tmp_path / "site-packages" / "sattn"
    package.mkdir(parents=True)
    assert _loader.candidates({}, package)[0] == ("system loader", "libsattn.so.0")
    env = {key: value for key, value in os.environ.items() if key != "SATTN_LIBRARY"}
    env["PYTHONPATH"] = str(Path(sattn.__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", _NOTHING_FOUND_SCRIPT, str(package)], env=env, check=True,
                            capture_output=True, text=True)
    if result.stdout.strip() == "SYSTEM":
        pytest.skip("a libsattn is installed system-wide")
    assert "libsattn.so was not found" in result.stdout
    assert "libsattn.so.0" in result.stdout and "SATTN_LIBRARY" in result.stdout


def test_load_plugin_refuses_a_non_plugin(tmp_path):
    bogus = tmp_path / "libnot_a_plugin.so"
    bogus.write_bytes(b"not an ELF file")
    with pytest.raises(sattn.SattnError) as excinfo:
        sattn.load_plugin(bogus)
    assert str(excinfo.value)


def test_float16_plan_from_arrays():
    q, k, v = random_qkv(5, 1, 2, 1, 10, 12, 8, dtype="float16")
    with sattn.Plan.for_arrays(q, k, v, precision="fp16") as plan:
        assert plan.dtype == "float16" and plan.shape["kv_len"] == 12


def test_a_library_older_than_the_bindings_is_a_version_mismatch():
    """The bindings need ABI 0.2 (the exported enum names); a 0.1 library is refused before any other symbol is used,
    and so is another major version."""
    class FakeLibrary:
        def __init__(self, encoded):
            self.sattn_version = lambda: encoded

    for encoded in (1000, 1002000):  # 0.1.0, 1.2.0
        with pytest.raises(sattn.SattnError) as excinfo:
            _loader._check_abi(FakeLibrary(encoded), "libsattn.so.old")
        assert excinfo.value.status_name == "SATTN_ERROR_VERSION_MISMATCH"
        assert "libsattn.so.old" in str(excinfo.value)
    _loader._check_abi(FakeLibrary(2005), "libsattn.so.newer")  # 0.2.5: accepted

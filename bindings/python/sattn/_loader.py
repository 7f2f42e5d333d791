"""Finding and loading libsattn.so, and declaring the C prototypes.

Search order (the first that loads wins):
1. $SATTN_LIBRARY, a file path. When it is set nothing else is tried: a library someone named explicitly must not be
   silently replaced by another one.
2. The copy bundled in the package, sattn/_lib/libsattn.so* (`pip install .` builds it with CMake and installs it
   there as libsattn.so.0, see pyproject.toml).
3. The repository's build trees, when this package runs from a source checkout (bindings/python/sattn):
   build/default/src first, then the other build/*/src, most recently built first.
4. The system loader: libsattn.so.0 (the SONAME), then whatever ctypes.util.find_library("sattn") reports.
The library is loaded on first use, so `import sattn` works without it and the error comes with the first call.
"""
import ctypes
import ctypes.util
import os
import threading
from pathlib import Path

from . import _structs as S
from ._version import ABI_VERSION
from .errors import STATUS_VERSION_MISMATCH, SattnError, SattnLibraryNotFound, error_from_status

LIBRARY_VARIABLE = "SATTN_LIBRARY"
SONAME = "libsattn.so.0"
PACKAGE_DIR = Path(__file__).resolve().parent


def _bundled_candidates(package_dir):
    lib_dir = Path(package_dir) / "_lib"
    # Shortest name first: libsattn.so before libsattn.so.0 before libsattn.so.0.1.0.
    return sorted(lib_dir.glob("libsattn.so*"), key=lambda p: (len(p.name), p.name))


def _repository_candidates(package_dir):
    root = Path(package_dir).parent.parent.parent
    if not (root / "include" / "sattn.h").is_file():
        return []  # installed in site-packages: there is no source tree around us
    default = root / "build" / "default" / "src" / "libsattn.so"
    others = [p for p in root.glob("build/*/src/libsattn.so") if p.parent.parent.name != "default"]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [default] + others


def candidates(environ=None, package_dir=PACKAGE_DIR):
    """(origin, path) pairs in search order; path is a file path, or a bare name for the system loader."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(LIBRARY_VARIABLE, "").strip()
    if explicit:
        return [(f"${LIBRARY_VARIABLE}", explicit)]
    found = [("bundled", str(p)) for p in _bundled_candidates(package_dir)]
    found += [("build tree", str(p)) for p in _repository_candidates(package_dir)]
    found.append(("system loader", SONAME))
    system_name = ctypes.util.find_library("sattn")
    if system_name and system_name != SONAME:
        found.append(("system loader", system_name))
    return found


def open_library(environ=None, package_dir=PACKAGE_DIR):
    """Loads the first candidate that loads; returns (ctypes.CDLL, path). Raises SattnLibraryNotFound otherwise."""
    tried = []
    for origin, path in candidates(environ, package_dir):
        is_file_path = os.sep in path
        if is_file_path and not os.path.isfile(path):
            tried.append(f"  {origin}: {path} (no such file)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:
            tried.append(f"  {origin}: {path} ({exc})")
    explicit = (os.environ if environ is None else environ).get(LIBRARY_VARIABLE, "").strip()
    hint = (
        f"fix ${LIBRARY_VARIABLE} or unset it to search the usual places"
        if explicit
        else f"set ${LIBRARY_VARIABLE} to the path of libsattn.so, build the repository (build/default), install "
        f"libsattn where the system loader finds it, or reinstall this package with `pip install .` from the "
        f"repository root (which builds and bundles the library)"
    )
    raise SattnLibraryNotFound("libsattn.so was not found; looked at:\n" + "\n".join(tried) + f"\n{hint}")


def _declare(lib, prototypes):
    for name, (restype, argtypes) in prototypes.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


def _declare_version(lib):
    _declare(lib, {"sattn_version": (ctypes.c_uint32, []), "sattn_version_string": (ctypes.c_char_p, [])})


def _declare_prototypes(lib):
    c_status = ctypes.c_int  # sattn_status is a C enum: int-sized
    plan_p = ctypes.c_void_p  # sattn_plan* is opaque
    prototypes = {
        "sattn_status_string": (ctypes.c_char_p, [c_status]),
        "sattn_last_error": (ctypes.c_char_p, []),
        "sattn_plan_create": (
            c_status,
            [ctypes.POINTER(S.sattn_attention_desc), ctypes.POINTER(S.sattn_plan_prefs), ctypes.POINTER(plan_p)],
        ),
        "sattn_plan_can_implement": (c_status, [plan_p, ctypes.POINTER(S.sattn_run_args)]),
        "sattn_plan_workspace_size": (c_status, [plan_p, ctypes.POINTER(ctypes.c_size_t)]),
        "sattn_plan_run": (
            c_status,
            [plan_p, ctypes.POINTER(S.sattn_run_args), ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p],
        ),
        "sattn_plan_destroy": (None, [plan_p]),
        "sattn_plan_get_info": (c_status, [plan_p, ctypes.POINTER(S.sattn_plan_info)]),
        "sattn_plan_get_stats": (c_status, [plan_p, ctypes.POINTER(S.sattn_plan_stats)]),
        "sattn_backend_count": (ctypes.c_int32, []),
        "sattn_backend_get_info": (c_status, [ctypes.c_int32, ctypes.POINTER(S.sattn_backend_info)]),
        "sattn_backend_load": (c_status, [ctypes.c_char_p]),
    }
    # The enum names (the library's one table of them; see _names.py).
    for kind in ("pattern", "precision", "dtype", "device_type"):
        prototypes[f"sattn_{kind}_name"] = (ctypes.c_char_p, [ctypes.c_int32])
    for kind in ("pattern", "precision", "dtype"):
        prototypes[f"sattn_{kind}_from_name"] = (ctypes.c_int32, [ctypes.c_char_p])
    _declare(lib, prototypes)


def _check_abi(lib, path):
    encoded = int(lib.sattn_version())
    major, minor = encoded // 1000000, (encoded // 1000) % 1000
    if major != ABI_VERSION[0] or minor < ABI_VERSION[1]:
        raise SattnError(
            f"{path} is libsattn {major}.{minor}, these bindings need {ABI_VERSION[0]}.x with x >= {ABI_VERSION[1]}",
            STATUS_VERSION_MISMATCH,
        )


_lock = threading.Lock()
_library = None
_library_path = None


def library():
    """The loaded ctypes library, loading it on first use."""
    global _library, _library_path
    if _library is None:
        with _lock:
            if _library is None:
                lib, path = open_library()
                # The version first: an older library lacks some of the other symbols, and should be reported as
                # the version mismatch it is.
                _declare_version(lib)
                _check_abi(lib, path)
                _declare_prototypes(lib)
                _library_path = path
                _library = lib
    return _library


def library_path():
    """Path (or loader name) of the libsattn that was loaded."""
    library()
    return _library_path


def check(status):
    """Raises the SattnError for a failed sattn_status, with sattn_last_error() as its message."""
    if status == 0:
        return
    lib = library()
    message = (lib.sattn_last_error() or b"").decode("utf-8", "replace")
    name = (lib.sattn_status_string(status) or b"").decode("utf-8", "replace") or None
    raise error_from_status(status, message or name or f"sattn status {status}", name)

"""What the loaded library is: version, backends, plugins."""
import ctypes
import os

from . import _structs as S
from ._loader import check, library, library_path
from ._names import device_name, names_in_mask


def version():
    """Version string of the loaded libsattn, "MAJOR.MINOR.PATCH"."""
    return library().sattn_version_string().decode()


def version_info():
    """(major, minor, patch) of the loaded libsattn."""
    encoded = int(library().sattn_version())
    return encoded // 1000000, (encoded // 1000) % 1000, encoded % 1000


def _text(raw):
    return raw.decode("utf-8", "replace") if raw else ""


def backends():
    """The registered backends as dicts: name, description, path ("" when built in), available, device, device_type,
    is_plugin, patterns and precisions (names), pattern_mask and precision_mask (the raw bit masks)."""
    lib = library()
    result = []
    for index in range(int(lib.sattn_backend_count())):
        info = S.backend_info_init()
        check(lib.sattn_backend_get_info(index, ctypes.byref(info)))
        result.append({
            "name": _text(info.name),
            "description": _text(info.description),
            "path": _text(info.path),
            "available": bool(info.available),
            "device": device_name(info.device_type),
            "device_type": int(info.device_type),
            "is_plugin": bool(info.is_plugin),
            "patterns": names_in_mask(info.pattern_mask, "pattern"),
            "precisions": names_in_mask(info.precision_mask, "precision"),
            "pattern_mask": int(info.pattern_mask),
            "precision_mask": int(info.precision_mask),
        })
    return result


def load_plugin(path):
    """Loads a backend plugin shared object (sattn_backend_load); raises SattnError when it is refused."""
    check(library().sattn_backend_load(os.fsencode(path)))


__all__ = ["backends", "library_path", "load_plugin", "version", "version_info"]

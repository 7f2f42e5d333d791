"""sattn: Python bindings of libsattn, the sparse attention runtime library (ctypes + numpy).

    from sattn import sparse_attention
    O = sparse_attention(Q, K, V, pattern="block_topk",
                         params={"block_size": 64, "keep_ratio": 0.12, "global_tokens": 16},
                         precision="bf16", training=False)

The shared library is found on first use: $SATTN_LIBRARY, the copy bundled in the package (`pip install .`), the
repository's build trees, then the system loader (see sattn/_loader.py). PATTERNS, PATTERN_ALIASES, PRECISIONS and
PRECISION_ALIASES are read from that library on first access, so `import sattn` itself does not load it.
"""
from . import _names
from ._params import PARAM_FIELDS
from ._version import __version__
from .attention import sparse_attention
from .errors import (SattnError, SattnInvalidArgument, SattnLibraryNotFound, SattnNotSupported,
                     SattnOutOfMemory)
from .library import backends, library_path, load_plugin, version, version_info
from .plan import Plan, block_mask_shape

__all__ = [
    "PARAM_FIELDS",
    "PATTERNS",
    "PATTERN_ALIASES",
    "PRECISIONS",
    "PRECISION_ALIASES",
    "Plan",
    "SattnError",
    "SattnInvalidArgument",
    "SattnLibraryNotFound",
    "SattnNotSupported",
    "SattnOutOfMemory",
    "__version__",
    "backends",
    "block_mask_shape",
    "library_path",
    "load_plugin",
    "sparse_attention",
    "version",
    "version_info",
]


_NAME_TABLES = ("PATTERNS", "PATTERN_ALIASES", "PRECISIONS", "PRECISION_ALIASES")


def __getattr__(name):
    """PATTERNS ({name: sattn_pattern}), PATTERN_ALIASES, PRECISIONS, PRECISION_ALIASES: from the loaded library."""
    if name in _NAME_TABLES:
        return getattr(_names, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

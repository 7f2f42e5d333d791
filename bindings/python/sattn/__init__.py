"""sattn: Python bindings of libsattn, the sparse attention runtime library (ctypes + numpy).

    from sattn import sparse_attention
    O = sparse_attention(Q, K, V, pattern="block_topk",
                         params={"block_size": 64, "keep_ratio": 0.12, "global_tokens": 16},
                         precision="bf16", training=False)

The shared library is found on first use: $SATTN_LIBRARY, a copy bundled in the package, the repository's build
trees, then the system loader (see sattn/_loader.py).
"""
from ._names import PATTERN_ALIASES, PATTERNS, PRECISIONS
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

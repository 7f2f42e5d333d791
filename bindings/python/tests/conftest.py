"""Makes the sattn package importable from the source tree when it is not installed (ctest sets PYTHONPATH; a plain
`pytest bindings/python/tests` in a checkout works too). The library itself is found by sattn's own search
($SATTN_LIBRARY first)."""
import sys
from pathlib import Path

try:
    import sattn  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

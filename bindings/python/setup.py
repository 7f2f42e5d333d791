"""Build hook: bundle a prebuilt libsattn.so into the package when SATTN_BUNDLE_LIBRARY names one.

Everything else about the package is declared in pyproject.toml. Without the variable the package is pure Python and
finds the library at import time (see sattn/_loader.py).
"""
import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

BUNDLE_VARIABLE = "SATTN_BUNDLE_LIBRARY"


def _bundled_library():
    value = os.environ.get(BUNDLE_VARIABLE, "").strip()
    return Path(value) if value else None


class BuildPyWithLibrary(build_py):
    """Copies the named shared object to sattn/_lib/libsattn.so next to the Python sources."""

    def run(self):
        super().run()
        library = _bundled_library()
        if library is None:
            return
        if not library.is_file():
            raise SystemExit(f"{BUNDLE_VARIABLE}={library} is not a file")
        target_dir = Path(self.build_lib) / "sattn" / "_lib"
        target_dir.mkdir(parents=True, exist_ok=True)
        # resolve(): libsattn.so is usually a symlink chain to libsattn.so.MAJOR.MINOR.PATCH; copy the real file.
        shutil.copyfile(library.resolve(), target_dir / "libsattn.so")


class BinaryDistributionWhenBundled(Distribution):
    """A bundled shared object makes the wheel platform specific; say so, so that its tag is not py3-none-any."""

    def has_ext_modules(self):
        return _bundled_library() is not None


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistributionWhenBundled)

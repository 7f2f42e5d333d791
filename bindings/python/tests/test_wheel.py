"""The real package: `pip wheel .` at the repository root builds libsattn with CMake (scikit-build-core, see
pyproject.toml) and bundles it; the wheel, installed with `pip install --target`, runs the Python quickstarts of
README.md and bindings/python/README.md from a directory outside the repository, with SATTN_LIBRARY unset.

Slow (a CMake build of the library: about half a minute on 2 cores, less when SATTN_WHEEL_BUILD_DIR names a build
folder kept from an earlier run, as ctest does). Runs without PyPI: --no-build-isolation with scikit-build-core from
the venv (tools/install-deps.sh), --no-index, --no-deps.
"""
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sattn_test_helpers import require_module

import sattn

REPO_ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def _run(command, **kwargs):
    """subprocess.run that fails the test with the command's output."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (f"{' '.join(map(str, command))} exited {result.returncode}\n"
                                    f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}")
    return result


def _clean_environment(**extra):
    """The caller's environment without SATTN_LIBRARY and PYTHONPATH (the installed package must stand alone)."""
    env = {key: value for key, value in os.environ.items() if key not in ("SATTN_LIBRARY", "PYTHONPATH")}
    env.update(extra)
    return env


def _python_blocks(markdown, heading=None):
    """The ```python blocks of a Markdown file, or of its section under `heading` (up to the next ## heading)."""
    text = markdown.read_text()
    if heading is not None:
        assert heading in text, f"{markdown.name} has no section {heading!r}"
        text = re.split(r"^## ", text.split(heading, 1)[1], flags=re.M)[0]
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory):
    """(wheel path, folder the wheel was installed into with pip install --target)."""
    if not (REPO_ROOT / "pyproject.toml").is_file():
        pytest.skip("needs the repository checkout (pyproject.toml at its root)")
    require_module("scikit_build_core")
    work = tmp_path_factory.mktemp("wheel")
    build_dir = os.environ.get("SATTN_WHEEL_BUILD_DIR") or work / "cmake-build"
    env = _clean_environment()
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", "2")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run(pip + ["wheel", REPO_ROOT, "--no-deps", "--no-build-isolation", "--no-index", "-w", work / "dist",
                "-C", f"build-dir={build_dir}"], env=env, cwd=work)
    wheels = sorted((work / "dist").glob("sattn-*.whl"))
    assert len(wheels) == 1, wheels
    _run(pip + ["install", "--no-deps", "--no-index", "--target", work / "site", wheels[0]], env=env, cwd=work)
    return wheels[0], work / "site"


def test_wheel_holds_the_package_and_the_library(wheel_site):
    wheel, _ = wheel_site
    version = (REPO_ROOT / "VERSION").read_text().strip()
    # ctypes does not depend on the Python ABI: py3-none-<platform>.
    assert re.fullmatch(rf"sattn-{re.escape(version)}-py3-none-linux_[a-z0-9_]+\.whl", wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"sattn-{version}.dist-info/METADATA").decode()
    assert "sattn/_lib/libsattn.so.0" in names  # the real file under its SONAME, the only copy
    assert not [name for name in names if "libsattn" in name and name != "sattn/_lib/libsattn.so.0"]
    package_files = {path.relative_to(Path(sattn.__file__).parent).as_posix()
                     for path in Path(sattn.__file__).parent.glob("*") if path.suffix in (".py", ".typed")}
    assert {f"sattn/{name}" for name in package_files} <= names
    assert not [name for name in names if "tests/" in name or name.endswith(".pyc")]
    assert "Requires-Dist: numpy" in metadata and "Provides-Extra: bf16" in metadata


@pytest.mark.parametrize("markdown,heading", [("README.md", "## Quickstart in Python"),
                                              ("bindings/python/README.md", None)])
def test_readme_quickstart_runs_from_the_installed_wheel(wheel_site, tmp_path, markdown, heading):
    _, site = wheel_site
    blocks = _python_blocks(REPO_ROOT / markdown, heading)
    assert blocks, f"no python block in {markdown}"
    script = blocks[0] + (
        "\nimport sattn\n"
        "print('LIBRARY', sattn.library_path())\n"
        "print('PACKAGE', sattn.__file__)\n"
        "print('O', O.shape, O.dtype)\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = _run([sys.executable, "-c", script], cwd=outside, env=_clean_environment(PYTHONPATH=str(site)))
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert Path(lines["PACKAGE"]).parent == site / "sattn", "the installed package, not the checkout"
    assert Path(lines["LIBRARY"]) == site / "sattn" / "_lib" / "libsattn.so.0", "the bundled library"
    assert lines["O"].startswith("(1, 8, ")

"""``import rumi_xarray`` and the core modules stay light: no xarray, Zarr, fsspec or numcodecs.

Each check runs in a fresh interpreter, so what the test session imported does not count. The
core is every top-level module of ``rumi_xarray`` (``spec``, ``bits``, ``layout``, ``georef``,
``trailer``, ``format``, ``io``, ``decode``, ``coords``, ``errors``, and whatever joins them),
found on disk so that a new core module is checked without being listed; the command line is
checked too, as ``rumi-xarray --help`` must not wait for the array stack.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import rumi_xarray
import rumi_xarray.cli

HEAVY = ("xarray", "zarr", "fsspec", "numcodecs", "dask")
"""What the light modules must not load; the consumers import them when they run."""

CORE = sorted(
    f"rumi_xarray.{m.name}" for m in pkgutil.iter_modules(rumi_xarray.__path__) if not m.ispkg
)
CLI = sorted(
    f"rumi_xarray.cli.{m.name}"
    for m in pkgutil.iter_modules(rumi_xarray.cli.__path__)
    if m.name != "__main__"
)


def _loaded_by(module: str) -> list[str]:
    """The modules of :data:`HEAVY` that importing ``module`` loads, in a fresh interpreter."""
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.split()


def test_the_core_is_found_on_disk() -> None:
    names = {name.removeprefix("rumi_xarray.") for name in CORE}
    assert {"spec", "bits", "layout", "georef", "trailer", "format", "io", "decode"} <= names


@pytest.mark.parametrize("module", ["rumi_xarray", "rumi_codec", *CORE, *CLI])
def test_module_loads_no_array_stack(module: str) -> None:
    assert _loaded_by(module) == []


def test_import_rumi_xarray_loads_only_its_errors() -> None:
    """``import rumi_xarray`` (<= 5 ms over a bare interpreter) loads the package and its
    error classes, and nothing else: no numpy, xarray, pyproj or zarr, not even ``typing``
    or ``importlib`` (the public functions load their modules on first use)."""
    code = (
        "import sys; before = set(sys.modules); import rumi_xarray;"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(done.stdout.split()) - {"__future__"}
    assert loaded == {"rumi_xarray", "rumi_xarray.errors"}
    assert loaded.isdisjoint({"numpy", "xarray", "pyproj", "zarr", "typing", "importlib"})


def test_the_check_sees_a_heavy_import() -> None:
    """Control: a module that does import the array stack is caught."""
    assert "xarray" in _loaded_by("rumi_xarray.backend.entrypoint")

"""The public names: importable from ``rumi_xarray`` whatever was imported before, functions that
stay functions (no submodule shadows one), and every error class exported by ``rumi_xarray.errors``.

The issue this guards: a submodule named like a public function (``rumi_xarray.mosaic``) replaces
the function on the package once anything imports it, so ``rumi_xarray.mosaic(paths)`` raised
``TypeError: 'module' object is not callable`` in the README's own order (catalog, then mosaic).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import rumi_codec
import rumi_xarray
import rumi_xarray.errors

PACKAGES = (rumi_xarray, rumi_codec)


def _every_module() -> list[ModuleType]:
    """Every module of both packages, imported (``__main__`` aside: it runs the command line)."""
    names = [package.__name__ for package in PACKAGES]
    for package in PACKAGES:
        found = pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        names += [m.name for m in found if m.name.rpartition(".")[2] != "__main__"]
    return [importlib.import_module(name) for name in names]


MODULES = _every_module()
ERRORS = sorted(
    (
        cls
        for module in MODULES
        for cls in vars(module).values()
        if inspect.isclass(cls)
        and issubclass(cls, Exception)
        and cls.__module__ == module.__name__
        and not cls.__name__.startswith("_")
    ),
    key=lambda cls: cls.__name__,
)
"""Every public exception or warning class defined in either package."""


def test_every_module_is_imported() -> None:
    names = {module.__name__ for module in MODULES}
    assert {"rumi_xarray.virtual.mosaic", "rumi_xarray.virtual.catalog"} <= names
    assert {"rumi_xarray.virtual.file", "rumi_xarray.cli.main", "rumi_codec.zarr_"} <= names


@pytest.mark.parametrize("name", rumi_xarray.__all__)
def test_public_name_is_importable_and_no_module(name: str) -> None:
    value = getattr(rumi_xarray, name)
    assert not isinstance(value, ModuleType), f"rumi_xarray.{name} is a module"
    assert callable(value)
    if not (inspect.isclass(value) and issubclass(value, Exception)):
        assert inspect.isfunction(value), f"rumi_xarray.{name} is {value!r}"
        assert value.__name__ == name


def test_no_submodule_is_named_like_a_public_name() -> None:
    submodules = {m.name for m in pkgutil.iter_modules(rumi_xarray.__path__)}
    assert submodules.isdisjoint(rumi_xarray.__all__)


def test_readme_order_in_a_fresh_process() -> None:
    """Catalog first, then mosaic and references: each still the function."""
    code = (
        "import rumi_xarray\n"
        "from rumi_xarray import read_catalog\n"
        "import rumi_xarray.virtual.mosaic, rumi_xarray.virtual.catalog, rumi_xarray.virtual.file\n"
        "for name in ('catalog', 'mosaic', 'references'):\n"
        "    value = getattr(rumi_xarray, name)\n"
        "    assert callable(value) and value.__name__ == name, (name, value)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_walk_finds_the_error_classes() -> None:
    assert {"RumiFormatError", "RumiVirtualError", "RumiDataLossWarning"} <= {
        cls.__name__ for cls in ERRORS
    }


@pytest.mark.parametrize("cls", ERRORS, ids=[cls.__name__ for cls in ERRORS])
def test_error_class_is_exported(cls: type[Exception]) -> None:
    assert getattr(rumi_xarray.errors, cls.__name__, None) is cls
    assert cls.__name__ in rumi_xarray.__all__
    assert getattr(rumi_xarray, cls.__name__) is cls


def test_docs_api_lists_every_module() -> None:
    """docs/api.md's "Where things live" has one line per module, and none that is gone."""
    root = Path(__file__).parents[2]
    text = (root / "docs" / "api.md").read_text().split("## Where things live")[1]
    listed = {line.split("`")[1] for line in text.splitlines() if line.startswith("| `")}
    files = {
        path.relative_to(root).as_posix()
        for package in PACKAGES
        for path in Path(package.__path__[0]).rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    }
    assert listed == files

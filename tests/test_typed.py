"""Both packages are typed (PEP 561) and type checkers see every lazily loaded public name."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["rumi_xarray", "rumi_codec"])
def test_py_typed_marker_is_in_the_package_and_the_wheel(package: str) -> None:
    assert (ROOT / package / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert package in wheel["packages"]
    assert not any("py.typed" in pattern for pattern in wheel.get("exclude", ()))


def test_type_checkers_see_each_lazy_name_where_it_is_loaded_from() -> None:
    """The ``TYPE_CHECKING`` imports of ``rumi_xarray/__init__.py`` mirror ``_LAZY``."""
    tree = ast.parse((ROOT / "rumi_xarray" / "__init__.py").read_text())
    lazy = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "_LAZY"
    )
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    seen = {
        alias.name: "." * node.level + (node.module or "")
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == lazy

"""Read rumi rasters lazily and exactly with xarray, Zarr and Dask; write them with ``to_rumi``.

``import rumi_xarray`` imports neither xarray nor the codec: names load on first use,
and the ``.rumi`` accessor (``da.rumi.to_rumi(path)``) is registered as soon as
xarray is imported, before or after this package.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from importlib import import_module
from typing import TYPE_CHECKING

from .errors import RumiFormatError, RumiVirtualError, RumiVirtualWarning

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = [
    "RumiDataLossError",
    "RumiDataLossWarning",
    "RumiFormatError",
    "RumiVirtualError",
    "RumiVirtualWarning",
    "catalog",
    "header_blob",
    "mosaic",
    "open_rumi",
    "open_stack",
    "read_catalog",
    "references",
    "to_icechunk",
    "to_kerchunk",
    "to_rumi",
    "write_catalog",
    "write_references",
]

_LAZY = {
    "RumiDataLossError": "._to_rumi_meta",
    "RumiDataLossWarning": "._to_rumi_meta",
    "catalog": ".catalog",
    "header_blob": ".read",
    "mosaic": ".mosaic",
    "open_rumi": ".backend",
    "open_stack": ".stack",
    "read_catalog": ".catalog",
    "references": ".references",
    "to_icechunk": ".outputs",
    "to_kerchunk": ".outputs",
    "to_rumi": "._to_rumi",
    "write_catalog": ".catalog",
    "write_references": ".outputs",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'rumi_xarray' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


class _AccessorHook(importlib.abc.MetaPathFinder):
    """Registers the ``.rumi`` accessor right after xarray finishes importing."""

    busy = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "xarray" or self.busy:
            return None
        self.busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.busy = False
        loader = None if spec is None else spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            import_module(".accessor", __name__)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "xarray" in sys.modules:
    import_module(".accessor", __name__)
else:
    sys.meta_path.insert(0, _AccessorHook())

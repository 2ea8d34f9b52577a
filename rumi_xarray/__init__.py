"""Read rumi rasters lazily and exactly with xarray, Zarr and Dask; write them with ``to_rumi``.

``import rumi_xarray`` is light: it loads the error classes only (not even ``typing``),
and each public function loads its module on first use. The ``.rumi`` accessor
(``da.rumi.to_rumi(path)``) is registered, as rioxarray's ``.rio`` is, when the module
defining it is imported: by the ``engine="rumi"`` backend (which xarray loads for any
plugin engine) and by ``to_rumi``.
"""

from __future__ import annotations

from .errors import (
    OpenZLError,
    RumiDataLossError,
    RumiDataLossWarning,
    RumiFormatError,
    RumiScanWarning,
    RumiVirtualError,
    RumiVirtualWarning,
)

TYPE_CHECKING = False
"""True for type checkers only; ``typing`` is not imported for it (nor is anything else)."""
if TYPE_CHECKING:  # what type checkers see of the names `__getattr__` loads on first use
    from .backend.array import open_array
    from .backend.entrypoint import open_rumi
    from .backend.stack import open_stack
    from .cache import set_frame_cache
    from .decode import header_blob
    from .remote import set_remote
    from .virtual.catalog import catalog, read_catalog, write_catalog
    from .virtual.file import references
    from .virtual.mosaic import mosaic
    from .virtual.outputs import to_icechunk, to_kerchunk, write_references
    from .write.to_rumi import to_rumi

__all__ = [
    "OpenZLError",
    "RumiDataLossError",
    "RumiDataLossWarning",
    "RumiFormatError",
    "RumiScanWarning",
    "RumiVirtualError",
    "RumiVirtualWarning",
    "catalog",
    "header_blob",
    "mosaic",
    "open_array",
    "open_rumi",
    "open_stack",
    "read_catalog",
    "references",
    "set_frame_cache",
    "set_remote",
    "to_icechunk",
    "to_kerchunk",
    "to_rumi",
    "write_catalog",
    "write_references",
]

_LAZY = {
    "catalog": ".virtual.catalog",
    "header_blob": ".decode",
    "mosaic": ".virtual.mosaic",
    "open_array": ".backend.array",
    "open_rumi": ".backend.entrypoint",
    "open_stack": ".backend.stack",
    "read_catalog": ".virtual.catalog",
    "references": ".virtual.file",
    "set_frame_cache": ".cache",
    "set_remote": ".remote",
    "to_icechunk": ".virtual.outputs",
    "to_kerchunk": ".virtual.outputs",
    "to_rumi": ".write.to_rumi",
    "write_catalog": ".virtual.catalog",
    "write_references": ".virtual.outputs",
}
"""Where each public function lives; no submodule of this package shares a public name."""


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'rumi_xarray' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value

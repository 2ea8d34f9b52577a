"""The ``.rumi`` accessor: ``da.rumi.to_rumi(path)`` and ``ds.rumi.to_rumi(path, variable=...)``.

Registered when this module is imported, as rioxarray registers ``.rio``: the
``engine="rumi"`` backend (loaded by xarray for any plugin engine) and ``to_rumi`` import
it. The writer itself loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import xarray as xr

if TYPE_CHECKING:
    import os
    from collections.abc import Hashable

__all__ = ["RumiDataArrayAccessor", "RumiDatasetAccessor"]


@xr.register_dataarray_accessor("rumi")  # type: ignore[no-untyped-call]  # xarray: untyped
class RumiDataArrayAccessor:
    """rumi methods of a DataArray."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def to_rumi(self, target: str | os.PathLike[str], **options: Any) -> bytes:
        """Write this array as a rumi file; returns the header blob.

        ``options`` are those of :func:`rumi_xarray.to_rumi` (``tile``, ``frames``,
        ``compression``, ``bands``, ``time``, ``transform``, ``crs``, ...). What the file
        cannot hold is named in one ``RumiDataLossWarning``; ``strict=True`` raises
        ``RumiDataLossError`` instead, before anything is written.
        """
        from .to_rumi import to_rumi

        return to_rumi(self._obj, target, **options)


@xr.register_dataset_accessor("rumi")  # type: ignore[no-untyped-call]  # xarray: untyped
class RumiDatasetAccessor:
    """rumi methods of a Dataset."""

    def __init__(self, obj: xr.Dataset) -> None:
        self._obj = obj

    def to_rumi(
        self, target: str | os.PathLike[str], *, variable: Hashable | None = None, **options: Any
    ) -> bytes:
        """Write one data variable (the only one, or ``variable``) as a rumi file.

        Time bounds named by ``time.attrs["bounds"]`` and the grid mapping may be data
        variables of the Dataset. ``options`` are those of :func:`rumi_xarray.to_rumi`
        (``strict=True`` refuses to drop the Dataset's attributes, among others).
        """
        from .to_rumi import to_rumi

        return to_rumi(self._obj, target, variable=variable, **options)

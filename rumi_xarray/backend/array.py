"""``open_array``: one rumi file as a lazily read NumPy-style array, without xarray.

For loops that read many small windows (training chips, tiles of a web map), where a
Dataset's coordinate bookkeeping per selection costs more than the pixels: the same
description, reads and decoded-frame cache as ``engine="rumi"``, indexed like
``band_data``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..decode import read_window, resolve_verify
from ..io import close_reader
from ..sources import open_described
from .entrypoint import with_lock

if TYPE_CHECKING:
    from collections.abc import Buffer
    from types import TracebackType

    from ..decode import Key, Window
    from ..format import RumiFile
    from ..io import RangeReader

__all__ = ["RumiArray", "open_array"]


def open_array(
    source: Any,
    header: Buffer | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
    lock: Any = None,
    verify: bool | None = None,
) -> RumiArray:
    """Open a rumi file as a :class:`RumiArray` (reads its description, no pixels).

    ``source``, ``header``, ``storage_options``, ``lock`` and ``verify`` are those of
    ``xr.open_dataset(source, engine="rumi", ...)``; ``source`` may also be a catalog
    row (:class:`~rumi_xarray.virtual.entries.Entry`), which opens with no read. Pixels
    are the stored values: no nodata masking, no coordinates (``array.description``
    has the georeferencing).
    """
    desc, reader = open_described(source, header, storage_options)
    return RumiArray(desc, with_lock(reader, lock), resolve_verify(verify))


class RumiArray:
    """A rumi file's pixels, read on indexing: dims and shape of ``band_data``.

    ``(band, y, x)``, or ``(time, band, y, x)`` for files of several time steps.
    ``array[key]`` takes integers, slices and integer (or boolean) arrays per axis and
    indexes each axis on its own, as xarray's ``isel`` (outer indexing); integers drop
    their axis. ``array.read(y=..., x=...)`` is the same by dimension name.
    """

    def __init__(self, desc: RumiFile, reader: RangeReader, verify: bool = False) -> None:
        self.description = desc
        """The file's parsed description (grid, dtype, georeferencing, band texts, time)."""
        self.reader = reader
        self.verify = verify
        self._single_step = desc.grid.times == 1
        self.dims: tuple[str, ...] = ("time",) * (not self._single_step) + ("band", "y", "x")
        self.shape: tuple[int, ...] = desc.shape[self._single_step :]
        self.dtype: np.dtype = desc.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        keys = key if isinstance(key, tuple) else (key,)
        if len(keys) > self.ndim:
            raise IndexError(f"{len(keys)} indices for an array of {self.ndim} dimensions")
        full = [_axis_key(k, n) for k, n in zip(keys, self.shape, strict=False)]
        full += [slice(None)] * (self.ndim - len(full))
        window = cast("Window", ((0,) if self._single_step else ()) + tuple(full))
        return read_window(self.description, self.reader, window, verify=self.verify)

    def read(self, **indexers: Any) -> np.ndarray:
        """Index by dimension name, as ``isel``: ``array.read(band=0, y=slice(0, 256))``."""
        unknown = set(indexers) - set(self.dims)
        if unknown:
            raise ValueError(f"no dimension {sorted(unknown)!r}; dims are {self.dims}")
        return self[tuple(indexers.get(d, slice(None)) for d in self.dims)]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        values = self[()]
        return values if dtype is None else values.astype(dtype, copy=False)

    def close(self) -> None:
        """Release the file (a later read reopens it)."""
        close_reader(self.reader)

    def __enter__(self) -> RumiArray:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        dims = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape, strict=True))
        return f"<RumiArray ({dims}) {self.dtype}>"


def _axis_key(key: Any, n: int) -> Key:
    """One axis of an outer-indexing key: an int, a slice or a 1-D int64 array."""
    if isinstance(key, slice):
        return key
    if isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_):
        return int(key)
    if key is Ellipsis or key is None:
        raise IndexError("RumiArray takes integers, slices and integer arrays per axis")
    idx = np.asarray(key)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise IndexError(f"a boolean index of shape {idx.shape} for an axis of length {n}")
        return np.flatnonzero(idx)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise IndexError("RumiArray takes integers, slices and 1-D integer arrays per axis")
    return idx.astype(np.int64)

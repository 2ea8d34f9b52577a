"""xarray backend ``engine="rumi"``: lazy ``(band, y, x)`` or ``(time, band, y, x)`` arrays.

Keywords follow xarray's decoders and rioxarray's ``engine="rasterio"`` (:func:`open_rumi`).
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.backends.locks import SerializableLock
from xarray.core import indexing

from ..coords import area_or_point, band_coord, cf_times, file_coords
from ..decode import read_window, resolve_verify
from ..io import LockedReader, close_reader
from ..spec import RUMI_MAGIC, Generation
from ..values import sample_value
from ..virtual.entries import Entry
from ..write import accessor  # noqa: F401  (registers .rumi, as rioxarray's .rio)

if TYPE_CHECKING:
    from collections.abc import Buffer, Iterable

    import xarray as xr

    from ..decode import Key, Window
    from ..format import RumiFile
    from ..io import RangeReader

VARIABLE = "band_data"
"""Name of the data variable (as rioxarray's ``engine="rasterio"`` names it)."""
RUMI_LOCK = SerializableLock()
"""The lock ``lock=True`` holds around file reads (rioxarray's ``RASTERIO_LOCK``)."""

DecodeCoords = bool | Literal["coordinates", "all"]


class RumiBackendArray(BackendArray):
    """A lazy view of one file; ``fixed`` pins axes of ``(t, b, y, x)`` to one index.

    Given ``nodata`` (a scalar of the file's dtype), pixels equal to it read as NaN, in
    :func:`masked_dtype`. ``verify`` checks every frame's OpenZL checksums.
    """

    def __init__(
        self,
        desc: RumiFile,
        reader: RangeReader,
        fixed: dict[int, int],
        nodata: np.generic | None = None,
        verify: bool = False,
    ) -> None:
        self.desc = desc
        self.reader = reader
        self.fixed = fixed
        self.nodata = nodata
        self.verify = verify
        self.shape = tuple(n for a, n in enumerate(desc.shape) if a not in fixed)
        self.dtype = desc.dtype if nodata is None else masked_dtype(desc.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        if isinstance(key, indexing.BasicIndexer | indexing.OuterIndexer):
            return self._getitem(key.tuple)  # read_window does outer indexing itself
        return indexing.explicit_indexing_adapter(  # type: ignore[no-any-return]  # xarray: -> Any
            key, self.shape, indexing.IndexingSupport.OUTER, self._getitem
        )

    def _getitem(self, key: tuple[Key, ...]) -> np.ndarray:
        parts = iter(key)
        full = cast(
            "Window", tuple(self.fixed[a] if a in self.fixed else next(parts) for a in range(4))
        )
        raw = read_window(self.desc, self.reader, full, verify=self.verify)
        if self.nodata is None:
            return raw
        out = raw.astype(self.dtype)
        if self.nodata == self.nodata:  # a NaN nodata is NaN already
            with np.errstate(invalid="ignore"):
                out[raw == self.nodata] = np.nan
        return out


# ---------------------------------------------------------------------------------------
# nodata


def masked_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of masked pixels, as rioxarray picks it (xarray's ``maybe_promote``).

    Floats and complex stay; integers of up to 2 bytes become float32, wider ones
    float64; bool and the ML types (bfloat16, float8, sub-byte) float32, which holds
    every one of their values.
    """
    from xarray.core.dtypes import maybe_promote

    if np.issubdtype(dtype, np.inexact):
        return dtype
    if np.issubdtype(dtype, np.integer):
        return np.dtype(cast("np.dtype", maybe_promote(dtype)[0]))
    return np.dtype(np.float32)


def _nodata_metadata(
    nodata: np.generic | None, mask_and_scale: bool, dtype: np.dtype
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``_FillValue`` where rioxarray puts a GeoTIFF's nodata: (attrs, encoding) to add."""
    if nodata is None:
        return {}, {}
    if mask_and_scale:
        return {}, {"_FillValue": masked_dtype(dtype).type(nodata)}
    return {"_FillValue": nodata}, {}


# ---------------------------------------------------------------------------------------
# Opening


def open_rumi(
    source: Any,
    *,
    header: Buffer | None = None,
    storage_options: dict[str, Any] | None = None,
    band_as_variable: bool = False,
    drop_variables: Iterable[str] | str | None = None,
    nodata: float | complex | None = None,
    mask_and_scale: bool = True,
    decode_times: Any = True,
    decode_timedelta: Any = None,
    use_cftime: Any = None,
    concat_characters: bool = True,
    decode_coords: DecodeCoords | None = "all",
    lock: Any = None,
    verify: bool | None = None,
) -> xr.Dataset:
    """Open one rumi file as a lazy Dataset (what ``engine="rumi"`` calls).

    Parameters
    ----------
    source
        A local path, an fsspec URL, bytes, a seekable binary file object, or a catalog
        row (:class:`~rumi_xarray.virtual.entries.Entry`, ``read_catalog(...)[i]``),
        which opens with no read at all: the row holds the description and length.
    header
        The file's external header blob; when given the file's index is not read.
    storage_options
        Passed to fsspec for URLs.
    band_as_variable
        One data variable per band (``band_1``, ``band_2``, ...), as in rioxarray.
    drop_variables
        Variables or coordinates to leave out.
    nodata
        The value marking missing pixels (the format records none); it must fit the
        file's dtype. It appears as rioxarray shows a GeoTIFF's nodata: with
        ``mask_and_scale`` those pixels read as NaN in a float dtype
        (:func:`masked_dtype`) and ``encoding["_FillValue"]`` holds it
        (``rio.encoded_nodata``; ``rio.nodata`` is NaN); without, the stored values and
        dtype stay and ``attrs["_FillValue"]`` holds it (``rio.nodata``).
    mask_and_scale
        Mask ``nodata`` (default True, as rioxarray's engine). Without ``nodata``
        nothing is masked and the stored dtype is kept either way; rumi has no scale
        or offset.
    decode_times
        False gives every time coordinate (``time``, ``time_bounds``, ...) as int64
        seconds since :data:`~rumi_xarray.coords.CF_TIME_UNITS`, with ``units`` and
        ``calendar`` attributes; True datetime64; a ``CFDatetimeCoder`` or a mapping
        of name to either, as in ``xr.open_dataset``.
    decode_timedelta, concat_characters
        Accepted for xarray; rumi files have no timedeltas or character arrays.
    use_cftime
        True decodes times to cftime objects through xarray (which needs cftime and
        warns that ``decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)`` is the
        new spelling).
    decode_coords
        As xarray's CF decoding of the same file: ``"all"`` (default, rioxarray's only
        choice) keeps ``spatial_ref`` and ``time_bounds`` as coordinates and
        ``grid_mapping`` in ``encoding``; True or ``"coordinates"`` makes
        ``spatial_ref`` a data variable named by ``attrs["grid_mapping"]``; False makes
        every non-index coordinate a data variable, listed in ``coordinates``
        attributes.
    lock
        None or False: no lock (reads are thread-safe); True: :data:`RUMI_LOCK`; a lock
        (``xarray.backends.locks.SerializableLock``, ...) is held around every file read.
    verify
        Check every frame's OpenZL checksums when it is read (a mismatch raises
        `RumiFormatError` naming the frame and its bytes). None (default) follows the
        environment variable ``RUMI_VERIFY`` (``0, 1, false, true, off, on, no, yes``),
        off when unset, as in rumi-eo.
    """
    import xarray as xr

    from ..sources import open_described

    check = resolve_verify(verify)
    desc, reader = open_described(source, header, storage_options)
    reader = with_lock(reader, lock)
    try:
        fill = None if nodata is None else sample_value("nodata", nodata, desc.dtype)
        coords = cf_times(file_coords(desc), decode_times, use_cftime)
    except BaseException:
        close_reader(reader)
        raise
    attrs, encoding = _variable_metadata(
        desc, coords, source.url if isinstance(source, Entry) else source
    )
    extra_attrs, extra_encoding = _nodata_metadata(fill, mask_and_scale, desc.dtype)
    attrs, encoding = {**attrs, **extra_attrs}, {**encoding, **extra_encoding}
    masked = fill if mask_and_scale else None
    if band_as_variable:
        data_vars = _band_variables(desc, reader, attrs, encoding, masked, check)
    else:
        coords["band"] = band_coord(desc)
        dims = ("time",) * (desc.grid.times > 1) + ("band", "y", "x")
        fixed = {} if desc.grid.times > 1 else {0: 0}
        array = RumiBackendArray(desc, reader, fixed, masked, check)
        data = indexing.LazilyIndexedArray(array)
        data_vars = {VARIABLE: xr.Variable(dims, data, attrs, encoding)}
    ds = xr.Dataset(data_vars, coords, attrs={"rumi_generation": desc.generation.value})
    ds = _decode_coords(ds, decode_coords)
    if drop_variables is not None:
        ds = ds.drop_vars(drop_variables, errors="ignore")
    if hasattr(reader, "close"):
        ds.set_close(reader.close)
    return ds


def with_lock(reader: RangeReader, lock: Any) -> RangeReader:
    """``reader``, its reads holding ``lock`` (None or False: none; True: :data:`RUMI_LOCK`)."""
    if lock is None or lock is False:
        return reader
    return LockedReader(reader, RUMI_LOCK if lock is True else lock)


def _band_variables(
    desc: RumiFile,
    reader: RangeReader,
    attrs: dict[str, Any],
    encoding: dict[str, Any],
    masked: np.generic | None,
    verify: bool,
) -> dict[str, xr.Variable]:
    """``band_1``, ``band_2``, ...: one ``(y, x)`` or ``(time, y, x)`` variable per band."""
    import xarray as xr

    timed = desc.grid.times > 1
    fixed = {} if timed else {0: 0}
    dims = ("time",) * timed + ("y", "x")
    texts = band_coord(desc).values
    data_vars = {}
    for b in range(desc.grid.bands):
        array = RumiBackendArray(desc, reader, {**fixed, 1: b}, masked, verify)
        band_attrs = {**attrs, "long_name": str(texts[b])}
        data = indexing.LazilyIndexedArray(array)
        data_vars[f"band_{b + 1}"] = xr.Variable(dims, data, band_attrs, encoding)
    return data_vars


def _variable_metadata(
    desc: RumiFile, coords: dict[str, Any], source: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    grid = desc.grid
    attrs: dict[str, Any] = {"AREA_OR_POINT": area_or_point(desc.georef)}
    if desc.band_texts is not None and any(desc.band_texts):
        texts = tuple(desc.band_texts)
        attrs["long_name"] = texts if len(set(texts)) > 1 else texts[0]
    if desc.sample.name != desc.dtype.name:
        attrs["rumi_dtype"] = desc.sample.name
    preferred = dict(zip(("time", "band", "y", "x"), grid.chunk_shape, strict=True))
    encoding: dict[str, Any] = {
        "dtype": desc.dtype,
        "preferred_chunks": preferred,
        "rumi_frame_unit": desc.frame_unit,
        "rumi_tile": (grid.tile_length, grid.tile_width),
        "source": source_name(source),
    }
    if "spatial_ref" in coords:
        encoding["grid_mapping"] = "spatial_ref"
    return attrs, encoding


def source_name(source: Any) -> str:
    """What ``encoding["source"]`` says: a path or URL as given, else a file's name or kind."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    if isinstance(name, str):
        return name
    return f"<{type(source).__name__}>"


def _decode_coords(ds: xr.Dataset, decode_coords: DecodeCoords | None) -> xr.Dataset:
    """Which variables are coordinates, as xarray's CF decoding of the same file decides.

    ``"all"`` is what the file gives; otherwise the coordinates are CF-encoded as xarray
    writes them (``coordinates``, ``grid_mapping`` attributes) and decoded by xarray.
    """
    import xarray as xr
    from xarray.conventions import encode_dataset_coordinates

    if decode_coords is None or decode_coords == "all":
        return ds
    if decode_coords not in (True, False, "coordinates"):
        raise ValueError(
            f"decode_coords must be True, False, 'coordinates' or 'all', got {decode_coords!r}"
        )
    variables, attrs = encode_dataset_coordinates(ds)
    for var in variables.values():
        if "grid_mapping" in var.encoding:
            var.attrs["grid_mapping"] = var.encoding.pop("grid_mapping")
    return xr.decode_cf(
        xr.Dataset(variables, attrs=attrs),
        concat_characters=False,
        mask_and_scale=False,
        decode_times=False,
        decode_coords=decode_coords,
        decode_timedelta=False,
    )


class RumiBackendEntrypoint(BackendEntrypoint):
    """``xr.open_dataset(path, engine="rumi")``: rumi rasters, lazily and exactly."""

    description = "Open rumi (OpenZL-tiled EO raster) files lazily and exactly"
    url = "https://github.com/rumi-xarray/rumi-xarray"
    open_dataset_parameters = (
        "filename_or_obj",
        "drop_variables",
        "header",
        "storage_options",
        "band_as_variable",
        "nodata",
        "mask_and_scale",
        "decode_times",
        "decode_timedelta",
        "use_cftime",
        "concat_characters",
        "decode_coords",
        "lock",
        "verify",
    )

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Iterable[str] | str | None = None,
        header: Buffer | None = None,
        storage_options: dict[str, Any] | None = None,
        band_as_variable: bool = False,
        nodata: float | complex | None = None,
        mask_and_scale: bool = True,
        decode_times: Any = True,
        decode_timedelta: Any = None,
        use_cftime: Any = None,
        concat_characters: bool = True,
        decode_coords: DecodeCoords | None = "all",
        lock: Any = None,
        verify: bool | None = None,
    ) -> xr.Dataset:
        return open_rumi(
            filename_or_obj,
            header=header,
            storage_options=storage_options,
            band_as_variable=band_as_variable,
            drop_variables=drop_variables,
            nodata=nodata,
            mask_and_scale=mask_and_scale,
            decode_times=decode_times,
            decode_timedelta=decode_timedelta,
            use_cftime=use_cftime,
            concat_characters=concat_characters,
            decode_coords=decode_coords,
            lock=lock,
            verify=verify,
        )

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """Paths ending ``.rumi``, then any local file, bytes or binary file object by magic.

        Never raises and never consumes a file object (its position is restored).
        """
        if isinstance(filename_or_obj, str | os.PathLike):
            return _guess_path(filename_or_obj)
        if isinstance(filename_or_obj, bytes | bytearray | memoryview):
            try:
                view = memoryview(filename_or_obj).cast("B")
            except (TypeError, ValueError):
                return False
            return _is_rumi(bytes(view[:_SNIFF_NBYTES]), len(view))
        return _guess_file(filename_or_obj)


_SNIFF_NBYTES = Generation.BIGTIFF.ifd_end
"""Bytes that tell a file: the ``RUMI`` magic, or a 0.15/0.16 BigTIFF's whole IFD."""


def _is_rumi(head: bytes, size: int) -> bool:
    """``RUMI`` magic, or a BigTIFF whose IFD is exactly the 0.15/0.16 profile's."""
    from ..ifd import container, index_nbytes

    if head[:4] == RUMI_MAGIC:
        return True
    try:
        return container(head) is Generation.BIGTIFF and index_nbytes(head, size) > 0
    except ValueError:
        return False


def _guess_path(path: str | os.PathLike[Any]) -> bool:
    try:
        text = os.fspath(path)
    except TypeError:
        return False
    if isinstance(text, bytes):
        return False
    if text.lower().endswith(".rumi"):
        return True
    if "://" in text:
        return False
    try:
        with open(text, "rb") as f:
            return _is_rumi(f.read(_SNIFF_NBYTES), os.fstat(f.fileno()).st_size)
    except (OSError, ValueError):
        return False


def _guess_file(obj: Any) -> bool:
    """A readable, seekable binary file object, by magic, its position kept."""
    if isinstance(obj, io.TextIOBase) or not all(
        hasattr(obj, name) for name in ("read", "seek", "tell")
    ):
        return False
    try:
        if getattr(obj, "closed", False) or not obj.seekable():
            return False
        position = obj.tell()
        try:
            size = obj.seek(0, os.SEEK_END)
            obj.seek(0)
            head = obj.read(_SNIFF_NBYTES)
        finally:
            obj.seek(position)
    except (OSError, ValueError, TypeError, AttributeError):
        return False
    return isinstance(head, bytes | bytearray) and _is_rumi(bytes(head), size)

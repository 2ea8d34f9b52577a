"""Virtual Zarr views of rumi files: every frame one chunk at its byte range, nothing copied.

A :class:`VirtualArray` is the chunk grid of one Zarr array plus a manifest (file,
offset, length per chunk); a :class:`VirtualDataset` adds the coordinates, which are
small and stored inline. References, mosaics, Icechunk and VirtualiZarr outputs are
all written from these two objects.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from ..coords import CF_TIME_ENCODING, cf_seconds
from ..errors import RumiVirtualError, RumiVirtualWarning
from ..layout import frame_order
from ..values import same_value

if TYPE_CHECKING:
    from collections.abc import Iterator

    import xarray as xr

    from ..layout import FrameGrid
    from ..spec import SampleType

ZarrFormat = Literal[2, 3]

BYTES: dict[str, Any] = {"name": "bytes", "configuration": {"endian": "little"}}

_ZARR_TYPES = frozenset(
    [
        "bool",
        "uint8",
        "int8",
        "uint16",
        "int16",
        "uint32",
        "int32",
        "uint64",
        "int64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    ]
)


def zarr_data_type(sample: SampleType) -> str:
    """The Zarr data type of a rumi sample type, or a :class:`RumiVirtualError`."""
    if sample.name not in _ZARR_TYPES:
        raise RumiVirtualError(
            f"{sample.name} samples have no Zarr data type, so their frames cannot be Zarr "
            "chunks; open the file with engine='rumi', which reads them exactly"
        )
    return sample.name


# ---------------------------------------------------------------------------------------
# Frames as chunks of one file


@lru_cache(maxsize=1)
def openzl_codec() -> dict[str, Any]:
    """The generic ``rumi.openzl`` codec's metadata: each chunk is exactly one frame."""
    from rumi_codec.zarr_ import OpenZLCodec

    return OpenZLCodec().to_dict()


def frame_codecs(grid: FrameGrid, ndim: int) -> tuple[dict[str, Any], ...]:
    """The exact v3 pipeline of a frame: ``transpose`` (unless in array order), bytes, OpenZL."""
    order = frame_order(grid, ndim)
    transpose = (
        [] if order == sorted(order) else [{"name": "transpose", "configuration": {"order": order}}]
    )
    return (*transpose, BYTES, openzl_codec())


# ---------------------------------------------------------------------------------------
# Arrays and datasets


@dataclass(frozen=True, eq=False, kw_only=True)
class VirtualArray:
    """One Zarr array whose chunks are byte ranges of rumi files."""

    dims: tuple[str, ...]
    chunks: tuple[tuple[int, ...], ...]
    """Chunk sizes along each axis (a rectilinear grid; regular when all but the last agree)."""
    data_type: str
    codecs: tuple[dict[str, Any], ...]
    """The v3 codec pipeline."""
    fill_value: int | float | complex | bool = 0
    """What missing chunks (places no file covers) read as: Zarr's ``fill_value``."""
    nodata: int | float | complex | bool | None = None
    """Declared nodata: the ``_FillValue`` xarray masks (a v3 attribute, the v2 fill_value)."""
    padded: bool = False
    """Whether the codecs pad clipped edge frames to full chunks (``rumi.openzl_grid``)."""
    attrs: dict[str, Any] = field(default_factory=dict)
    urls: tuple[str, ...]
    files: np.ndarray = field(repr=False)
    """Index into ``urls`` of each chunk (int32, shaped like the chunk grid; -1 = missing)."""
    offsets: np.ndarray = field(repr=False)
    lengths: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(sum(c) for c in self.chunks)

    @property
    def regular(self) -> bool:
        """Whether a regular chunk grid is exact: equal chunks, or a smaller last one padded."""
        return all(
            len(set(c[:-1])) <= 1 and (c[-1] == c[0] or (self.padded and c[-1] < c[0]))
            for c in self.chunks
            if c
        )

    def chunk_grid(self) -> dict[str, Any]:
        """The v3 ``chunk_grid``: regular where possible, else rectilinear (exact sums)."""
        if self.regular:
            shape = [c[0] if c else 1 for c in self.chunks]
            return {"name": "regular", "configuration": {"chunk_shape": shape}}
        enable_rectilinear()
        return {
            "name": "rectilinear",
            "configuration": {"kind": "inline", "chunk_shapes": [_rle(c) for c in self.chunks]},
        }

    def zarr_json(self) -> dict[str, Any]:
        """The array's v3 ``zarr.json``."""
        return {
            "zarr_format": 3,
            "node_type": "array",
            "shape": list(self.shape),
            "data_type": self.data_type,
            "chunk_grid": self.chunk_grid(),
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": _fill_json(self.fill_value, self.data_type),
            "codecs": list(self.codecs),
            "attributes": self.attrs,
            "dimension_names": list(self.dims),
            "storage_transformers": [],
        }

    def zarray(self) -> dict[str, Any]:
        """The array's v2 ``.zarray`` (its codecs must all be bytes-to-bytes after ``bytes``)."""
        if not self.regular:
            raise RumiVirtualError(
                "Zarr v2 has no rectilinear chunk grids; these frames need one, so write "
                "Zarr v3 references (zarr_format=3) or Icechunk instead"
            )
        if self.codecs[0] != BYTES:
            raise RumiVirtualError("Zarr v2 references need the frames in array order")
        return {
            "zarr_format": 2,
            "shape": list(self.shape),
            "chunks": [c[0] if c else 1 for c in self.chunks],
            "dtype": np.dtype(self.data_type).newbyteorder("<").str,
            "compressor": None,
            "filters": [{"id": c["name"], **c["configuration"]} for c in self.codecs[1:]],
            "fill_value": self._v2_fill_value(),
            "order": "C",
            "dimension_separator": ".",
        }

    def _v2_fill_value(self) -> Any:
        """The v2 ``fill_value``, which xarray's zarr engine takes as ``_FillValue``.

        Declared nodata, else ``null`` (which reads missing chunks as 0) so that
        default decoding masks nothing; a non-zero fill of missing chunks without
        nodata warns, as xarray will mask it.
        """
        missing = bool((self.files < 0).any())
        if self.nodata is not None:
            if missing and not same_value(self.fill_value, self.nodata):
                raise RumiVirtualError(
                    f"Zarr v2 has one fill_value, which xarray takes as _FillValue, but nodata "
                    f"{self.nodata!r} and fill_value {self.fill_value!r} differ; give "
                    f"fill_value={self.nodata!r}, or write Zarr v3 (zarr_format=3) or Icechunk"
                )
            return _fill_json(self.nodata, self.data_type)
        if not missing or same_value(self.fill_value, 0):
            return None
        warnings.warn(
            f"Zarr v2 stores fill_value {self.fill_value!r} for the places no file covers, and "
            f"xarray's default decoding masks it as _FillValue: file pixels equal to "
            f"{self.fill_value!r} read as NaN too. Declare nodata={self.fill_value!r} if that is "
            "meant, write Zarr v3 (zarr_format=3), or open with mask_and_scale=False",
            RumiVirtualWarning,
            stacklevel=5,  # the caller of to_kerchunk
        )
        return _fill_json(self.fill_value, self.data_type)

    def chunk_urls(self) -> np.ndarray[Any, np.dtypes.StringDType]:
        """The URL of each chunk (shaped like the chunk grid; ``""`` where missing)."""
        urls = np.asarray([*self.urls, ""], dtype=np.dtypes.StringDType())
        return cast("np.ndarray[Any, np.dtypes.StringDType]", urls[self.files])

    def locations(self, where: tuple[slice, ...] = ()) -> list[str]:
        """The URL of each chunk of the block ``where`` of the grid, flat in C order.

        ``""`` where missing. The strings are the :attr:`urls` themselves, shared, not
        copies: a million files of several frames make one list of references.
        """
        urls = np.empty(len(self.urls) + 1, object)
        urls[:-1], urls[-1] = self.urls, ""
        located: list[str] = urls[self.files[where].ravel()].tolist()
        return located

    def chunk_refs(
        self, name: str, zarr_format: ZarrFormat
    ) -> Iterator[tuple[str, list[str | int]]]:
        """``(key, [url, offset, length])`` of every present chunk, in C order."""
        sep = "." if zarr_format == 2 else "/"
        prefix = f"{name}/" if zarr_format == 2 else f"{name}/c/"
        present = np.argwhere(self.files >= 0)
        string = np.dtypes.StringDType()
        keys = np.full(len(present), prefix, string)
        for axis, index in enumerate(present.T):
            text = index.astype(string)
            keys = np.strings.add(keys, np.strings.add(sep, text) if axis else text)
        at = tuple(present.T)
        urls = np.empty(len(self.urls), object)
        urls[:] = self.urls
        refs = zip(
            urls[self.files[at]].tolist(),
            self.offsets[at].tolist(),
            self.lengths[at].tolist(),
            strict=True,
        )
        return zip(keys.tolist(), map(list, refs), strict=True)


def enable_rectilinear() -> None:
    """Turn on zarr's ``array.rectilinear_chunks`` in this process (off by default in zarr 3.4).

    Called whenever rectilinear metadata is produced, so that the process that builds
    references can open them; other processes set it themselves, e.g. with the
    environment variable ``ZARR_ARRAY__RECTILINEAR_CHUNKS=True``.
    """
    import zarr

    if not zarr.config.get("array.rectilinear_chunks"):
        zarr.config.set({"array.rectilinear_chunks": True})


def _fill_json(value: complex | float | bool, data_type: str) -> Any:
    """A fill value as Zarr metadata spells it for ``data_type`` (NaN as ``"NaN"``)."""
    if data_type == "bool":
        return bool(value)
    if data_type.startswith("complex"):
        number = complex(value)
        return [_float_json(number.real), _float_json(number.imag)]
    if data_type.startswith("float"):
        return _float_json(value.real)
    return int(value.real)


def _float_json(value: float) -> float | str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _rle(sizes: tuple[int, ...]) -> list[Any]:
    out: list[Any] = []
    for size in sizes:
        if out and isinstance(out[-1], list) and out[-1][0] == size:
            out[-1][1] += 1
        elif out and out[-1] == size:
            out[-1] = [size, 2]
        else:
            out.append(size)
    return out


@dataclass(frozen=True, eq=False)
class VirtualDataset:
    """Data variables of rumi frames plus their coordinates, held in memory.

    ``name`` and ``array`` are the first data variable; ``others`` holds the rest, by
    name (a mosaic of several file groups). The coordinates are shared.
    """

    name: str
    array: VirtualArray
    coords: xr.Dataset
    """The coordinates (``x``, ``y``, ``band``, ``time``, ``spatial_ref``, extra dims)."""
    attrs: dict[str, Any] = field(default_factory=dict)
    others: dict[str, VirtualArray] = field(default_factory=dict)
    """Further data variables, by name."""

    @property
    def arrays(self) -> dict[str, VirtualArray]:
        """Every data variable by name, the first one first."""
        return {self.name: self.array, **self.others}

    @property
    def urls(self) -> tuple[str, ...]:
        """The files the data variables read, each once, in order of first use."""
        return tuple(dict.fromkeys(url for a in self.arrays.values() for url in a.urls))

    def metadata(self, zarr_format: ZarrFormat = 3) -> dict[str, bytes]:
        """Every key but the data variables' chunks: group and array metadata, coordinates."""
        keys = _encode_coords(self.coords, self.attrs, zarr_format)
        for name, array in self.arrays.items():
            attrs = {**array.attrs, "coordinates": self._coordinates_attr(array)}
            if "spatial_ref" in self.coords:
                attrs["grid_mapping"] = "spatial_ref"
            if zarr_format == 3:
                if array.nodata is not None:
                    attrs["_FillValue"] = _fill_attr(array.nodata, array.data_type)
                meta = array.zarr_json()
                meta["attributes"] = attrs
                keys[f"{name}/zarr.json"] = _json(meta)
            else:
                keys[f"{name}/.zarray"] = _json(array.zarray())
                keys[f"{name}/.zattrs"] = _json({"_ARRAY_DIMENSIONS": array.dims, **attrs})
        return keys

    def _coordinates_attr(self, array: VirtualArray) -> str:
        """CF ``coordinates``: the non-dimension coordinates, but those along another
        data variable's dimension that this one lacks."""
        foreign = {d for a in self.others.values() for d in a.dims} | set(self.array.dims)
        foreign -= set(array.dims)
        return " ".join(
            str(n)
            for n, c in self.coords.coords.items()
            if n not in array.dims and not foreign & set(c.dims)
        )

    def chunk_refs(self, zarr_format: ZarrFormat = 3) -> Iterator[tuple[str, list[str | int]]]:
        """``(key, [url, offset, length])`` of every present chunk of every data variable."""
        for name, array in self.arrays.items():
            yield from array.chunk_refs(name, zarr_format)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()


def _encode_coords(
    coords: xr.Dataset, attrs: dict[str, Any], zarr_format: ZarrFormat
) -> dict[str, bytes]:
    """Encode the coordinates with xarray into an in-memory Zarr store; return its keys.

    Every chunk is written, scalars included (``write_empty_chunks``): a 0-d
    coordinate without its chunk reads as its fill value. Times use the one CF epoch.
    """
    import xarray as xr
    from zarr.storage import MemoryStore

    store: dict[str, Any] = {}
    ds = xr.Dataset(coords=coords.coords, attrs=attrs)
    encoding = {name: _coord_encoding(var, zarr_format) for name, var in ds.variables.items()}
    ds.to_zarr(
        MemoryStore(store),
        zarr_format=zarr_format,
        consolidated=False,
        encoding=encoding,
        write_empty_chunks=True,
    )
    return {key: value.to_bytes() for key, value in store.items()}


def _coord_encoding(var: xr.Variable, zarr_format: ZarrFormat) -> dict[str, Any]:
    """One coordinate's encoding: a single chunk, CF time units, a scalar's own fill value.

    A 0-d coordinate's v3 ``fill_value`` is its own (encoded) value: VirtualiZarr 2.8's
    Zarr v2 writer drops the chunk of every 0-d array. ``ChunkManifest.dict()``
    (``virtualizarr/manifests/manifest.py``) joins the empty chunk index of a 0-d array
    into the key ``""``, and ``variable_to_kerchunk_arr_refs`` (``writers/kerchunk.py``)
    uses that key as it is in its v2 branch (``join(0 for _ in shape)`` for loaded
    variables likewise), so the chunk lands at ``time/`` where zarr reads ``time/0``;
    its v3 branch uses ``encode_chunk_key(())``, ``time/c``, and keeps it. The v2
    reader then finds the fill value, which ``convert_v3_to_v2_metadata`` copies from
    v3 (``utils.py``): with this fill, a reader that does not mask it reads the value.
    """
    encoding: dict[str, Any] = {"chunks": var.shape} if var.shape else {}
    encoded = var.values
    if var.dtype.kind == "M":
        encoding.update(CF_TIME_ENCODING)
        encoded = cf_seconds(var.values)
    if not var.shape and zarr_format == 3 and var.dtype.kind in "biufM":
        encoding["fill_value"] = encoded.item()
    return encoding


def _fill_attr(value: complex | float | bool, data_type: str) -> Any:
    """``_FillValue`` as xarray's zarr engine reads it from v3 attributes."""
    from xarray.backends.zarr import FillValueCoder

    dtype = np.dtype(data_type)
    return FillValueCoder.encode(complex(value) if dtype.kind == "c" else value, dtype)

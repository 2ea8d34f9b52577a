"""Virtual Zarr views of rumi files: every frame one chunk at its byte range, nothing copied.

A :class:`VirtualArray` is the chunk grid of one Zarr array plus a manifest (file,
offset, length per chunk); a :class:`VirtualDataset` adds the coordinates, which are
small and stored inline. References, mosaics, Icechunk and VirtualiZarr outputs are
all written from these two objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .errors import RumiVirtualError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import xarray as xr

    from .layout import FrameGrid
    from .spec import SampleType

ZarrFormat = Literal[2, 3]

BYTES: dict[str, Any] = {"name": "bytes", "configuration": {"endian": "little"}}

_ZARR_TYPES = frozenset(
    ["bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float16", "float32", "float64", "complex64", "complex128"]
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


@lru_cache(maxsize=256)
def frame_chunks(grid: FrameGrid) -> np.ndarray:
    """``(N, 4)`` chunk index ``(t, b, row, col)`` of each frame inside its own file."""
    index = np.empty((grid.frame_count, 4), np.int64)
    for k in range(grid.frame_count):
        key = grid.frame_key(k)
        index[k] = (key.time or 0, key.band or 0, key.row, key.col)
    index.setflags(write=False)
    return index


def axis_chunks(n: int, size: int) -> tuple[int, ...]:
    """Chunk sizes cutting an axis of ``n`` into ``size`` steps, the last one clipped."""
    full, rest = divmod(n, size)
    return (size,) * full + ((rest,) if rest else ())


def frame_order(grid: FrameGrid, ndim: int) -> list[int]:
    """The ``transpose`` order of a frame: array axes in the frame's decoded order.

    The array's last four axes are ``(t, b, y, x)`` (or its last three ``(b, y, x)``);
    axes a frame does not hold have extent 1 and come first.
    """
    axis = {"w": ndim - 1, "h": ndim - 2, "b": ndim - 3, "t": ndim - 4}
    held = [axis[a] for a in grid.frame_axes]
    return [i for i in range(ndim) if i not in held] + held


@lru_cache(maxsize=1)
def openzl_codec() -> dict[str, Any]:
    """The generic ``rumi.openzl`` codec's metadata: each chunk is exactly one frame."""
    from rumi_codec.zarr_ import OpenZLCodec

    return OpenZLCodec().to_dict()


def frame_codecs(grid: FrameGrid, ndim: int) -> tuple[dict[str, Any], ...]:
    """The exact v3 pipeline of a frame: ``transpose`` (unless in array order), bytes, OpenZL."""
    order = frame_order(grid, ndim)
    transpose = [] if order == sorted(order) else [
        {"name": "transpose", "configuration": {"order": order}}
    ]
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
    fill_value: int | float | bool = 0
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
            "fill_value": None,
            "order": "C",
            "dimension_separator": ".",
        }

    def chunk_urls(self) -> np.ndarray:
        """The URL of each chunk (shaped like the chunk grid; ``""`` where missing)."""
        return np.asarray([*self.urls, ""], dtype=np.dtypes.StringDType())[self.files]

    def chunk_refs(self, name: str, zarr_format: ZarrFormat) -> Iterator[tuple[str, list]]:
        """``(key, [url, offset, length])`` of every present chunk."""
        sep = "." if zarr_format == 2 else "/"
        prefix = f"{name}/" if zarr_format == 2 else f"{name}/c/"
        present = np.argwhere(self.files >= 0)
        urls, files = self.urls, self.files
        offsets, lengths = self.offsets, self.lengths
        for index in present.tolist():
            at = tuple(index)
            key = prefix + sep.join(map(str, index))
            yield key, [urls[files[at]], int(offsets[at]), int(lengths[at])]


def enable_rectilinear() -> None:
    """Turn on zarr's ``array.rectilinear_chunks`` in this process (off by default in zarr 3.4).

    Called whenever rectilinear metadata is produced, so that the process that builds
    references can open them; other processes set it themselves, e.g. with the
    environment variable ``ZARR_ARRAY__RECTILINEAR_CHUNKS=True``.
    """
    import zarr

    if not zarr.config.get("array.rectilinear_chunks"):
        zarr.config.set({"array.rectilinear_chunks": True})


def _fill_json(value: float | bool, data_type: str) -> Any:
    """A fill value as v3 metadata spells it for ``data_type``."""
    if data_type == "bool":
        return bool(value)
    if data_type.startswith("complex"):
        return [float(value), 0.0]
    if data_type.startswith("float"):
        return float(value)
    return int(value)


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
    """One data variable of rumi frames plus its coordinates, held in memory."""

    name: str
    array: VirtualArray
    coords: xr.Dataset
    """The coordinates (``x``, ``y``, ``band``, ``time``, ``spatial_ref``, extra dims)."""
    attrs: dict[str, Any] = field(default_factory=dict)

    def metadata(self, zarr_format: ZarrFormat = 3) -> dict[str, bytes]:
        """Every key but the data variable's chunks: group and array metadata, coordinates."""
        keys = _encode_coords(self.coords, self.attrs, zarr_format)
        attrs = {**self.array.attrs, "coordinates": self._coordinates_attr()}
        if "spatial_ref" in self.coords:
            attrs["grid_mapping"] = "spatial_ref"
        if zarr_format == 3:
            meta = self.array.zarr_json()
            meta["attributes"] = attrs
            keys[f"{self.name}/zarr.json"] = _json(meta)
        else:
            keys[f"{self.name}/.zarray"] = _json(self.array.zarray())
            keys[f"{self.name}/.zattrs"] = _json({"_ARRAY_DIMENSIONS": self.array.dims, **attrs})
        return keys

    def _coordinates_attr(self) -> str:
        return " ".join(n for n in self.coords.coords if n not in self.array.dims)

    def chunk_refs(self, zarr_format: ZarrFormat = 3) -> Iterator[tuple[str, list]]:
        return self.array.chunk_refs(self.name, zarr_format)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()


def _encode_coords(coords: xr.Dataset, attrs: dict[str, Any], zarr_format: ZarrFormat) -> dict:
    """Encode the coordinates with xarray into an in-memory Zarr store; return its keys."""
    import xarray as xr
    from zarr.storage import MemoryStore

    store: dict[str, Any] = {}
    ds = xr.Dataset(coords=coords.coords, attrs=attrs)
    encoding = {name: {"chunks": var.shape or None} for name, var in ds.variables.items()}
    for name in list(encoding):
        if not ds.variables[name].shape:
            del encoding[name]
    ds.to_zarr(
        MemoryStore(store), zarr_format=zarr_format, consolidated=False, encoding=encoding
    )
    return {key: value.to_bytes() for key, value in store.items()}

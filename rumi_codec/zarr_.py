"""Zarr v3 codecs for OpenZL frames: configuration only, the work is in `_core`/`_grid`.

Both are bytes-to-bytes codecs placed after ``bytes``, registered in the
``zarr.codecs`` entry-point group under their JSON names. Their configurations are
those of the numcodecs twins in `rumi_codec.numcodecs_`, so VirtualiZarr's Zarr v2
conversion (``{"id": name, **configuration}``) yields a filter numcodecs can build.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from openzl import ext
from zarr.abc.codec import BytesBytesCodec
from zarr.core.common import parse_named_configuration

from rumi_codec import _core, _grid
from rumi_xarray.errors import OpenZLError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Self

    import numpy as np
    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer
    from zarr.core.common import JSON

__all__ = ["GRID_NAME", "NAME", "OpenZLCodec", "OpenZLGridCodec"]

NAME: Final = "rumi.openzl"
"""JSON name of `OpenZLCodec`, and id of its numcodecs twin."""

GRID_NAME: Final = "rumi.openzl_grid"
"""JSON name of `OpenZLGridCodec`, and id of its numcodecs twin."""

_FIXED_KINDS: Final = frozenset("biufcmMSUV")
"""NumPy kinds of fixed-size samples, whose chunk bytes can be viewed as the array."""


@dataclass(frozen=True)
class OpenZLCodec(BytesBytesCodec):
    """Compress each chunk, whatever its bytes, into one self-contained OpenZL frame.

    Right after ``bytes`` (and any ``transpose``) it sees the chunk in memory order:
    numeric samples become a ``Numeric`` frame whose rows are the chunk's last axis,
    so geozl's 2-D predictors see rows. Other data types (fixed-width strings,
    structured records) and bytes that are not the chunk (after another
    bytes-to-bytes codec, or a variable-length array-to-bytes codec) become a
    ``Serial`` frame. Decoding needs only the frame; a ``Numeric`` frame must hold
    exactly the chunk: clipped rumi edge tiles need a rectilinear grid, or
    `OpenZLGridCodec` on a regular one.
    """

    is_fixed_size = False

    recipe: str | None
    """geozl recipe such as ``"planar>zigzag>zstd"``; None to use ``graph``."""
    graph: str | None
    """Plain OpenZL graph name (``"zstd"``, ``"store"``, ...), or None."""
    format_version: int | None
    """OpenZL format of plain-graph frames; None is ``_core.DEFAULT_FORMAT_VERSION``."""
    checksum: bool
    """Store checksums in plain-graph frames (geozl frames always have them)."""
    verify: bool | None
    """Check each frame's checksums when decoding; None defers to ``RUMI_VERIFY``."""

    def __init__(
        self,
        *,
        recipe: str | None = _core.DEFAULT_RECIPE,
        graph: str | None = None,
        format_version: int | None = None,
        checksum: bool = True,
        verify: bool | None = None,
    ) -> None:
        _core.parse_options(
            recipe=recipe,
            graph=graph,
            format_version=format_version,
            checksum=checksum,
            verify=verify,
        )
        object.__setattr__(self, "recipe", recipe)
        object.__setattr__(self, "graph", graph)
        object.__setattr__(self, "format_version", format_version)
        object.__setattr__(self, "checksum", checksum)
        object.__setattr__(self, "verify", verify)

    @classmethod
    def from_dict(cls, data: dict[str, JSON]) -> Self:
        _, configuration = parse_named_configuration(data, NAME, require_configuration=False)
        return cls(**cast("dict[str, Any]", configuration or {}))  # the constructor checks it

    def to_dict(self) -> dict[str, JSON]:
        configuration: dict[str, JSON] = {
            "recipe": self.recipe,
            "graph": self.graph,
            "format_version": self.format_version,
            "checksum": self.checksum,
        }
        if self.verify is not None:
            configuration["verify"] = self.verify
        return {"name": NAME, "configuration": configuration}

    def _encode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        frame = _core.encode(
            _chunk_data(chunk_bytes, chunk_spec),
            recipe=self.recipe,
            graph=self.graph,
            format_version=self.format_version,
            checksum=self.checksum,
        )
        return chunk_spec.prototype.buffer.from_bytes(frame)

    async def _encode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        return await asyncio.to_thread(self._encode_sync, chunk_bytes, chunk_spec)

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        frame = chunk_bytes.as_numpy_array()
        verify = _core.parse_verify(self.verify)
        with _grid.naming_the_frame(frame):
            data = _decode_frame(frame, chunk_spec, verify)
        return chunk_spec.prototype.buffer.from_array_like(data)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)

    def compute_encoded_size(self, _input_byte_length: int, _chunk_spec: ArraySpec) -> int:
        raise NotImplementedError


@dataclass(frozen=True)
class OpenZLGridCodec(BytesBytesCodec):
    """Decode rumi frames, clipped or interleaved, to the chunks of a regular grid.

    Each frame is put in array axis order at the origin of a zero-filled chunk of
    ``chunk_shape``. Decode only: write with `OpenZLCodec`. The parameters are those
    of `rumi_codec._grid.parse_grid_config`.
    """

    is_fixed_size = False

    grid: _grid.GridConfig
    """The checked configuration."""

    def __init__(
        self,
        *,
        chunk_shape: Iterable[int],
        itemsize: int,
        frame_order: Iterable[int],
        edge: Iterable[int],
        wide: Iterable[str] = (),
        tall: Iterable[str] = (),
        verify: bool | None = None,
    ) -> None:
        grid = _grid.parse_grid_config(
            chunk_shape=chunk_shape,
            itemsize=itemsize,
            frame_order=frame_order,
            edge=edge,
            wide=wide,
            tall=tall,
            verify=verify,
        )
        object.__setattr__(self, "grid", grid)

    @classmethod
    def from_dict(cls, data: dict[str, JSON]) -> Self:
        _, configuration = parse_named_configuration(data, GRID_NAME)
        return cls(**cast("dict[str, Any]", configuration))  # the constructor checks it

    def to_dict(self) -> dict[str, JSON]:
        return {"name": GRID_NAME, "configuration": self.grid.to_config()}

    def _encode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        raise NotImplementedError(_grid.READ_ONLY)

    async def _encode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        return self._encode_sync(chunk_bytes, chunk_spec)

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        itemsize = chunk_spec.dtype.to_native_dtype().itemsize
        if not _same_layout(chunk_spec.shape, self.grid.chunk_shape) or (
            itemsize != self.grid.itemsize
        ):
            raise ValueError(
                f"{GRID_NAME} is configured for chunks of shape {self.grid.chunk_shape} with"
                f" {self.grid.itemsize}-byte samples, but the array gives chunks of shape"
                f" {chunk_spec.shape} with {itemsize}-byte samples: it needs a regular grid"
                " of that chunk shape (length-1 axes may be added) and no transpose codec"
            )
        data = _grid.decode(chunk_bytes.as_numpy_array(), self.grid)
        return chunk_spec.prototype.buffer.from_array_like(data)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)

    def compute_encoded_size(self, _input_byte_length: int, _chunk_spec: ArraySpec) -> int:
        raise NotImplementedError


def _decode_frame(frame: np.ndarray, chunk_spec: ArraySpec, verify: bool) -> np.ndarray:
    """Decode a Serial frame as it is, a Numeric one only when it holds the chunk."""
    if _core.output_type(frame) != ext.Type.Numeric:
        return _core.decompress(frame, verify=verify, serial=True)
    nbytes = _chunk_nbytes(chunk_spec)
    found = _core.decoded_nbytes(frame)
    if found != nbytes:
        msg = (
            f"frame decodes to {found} bytes, but a chunk of shape {chunk_spec.shape}"
            f" ({chunk_spec.dtype.to_native_dtype()}) holds {nbytes}: it is a clipped edge"
            f" frame or belongs to another array. Read clipped rumi edge tiles with a"
            f" rectilinear chunk grid and {NAME}, or with {GRID_NAME} on a regular grid"
        )
        raise OpenZLError.invalid("frame", msg, expected=nbytes, found=found)
    return _core.decompress(frame, nbytes=nbytes, verify=verify)


def _same_layout(shape: tuple[int, ...], configured: tuple[int, ...]) -> bool:
    """Whether chunks of ``shape`` lay out their bytes as chunks of ``configured`` do.

    Length-1 axes change no byte's place in C order, so the axes consumers add when
    they stack or expand arrays (``concat_dim``, ``expand_dims``) are accepted anywhere.
    """
    return [n for n in shape if n != 1] == [n for n in configured if n != 1]


def _chunk_nbytes(chunk_spec: ArraySpec) -> int:
    """Return the bytes of a chunk as ``bytes`` gives them, at the shape the codec sees."""
    return math.prod(chunk_spec.shape) * chunk_spec.dtype.to_native_dtype().itemsize


def _chunk_data(chunk_bytes: Buffer, chunk_spec: ArraySpec) -> np.ndarray | memoryview:
    """The chunk in memory order (``transpose`` applied) as an array of its data type,
    or, when the bytes are not the chunk's fixed-size samples, the bytes as they are."""
    data = chunk_bytes.as_numpy_array()
    native = chunk_spec.dtype.to_native_dtype()
    if native.kind in _FIXED_KINDS and data.nbytes == _chunk_nbytes(chunk_spec):
        return data.view(native).reshape(chunk_spec.shape)
    return memoryview(data)

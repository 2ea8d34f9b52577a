"""numcodecs adaptors for OpenZL frames: configuration only, the work is in `_core`/`_grid`.

Registered in the ``numcodecs.codecs`` entry-point group, so Zarr v2 arrays and
kerchunk references can name ``{"id": "rumi.openzl", ...}`` and
``{"id": "rumi.openzl_grid", ...}``; the Zarr v3 twins in `rumi_codec.zarr_` share
these ids and configurations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ndarray_copy

from rumi_codec import _core, _grid

if TYPE_CHECKING:
    from collections.abc import Buffer, Iterable

__all__ = ["OpenZLCodec", "OpenZLGridCodec"]

_BYTE_FORMATS = frozenset(("B", "b", "c"))
"""``memoryview`` formats of plain bytes (``bytes``, ``bytearray``, ``array("b")``)."""


class OpenZLCodec(Codec):  # type: ignore[misc]  # numcodecs: untyped
    """Compress each chunk, whatever its bytes, into one self-contained OpenZL frame.

    A numeric array (1-, 2-, 4- or 8-byte elements) becomes a ``Numeric`` frame whose
    rows are the chunk's last axis, so geozl's 2-D predictors see the image rows;
    anything else (strings, records, bytes from another codec) a ``Serial`` frame
    (`rumi_codec._core.encode`). Decoding needs only the frame, whichever options
    wrote it, and gives the chunk's bytes back.

    Parameters
    ----------
    recipe
        geozl recipe such as ``"planar>zigzag>zstd"``; set to None to use ``graph``.
    graph
        Plain OpenZL graph name (``"zstd"``, ``"store"``, ``"compress"``, ...).
    format_version
        OpenZL format of plain-graph frames; None is ``_core.DEFAULT_FORMAT_VERSION``.
        Must be one the installed openzl writes (checked here).
    checksum
        Store checksums in plain-graph frames (geozl frames always have them).
    verify
        Check each frame's checksums when decoding; None defers to the environment
        variable ``RUMI_VERIFY`` (off when unset).
    """

    codec_id = "rumi.openzl"

    def __init__(
        self,
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
        self.recipe = recipe
        self.graph = graph
        self.format_version = format_version
        self.checksum = checksum
        self.verify = verify

    def encode(self, buf: Buffer) -> bytes:
        """Compress a chunk (any contiguous array or buffer) into one frame."""
        return _core.encode(
            _memory_order(buf),
            recipe=self.recipe,
            graph=self.graph,
            format_version=self.format_version,
            checksum=self.checksum,
        )

    def decode(self, buf: Buffer, out: Any = None) -> np.ndarray:
        """Decode one frame to flat ``uint8`` bytes, or into ``out`` (size checked first)."""
        verify = _core.parse_verify(self.verify)
        nbytes = None if out is None else ensure_contiguous_ndarray(out).nbytes
        with _grid.naming_the_frame(buf):
            data = _core.decompress(buf, nbytes=nbytes, verify=verify, serial=True)
        if out is None:
            return data
        filled: np.ndarray = ndarray_copy(data, out)
        return filled

    def get_config(self) -> dict[str, Any]:
        """Return the JSON-serialisable configuration, with ``id`` (``verify`` when set)."""
        config = {
            "id": self.codec_id,
            "recipe": self.recipe,
            "graph": self.graph,
            "format_version": self.format_version,
            "checksum": self.checksum,
        }
        if self.verify is not None:
            config["verify"] = self.verify
        return config

    def __repr__(self) -> str:
        verify = "" if self.verify is None else f", verify={self.verify!r}"
        return (
            f"{type(self).__name__}(recipe={self.recipe!r}, graph={self.graph!r},"
            f" format_version={self.format_version!r}, checksum={self.checksum!r}{verify})"
        )


class OpenZLGridCodec(Codec):  # type: ignore[misc]  # numcodecs: untyped
    """Decode rumi frames, clipped or interleaved, to the chunks of a regular grid.

    Each frame is put in array axis order at the origin of a zero-filled chunk of
    ``chunk_shape``. Decode only: write with `OpenZLCodec`. The parameters are those
    of `rumi_codec._grid.parse_grid_config`.
    """

    codec_id = "rumi.openzl_grid"

    def __init__(
        self,
        chunk_shape: Iterable[int],
        itemsize: int,
        frame_order: Iterable[int],
        edge: Iterable[int],
        wide: Iterable[str] = (),
        tall: Iterable[str] = (),
        verify: bool | None = None,
    ) -> None:
        self._grid = _grid.parse_grid_config(
            chunk_shape=chunk_shape,
            itemsize=itemsize,
            frame_order=frame_order,
            edge=edge,
            wide=wide,
            tall=tall,
            verify=verify,
        )

    def encode(self, buf: Buffer) -> bytes:
        """Refuse: the grid view is read-only."""
        raise NotImplementedError(_grid.READ_ONLY)

    def decode(self, buf: Buffer, out: Any = None) -> np.ndarray:
        """Decode one frame to the flat ``uint8`` bytes of its padded chunk, or into ``out``."""
        chunk = _grid.decode(buf, self._grid)
        if out is None:
            return chunk
        filled: np.ndarray = ndarray_copy(chunk, out)
        return filled

    def get_config(self) -> dict[str, Any]:
        """Return the JSON-serialisable configuration, with ``id``."""
        return {"id": self.codec_id, **self._grid.to_config()}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self._grid.to_config().items())
        return f"{type(self).__name__}({args})"


def _memory_order(buf: Buffer) -> np.ndarray | Buffer:
    """Return a chunk array with C order as its memory order, or raw bytes as they are.

    An F-ordered chunk (Zarr v2 ``order="F"``) is transposed, so its frame holds the
    bytes as they lie in memory, which is what ``decode`` must give back. Buffers
    that are not arrays (``bytes``, ``bytearray``, another codec's output) stay
    bytes, so `_core.encode` stores them as a ``Serial`` frame.
    """
    if not isinstance(buf, np.ndarray):
        view = memoryview(buf)
        if view.format in _BYTE_FORMATS:
            return view
    arr: np.ndarray = ensure_contiguous_ndarray(buf, flatten=False)
    return arr if arr.flags.c_contiguous else arr.T

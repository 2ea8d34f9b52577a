"""Decode-only view of rumi frames on a regular chunk grid (numpy only).

rumi does not pad clipped edge tiles, and "interleaved" frames hold their axes in
another order than the array. Consumers that know only regular grids (Zarr v2,
kerchunk Parquet, VirtualiZarr 2.8) need every chunk at the full chunk shape:
`decode` puts each frame, in array axis order, at the origin of a zero-filled chunk.
The padding lies outside the array, so no reader ever sees it.

A frame stores no shape (`_core`), so the configuration gives the tile shape, the
clipped ``edge`` and, where a bottom-row and a right-column frame decode to the same
size, the keys of the frames that are ``wide`` or ``tall``: a digest of the frame
(`frame_key`, one per frame of one file), or of its skeleton (`skeleton_key`: the
decoding map, which for geozl frames holds the row width, so one key serves every
bottom-row frame of every file written alike, and files can share a configuration).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import operator
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, SupportsIndex, cast

import numpy as np

from rumi_codec import _core, _header
from rumi_codec._core import OpenZLError

if TYPE_CHECKING:
    from collections.abc import Buffer, Iterable, Iterator

__all__ = [
    "READ_ONLY",
    "GridConfig",
    "decode",
    "frame_key",
    "naming_the_frame",
    "parse_grid_config",
    "skeleton_key",
]

READ_ONLY: Final = "rumi.openzl_grid is a read-only view of rumi frames; write with rumi.openzl"
"""Message of the NotImplementedError raised by every encode."""

ITEMSIZES: Final = (1, 2, 4, 8, 16)
"""Bytes per sample the grid codec accepts."""

MAX_NDIM: Final = 16
"""Most chunk axes accepted."""

_KEY: Final = re.compile(r"(?:[0-9]+|skeleton):[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class GridConfig:
    """A checked ``rumi.openzl_grid`` configuration; build it with `parse_grid_config`."""

    chunk_shape: tuple[int, ...]
    """Full (padded) chunk shape in array axis order; the last two axes are y, x."""
    itemsize: int
    """Bytes per sample."""
    frame_order: tuple[int, ...]
    """The frame's decoded axes in decoded C order, as chunk axis indices."""
    edge: tuple[int, int]
    """Height of the last tile row and width of the last tile column; 0 where aligned."""
    wide: frozenset[str]
    """Keys of ambiguous frames that are bottom-row tiles, ``edge[0]`` high."""
    tall: frozenset[str]
    """Keys of ambiguous frames that are right-column tiles, ``edge[1]`` wide."""
    verify: bool | None = None
    """Check each frame's checksums; None defers to ``RUMI_VERIFY`` (off when unset)."""

    def to_config(self) -> dict[str, Any]:
        """Return the JSON configuration; ``wide``, ``tall`` and ``verify`` only when set."""
        config: dict[str, Any] = {
            "chunk_shape": list(self.chunk_shape),
            "itemsize": self.itemsize,
            "frame_order": list(self.frame_order),
            "edge": list(self.edge),
        }
        for name in ("wide", "tall"):
            if keys := getattr(self, name):
                config[name] = sorted(keys)
        if self.verify is not None:
            config["verify"] = self.verify
        return config


# ---------------------------------------------------------------------------- config


def frame_key(frame: Buffer) -> str:
    """Return ``"<length>:<blake2b-64 hex digest>"``, the key ``wide``/``tall`` record."""
    view = memoryview(frame).cast("B")
    return f"{view.nbytes}:{hashlib.blake2b(view, digest_size=8).hexdigest()}"


def skeleton_key(frame: Buffer) -> str | None:
    """Return ``"skeleton:<blake2b-64 hex digest>"`` of the frame's skeleton, or None.

    The skeleton (`rumi_codec._header.skeleton`) is the frame's header and decoding
    map without its stored streams; None when the frame has none this reader follows.
    """
    skeleton = _header.skeleton(frame)
    if skeleton is None:
        return None
    return f"skeleton:{hashlib.blake2b(skeleton, digest_size=8).hexdigest()}"


@contextlib.contextmanager
def naming_the_frame(frame: Buffer) -> Iterator[None]:
    """Prefix an `OpenZLError` raised inside with ``"frame <key>: "`` (`frame_key`).

    A Zarr codec is never told which chunk it decodes, so the key is how its errors
    name the frame; messages that already start with it are left as they are.
    """
    try:
        yield
    except OpenZLError as exc:
        if str(exc).startswith("frame ") and ":" in str(exc).split()[1]:
            raise
        raise OpenZLError(f"frame {frame_key(frame)}: {exc}") from exc


def parse_grid_config(
    *,
    chunk_shape: Iterable[int],
    itemsize: int,
    frame_order: Iterable[int],
    edge: Iterable[int],
    wide: Iterable[str] = (),
    tall: Iterable[str] = (),
    verify: bool | None = None,
) -> GridConfig:
    """Check a ``rumi.openzl_grid`` configuration, raising TypeError or ValueError."""
    shape = _parse_ints("chunk_shape", chunk_shape, minimum=1)
    if not 2 <= len(shape) <= MAX_NDIM:
        raise ValueError(f"chunk_shape must have 2 to {MAX_NDIM} axes, got {list(shape)}")
    size = _parse_int("itemsize", itemsize)
    if size not in ITEMSIZES:
        raise ValueError(f"itemsize must be one of {ITEMSIZES}, got {size}")
    if math.prod(shape) * size > _core.MAX_FRAME_BYTES:
        raise ValueError(
            f"a chunk of shape {list(shape)} with {size}-byte samples is past the limit"
            f" of {_core.MAX_FRAME_BYTES} bytes"
        )
    order = _parse_ints("frame_order", frame_order, minimum=0)
    if sorted(order) != list(range(len(shape))):
        raise ValueError(
            f"frame_order must be a permutation of range({len(shape)}), got {list(order)}"
        )
    rh, rw = clip = _parse_edge(edge, shape[-2:])
    keys = {name: _parse_keys(name, value) for name, value in (("wide", wide), ("tall", tall))}
    if (keys["wide"] or keys["tall"]) and not (rh and rw and rh * shape[-1] == shape[-2] * rw):
        raise ValueError(
            f"wide and tall apply only when a {rh}x{shape[-1]} and a {shape[-2]}x{rw} frame"
            f" have the same size, which is not the case for chunk_shape {list(shape)}"
            f" and edge {list(clip)}"
        )
    if verify is not None:
        _core.parse_verify(verify)
    return GridConfig(shape, size, order, clip, keys["wide"], keys["tall"], verify)


def _parse_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        return operator.index(cast("SupportsIndex", value))
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r}") from None


def _parse_ints(name: str, value: object, *, minimum: int) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"{name} must be a list of ints, got {value!r}")
    ints = tuple(_parse_int(name, item) for item in value)
    if any(item < minimum for item in ints):
        raise ValueError(f"{name} entries must be >= {minimum}, got {list(ints)}")
    return ints


def _parse_edge(edge: object, tile: tuple[int, ...]) -> tuple[int, int]:
    clip = _parse_ints("edge", edge, minimum=0)
    if len(clip) != 2 or clip[0] >= tile[0] or clip[1] >= tile[1]:
        raise ValueError(
            f"edge must be [rows, columns] of the clipped last tile row and column, each"
            f" 0 (aligned) or less than the tile {list(tile)}, got {list(clip)}"
        )
    return clip[0], clip[1]


def _parse_keys(name: str, keys: object) -> frozenset[str]:
    if not isinstance(keys, list | tuple):
        raise TypeError(f"{name} must be a list of frame keys, got {keys!r}")
    for key in keys:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(
                f"{name} entries must be '<length>:<16 hex digits>' or"
                f" 'skeleton:<16 hex digits>', got {key!r}"
            )
    return frozenset(keys)


# ---------------------------------------------------------------------------- decode


def decode(frame: Buffer, grid: GridConfig) -> np.ndarray:
    """Decode one frame to the bytes of its padded chunk, in chunk axis and C order.

    Returns
    -------
    numpy.ndarray
        A new flat ``uint8`` array of ``prod(chunk_shape) * itemsize`` bytes.

    Raises
    ------
    OpenZLError
        When the frame fits none of the tile shapes, or fits both a bottom-row and a
        right-column tile and ``wide``/``tall`` do not tell which.
    """
    with naming_the_frame(frame):
        nbytes = _core.decoded_nbytes(frame)
        shapes = _tile_shapes(grid, nbytes)
        raw = _core.decompress(frame, nbytes=nbytes, verify=_core.parse_verify(grid.verify))
    if len(shapes) == 1:
        return _place(raw, grid, shapes[0])
    key = frame_key(frame)
    wide, tall = key in grid.wide, key in grid.tall
    if not (wide or tall) and (shared := skeleton_key(frame)) is not None:
        wide, tall = shared in grid.wide, shared in grid.tall
    if wide and tall:
        return _fill(raw, grid, shapes, key)
    if not (wide or tall):
        (h1, w1), (h2, w2) = shapes
        raise OpenZLError(
            f"frame {key} decodes to {nbytes} bytes, which fits both a {h1}x{w1} bottom-row"
            f" tile and a {h2}x{w2} right-column tile, and it is not recorded in this codec's"
            " configuration (wide/tall): the references are stale or from another file"
        )
    return _place(raw, grid, shapes[0] if wide else shapes[1])


def _tile_shapes(grid: GridConfig, nbytes: int) -> list[tuple[int, int]]:
    """Return the (height, width) tiles of ``nbytes``: one, or (wide, tall) when ambiguous."""
    th, tw = grid.chunk_shape[-2:]
    rh, rw = grid.edge
    candidates = [(th, tw), (rh or th, tw), (th, rw or tw), (rh or th, rw or tw)]
    per_pixel = grid.itemsize * math.prod(grid.chunk_shape[:-2])
    fits = [hw for hw in dict.fromkeys(candidates) if per_pixel * hw[0] * hw[1] == nbytes]
    if not fits:
        sizes = sorted({per_pixel * h * w for h, w in candidates})
        raise OpenZLError(
            f"frame decodes to {nbytes} bytes, but a tile of this chunk holds one of {sizes}"
            f" (chunk_shape {list(grid.chunk_shape)}, edge {list(grid.edge)},"
            f" itemsize {grid.itemsize}): the references are stale or from another file"
        )
    return fits


def _block(raw: np.ndarray, grid: GridConfig, tile: tuple[int, int]) -> np.ndarray:
    """View the frame's bytes as its tile in chunk axis order, with a trailing byte axis."""
    shape = (*grid.chunk_shape[:-2], *tile)
    frame_shape = [shape[axis] for axis in grid.frame_order]
    axes = [*np.argsort(grid.frame_order).tolist(), len(shape)]
    return raw.reshape(*frame_shape, grid.itemsize).transpose(axes)


def _place(raw: np.ndarray, grid: GridConfig, tile: tuple[int, int]) -> np.ndarray:
    """Put the tile at the origin of a zero-filled chunk."""
    in_order = grid.frame_order == tuple(range(len(grid.chunk_shape)))
    if in_order and tile == grid.chunk_shape[-2:]:
        return raw
    block = _block(raw, grid, tile)
    out = np.zeros((*grid.chunk_shape, grid.itemsize), np.uint8)
    out[tuple(slice(0, n) for n in block.shape)] = block
    return out.reshape(-1)


def _fill(raw: np.ndarray, grid: GridConfig, tiles: list[tuple[int, int]], key: str) -> np.ndarray:
    """Decode a frame recorded both wide and tall: two edge tiles with the same bytes.

    Both readings hold within the array only when each is uniform over y and x with
    the same values; the chunk is then filled with them. Anything else is refused.
    """
    firsts = []
    for tile in tiles:
        block = _block(raw, grid, tile)
        first = block[..., :1, :1, :]
        if not (block == first).all():
            break
        firsts.append(first)
    if len(firsts) != 2 or not np.array_equal(firsts[0], firsts[1]):
        raise OpenZLError(
            f"frame {key} is recorded both wide and tall, but its bottom-row and right-column"
            " readings differ: the references are inconsistent"
        )
    out = np.empty((*grid.chunk_shape, grid.itemsize), np.uint8)
    out[...] = firsts[0]
    return out.reshape(-1)

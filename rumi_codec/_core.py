"""OpenZL frame engine: ``compress``/``encode`` and ``decompress`` on bytes-like objects.

A frame decodes to exactly one output: ``Numeric`` (elements of 1, 2, 4 or 8 bytes:
the samples of an array) or ``Serial`` (plain bytes: strings, records, or the output
of another codec). The frame stores neither the array's shape nor its dtype: callers
restore them with ``decompress(frame).view(dtype).reshape(shape)``.

Frames written by geozl use its custom codecs, so every decode goes through geozl:
its C decoder (releases the GIL) or an ``openzl.ext.DCtx`` with the geozl decoders
registered (holds the GIL, but reports the element width). Element widths learnt
from the ``DCtx`` are kept by frame skeleton (`rumi_codec._header`), so later frames
of the same shape of graph are checked and decoded without the GIL. Neither an
OpenZL context nor a geozl graph is thread-safe, so they are cached per thread.
"""

from __future__ import annotations

import functools
import operator
import re
import threading
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from openzl import ext

from rumi_codec import _header
from rumi_codec._options import (
    DEFAULT_FORMAT_VERSION,
    DEFAULT_RECIPE,
    PLAIN_GRAPHS,
    SERIAL_GRAPH,
    SERIAL_GRAPHS,
    TYPED_FORMAT_VERSION,
    VERIFY_VARIABLE,
    parse_options,
    parse_verify,
)
from rumi_xarray.errors import OpenZLError

if TYPE_CHECKING:
    from collections.abc import Buffer, Callable, Collection, Hashable

    import geozl
    from numpy.typing import ArrayLike

__all__ = [
    "DEFAULT_FORMAT_VERSION",
    "DEFAULT_RECIPE",
    "MAX_FRAME_BYTES",
    "PLAIN_GRAPHS",
    "SERIAL_GRAPH",
    "VERIFY_VARIABLE",
    "compress",
    "compress_serial",
    "decoded_nbytes",
    "decompress",
    "decompress_into",
    "decompress_output",
    "encode",
    "known_width",
    "output_type",
    "parse_options",
    "parse_verify",
]

MAX_FRAME_BYTES: Final = 1 << 30
"""Largest decoded frame accepted when the caller does not give its size (1 GiB)."""

_NUMERIC_KINDS: Final = frozenset("biufcmM")

_ELEMENT_WIDTHS: Final = frozenset((1, 2, 4, 8))
_HEADER_BYTES: Final = 1024  # FrameInfo reads ~8 + 2 bytes per output, never the payload
_MAX_CACHED: Final = 16  # contexts kept per thread and per kind
_ENABLE, _DISABLE = 1, 2  # ZL_TernaryParam values of the checksum parameters
_REASON: Final = re.compile(r"(?:Code|OpenZL error string): ([^\n]+)")


class _ThreadState(threading.local):
    """Per-thread contexts: neither ``DCtx``, ``CCtx`` nor ``geozl.Graph`` is thread-safe."""

    def __init__(self) -> None:
        self.dctx: ext.DCtx | None = None
        self.recipes: dict[Hashable, geozl.Graph] = {}
        self.plain: dict[Hashable, tuple[ext.Compressor, ext.CCtx]] = {}


_STATE = _ThreadState()


# ---------------------------------------------------------------------------- encode


def compress(
    array: ArrayLike,
    *,
    recipe: str | None = DEFAULT_RECIPE,
    graph: str | None = None,
    format_version: int | None = None,
    checksum: bool = True,
) -> bytes:
    """Compress an array's C-order elements into one self-contained OpenZL frame.

    The elements are stored as little-endian unsigned integers of the same width
    (``bool`` as 1 byte, complex as its two components), in rows of the last axis.

    Parameters
    ----------
    array
        Any array-like; its itemsize (component size for complex) must be 1, 2, 4 or 8.
    recipe
        geozl recipe such as ``"planar>zigzag>zstd"``; set to None to use ``graph``.
    graph
        Plain OpenZL graph, one of `PLAIN_GRAPHS`.
    format_version
        OpenZL format of a plain-graph frame; default `DEFAULT_FORMAT_VERSION`.
    checksum
        Store content and compressed-data checksums (plain graphs only may disable).

    Returns
    -------
    bytes
        The frame; ``decompress(frame)`` gives back the array's bytes.
    """
    parse_options(recipe=recipe, graph=graph, format_version=format_version, checksum=checksum)
    rows = _as_rows(array)
    if recipe is not None:
        return _compress_recipe(rows, recipe)
    assert graph is not None  # parse_options: exactly one of the two
    version = DEFAULT_FORMAT_VERSION if format_version is None else format_version
    if version < TYPED_FORMAT_VERSION:
        raise ValueError(
            f"format_version {version} stores bytes only; numeric frames need"
            f" {TYPED_FORMAT_VERSION} or later"
        )
    return _compress_plain(ext.Input(ext.Type.Numeric, rows.reshape(-1)), graph, version, checksum)


def _as_rows(array: ArrayLike) -> np.ndarray:
    """Return a 2-D ``<uN`` view (rows, last axis) of the array's C-ordered bytes."""
    arr = np.ascontiguousarray(array)
    if arr.dtype.hasobject:
        raise TypeError(f"cannot store dtype {arr.dtype}: it holds Python objects")
    parts = 2 if arr.dtype.kind == "c" else 1
    width = arr.dtype.itemsize // parts
    if width not in _ELEMENT_WIDTHS:
        raise TypeError(
            f"cannot store dtype {arr.dtype}: OpenZL numeric elements are 1, 2, 4 or 8 bytes,"
            f" not {width}"
        )
    if arr.size == 0:
        raise ValueError(f"cannot store an empty array of shape {arr.shape}")
    flat = arr.reshape(-1).view(np.uint8).view(f"<u{width}")
    return flat.reshape(-1, (arr.shape[-1] if arr.ndim else 1) * parts)


def compress_serial(
    data: Buffer,
    *,
    graph: str = SERIAL_GRAPH,
    format_version: int | None = None,
    checksum: bool = True,
) -> bytes:
    """Compress plain bytes into one OpenZL frame with a ``Serial`` output.

    ``graph`` is a name in `PLAIN_GRAPHS` that takes bytes (not ``field_lz``);
    ``decompress(frame, serial=True)`` gives the bytes back, whatever their length.
    """
    parse_options(recipe=None, graph=graph, format_version=format_version, checksum=checksum)
    if graph not in SERIAL_GRAPHS:
        raise ValueError(f"graph {graph!r} takes numbers only; use one of {sorted(SERIAL_GRAPHS)}")
    version = DEFAULT_FORMAT_VERSION if format_version is None else format_version
    raw = np.frombuffer(_byte_view(data), np.uint8)
    return _compress_plain(ext.Input(ext.Type.Serial, raw), graph, version, checksum)


def encode(
    data: Buffer | np.ndarray,
    *,
    recipe: str | None = DEFAULT_RECIPE,
    graph: str | None = None,
    format_version: int | None = None,
    checksum: bool = True,
) -> bytes:
    """Compress any bytes into one frame, as the ``rumi.openzl`` codecs do.

    A non-empty NumPy array of a numeric dtype (bool, integers, floats, complex,
    datetimes) with 1-, 2-, 4- or 8-byte elements becomes a ``Numeric`` frame
    (`compress`); anything else (strings, records, void, an empty array, a bytes-like
    object such as another codec's output, or anything under a ``format_version``
    before `TYPED_FORMAT_VERSION`) a ``Serial`` frame of its bytes in memory order
    (`compress_serial`, with ``graph``, or `SERIAL_GRAPH` where ``graph`` is None or
    takes numbers only). ``decompress(frame, serial=True)`` returns the bytes.
    """
    parse_options(recipe=recipe, graph=graph, format_version=format_version, checksum=checksum)
    typed = format_version is None or format_version >= TYPED_FORMAT_VERSION
    if typed and isinstance(data, np.ndarray) and data.size and _numeric(data.dtype):
        return compress(
            data, recipe=recipe, graph=graph, format_version=format_version, checksum=checksum
        )
    serial = graph if graph in SERIAL_GRAPHS else SERIAL_GRAPH
    return compress_serial(
        _memory_bytes(data), graph=serial, format_version=format_version, checksum=checksum
    )


def _numeric(dtype: np.dtype) -> bool:
    width = dtype.itemsize // (2 if dtype.kind == "c" else 1)
    return dtype.kind in _NUMERIC_KINDS and width in _ELEMENT_WIDTHS


def _memory_bytes(data: Buffer | np.ndarray) -> Buffer:
    """The bytes of an array in memory order (C or F), or of any contiguous buffer."""
    if isinstance(data, np.ndarray):
        if data.dtype.hasobject:
            raise TypeError(f"cannot store dtype {data.dtype}: it holds Python objects")
        if not (data.flags.c_contiguous or data.flags.f_contiguous):
            raise ValueError("an array to encode must be contiguous (C or F order)")
        return data.ravel(order="K").view(np.uint8)
    return data


def _compress_recipe(rows: np.ndarray, recipe: str) -> bytes:
    import geozl

    key = (recipe, rows.dtype.itemsize, rows.shape[1])
    graph = _cached(_STATE.recipes, key, lambda: _build_recipe(recipe, rows))
    try:
        return geozl.compress(rows, graph=graph)
    except (RuntimeError, ValueError) as exc:
        raise OpenZLError.invalid(
            "OpenZL encode", f"OpenZL encode failed ({recipe!r}): {_reason(exc)}", found=recipe
        ) from exc


def _build_recipe(recipe: str, rows: np.ndarray) -> geozl.Graph:
    """Build a lossless geozl graph for rows like ``rows``.

    A lossless graph depends only on the recipe, element width and row width, never
    on the pixels (checked for every recipe of ``geozl.profile``), so one graph per
    row width serves every tile and frames do not depend on which tile came first.
    """
    import geozl

    try:
        return geozl.graph(rows[:1], recipe)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"geozl cannot build recipe {recipe!r} for {rows.dtype.itemsize}-byte elements"
            f" in rows of {rows.shape[1]}: {_reason(exc)}"
        ) from exc


def _compress_plain(data: ext.Input, graph: str, version: int, checksum: bool) -> bytes:
    key = (graph, version, checksum)
    _, cctx = _cached(_STATE.plain, key, lambda: _build_plain(graph, version, checksum))
    try:
        frame: bytes = cctx.compress([data])
    except RuntimeError as exc:
        raise OpenZLError.invalid(
            "OpenZL encode", f"OpenZL encode failed ({graph!r}): {_reason(exc)}", found=graph
        ) from exc
    return frame


def _build_plain(graph: str, version: int, checksum: bool) -> tuple[ext.Compressor, ext.CCtx]:
    """Return a compressor and the reusable context that references it (kept together)."""
    compressor = ext.Compressor()
    compressor.select_starting_graph(PLAIN_GRAPHS[graph]()(compressor))
    cctx = ext.CCtx()
    cctx.set_parameter(ext.CParam.StickyParameters, 1)  # else compress() drops the graph
    cctx.ref_compressor(compressor)
    cctx.set_parameter(ext.CParam.FormatVersion, version)
    flag = _ENABLE if checksum else _DISABLE
    cctx.set_parameter(ext.CParam.ContentChecksum, flag)
    cctx.set_parameter(ext.CParam.CompressedChecksum, flag)
    return compressor, cctx


# ---------------------------------------------------------------------------- decode


def decompress(
    frame: Buffer, *, nbytes: int | None = None, verify: bool = False, serial: bool = False
) -> np.ndarray:
    """Decode one OpenZL frame (geozl or plain) to its bytes, releasing the GIL.

    Parameters
    ----------
    frame
        The whole frame and nothing else: bytes, bytearray, memoryview or a
        contiguous numpy array. Only its header (at most 1 KiB) is ever copied.
    nbytes
        Expected decoded size. A frame declaring any other size is refused before
        anything is allocated; without it the limit is `MAX_FRAME_BYTES`.
    verify
        Check the frame's checksums, where it has them.
    serial
        Also accept a ``Serial`` output (plain bytes), as `encode` writes for data
        that is not numeric; else the output must be ``Numeric``.

    Returns
    -------
    numpy.ndarray
        A new flat, writable, 8-byte-aligned ``uint8`` array.

    Raises
    ------
    OpenZLError
        When the frame is not one output of the expected kind and size, or does not
        decode (corrupt, truncated, trailing bytes, a checksum with ``verify``).
    """
    view = _byte_view(frame)
    size = _check_header(frame, view, _parse_nbytes(nbytes), serial=serial)
    if size == 0:  # geozl reports a 0-byte frame as unreadable; DCtx decodes it
        return _decode_dctx(frame, view, size, verify)[0]
    import geozl

    try:
        # typed `bytes`, but geozl reads any buffer through np.frombuffer
        out = geozl.decompress(view, verify=verify, max_output_size=size)  # type: ignore[arg-type]
    except (RuntimeError, ValueError) as exc:
        raise OpenZLError.invalid("OpenZL decode", f"OpenZL decode failed: {_reason(exc)}") from exc
    if out.size != size:
        msg = f"frame decodes to {out.size} bytes, its header declares {size}"
        raise OpenZLError.invalid("frame", msg, expected=size, found=out.size)
    return out


def decompress_into(
    frame: Buffer,
    out: np.ndarray,
    *,
    verify: bool = False,
    widths: Collection[int] | None = None,
) -> None:
    """Decode one frame into ``out``, a C-contiguous writable ``uint8`` array of its size.

    The same checks as `decompress` with ``nbytes=out.nbytes``. Reusing ``out`` spares
    a page-faulting allocation per frame, which is what makes whole-image reads as
    fast as decoding alone. With ``widths``, the frame's elements must be one of
    these widths (bytes): the width is known from the frame's skeleton after the
    first frame of that skeleton (`_header.skeleton`), which alone is decoded with
    the GIL held, by the decoder that reports widths.
    """
    view = _byte_view(frame)
    size = _check_header(frame, view, out.nbytes)
    if widths is not None and _decoded_for_width(frame, view, out, widths, verify):
        return
    into = _c_decompress()
    if into is None or size == 0:
        out[:] = decompress(frame, nbytes=size, verify=verify)
        return
    ffi, lib = into
    src = np.frombuffer(view, np.uint8)
    written = ffi.new("size_t*")
    reason = ffi.new("char[]", 256)
    rc = lib.geozl_2d_decompress_c(
        ffi.from_buffer(src),
        src.size,
        ffi.from_buffer(out),
        size,
        written,
        int(verify),
        reason,
        256,
    )
    if rc != 0:
        text = ffi.string(reason).decode("utf-8", "replace")
        raise OpenZLError.invalid(
            "OpenZL decode", f"OpenZL decode failed: {_reason(RuntimeError(text))}"
        )
    if written[0] != size:
        msg = f"frame decodes to {written[0]} bytes, its header declares {size}"
        raise OpenZLError.invalid("frame", msg, expected=size, found=written[0])


def known_width(frame: Buffer) -> int | None:
    """The element width (bytes) of a frame's output, if known without decoding it.

    Known once a frame of the same skeleton was decoded by `decompress_into` with
    ``widths`` (`_header`); else None. Reads only header bytes, so a reading thread
    can check frames before they are decoded, and `decompress_into` then needs no
    ``widths``.
    """
    return _header.known_width(_header.skeleton(frame))


def _decoded_for_width(
    frame: Buffer, view: memoryview, out: np.ndarray, widths: Collection[int], verify: bool
) -> bool:
    """Check the frame's element width; True when learning it decoded into ``out``."""
    key = _header.skeleton(view)
    width = _header.known_width(key)
    decoded = width is None
    if width is None:
        data, width = _decode_dctx(frame, view, out.nbytes, verify)
        _header.learn_width(key, width)
    if width not in widths:
        expected = " or ".join(str(w) for w in sorted(widths))
        msg = (
            f"frame output element width is {width} bytes, expected {expected}"
            " (the width of the samples or of their complex components)"
        )
        raise OpenZLError.invalid(
            "frame output element width", msg, expected=tuple(sorted(widths)), found=width
        )
    if decoded:
        out[:] = data
    return decoded


@functools.cache
def _c_decompress() -> tuple[Any, Any] | None:
    """geozl's C decoder (the one ``geozl.decompress`` wraps), or None where it is absent."""
    try:
        from geozl._ffi import _load_lib_full, ffi

        lib = _load_lib_full()  # type: ignore[no-untyped-call]  # geozl._ffi: untyped
        lib.geozl_2d_decompress_c  # noqa: B018 - probe the symbol
    except (ImportError, AttributeError, OSError):
        return None
    return ffi, lib


def decompress_output(
    frame: Buffer, *, verify: bool = True, serial: bool = False
) -> tuple[np.ndarray, int]:
    """Decode one OpenZL frame and report its element width (holds the GIL).

    The decoded size is capped at `MAX_FRAME_BYTES`; ``verify`` and ``serial`` are
    those of `decompress` (checksums are verified unless told otherwise).

    Parameters
    ----------
    frame
        As for `decompress`; frames that are not ``bytes`` are copied once.

    Returns
    -------
    tuple[numpy.ndarray, int]
        A new flat, writable ``uint8`` array and the element width in bytes.
    """
    view = _byte_view(frame)
    size = _check_header(frame, view, None, serial=serial)
    return _decode_dctx(frame, view, size, verify)


def decoded_nbytes(frame: Buffer, *, nbytes: int | None = None, serial: bool = False) -> int:
    """Return the decoded size a frame's header declares, without decoding it.

    The header gets the checks of `decompress` (one output; of ``nbytes`` bytes when
    given, else at most `MAX_FRAME_BYTES`), so callers can pick a shape before anything
    is allocated, and writers can check a frame before storing it.
    """
    return _check_header(frame, _byte_view(frame), _parse_nbytes(nbytes), serial=serial)


def output_type(frame: Buffer) -> ext.Type:
    """Return the type of a frame's one output (``Numeric`` or ``Serial``), checked."""
    view = _byte_view(frame)
    _check_header(frame, view, None, serial=True)
    return ext.FrameInfo(_head(frame, view)).output_type(0)


def _byte_view(frame: Buffer) -> memoryview:
    view = memoryview(frame)
    if view.format == "B" and view.ndim == 1:
        return view
    if not view.c_contiguous:
        raise TypeError("an OpenZL frame must be a C-contiguous buffer")
    return view.cast("B")


def _parse_nbytes(nbytes: int | None) -> int | None:
    if nbytes is None:
        return None
    count = operator.index(nbytes)
    if count < 0:
        raise ValueError(f"nbytes must be >= 0, got {count}")
    return count


def _head(frame: Buffer, view: memoryview) -> bytes:
    return frame if isinstance(frame, bytes) else bytes(view[:_HEADER_BYTES])


def _check_header(
    frame: Buffer, view: memoryview, nbytes: int | None, *, serial: bool = False
) -> int:
    """Return the decoded size the frame header declares, after checking it."""
    try:
        info = ext.FrameInfo(_head(frame, view))
        count = info.num_outputs
        if count != 1:
            msg = f"OpenZL frame has {count} outputs, expected 1"
            raise OpenZLError.invalid("OpenZL frame", msg, expected=1, found=count)
        kind = info.output_type(0)
        size: int = info.output_content_size(0)
    except RuntimeError as exc:
        raise OpenZLError.invalid(
            "OpenZL frame header", f"OpenZL frame header unreadable: {_reason(exc)}"
        ) from exc
    if kind != ext.Type.Numeric and not (serial and kind == ext.Type.Serial):
        expected = "Numeric or Serial" if serial else "Numeric"
        msg = f"OpenZL frame output is {kind.name}, expected {expected}"
        raise OpenZLError.invalid("OpenZL frame output", msg, expected=expected, found=kind.name)
    if nbytes is not None and size != nbytes:
        msg = f"frame decodes to {size} bytes, expected {nbytes}"
        raise OpenZLError.invalid("frame", msg, expected=nbytes, found=size)
    if nbytes is None and size > MAX_FRAME_BYTES:
        msg = f"frame decodes to {size} bytes, past the limit of {MAX_FRAME_BYTES}"
        raise OpenZLError.invalid("frame", msg, expected=f"<= {MAX_FRAME_BYTES}", found=size)
    return size


def _decode_dctx(
    frame: Buffer, view: memoryview, size: int, verify: bool
) -> tuple[np.ndarray, int]:
    data = frame if isinstance(frame, bytes) else view.tobytes()
    dctx = _dctx()
    flag = _ENABLE if verify else _DISABLE
    dctx.set_parameter(ext.DParam.CheckCompressedChecksum, flag)
    dctx.set_parameter(ext.DParam.CheckContentChecksum, flag)
    try:
        (output,) = dctx.decompress(data)
    except RuntimeError as exc:
        raise OpenZLError.invalid("OpenZL decode", f"OpenZL decode failed: {_reason(exc)}") from exc
    if output.content_size != size:
        msg = f"frame decodes to {output.content_size} bytes, its header declares {size}"
        raise OpenZLError.invalid("frame", msg, expected=size, found=output.content_size)
    out = np.array(output.content.as_nparray().reshape(-1).view(np.uint8))
    return out, output.elt_width


def _dctx() -> ext.DCtx:
    if _STATE.dctx is None:
        import geozl

        dctx = ext.DCtx()
        dctx.set_parameter(ext.DParam.StickyParameters, 1)
        geozl.register_decoders(dctx)
        _STATE.dctx = dctx
    return _STATE.dctx


# ---------------------------------------------------------------------------- helpers


def _cached[T](cache: dict[Hashable, T], key: Hashable, build: Callable[[], T]) -> T:
    """Return ``cache[key]``, building it first; evict the oldest past `_MAX_CACHED`."""
    try:
        return cache[key]
    except KeyError:
        pass
    if len(cache) >= _MAX_CACHED:
        del cache[next(iter(cache))]
    value = cache[key] = build()
    return value


def _reason(exc: Exception) -> str:
    """Return the one-line reason in an openzl/geozl error message."""
    text = str(exc)
    found = _REASON.search(text)
    if found:
        return found.group(1).strip()
    return text.splitlines()[0] if text else type(exc).__name__

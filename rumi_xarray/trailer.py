"""The trailer after the last frame (§9): band texts (``TAIL``) and the time axis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .bits import pack_bits, packed_nbytes, trailing_bits_zero, unpack_bits
from .errors import RumiFormatError
from .spec import (
    MAX_TIME_COUNT,
    TAIL_MAGIC,
    TIME_BLOCK,
    TIME_MAGIC,
    TRAILER_HEAD,
    Generation,
    TimeKind,
)

if TYPE_CHECKING:
    from collections.abc import Buffer, Sequence

DAY = 86400
_INT64_MAX = 2**63 - 1
_MAX_TEXT_NBYTES = 65535
_MAX_SECONDS = 2**60
"""Coordinates the writer encodes: far past any date, and the residual arithmetic fits int64."""


@dataclass(frozen=True, slots=True, eq=False)
class TimeAxis:
    """Time steps as POSIX seconds (UTC): shape ``(T,)`` for instants, ``(T, 2)`` for intervals."""

    kind: TimeKind
    seconds: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        """One value per step: the instant, or the start of the interval."""
        return self.seconds if self.kind == TimeKind.INSTANT else self.seconds[:, 0]


@dataclass(frozen=True, slots=True)
class Trailer:
    generation: Generation
    band_texts: tuple[str, ...] | None
    time: TimeAxis | None


def max_trailer_nbytes(bands: int, times: int) -> int:
    """Upper bound on a trailer's size, checked before reading one."""
    return TRAILER_HEAD.size + bands * (2 + 65535) + TIME_BLOCK.size + packed_nbytes(2 * times, 64)


def parse_trailer(buf: Buffer, *, bands: int, times: int, offset: int) -> Trailer:
    """Parse a ``TAIL`` or ``TIME`` trailer that starts at file offset ``offset`` and ends at EOF."""
    buf = memoryview(buf)
    if len(buf) < TRAILER_HEAD.size or bytes(buf[:4]) not in (TAIL_MAGIC, TIME_MAGIC):
        msg = f"no trailer where the frames end, at {offset}"
        raise RumiFormatError.invalid(
            "trailer", msg, offset=offset, expected=(TAIL_MAGIC, TIME_MAGIC), found=bytes(buf[:4])
        )
    magic, version = TRAILER_HEAD.unpack_from(buf)
    if version != 1:
        msg = f"trailer version {version}, this reader implements 1"
        raise RumiFormatError.invalid(
            "trailer version", msg, offset=offset + 4, expected=1, found=version
        )
    pos = TRAILER_HEAD.size
    texts = None
    if magic == TAIL_MAGIC:
        texts, pos = _parse_band_texts(buf, pos, bands, offset)
    time = _parse_time(buf[pos:], times, offset + pos, required=magic == TAIL_MAGIC)
    generation = Generation.RUMI_TAIL if magic == TAIL_MAGIC else Generation.RUMI_TIME
    return Trailer(generation, texts, time)


def _parse_band_texts(
    buf: memoryview, pos: int, bands: int, offset: int
) -> tuple[tuple[str, ...], int]:
    texts: list[str] = []
    for b in range(bands):
        if pos + 2 > len(buf):
            msg = f"the trailer ends inside the text of band {b}, at {offset + pos}"
            raise RumiFormatError.invalid(f"band {b}", msg, offset=offset + pos)
        n = int.from_bytes(buf[pos : pos + 2], "little")
        raw = bytes(buf[pos + 2 : pos + 2 + n])
        if len(raw) < n:
            msg = f"the trailer ends inside the text of band {b}, at {offset + pos}"
            raise RumiFormatError.invalid(
                f"band {b}", msg, offset=offset + pos, expected=n, found=len(raw)
            )
        problem = _band_text_problem(b, raw)
        if problem:
            raise RumiFormatError.invalid(f"band {b}", problem, offset=offset + pos)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RumiFormatError.invalid(
                f"band {b}", f"band {b} text is not valid UTF-8", offset=offset + pos, found=raw
            ) from None
        if text in texts:
            first = texts.index(text)
            msg = f"bands {first} and {b} have the same text"
            raise RumiFormatError.invalid(
                f"bands {first} and {b}", msg, offset=offset + pos, found=text
            )
        texts.append(text)
        pos += 2 + n
    return tuple(texts), pos


def _parse_time(buf: memoryview, times: int, offset: int, *, required: bool) -> TimeAxis | None:
    if len(buf) < TIME_BLOCK.size:
        msg = f"the trailer ends before its time fields, at {offset}"
        raise RumiFormatError.invalid(
            "time fields", msg, offset=offset, expected=TIME_BLOCK.size, found=len(buf)
        )
    kind, bits, origin, step, scale = TIME_BLOCK.unpack_from(buf)
    if kind not in tuple(TimeKind) or (required and kind == TimeKind.NONE):
        allowed = "intervals (1) or instants (2)" + ("" if required else " or none (0)")
        msg = f"time_type is {kind}; rumi records {allowed}"
        raise RumiFormatError.invalid("time_type", msg, offset=offset, expected=allowed, found=kind)
    rest = buf[TIME_BLOCK.size :]
    if kind == TimeKind.NONE:
        if (bits, origin, step, scale) != (0, 0, 0, 1) or len(rest):
            msg = "a trailer without time must hold bits 0, origin 0, step 0, scale 1"
            raise RumiFormatError.invalid(
                "trailer without time",
                msg,
                offset=offset,
                expected=(0, 0, 0, 1),
                found=(bits, origin, step, scale),
            )
        return None
    if times > MAX_TIME_COUNT:
        raise RumiFormatError.mismatch("time_count", expected=f"<= {MAX_TIME_COUNT}", found=times)
    if bits > 64:
        raise RumiFormatError.mismatch("time_bits", expected="0..64", found=bits, offset=offset + 1)
    if scale not in (1, DAY):
        msg = f"time_scale is {scale}; rumi stores seconds (1) or whole days (86400)"
        raise RumiFormatError.invalid(
            "time_scale", msg, offset=offset + 18, expected=(1, DAY), found=scale
        )
    n = times * (2 if kind == TimeKind.INTERVAL else 1)
    need = packed_nbytes(n, bits)
    if len(rest) < need:
        msg = f"the time residuals need {need} bytes, the trailer has {len(rest)}"
        raise RumiFormatError.invalid(
            "time residuals", msg, offset=offset + TIME_BLOCK.size, expected=need, found=len(rest)
        )
    if len(rest) > need:
        extra = len(rest) - need
        msg = f"the trailer has {extra} extra byte after the time residuals; a file ends with its trailer"
        raise RumiFormatError.invalid(
            "time residuals",
            msg,
            offset=offset + TIME_BLOCK.size + need,
            expected=need,
            found=len(rest),
        )
    if not trailing_bits_zero(rest, n, bits):
        msg = "the unused bits of the last residual byte are not zero"
        raise RumiFormatError.invalid(
            "last residual byte", msg, offset=offset + TIME_BLOCK.size + need - 1
        )
    zigzag = unpack_bits(rest, n, bits)
    seconds = _decode_coords(zigzag, origin, step, scale, bits)
    _check_order(seconds, kind)
    shaped = seconds.reshape(times, 2) if kind == TimeKind.INTERVAL else seconds
    shaped.flags.writeable = False
    return TimeAxis(TimeKind(kind), shaped)


def _decode_coords(zigzag: np.ndarray, origin: int, step: int, scale: int, bits: int) -> np.ndarray:
    """Undo §9 steps 2-6 and check that the encoding is the canonical one."""
    n = zigzag.size
    residual = (zigzag >> np.uint64(1)).astype(np.int64) ^ -(zigzag & np.uint64(1)).astype(np.int64)
    largest = max(int(residual.max()), -int(residual.min()))
    if (abs(origin) + (n - 1) * abs(step) + largest) * scale > _INT64_MAX:
        raise RumiFormatError.invalid(
            "time coordinate", "a time coordinate in seconds does not fit in int64"
        )
    units = origin + np.arange(n, dtype=np.int64) * step + residual
    if n and units[0] != origin:
        msg = "time_epoch is not the first coordinate"
        raise RumiFormatError.invalid("time_epoch", msg, expected=int(units[0]), found=origin)
    if step != (slope := _slope(int(units[0]), int(units[-1]), n)):
        msg = "time_step is not the slope the coordinates imply"
        raise RumiFormatError.invalid("time_step", msg, expected=slope, found=step)
    if bits != (width := int(zigzag.max()).bit_length()):
        raise RumiFormatError.invalid(
            "time_bits", "time_bits is not the width the residuals need", expected=width, found=bits
        )
    seconds = units * scale
    if scale == 1 and np.all(seconds % DAY == 0):
        msg = (
            "time_scale is seconds but every coordinate falls on a whole day, "
            "which rumi stores as days"
        )
        raise RumiFormatError.invalid("time_scale", msg, expected=DAY, found=scale)
    return seconds


def _slope(first: int, last: int, n: int) -> int:
    """§9 step 3: the step, ``(last - first) / (n - 1)`` rounded half up (0 for one value)."""
    return 0 if n == 1 else (2 * (last - first) + (n - 1)) // (2 * (n - 1))


def _check_order(seconds: np.ndarray, kind: int) -> None:
    """Raise for the first step out of order in one axis (:func:`order_faults`)."""
    fault, step = (int(a[0]) for a in order_faults(seconds[None], kind))
    if fault == 1:
        raise RumiFormatError.invalid(
            f"time coordinate {step}",
            f"time coordinate {step} goes backwards",
            found=int(seconds[step]),
        )
    starts, ends = seconds[0::2], seconds[1::2]
    if fault == 2:
        msg = f"time step {step} starts at or after it ends, so it covers nothing"
        raise RumiFormatError.invalid(
            f"time step {step}", msg, found=(int(starts[step]), int(ends[step]))
        )
    if fault == 3:
        msg = (
            f"time step {step} ends after step {step + 1} starts; rumi records steps that "
            "meet or leave a gap, never steps that overlap"
        )
        raise RumiFormatError.invalid(
            f"time step {step}", msg, found=(int(starts[step]), int(ends[step]))
        )


def order_faults(seconds: np.ndarray, kind: int) -> tuple[np.ndarray, np.ndarray]:
    """The first order fault of each time axis: ``(fault, step)``, one per row of ``seconds``.

    Rows are axes, flat (intervals ``start, end, ...``). ``fault`` is 0 where in order, 1
    where an instant goes backwards, 2 where an interval covers nothing, 3 where an
    interval ends after the next starts; ``step`` the step it names.
    """
    rows = seconds.shape[0]
    fault, step = np.zeros(rows, np.int64), np.zeros(rows, np.int64)
    if kind == TimeKind.INSTANT:
        checks = [seconds[:, 1:] < seconds[:, :-1]]  # np.diff can wrap around int64
        shift = [1]
    else:
        starts, ends = seconds[:, 0::2], seconds[:, 1::2]
        checks = [starts >= ends, ends[:, :-1] > starts[:, 1:]]
        shift = [0, 0]
    first = 1 if kind == TimeKind.INSTANT else 2
    for code, (bad, extra) in enumerate(zip(checks, shift, strict=True), first):
        found = bad.any(axis=1) & (fault == 0)
        if found.any():
            fault[found] = code
            step[found] = bad[found].argmax(axis=1) + extra
    return fault, step


# ---------------------------------------------------------------------------------------
# Writing (§9 canonical form)


def check_band_texts(texts: Sequence[str], bands: int) -> tuple[str, ...]:
    """Validate one text per band, as a ``TAIL`` trailer stores them; raise ValueError."""
    texts = tuple(texts)
    if len(texts) != bands:
        raise ValueError(f"a file with {bands} bands needs one text per band; got {len(texts)}")
    seen: dict[str, int] = {}
    for b, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"band {b} text must be a str, got {type(text).__name__}")
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"band {b} text is not valid UTF-8") from None
        problem = _band_text_problem(b, raw)
        if problem:
            raise ValueError(problem)
        if text in seen:
            raise ValueError(f"bands {seen[text]} and {b} have the same text")
        seen[text] = b
    return texts


def _band_text_problem(b: int, raw: bytes) -> str | None:
    """What makes band ``b``'s UTF-8 text unstorable (§9), or None."""
    if not raw:
        return f"band {b} has an empty text"
    if b"\x00" in raw:
        return f"band {b} text contains a NUL byte"
    if len(raw) > _MAX_TEXT_NBYTES:
        return (
            f"band {b} text exceeds the {_MAX_TEXT_NBYTES} bytes a trailer stores "
            f"({len(raw)} bytes of UTF-8)"
        )
    return None


def check_time(time: TimeAxis, times: int) -> None:
    """Validate a time axis for ``times`` steps before it is written; raise ValueError."""
    if time.kind not in (TimeKind.INSTANT, TimeKind.INTERVAL) or time.seconds.shape != _shape(
        time.kind, times
    ):
        raise ValueError(
            f"a file with {times} time steps needs {times} instants or {times} (start, end) "
            f"intervals; got {time.kind.name.lower()}s of shape {time.seconds.shape}"
        )
    flat = np.asarray(time.seconds, np.int64).ravel()
    if _too_far(flat[None])[0]:
        raise ValueError(f"a time coordinate is more than 2**60 seconds from 1970: {flat}")
    _check_order(flat, time.kind)


def time_faults(kind: TimeKind, seconds: np.ndarray, times: int) -> np.ndarray:
    """Where :func:`check_time` refuses axes of one kind: one bool per axis of ``seconds``.

    ``seconds`` is ``(axes, *shape)``: one axis per row, each shaped as a
    :class:`TimeAxis` holds its steps.
    """
    if kind not in (TimeKind.INSTANT, TimeKind.INTERVAL) or seconds.shape[1:] != _shape(
        kind, times
    ):
        return np.ones(seconds.shape[0], bool)
    flat = seconds.reshape(seconds.shape[0], -1)
    return np.asarray(_too_far(flat) | (order_faults(flat, kind)[0] > 0))


def _shape(kind: TimeKind, times: int) -> tuple[int, ...]:
    """The shape of the seconds of ``times`` steps: ``(T,)`` instants, ``(T, 2)`` intervals."""
    return (times,) if kind == TimeKind.INSTANT else (times, 2)


def _too_far(flat: np.ndarray) -> np.ndarray:
    """Per row of flat coordinates: whether one lies 2**60 seconds or more from 1970."""
    return np.asarray((np.abs(flat) >= _MAX_SECONDS).any(axis=1))


def build_trailer(band_texts: Sequence[str], time: TimeAxis) -> bytes:
    """The canonical ``TAIL`` trailer of these band texts and time axis (§9)."""
    texts = check_band_texts(band_texts, len(band_texts))
    check_time(time, len(time.seconds))
    out = bytearray(TRAILER_HEAD.pack(TAIL_MAGIC, 1))
    for text in texts:
        raw = text.encode("utf-8")
        out += len(raw).to_bytes(2, "little") + raw
    scale, origin, step, bits, packed = _encode_coords(np.asarray(time.seconds, np.int64).ravel())
    out += TIME_BLOCK.pack(time.kind, bits, origin, step, scale) + packed
    return bytes(out)


def _encode_coords(seconds: np.ndarray) -> tuple[int, int, int, int, bytes]:
    """§9 steps 1-6: ``(scale, origin, step, bits, packed residuals)`` of checked coordinates."""
    scale = DAY if np.all(seconds % DAY == 0) else 1
    units = seconds // scale
    n, origin = units.size, int(units[0])
    step = _slope(origin, int(units[-1]), n)
    residual = units - origin - np.arange(n, dtype=np.int64) * step
    zigzag = ((residual << 1) ^ (residual >> 63)).view(np.uint64)
    bits = int(zigzag.max()).bit_length()
    return scale, origin, step, bits, pack_bits(zigzag, bits)

"""The one exception type raised for malformed or unsupported rumi bytes."""

from __future__ import annotations

from typing import Self


class RumiFormatError(ValueError):
    """Bytes that break the rumi format, or use a feature this reader cannot read.

    ``field`` names what is wrong, ``offset`` is the byte offset in the file or blob
    (``None`` when it has none), ``expected`` and ``found`` are the values involved.
    """

    field: str | None = None
    offset: int | None = None
    expected: object = None
    found: object = None

    @classmethod
    def mismatch(
        cls, field: str, *, expected: object, found: object, offset: int | None = None
    ) -> Self:
        """Build ``"<field> at byte <offset>: expected <expected>, found <found>"``."""
        at = "" if offset is None else f" at byte {offset}"
        err = cls(f"{field}{at}: expected {expected}, found {found!r}")
        err.field, err.expected, err.found, err.offset = field, expected, found, offset
        return err


class RumiVirtualError(ValueError):
    """Rumi files that cannot be shown as the Zarr view asked for (dtype, grid, mosaic)."""


class RumiVirtualWarning(UserWarning):
    """A Zarr view that a reader's default decoding would not read exactly, and why."""

"""Every exception and warning class of rumi_xarray (all exported at the top level)."""

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


class _Items(Exception):
    """An exception or warning that names the items it is about."""

    items: tuple[str, ...] = ()
    """Each dropped item with its value, e.g. ``"_FillValue=0 (nodata)"``."""

    @classmethod
    def of(cls, message: str, items: tuple[str, ...]) -> Self:
        made = cls(message)
        made.items = items
        return made


class RumiDataLossWarning(_Items, UserWarning):
    """``to_rumi`` wrote a file without metadata that a rumi file cannot hold (``items``)."""


class RumiDataLossError(_Items, ValueError):
    """``to_rumi(..., strict=True)`` refused to drop metadata (``items``); nothing was written."""


class StackError(ValueError):
    """A source that is not grid-aligned with the first one.

    ``index`` is the source's position, ``field`` what differs (``"shape"``, ``"dtype"``,
    ``"tile"``, ``"frame layout"``, ``"band_texts"``, ``"crs"``, ``"transform"`` or
    ``"pixel_is_point"``), ``expected`` source 0's value and ``found`` the source's.
    """

    index: int | None = None
    field: str | None = None
    expected: object = None
    found: object = None

    @classmethod
    def mismatch(
        cls, index: int, label: str, field: str, *, expected: object, found: object
    ) -> Self:
        """Build ``"source <i> (<name>) differs from source 0 in <field>: <found> != <expected>"``."""
        err = cls(
            f"source {index} ({label!r}) differs from source 0 in {field}: "
            f"{found!r} != {expected!r}"
        )
        err.index, err.field, err.expected, err.found = index, field, expected, found
        return err

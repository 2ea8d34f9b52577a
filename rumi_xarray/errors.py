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
    """Rumi files that cannot be shown as the view asked for: a stack, a mosaic, a Zarr array.

    Files of one stack or mosaic that disagree (:meth:`mismatch`) set ``index``, the
    position of the first source that differs from source 0, ``field``, what differs
    (``"shape"``, ``"dtype"``, ``"tile"``, ``"frame layout"``, ``"band count"``,
    ``"band_texts"``, ``"time steps"``, ``"time"``, ``"crs"``, ``"resolution"``,
    ``"rotation"``, ``"transform"`` or ``"pixel_is_point"``), ``expected``, source 0's
    value, and ``found``, the source's; other cases (a dtype without a Zarr type, a grid
    Zarr cannot express, files that overlap) leave them ``None``.
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

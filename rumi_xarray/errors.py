"""Every exception and warning class of rumi_xarray (all exported at the top level)."""

from __future__ import annotations

TYPE_CHECKING = False
"""True for type checkers only: ``import rumi_xarray`` loads no ``typing``."""
if TYPE_CHECKING:
    from typing import Self


class RumiFormatError(ValueError):
    """Bytes that break the rumi format, or use a feature this reader cannot read.

    ``field`` names what is wrong, as the message spells it; ``offset`` is the byte offset
    in the file or blob (``None`` when it has none), ``expected`` and ``found`` are the
    values involved (``None`` when unknown). Every raise site builds one with `mismatch`,
    `invalid` or `of_frame`, which set all four; the error pickles with them.
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

    @classmethod
    def invalid(
        cls,
        field: str,
        message: str,
        *,
        offset: int | None = None,
        expected: object = None,
        found: object = None,
    ) -> Self:
        """Build an error whose message is not "expected X, found Y"; it names ``field``.

        Parameters
        ----------
        field
            What is wrong, as the message spells it (e.g. ``"TileOffsets"``, ``"band 1"``).
        message
            The whole message, kept as it is.
        offset, expected, found
            As for `mismatch`; None where the error has no such value.
        """
        err = cls(message)
        err.field, err.expected, err.found, err.offset = field, expected, found, offset
        return err

    @classmethod
    def of_frame(
        cls,
        frame: int | str,
        cause: RumiFormatError,
        *,
        offset: int | None = None,
        nbytes: int | None = None,
    ) -> Self:
        """Name the frame an error is about: ``"frame <frame> (bytes <a>..<b>): <cause>"``.

        Every read path (the engine, the Zarr and numcodecs codecs) names a frame that does
        not decode this way: by its index and byte range where it knows them, else by its
        key (`rumi_codec.frame_key`). ``field`` becomes ``"frame <frame>"``, ``offset`` the
        frame's offset; ``expected`` and ``found`` are the cause's. Chain it ``from cause``.
        """
        field = f"frame {frame}"
        where = "" if offset is None or nbytes is None else f" (bytes {offset}..{offset + nbytes})"
        err = cls(f"{field}{where}: {cause}")
        err.field, err.expected, err.found, err.offset = field, cause.expected, cause.found, offset
        return err


class OpenZLError(RumiFormatError):
    """An OpenZL frame that cannot be decoded, or an array that cannot be encoded.

    A `RumiFormatError` (so a ValueError): every OpenZL failure on a read path, through
    the engine, a Zarr v3 codec or a numcodecs codec (kerchunk), is one, and names the
    frame (`RumiFormatError.of_frame`). Raised by `rumi_codec`, which imports it from here.
    """


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


class RumiScanWarning(_Items, UserWarning):
    """Files a catalog scan could not read, or catalog rows of such files skipped when read.

    ``items`` holds each file as ``"<path>: <ExceptionType>: <message>"``.
    """


class RumiDataLossError(_Items, ValueError):
    """``to_rumi(..., strict=True)`` refused to drop metadata (``items``); nothing was written."""

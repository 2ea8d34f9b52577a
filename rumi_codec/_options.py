"""Encoding options of the OpenZL codecs, checked once (openzl only, no geozl).

``parse_options`` checks a recipe or plain graph with its format version and checksum
flag, ``parse_verify`` the ``verify`` option and the `VERIFY_VARIABLE` it falls back on.
"""

from __future__ import annotations

import os
from typing import Final

from openzl import ext

__all__ = [
    "DEFAULT_FORMAT_VERSION",
    "DEFAULT_RECIPE",
    "PLAIN_GRAPHS",
    "SERIAL_GRAPH",
    "SERIAL_GRAPHS",
    "TYPED_FORMAT_VERSION",
    "VERIFY_VARIABLE",
    "parse_options",
    "parse_verify",
]

DEFAULT_RECIPE: Final = "planar>zigzag>zstd"
"""geozl recipe used when neither a recipe nor a plain graph is chosen."""

DEFAULT_FORMAT_VERSION: Final = 24
"""OpenZL format written by plain graphs: read by openzl 0.2 (8..24) and 0.3 (8..27),
and the version rumi-eo writes."""

PLAIN_GRAPHS: Final[dict[str, type[ext.graphs.Graph]]] = {
    "store": ext.graphs.Store,
    "zstd": ext.graphs.Zstd,
    "compress": ext.graphs.Compress,
    "field_lz": ext.graphs.FieldLz,
    "fse": ext.graphs.Fse,
    "bitpack": ext.graphs.Bitpack,
}
"""Plain OpenZL graphs by name; each takes any numeric input of width 1, 2, 4 or 8."""

TYPED_FORMAT_VERSION: Final = 14
"""First OpenZL format with typed (``Numeric``) inputs; older formats store bytes only."""

SERIAL_GRAPH: Final = "compress"
"""Graph of Serial frames when the options name a geozl recipe, or a graph (``field_lz``)
that takes numbers only: OpenZL's generic graph."""

VERIFY_VARIABLE: Final = "RUMI_VERIFY"
"""Environment variable that turns checksum verification on where no option decides."""

SERIAL_GRAPHS: Final = frozenset(("store", "zstd", "compress", "fse", "bitpack"))
"""The plain graphs that take bytes (``Serial`` inputs) as well as numbers."""

_VERIFY_VALUES: Final = {"0": False, "1": True, "false": False, "true": True,
                         "off": False, "on": True, "no": False, "yes": True}  # fmt: skip


def parse_options(
    *,
    recipe: str | None,
    graph: str | None,
    format_version: int | None,
    checksum: bool,
    verify: bool | None = None,
) -> None:
    """Check one set of codec options, raising TypeError or ValueError.

    Exactly one of ``recipe`` (a geozl recipe) and ``graph`` (a name in
    `PLAIN_GRAPHS`) is given. geozl frames always carry checksums and pick their own
    format version. ``format_version`` must be one the installed openzl writes
    (``openzl.ext.MIN_FORMAT_VERSION`` to ``MAX_FORMAT_VERSION``: 8 to 24 for openzl
    0.2, 8 to 27 for 0.3), so a codec that could not encode is refused when built.
    ``verify``, when given, is checked as :func:`parse_verify` checks it.
    """
    if verify is not None:
        parse_verify(verify)
    if (recipe is None) == (graph is None):
        raise ValueError(
            f"give exactly one of recipe and graph, got recipe={recipe!r} and graph={graph!r}"
        )
    if not isinstance(checksum, bool):
        raise TypeError(f"checksum must be a bool, got {checksum!r}")
    if recipe is not None:
        _parse_recipe(recipe, format_version=format_version, checksum=checksum)
    else:
        _parse_graph(graph, format_version=format_version)


def _parse_recipe(recipe: object, *, format_version: int | None, checksum: bool) -> None:
    if not isinstance(recipe, str) or not recipe:
        raise TypeError(f"recipe must be a non-empty geozl recipe string, got {recipe!r}")
    if format_version is not None:
        raise ValueError(
            f"format_version={format_version!r} needs a plain graph: geozl picks the format"
        )
    if not checksum:
        raise ValueError("checksum=False needs a plain graph: geozl frames always carry checksums")


def _parse_graph(graph: object, *, format_version: int | None) -> None:
    if graph not in PLAIN_GRAPHS:
        raise ValueError(f"graph must be one of {sorted(PLAIN_GRAPHS)}, got {graph!r}")
    if format_version is None:
        return
    if isinstance(format_version, bool) or not isinstance(format_version, int):
        raise TypeError(f"format_version must be an int or None, got {format_version!r}")
    if not ext.MIN_FORMAT_VERSION <= format_version <= ext.MAX_FORMAT_VERSION:
        raise ValueError(
            f"format_version must be between {ext.MIN_FORMAT_VERSION} and"
            f" {ext.MAX_FORMAT_VERSION} (the OpenZL formats this openzl writes),"
            f" got {format_version}"
        )


def parse_verify(verify: bool | None) -> bool:
    """Whether to verify checksums: ``verify``, or where it is None, `VERIFY_VARIABLE`.

    The variable accepts ``0, 1, false, true, off, on, no, yes``, as rumi-eo does
    (lower case, exactly); unset or empty is off. Any other value raises ValueError
    naming the variable.
    """
    if verify is not None:
        if not isinstance(verify, bool):
            raise TypeError(f"verify must be a bool or None, got {verify!r}")
        return verify
    value = os.environ.get(VERIFY_VARIABLE)
    if not value:
        return False
    try:
        return _VERIFY_VALUES[value]
    except KeyError:
        raise ValueError(
            f"{VERIFY_VARIABLE} must be 0, 1, false, true, off, on, no, or yes; got {value!r}"
        ) from None

"""A mosaic's dimensions beyond space: from file names and from the files' own instants.

A regex's named groups give each file a value per group; a group becomes a dimension
whose coordinate is the sorted set of its values. Differing single instants give a
``time`` dimension, unless a group is named ``time`` or indexes the files one-to-one
as the instants do (a date in the names): then that group is the dimension along
which ``time`` varies. A group that only restates where a file lies (a tile name
such as ``N00E001``: one value per place) is no dimension: it is checked against the
placement and folded into it, or refused, naming the group to drop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import RumiVirtualError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .entries import Entries
    from .place import Placement


@dataclass(frozen=True, slots=True)
class Extra:
    """The extra dimensions of one variable."""

    names: tuple[str, ...]
    coords: tuple[np.ndarray, ...]
    index: np.ndarray
    """``(files, dims)`` position of each file along the extra dimensions."""
    time_dim: str | None
    """The dimension along which the files' own instants vary, if any."""


@dataclass(frozen=True, slots=True)
class _Values:
    """One group's value per file: a code per file into the distinct values."""

    codes: np.ndarray
    values: list[Any]


def extra_dims(
    entries: Entries,
    placed: Placement,
    pattern: str | None,
    categories: Mapping[str, Mapping[str, Any]] | None,
) -> Extra:
    """Dimensions from the pattern's groups (those restating the place folded away), then
    from the files' differing instants."""
    groups = _pattern_values(entries.urls, pattern, categories)
    instants = _instants(entries)
    time_dim = None
    if instants is not None and "time" not in groups:
        time_dim = next((n for n, v in groups.items() if _one_to_one(v, instants)), "time")
    for name in [n for n in groups if n not in (time_dim, "time")]:
        if _restates_place(name, groups[name], entries.urls, placed):
            del groups[name]
    if time_dim == "time":
        groups["time"] = instants  # type: ignore[assignment]  # instants is set here
    names = tuple(groups)
    coords, index = [], np.zeros((len(entries), len(names)), np.int64)
    for d, group in enumerate(groups.values()):
        distinct = np.asarray(group.values)
        coord = np.unique(distinct)
        coords.append(coord)
        index[:, d] = np.searchsorted(coord, distinct)[group.codes]
    return Extra(names, tuple(coords), index, time_dim)


def _pattern_values(
    urls: Sequence[str], pattern: str | None, categories: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, _Values]:
    """Each named group's value per file (mapped through its categories)."""
    if pattern is None:
        return {}
    regex = re.compile(pattern)
    if not regex.groupindex:
        raise ValueError(f"pattern {pattern!r} has no named groups")
    names = list(regex.groupindex)
    at = [regex.groupindex[name] for name in names]
    texts: list[dict[str, int]] = [{} for _ in names]
    codes: list[list[int]] = [[] for _ in names]
    for start in range(0, len(urls), 1 << 16):  # a block of matches at a time
        block = urls[start : start + (1 << 16)]
        searched = list(map(regex.search, block))
        if None in searched:
            url = block[searched.index(None)]
            raise RumiVirtualError(f"{url} does not match pattern {pattern!r}")
        matches = cast("list[re.Match[str]]", searched)
        for index, code, group in zip(texts, codes, at, strict=True):
            code.extend([index.setdefault(m.group(group), len(index)) for m in matches])
    groups = {}
    for name, index, code in zip(names, texts, codes, strict=True):
        values = _coordinate_values(name, list(index), (categories or {}).get(name))
        value_codes, distinct = _codes(values)
        groups[name] = _Values(value_codes[np.asarray(code, np.int64)], distinct)
    return groups


def _codes(items: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """``(code of each item, distinct items in order of first appearance)``."""
    index: dict[Any, int] = {}
    codes = np.fromiter((index.setdefault(item, len(index)) for item in items), np.int64)
    return codes, list(index)


def _coordinate_values(name: str, texts: list[str], mapping: Mapping[str, Any] | None) -> list[Any]:
    if mapping is not None:
        missing = next((t for t in texts if t not in mapping), None)
        if missing is not None:
            raise RumiVirtualError(f"{name} value {missing!r} is not among its categories")
        return [mapping[t] for t in texts]
    if all(t.isdigit() for t in texts):
        return [int(t) for t in texts]
    return texts


def _instants(entries: Entries) -> _Values | None:
    """Each file's instant when files hold one time step each and they differ, else ``None``."""
    times = entries.times
    if entries.layouts[int(entries.layout[0])].frames.grid.times != 1 or (times.kind < 0).any():
        return None
    distinct, codes = np.unique(times.first()[:, 0], return_inverse=True)
    if len(distinct) == 1:
        return None
    return _Values(codes.ravel(), list(distinct.astype("datetime64[s]")))


def _one_to_one(a: _Values, b: _Values) -> bool:
    """Whether each value of ``a`` goes with exactly one of ``b`` and each of ``b`` with one."""
    pairs = np.unique(a.codes * len(b.values) + b.codes).size
    return pairs == len(a.values) == len(b.values)


def _restates_place(name: str, group: _Values, urls: Sequence[str], placed: Placement) -> bool:
    """Whether a group only restates where files lie (then it is no dimension).

    It does when every place holds files of one value only. It must then follow the
    placement: each value at one row of files or at one column (a latitude, a
    longitude, a tile name); a group that names places some other way is refused. A
    group of one value tells nothing apart: it stays a dimension of length 1.
    """
    if len(group.values) < 2:
        return False
    place = _pair(placed.rows, placed.cols)
    if np.unique(_pair(place, group.codes)).size != np.unique(place).size:
        return False  # some place holds files of several values: a dimension
    spread = []
    for where in (placed.rows, placed.cols):
        pairs = np.unique(_pair(group.codes, where))
        spread.append(np.bincount(pairs // (int(where.max()) + 1), minlength=len(group.values)))
    if (spread[0] == 1).all() or (spread[1] == 1).all():
        return True
    by_row, by_col = (int(np.flatnonzero(s > 1)[0]) for s in spread)
    first = urls[int(np.flatnonzero(group.codes == by_row)[0])]
    raise RumiVirtualError(
        f"pattern group {name!r} only restates where the files lie (one value per place), "
        f"but not as their georeferencing places them: {group.values[by_row]!r} (e.g. "
        f"{first}) names files in {spread[0][by_row]} rows and {group.values[by_col]!r} in "
        f"{spread[1][by_col]} columns. Drop the group from the pattern (write it (?:...)), "
        "or correct the files' transforms"
    )


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 per ``(a, b)`` pair of non-negative integers; ``_pair(a, b) // (b.max() + 1) == a``."""
    paired: np.ndarray = a.astype(np.int64) * (int(b.max()) + 1) + b
    return paired

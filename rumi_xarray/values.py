"""Sample values given by keyword (``nodata=``, ``fill_value=``): whether one fits a dtype.

One rule for every reader that takes such a value (the ``engine="rumi"`` backend's
``nodata``, a mosaic's ``nodata`` and ``fill_value``, a catalog's ``nodata`` column), and
the NaN-aware equality values and transforms are compared with. Messages spell the value
as ``keyword=value``, so that the command line can show the flag instead.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np


def sample_value(keyword: str, value: Any, dtype: np.dtype) -> np.generic:
    """``value`` as a scalar of ``dtype``, or an error naming ``keyword=value`` and the dtype.

    Integer types (and bool, 0 or 1) need an integer in range; float types a value in
    range, or NaN or an infinity where the type has them; complex types take each part
    as a float of their part type; a complex value fits a real type only with no
    imaginary part. NumPy and ``ml_dtypes`` types (bfloat16, float8, sub-byte) alike.

    Raises
    ------
    TypeError
        ``value`` is not a number.
    ValueError
        It is not a value of ``dtype``.
    """
    if isinstance(value, bool | np.bool_):
        value = int(value)
    if not isinstance(value, int | float | complex | np.number):
        raise TypeError(f"{keyword} must be a number, got {value!r}")
    kind = _kind(dtype)
    if kind == "c":
        number = complex(value)
        for part in (number.real, number.imag):
            _check_float(keyword, value, part, np.finfo(dtype).dtype, dtype)
        return cast("np.generic", dtype.type(number))
    if isinstance(value, complex | np.complexfloating):
        if value.imag:
            raise ValueError(f"{keyword}={value!r} is complex but the data type is {dtype.name}")
        value = value.real
    if kind == "i":
        return _integer(keyword, value, dtype)
    _check_float(keyword, value, float(value), dtype, dtype)
    return cast("np.generic", np.array(float(value)).astype(dtype)[()])


def same_value(a: object, b: object) -> bool:
    """Equality that takes NaN as equal to NaN, also inside tuples of numbers."""
    if a == b:
        return True
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return _isnan(a) and _isnan(b)


def _isnan(x: object) -> bool:
    return isinstance(x, float | np.floating) and math.isnan(x)


def _kind(dtype: np.dtype) -> str:
    """``"i"`` (integers and bool), ``"f"`` or ``"c"``, for NumPy and ML types alike."""
    import ml_dtypes

    if np.issubdtype(dtype, np.integer) or dtype.kind == "b":
        return "i"
    if np.issubdtype(dtype, np.inexact):
        return dtype.kind
    try:
        ml_dtypes.iinfo(dtype)  # type: ignore[no-untyped-call]  # ml_dtypes: untyped
    except ValueError:
        return "f"
    return "i"


def _integer(keyword: str, value: Any, dtype: np.dtype) -> np.generic:
    import ml_dtypes

    if isinstance(value, float | np.floating):
        if not np.isfinite(value) or value != int(value):
            raise ValueError(f"{keyword}={value!r} is not an integer, which {dtype.name} needs")
        value = int(value)
    info = None if dtype.kind == "b" else ml_dtypes.iinfo(dtype)  # type: ignore[no-untyped-call]
    lo, hi = (0, 1) if info is None else (info.min, info.max)
    if not int(lo) <= int(value) <= int(hi):
        raise ValueError(f"{keyword}={value!r} is out of range for {dtype.name} ({lo} to {hi})")
    return cast("np.generic", np.array(int(value)).astype(dtype)[()])


def _check_float(
    keyword: str, value: Any, part: float, part_dtype: np.dtype, dtype: np.dtype
) -> None:
    import ml_dtypes

    def holds(x: float) -> bool:
        cast = np.array(x, np.float32).astype(part_dtype).astype(np.float32)
        return bool(np.isnan(cast) if np.isnan(x) else cast == x)

    if np.isnan(part) or np.isinf(part):
        if not holds(part):
            raise ValueError(f"{keyword}={value!r} is not a value {dtype.name} can hold")
        return
    info = ml_dtypes.finfo(part_dtype)  # type: ignore[no-untyped-call]  # ml_dtypes: untyped
    if not float(info.min) <= part <= float(info.max):
        raise ValueError(
            f"{keyword}={value!r} is out of range for {dtype.name} ({info.min} to {info.max})"
        )

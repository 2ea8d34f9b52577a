"""``rumi_xarray.values``: the one rule for a keyword's sample value, and NaN-aware equality."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from rumi_xarray.values import same_value, sample_value


def test_nan_coefficients_compare_equal() -> None:
    nan = float("nan")
    assert same_value((nan, 0.0, 1.0), (nan, 0.0, 1.0))
    assert not same_value((nan, 0.0, 1.0), (nan, 0.0, 2.0))
    assert not same_value(("B1",), ("B2",)) and same_value(None, None)
    assert not same_value(None, ("B1",)) and not same_value(None, nan)
    assert same_value(nan, np.float32("nan")) and same_value(3, 3.0) and not same_value(3, 4)


@pytest.mark.parametrize(
    ("value", "dtype", "want"),
    [
        (7, "uint16", np.uint16(7)),
        (7.0, "int8", np.int8(7)),
        (True, "uint8", np.uint8(1)),
        (1, "bool", np.True_),
        (0.0, "bool", np.False_),
        (2 + 0j, "int32", np.int32(2)),
        (0.1, "float32", np.float32(0.1)),
        (float("inf"), "float16", np.float16("inf")),
        (1.5 - 2j, "complex64", np.complex64(1.5 - 2j)),
        (3, "complex128", np.complex128(3)),
        (np.int64(-8), "int64", np.int64(-8)),
    ],
)
def test_values_of_the_dtype_are_its_scalars(value: object, dtype: str, want: np.generic) -> None:
    got = sample_value("nodata", value, np.dtype(dtype))
    assert got.dtype == np.dtype(dtype) and got == want


def test_nan_fits_floats_and_complex() -> None:
    assert np.isnan(sample_value("nodata", float("nan"), np.dtype("float64")))
    assert np.isnan(sample_value("fill_value", float("nan"), np.dtype("complex64")).real)


@pytest.mark.parametrize(
    ("keyword", "value", "dtype", "message"),
    [
        ("nodata", 70000, "uint16", "nodata=70000 is out of range for uint16 (0 to 65535)"),
        ("fill_value", -1, "uint8", "fill_value=-1 is out of range for uint8 (0 to 255)"),
        ("nodata", 2, "bool", "nodata=2 is out of range for bool (0 to 1)"),
        ("nodata", 0.5, "int16", "nodata=0.5 is not an integer, which int16 needs"),
        ("fill_value", float("nan"), "uint8", "fill_value=nan is not an integer"),
        ("nodata", 1e39, "float32", "nodata=1e+39 is out of range for float32"),
        ("nodata", 1e39, "complex64", "nodata=1e+39 is out of range for complex64"),
        ("nodata", 1j, "float64", "nodata=1j is complex but the data type is float64"),
    ],
)
def test_values_that_do_not_fit_name_keyword_value_and_dtype(
    keyword: str, value: object, dtype: str, message: str
) -> None:
    with pytest.raises(ValueError) as err:
        sample_value(keyword, value, np.dtype(dtype))
    assert str(err.value).startswith(message)


def test_ml_types_follow_their_own_ranges() -> None:
    assert sample_value("nodata", 7, np.dtype(ml_dtypes.int4)) == 7
    with pytest.raises(ValueError, match=r"nodata=8 is out of range for int4 \(-8 to 7\)"):
        sample_value("nodata", 8, np.dtype(ml_dtypes.int4))
    with pytest.raises(ValueError, match="nodata=inf is not a value float8_e4m3fn can hold"):
        sample_value("nodata", float("inf"), np.dtype(ml_dtypes.float8_e4m3fn))
    assert sample_value("nodata", 1.5, np.dtype(ml_dtypes.bfloat16)) == 1.5


@pytest.mark.parametrize("value", ["0", None, [1]])
def test_non_numbers_are_type_errors(value: object) -> None:
    with pytest.raises(TypeError, match="fill_value must be a number"):
        sample_value("fill_value", value, np.dtype("uint8"))

"""FORMAT §14 A: rejections of ModelTransformationTag and GeoKeyDirectoryTag (§7), and what
the georeferencing checks accept."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import pytest
from _hostile import (
    BASE,
    EXAMPLE,
    GEOGRAPHIC,
    KEYS_AT,
    MATRIX_AT,
    ONE_FRAME,
    OPENERS,
    by_open_dataset,
    chain,
    exact,
    frame_table,
    mutate,
    put,
    read_fixture,
    rejects,
)

from rumi_xarray import open_stack, references
from rumi_xarray.coords import file_coords
from rumi_xarray.decode import read_description
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import parse_bytes
from rumi_xarray.georef import parse_georef
from rumi_xarray.io import BytesReader

if TYPE_CHECKING:
    from collections.abc import Callable

    from _hostile import Mutation


KEY = KEYS_AT + 8  # (1024, 0, 1, model)
RASTER = KEYS_AT + 16  # (1025, 0, 1, raster)
CRS = KEYS_AT + 24  # (3072, 0, 1, 32618)
NOCRS_MATRIX, NOCRS_KEYS = 292, 420

GEOREF_CASES = [
    pytest.param(
        EXAMPLE,
        put("H", KEYS_AT, 2),
        exact("GeoKeyDirectory header is 2 1 0 3, rumi writes 1 1 0 3"),
        id="key-directory-version",
    ),
    pytest.param(
        EXAMPLE,
        put("H", KEYS_AT + 6, 4),
        exact("GeoKeyDirectory header is 1 1 0 4, rumi writes 1 1 0 3"),
        id="key-count",
    ),
    pytest.param(
        EXAMPLE,
        put("H", KEY + 6, 3),
        exact("GTModelType is 3, rumi allows 0, 1 or 2"),
        id="model-type-3",
    ),
    pytest.param(
        EXAMPLE,
        put("H", RASTER + 6, 0),
        exact("GTRasterType is 0, rumi allows 1 or 2"),
        id="raster-type-0",
    ),
    pytest.param(
        EXAMPLE,
        put("H", RASTER + 6, 3),
        exact("GTRasterType is 3, rumi allows 1 or 2"),
        id="raster-type-3",
    ),
    pytest.param(
        EXAMPLE,
        put("H", KEY + 6, 2),
        exact("GTModelType 2 needs key 2048, found 3072"),
        id="geographic-model-projected-key",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 32767),
        exact("EPSG code 32767 is outside the 1024 to 32766 rumi accepts"),
        id="epsg-32767",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 1023),
        exact("EPSG code 1023 is outside the 1024 to 32766 rumi accepts"),
        id="epsg-1023",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 2, 34736),
        exact(
            "GeoKey 3072 is stored as (3072, 34736, 1, 32618); "
            "rumi writes every key as (key_id, 0, 1, value)"
        ),
        id="key-in-double-params",
    ),
    pytest.param(
        EXAMPLE,
        put("H", KEY + 4, 2),
        exact("GeoKey 1024 is stored as (1024, 0, 2, 1)"),
        id="key-count-2",
    ),
    pytest.param(EXAMPLE, put("H", KEY, 1026), r"GeoKey ids.*1026", id="key-id-1024"),
    pytest.param(EXAMPLE, put("H", RASTER, 1024), r"GeoKey ids.*\(1024, 1024\)", id="key-id-1025"),
    pytest.param(
        EXAMPLE,
        put("H", KEY + 6, 0),
        exact("an undefined CRS needs key 2048 set to 0, found key 3072 set to 32618"),
        id="undefined-model-with-crs",
    ),
    pytest.param(
        EXAMPLE,
        chain(put("H", KEY + 6, 0), put("H", CRS + 6, 0)),
        exact("an undefined CRS needs key 2048 set to 0, found key 3072 set to 0"),
        id="undefined-model-projected-key",
    ),
    pytest.param(
        ONE_FRAME,
        put("H", NOCRS_KEYS + 30, 4326),
        exact("an undefined CRS needs key 2048 set to 0, found key 2048 set to 4326"),
        id="undefined-model-with-code",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 10, 1.0),
        exact("ModelTransformationTag element 10 is 1; only the six affine coefficients are free"),
        id="matrix-element-10",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 15, 2.0),
        exact("ModelTransformationTag element 15 is 2"),
        id="matrix-element-15",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 15, 0.0),
        exact("ModelTransformationTag element 15 is 0"),
        id="matrix-element-15-zero",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 2, float("nan")),
        exact("ModelTransformationTag element 2 is nan"),
        id="matrix-element-2-nan",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 12, -1.0),
        exact("ModelTransformationTag element 12 is -1"),
        id="matrix-element-12",
    ),
    pytest.param(
        ONE_FRAME,
        put("d", NOCRS_MATRIX, 10.0),
        exact(
            "an undefined CRS carries the identity-like matrix the specification fixes; "
            "element 0 is 10, not 1"
        ),
        id="undefined-crs-matrix-0",
    ),
    pytest.param(
        ONE_FRAME,
        put("d", NOCRS_MATRIX + 8 * 3, 500000.0),
        exact("element 3 is 500000, not 0"),
        id="undefined-crs-matrix-3",
    ),
    pytest.param(
        ONE_FRAME,
        put("d", NOCRS_MATRIX + 8 * 15, float("nan")),
        exact("element 15 is nan, not 1"),
        id="undefined-crs-matrix-nan",
    ),
]


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), GEOREF_CASES)
def test_georef(opener: Callable[..., object], name: str, mutation: Mutation, match: str) -> None:
    rejects(opener, mutate(name, mutation), match)


# Whether the EPSG code is in the registry and of the kind GTModelType says is asked of PROJ
# when coordinates are built, not while parsing: the bytes parse whatever PROJ is installed.

CRS_CASES = [
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 4326),
        exact("EPSG 4326 is geographic but GTModelType says projected"),
        id="geographic-code-projected-model",
    ),
    pytest.param(
        GEOGRAPHIC,
        put("H", 468 + 30, 32618),
        exact("EPSG 32618 is projected but GTModelType says geographic"),
        id="projected-code-geographic-model",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 1025),
        exact("EPSG code 1025 is not in the registry"),
        id="epsg-unknown",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 4978),
        exact("EPSG:4978 is not a projected or geographic CRS"),
        id="epsg-geocentric",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 5714),
        exact("EPSG:5714 is not a projected or geographic CRS"),
        id="epsg-vertical",
    ),
]


def _coords(data: bytes, header: bytes | None = None) -> object:
    return file_coords(parse_bytes(data, header))


def _references(data: bytes, header: bytes | None = None) -> object:
    return references(data, header=header, url="file:///example.rumi")


CRS_OPENERS = [
    pytest.param(by_open_dataset, id="open_dataset"),
    pytest.param(_coords, id="file_coords"),
    pytest.param(_references, id="references"),
]


@pytest.mark.parametrize("opener", CRS_OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), CRS_CASES)
def test_crs_when_coordinates_are_built(
    opener: Callable[..., object], name: str, mutation: Mutation, match: str
) -> None:
    data = mutate(name, mutation)
    assert parse_bytes(data).georef.epsg == read_description(BytesReader(data)).georef.epsg
    rejects(opener, data, match)


@pytest.mark.parametrize(("name", "mutation", "match"), CRS_CASES)
def test_crs_of_every_source_of_a_stack(name: str, mutation: Mutation, match: str) -> None:
    """Not only the first file's, whose coordinates the stack shows."""
    with pytest.raises(RumiFormatError, match=match) as info:
        open_stack([read_fixture(name), mutate(name, mutation)])
    assert any("source 1" in note for note in info.value.__notes__)


def test_georef_offsets_of_geographic_fixture() -> None:
    data = read_fixture(GEOGRAPHIC)
    assert frame_table(data)[0][0] == 500
    assert struct.unpack_from("<8H", data, 468 + 8) == (1024, 0, 1, 2, 1025, 0, 1, 2)
    assert struct.unpack_from("<4H", data, 468 + 24) == (2048, 0, 1, 4326)


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(put("d", MATRIX_AT, float("nan")), id="nan-x-resolution"),
        pytest.param(put("6d", MATRIX_AT, *[0.0] * 6), id="all-zero-affine-row"),
        pytest.param(put("H", RASTER + 6, 2), id="pixel-is-point"),
    ],
)
def test_georef_accepts(mutation: Mutation) -> None:
    """FORMAT §7: NaN and all-zero affine values are accepted; PixelIsPoint is a valid raster type."""
    desc = parse_bytes(mutate(EXAMPLE, mutation))
    assert desc.georef.epsg == 32618


def test_parse_georef_short_buffer() -> None:
    with pytest.raises(
        RumiFormatError, match=r"georeferencing tags at byte 388: expected 160 bytes"
    ):
        parse_georef(read_fixture(EXAMPLE)[MATRIX_AT : BASE - 1], MATRIX_AT)

"""``rumi_xarray.georef`` (FORMAT §7): the georeferencing tags, parsed without asking PROJ."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from _fixtures import DATA

from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import parse_bytes
from rumi_xarray.georef import Georef, build_georef, parse_georef
from rumi_xarray.spec import GEO_NBYTES, ModelType

EXAMPLE = DATA / "examples" / "example_0261.rumi"
"""FORMAT §11: EPSG:32618 (GTModelType 1, key 3072), its GeoKeys at byte 516."""
EPSG_AT = 516 + 30
"""The EPSG code's value in the fourth GeoKey."""
UTM = (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)


def _with_epsg(code: int) -> bytes:
    data = bytearray(EXAMPLE.read_bytes())
    struct.pack_into("<H", data, EPSG_AT, code)
    return bytes(data)


def test_parsing_a_well_formed_unknown_code_does_not_import_pyproj(tmp_path: Path) -> None:
    """Whether a file parses does not depend on the installed PROJ (EPSG 1025 is unassigned)."""
    path = tmp_path / "unknown.rumi"
    path.write_bytes(_with_epsg(1025))
    code = (
        "import sys; from pathlib import Path; from rumi_xarray.format import parse_bytes; "
        f"desc = parse_bytes(Path({str(path)!r}).read_bytes()); "
        "assert desc.georef.epsg == 1025, desc.georef; "
        "assert 'pyproj' not in sys.modules, 'parsing imported pyproj'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_stated_model_type_is_kept_and_checked_later() -> None:
    desc = parse_bytes(_with_epsg(4326))  # geographic, but the file says projected
    assert desc.georef.epsg == 4326 and desc.georef.model == ModelType.PROJECTED
    assert desc.georef.model_type == ModelType.PROJECTED


@pytest.mark.parametrize("code", [1023, 32767, 65535])
def test_the_code_s_range_is_checked_while_parsing(code: int) -> None:
    with pytest.raises(RumiFormatError, match=f"EPSG code {code} is outside the 1024 to 32766"):
        parse_bytes(_with_epsg(code))


@pytest.mark.parametrize(
    "georef",
    [
        Georef(UTM, 32633),
        Georef((0.1, 0.0, 12.3, 0.0, -0.1, 45.7), 4326, True),
        Georef(None, None),
        Georef(None, None, True),
    ],
)
def test_build_and_parse_round_trip(georef: Georef) -> None:
    raw = build_georef(georef)
    assert len(raw) == GEO_NBYTES
    back = parse_georef(raw, 0)
    assert back == georef and back.model_type == georef.model_type
    assert back.model == (None if georef.epsg is None else georef.model_type)


def test_the_stated_model_is_not_part_of_equality() -> None:
    assert Georef(UTM, 32633, model=ModelType.PROJECTED) == Georef(UTM, 32633)
    assert hash(Georef(UTM, 32633, model=ModelType.GEOGRAPHIC)) == hash(Georef(UTM, 32633))


def test_building_needs_a_projected_or_geographic_code() -> None:
    with pytest.raises(ValueError, match="EPSG:4978 is not a projected or geographic CRS"):
        build_georef(Georef(UTM, 4978))
    with pytest.raises(ValueError, match="transform and crs must be given together"):
        build_georef(Georef(UTM, None))

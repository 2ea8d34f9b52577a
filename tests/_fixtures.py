"""Helpers for the real files written by rumi-eo 0.26.1 and 0.16.0 (tests/data)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).parent / "data"
GENERATIONS = ("rumi-0.26.1", "rumi-0.16.0")


@dataclass(frozen=True)
class Fixture:
    """One fixture file, its blob, its expected array and its manifest entry."""

    folder: str
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def path(self) -> Path:
        return DATA / self.folder / self.meta["file"]

    @property
    def header(self) -> bytes:
        return (DATA / self.folder / self.meta["header"]).read_bytes()

    def expected(self) -> np.ndarray:
        """The array rumi-eo returned, in the dtype we expose (bit patterns reinterpreted)."""
        raw = np.load(DATA / self.folder / self.meta["npy"])
        rumi_dtype = self.meta["rumi_dtype"]
        if rumi_dtype == "complex32":
            pairs = raw.view(np.float16)
            widened = np.empty(pairs.shape[:-1], np.complex64)
            widened.real, widened.imag = pairs[..., 0], pairs[..., 1]
            return widened
        exposed = _EXPOSED.get(rumi_dtype)
        return raw.view(exposed) if exposed is not None else raw


def _ml(name: str) -> np.dtype:
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name))


_EXPOSED = {
    name: _ml(ml)
    for name, ml in {
        "bfloat16": "bfloat16",
        "float8_e4m3fn": "float8_e4m3fn",
        "float8_e5m2": "float8_e5m2",
        "float8_e8m0fnu": "float8_e8m0fnu",
        "float8_e8m0": "float8_e8m0fnu",
        "float8_e4m3fnuz": "float8_e4m3fnuz",
        "float8_e5m2fnuz": "float8_e5m2fnuz",
        "uint4": "uint4",
        "int4": "int4",
        "uint2": "uint2",
        "int2": "int2",
        "float6_e2m3": "float6_e2m3fn",
        "float6_e3m2": "float6_e3m2fn",
        "float4_e2m1": "float4_e2m1fn",
    }.items()
}


def load_fixtures() -> list[Fixture]:
    out = []
    for folder in GENERATIONS:
        manifest = json.loads((DATA / folder / "manifest.json").read_text())
        out.extend(Fixture(folder, meta) for meta in manifest["fixtures"])
    return out


FIXTURES = load_fixtures()


def fixture_id(f: Fixture) -> str:
    return f"{f.folder.removeprefix('rumi-')}/{f.name}"


def assert_same_bits(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal dtype, shape and bits (NaN payloads included)."""
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_array_equal(
        np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(expected).view(np.uint8)
    )

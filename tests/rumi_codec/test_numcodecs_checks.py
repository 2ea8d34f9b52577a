"""numcodecs' own codec checks, run on ``rumi.openzl`` and ``rumi.openzl_grid``.

The ``check_*`` helpers and ``compare_arrays`` are adapted from numcodecs'
``numcodecs/tests/common.py`` (zarr-developers/numcodecs, MIT License, Copyright (c)
2015-2018 Alistair Miles), which numcodecs does not install. Changes: type hints;
`check_backwards_compatibility` keeps its fixtures under ``tests/rumi_codec/fixtures``
and writes missing ones only when ``RUMI_WRITE_FIXTURES=1`` (otherwise a missing
fixture fails); `check_repr` evaluates in this module's namespace.
"""

from __future__ import annotations

import array
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numcodecs.abc import Codec
from numcodecs.compat import ensure_bytes, ensure_ndarray
from numcodecs.registry import get_codec
from numpy.testing import assert_array_equal

from rumi_codec import _core
from rumi_codec.numcodecs_ import OpenZLCodec, OpenZLGridCodec

FIXTURES = Path(__file__).parent / "fixtures"
WRITE = os.environ.get("RUMI_WRITE_FIXTURES") == "1"

# ------------------------------------------------------------- adapted from numcodecs


def compare_arrays(arr: np.ndarray, res: Any) -> None:
    """``res`` (any buffer) holds exactly ``arr``'s bytes, in ``arr``'s memory order."""
    res = ensure_ndarray(res).view(arr.dtype)
    order = "F" if arr.flags.f_contiguous else "C"
    assert_array_equal(arr, res.reshape(arr.shape, order=order))


def check_encode_decode(arr: np.ndarray, codec: Codec) -> None:
    """Encode every buffer type numcodecs feeds a codec; decode each every way."""
    for source in (
        arr,
        arr.tobytes(order="A"),
        bytearray(arr.tobytes(order="A")),
        array.array("b", arr.tobytes(order="A")),
    ):
        compare_arrays(arr, codec.decode(codec.encode(source)))
    enc_bytes = ensure_bytes(codec.encode(arr))
    for encoded in (
        enc_bytes,
        bytearray(enc_bytes),
        array.array("b", enc_bytes),
        np.frombuffer(enc_bytes, dtype="u1"),
    ):
        compare_arrays(arr, codec.decode(encoded))
    out = np.empty_like(arr)
    codec.decode(enc_bytes, out=out)
    compare_arrays(arr, out)
    raw = bytearray(arr.nbytes)
    codec.decode(enc_bytes, out=raw)
    compare_arrays(arr, raw)


def check_config(codec: Codec) -> None:
    config = json.loads(json.dumps(codec.get_config()))
    assert codec == get_codec(config)


def check_repr(stmt: str) -> None:
    assert repr(eval(stmt)) == stmt


def check_backwards_compatibility(
    codec_id: str, arrays: list[np.ndarray], codecs: list[Codec]
) -> None:
    """Stored encoded fixtures keep decoding to the stored arrays, bit for bit."""
    folder = FIXTURES / codec_id
    for i, arr in enumerate(arrays):
        path = folder / f"array.{i:02d}.npy"
        if WRITE and not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            np.save(path, arr)
    stored = sorted(folder.glob("array.*.npy"))
    assert len(stored) == len(arrays), "fixtures missing: run with RUMI_WRITE_FIXTURES=1"
    for path in stored:
        i = int(path.name.split(".")[-2])
        arr = np.load(path)
        order = "F" if arr.flags.f_contiguous else "C"
        for j, codec in enumerate(codecs):
            codec_dir = folder / f"codec.{j:02d}"
            config_path = codec_dir / "config.json"
            encoded_path = codec_dir / f"encoded.{i:02d}.dat"
            if WRITE and not encoded_path.exists():
                codec_dir.mkdir(exist_ok=True)
                config_path.write_text(json.dumps(codec.get_config(), sort_keys=True, indent=4))
                encoded_path.write_bytes(ensure_bytes(codec.encode(arr)))
            assert codec == get_codec(json.loads(config_path.read_text()))
            dec = codec.decode(encoded_path.read_bytes())
            dec_arr = ensure_ndarray(dec).reshape(-1, order="A")
            dec_arr = dec_arr.view(dtype=arr.dtype).reshape(arr.shape, order=order)
            assert_array_equal(arr, dec_arr)
            assert arr.tobytes(order="A") == ensure_bytes(dec)


def check_err_decode_object_buffer(compressor: Codec) -> None:
    enc = compressor.encode(np.arange(10))
    with pytest.raises(TypeError):
        compressor.decode(enc, out=np.empty(10, dtype=object))


def check_err_encode_object_buffer(compressor: Codec) -> None:
    with pytest.raises(TypeError):
        compressor.encode(np.array(["foo", "bar", "baz"], dtype=object))


# ------------------------------------------------------------------------ the checks

CODECS = [
    OpenZLCodec(),
    OpenZLCodec(recipe="med>zigzag>zstd"),
    OpenZLCodec(recipe=None, graph="zstd"),
    OpenZLCodec(recipe=None, graph="store", format_version=14, checksum=False),
    OpenZLCodec(recipe=None, graph="field_lz", verify=True),
    OpenZLCodec(recipe=None, graph="zstd", format_version=8),  # bytes only: Serial frames
]


def _arrays() -> list[np.ndarray]:
    """numcodecs' mix (integer, float, bool, bytes, datetimes; 1-3 D; C and F order),
    smaller, plus the dtypes a general bytes codec must also take."""
    rng = np.random.default_rng(42)
    u8 = rng.integers(0, 2**60, size=120, dtype="u8")
    return [
        np.arange(200, dtype="i4"),
        np.linspace(1000, 1001, 200, dtype="f8"),
        rng.normal(loc=1000, scale=1, size=(20, 10)),
        rng.integers(0, 2, size=200).astype(bool).reshape(20, 10, order="F"),
        rng.choice([b"a", b"bb", b"ccc"], size=200).reshape(5, 4, 10),
        u8.view("M8[ns]"),
        (u8 % 2**25).view("m8[m]"),
        np.array([["abc", "d", "é"], ["", "xyz", "世界"]], dtype="<U3"),
        np.array([(1, 2.5), (-3, 4.0), (5, -6.5)], dtype=[("a", "<i2"), ("b", "<f4")]),
        np.frombuffer(bytes(range(30)), dtype="V3"),
        (rng.normal(size=(6, 7)) + 1j * rng.normal(size=(6, 7))).astype("c8"),
        np.arange(60, dtype=">u2").reshape(6, 10),
        np.array(3.25),
        np.zeros((0, 4), dtype="u2"),
        rng.integers(0, 255, size=(9, 5), dtype="u1"),
        np.asfortranarray(rng.integers(-99, 99, size=(4, 6, 5)).astype("i8")),
    ]


ARRAYS = _arrays()


@pytest.mark.parametrize("codec", CODECS, ids=repr)
@pytest.mark.parametrize("arr", ARRAYS, ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_encode_decode(arr: np.ndarray, codec: Codec) -> None:
    check_encode_decode(arr, codec)


@pytest.mark.parametrize(
    ("arr", "kind"),
    [(a, "Numeric") for a in ARRAYS[:3]]
    + [(a, "Serial") for a in (ARRAYS[4], ARRAYS[7], ARRAYS[8], ARRAYS[9], ARRAYS[13])],
    ids=lambda a: getattr(a, "dtype", a) if not isinstance(a, str) else a,
)
def test_frame_kinds(arr: np.ndarray, kind: str) -> None:
    """Numeric samples make Numeric frames; strings, records, void and empty arrays
    Serial ones, as do plain bytes (another codec's output)."""
    assert _core.output_type(OpenZLCodec().encode(arr)).name == kind
    assert _core.output_type(OpenZLCodec().encode(arr.tobytes())).name == "Serial"


@pytest.mark.parametrize("codec", CODECS, ids=repr)
def test_config(codec: Codec) -> None:
    check_config(codec)


def test_grid_config() -> None:
    for extra in ({}, {"verify": False}):
        config = {"chunk_shape": [2, 16, 32], "itemsize": 2, "frame_order": [1, 2, 0],
                  "edge": [4, 0], **extra}  # fmt: skip
        check_config(OpenZLGridCodec(**config))


@pytest.mark.parametrize(
    "stmt",
    [
        "OpenZLCodec(recipe='planar>zigzag>zstd', graph=None, format_version=None, checksum=True)",
        "OpenZLCodec(recipe=None, graph='zstd', format_version=20, checksum=False, verify=True)",
        "OpenZLGridCodec(chunk_shape=[1, 8, 8], itemsize=4, frame_order=[0, 1, 2], edge=[3, 5])",
    ],
)
def test_repr(stmt: str) -> None:
    check_repr(stmt)


def test_backwards_compatibility() -> None:
    check_backwards_compatibility(OpenZLCodec.codec_id, ARRAYS, CODECS)


def test_err_decode_object_buffer() -> None:
    check_err_decode_object_buffer(OpenZLCodec())


def test_err_encode_object_buffer() -> None:
    check_err_encode_object_buffer(OpenZLCodec())

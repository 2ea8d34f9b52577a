"""Tests for rumi_codec.numcodecs_.OpenZLCodec (id "rumi.openzl") and the lazy package."""

from __future__ import annotations

import array
import json
import pickle
import subprocess
import sys
import threading

import numcodecs
import numpy as np
import pytest
from openzl import ext

import rumi_codec
import rumi_xarray
from rumi_codec import OpenZLCodec, OpenZLError
from rumi_codec.numcodecs_ import OpenZLCodec as DirectCodec

CONFIGS = [
    {},
    {"recipe": "med>zigzag>zstd"},
    {"recipe": None, "graph": "zstd"},
    {"recipe": None, "graph": "store", "format_version": 14, "checksum": False},
]

# 4x4 uint8 (arange(16) * 5) under OpenZLCodec(): a frame this release must keep decoding.
GOLDEN = bytes.fromhex(
    "d8a5b1d7032111be0201000a0100000000100000050a0f14191e23282d32373c41464b8921e1988c21fd6c00"
)


def chunk(dtype: str = "u2", shape: tuple[int, ...] = (12, 10), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.integers(0, 9, size=shape), axis=-1).astype(dtype)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", ["u1", "i2", "u4", "i8", "f2", "f4", "f8", "c8", "c16", "?"])
def test_encode_decode(config: dict, dtype: str) -> None:
    codec = OpenZLCodec(**config)
    data = chunk(dtype, (3, 7, 9))
    frame = codec.encode(data)
    assert isinstance(frame, bytes)
    assert codec.decode(frame).tobytes() == data.tobytes()
    out = np.empty_like(data)
    assert codec.decode(frame, out=out) is out
    assert np.array_equal(out, data)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview, lambda b: array.array("b", b)])
def test_buffer_types(wrap: object) -> None:
    codec = OpenZLCodec()
    data = chunk()
    frame = codec.encode(wrap(data.tobytes()))  # type: ignore[operator]
    assert codec.decode(wrap(frame)).tobytes() == data.tobytes()  # type: ignore[operator]
    out = bytearray(data.nbytes)
    codec.decode(codec.encode(data), out=out)
    assert out == data.tobytes()


def test_rows_follow_the_last_axis() -> None:
    y, x = np.mgrid[:64, :64]
    noise = np.random.default_rng(0).integers(0, 3, (64, 64))
    data = (1000 + 400 * np.sin(x / 7) * np.cos(y / 5) + noise).astype(np.uint16)
    as_rows = len(OpenZLCodec().encode(data))
    as_one_row = len(OpenZLCodec().encode(data.reshape(-1)))
    assert as_rows < as_one_row


def test_f_ordered_chunk_keeps_memory_order() -> None:
    codec = OpenZLCodec()
    data = np.asfortranarray(chunk("i4", (6, 9)))
    decoded = codec.decode(codec.encode(data))
    assert decoded.tobytes() == data.tobytes(order="A")
    out = np.empty((6, 9), "i4", order="F")
    codec.decode(codec.encode(data), out=out)
    assert np.array_equal(out, data)


def test_non_contiguous_chunk_is_refused() -> None:
    with pytest.raises(ValueError, match="contiguous"):
        OpenZLCodec().encode(chunk()[:, ::2])


def test_decode_into_wrong_size() -> None:
    codec = OpenZLCodec()
    frame = codec.encode(chunk())
    with pytest.raises(OpenZLError, match="frame decodes to 240 bytes, expected 120"):
        codec.decode(frame, out=np.empty(60, "u2"))


def test_decode_garbage() -> None:
    with pytest.raises(OpenZLError):
        OpenZLCodec().decode(b"\xd8\xa5\xb1\xd7\x03" + bytes(40))


def test_golden_frame() -> None:
    data = (np.arange(16, dtype=np.uint8) * 5).reshape(4, 4)
    codec = OpenZLCodec()
    assert codec.encode(data) == GOLDEN
    assert codec.decode(GOLDEN).tobytes() == data.tobytes()
    assert OpenZLCodec(recipe=None, graph="store").decode(GOLDEN).tobytes() == data.tobytes()


@pytest.mark.parametrize("config", CONFIGS)
def test_config_json_roundtrip(config: dict) -> None:
    codec = OpenZLCodec(**config)
    stored = json.loads(json.dumps(codec.get_config()))
    assert stored["id"] == "rumi.openzl"
    assert set(stored) == {"id", "recipe", "graph", "format_version", "checksum"}
    again = numcodecs.get_codec(stored)
    assert again == codec
    assert again.get_config() == codec.get_config()


@pytest.mark.parametrize("config", CONFIGS)
def test_repr_mirrors_constructor(config: dict) -> None:
    codec = OpenZLCodec(**config)
    assert eval(repr(codec), {"OpenZLCodec": OpenZLCodec}) == codec
    assert repr(OpenZLCodec()) == (
        "OpenZLCodec(recipe='planar>zigzag>zstd', graph=None, format_version=None, checksum=True)"
    )


def test_entry_point() -> None:
    codec = numcodecs.get_codec({"id": "rumi.openzl", "recipe": None, "graph": "zstd"})
    assert type(codec) is DirectCodec
    assert codec.graph == "zstd"
    entries = numcodecs.registry.entries
    assert entries["rumi.openzl"].value == "rumi_codec.numcodecs_:OpenZLCodec"
    assert entries["rumi.openzl_grid"].value == "rumi_codec.numcodecs_:OpenZLGridCodec"
    assert "openzl" not in entries


def test_pickle() -> None:
    codec = OpenZLCodec(recipe=None, graph="compress", format_version=20)
    codec.encode(chunk())  # caches must not end up in the pickle
    again = pickle.loads(pickle.dumps(codec))
    assert again == codec
    assert vars(again) == {
        "recipe": None,
        "graph": "compress",
        "format_version": 20,
        "checksum": True,
        "verify": None,
    }
    assert again.decode(codec.encode(chunk())).tobytes() == chunk().tobytes()


@pytest.mark.parametrize("version", [ext.MIN_FORMAT_VERSION - 1, ext.MAX_FORMAT_VERSION + 1, 99])
def test_unwritable_format_version_is_refused_when_built(version: int) -> None:
    expected = (
        f"format_version must be between {ext.MIN_FORMAT_VERSION} and {ext.MAX_FORMAT_VERSION}"
        rf" \(the OpenZL formats this openzl writes\), got {version}"
    )
    with pytest.raises(ValueError, match=expected):
        OpenZLCodec(recipe=None, graph="zstd", format_version=version)
    with pytest.raises(ValueError, match=expected):
        numcodecs.get_codec({"id": "rumi.openzl", "recipe": None, "graph": "zstd",
                             "format_version": version})  # fmt: skip


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"recipe": None}, ValueError),
        ({"graph": "zstd"}, ValueError),
        ({"recipe": None, "graph": "Zstd"}, ValueError),
        ({"recipe": b"planar>zstd"}, TypeError),
        ({"format_version": 24}, ValueError),
        ({"recipe": None, "graph": "zstd", "format_version": "24"}, TypeError),
        ({"recipe": None, "graph": "zstd", "format_version": 0}, ValueError),
        ({"recipe": None, "graph": "zstd", "checksum": "yes"}, TypeError),
    ],
)
def test_bad_config(config: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        OpenZLCodec(**config)


def test_threads() -> None:
    codecs = [OpenZLCodec(**config) for config in CONFIGS]
    chunks = [chunk(d, (16, 24), seed=i) for i, d in enumerate(["u1", "i2", "f4", "u8", "c8"])]
    failures: list[str] = []

    def work(seed: int) -> None:
        for i in range(50):
            codec = codecs[(seed + i) % len(codecs)]
            data = chunks[(seed * 7 + i) % len(chunks)]
            out = np.empty_like(data)
            codec.decode(codec.encode(data), out=out)
            if out.tobytes() != data.tobytes():
                failures.append(f"thread {seed} call {i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_package_imports_lazily() -> None:
    code = (
        "import sys, rumi_codec; "
        "assert not {'numcodecs', 'openzl', 'geozl'} & set(sys.modules), sorted(sys.modules); "
        "rumi_codec.decompress; rumi_codec.frame_key; "
        "assert not {'numcodecs', 'zarr'} & set(sys.modules); "
        "rumi_codec.OpenZLCodec; assert 'numcodecs' in sys.modules; "
        "assert 'zarr' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_package_attributes() -> None:
    assert rumi_codec.OpenZLError is OpenZLError
    assert set(rumi_codec.__all__) <= set(dir(rumi_codec))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rumi_codec.nope  # noqa: B018


# ------------------------------------------------------------------------ any bytes, verify


def serial_frame(data: bytes) -> bytes:
    """A frame as openzl4zarr-style codecs write it: one Serial input, plain OpenZL."""
    compressor = ext.Compressor()
    compressor.select_starting_graph(ext.graphs.Zstd()(compressor))
    cctx = ext.CCtx()
    cctx.ref_compressor(compressor)
    cctx.set_parameter(ext.CParam.FormatVersion, 21)
    return cctx.compress([ext.Input(ext.Type.Serial, data)])


def test_serial_frames_of_other_writers_decode() -> None:
    data = b"written elsewhere " * 20
    frame = serial_frame(data)
    assert OpenZLCodec().decode(frame).tobytes() == data
    out = bytearray(len(data))
    OpenZLCodec(recipe=None, graph="zstd").decode(frame, out=out)
    assert out == data


def _stored_frame_with_a_flipped_byte() -> tuple[bytes, np.ndarray]:
    data = chunk("u2", (16, 16))
    frame = bytearray(OpenZLCodec(recipe=None, graph="store").encode(data))
    frame[len(frame) // 2] ^= 0x10
    return bytes(frame), data


def test_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUMI_VERIFY", raising=False)
    frame, data = _stored_frame_with_a_flipped_byte()
    assert (OpenZLCodec().decode(frame).view("u2") != data.reshape(-1)).sum() == 1
    with pytest.raises(OpenZLError, match="checksum mismatch") as caught:
        OpenZLCodec(verify=True).decode(frame)
    assert isinstance(caught.value, rumi_xarray.RumiFormatError)
    monkeypatch.setenv("RUMI_VERIFY", "1")
    with pytest.raises(OpenZLError, match="checksum mismatch"):
        OpenZLCodec().decode(frame, out=np.empty_like(data))
    assert OpenZLCodec(verify=False).decode(frame).size == data.nbytes
    monkeypatch.setenv("RUMI_VERIFY", "maybe")
    with pytest.raises(ValueError, match="RUMI_VERIFY must be 0, 1, false, true"):
        OpenZLCodec().decode(frame)


def test_verify_in_the_configuration() -> None:
    codec = numcodecs.get_codec({"id": "rumi.openzl", "verify": True})
    assert codec.verify is True
    assert codec.get_config()["verify"] is True
    assert "verify" not in OpenZLCodec().get_config()
    with pytest.raises(TypeError, match="verify must be a bool or None"):
        OpenZLCodec(verify="yes")  # type: ignore[arg-type]

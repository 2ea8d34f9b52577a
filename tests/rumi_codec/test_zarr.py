"""Tests for rumi_codec.zarr_.OpenZLCodec: Zarr v3 arrays, its numcodecs twin, entry points."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numcodecs
import numpy as np
import pytest
import zarr
from openzl import ext
from zarr.abc.codec import BytesBytesCodec
from zarr.core.array_spec import ArrayConfig, ArraySpec
from zarr.core.buffer import default_buffer_prototype
from zarr.dtype import parse_dtype
from zarr.registry import register_codec

from rumi_codec import OpenZLError, _core, numcodecs_
from rumi_codec.zarr_ import OpenZLCodec
from rumi_xarray import RumiFormatError

if TYPE_CHECKING:
    from pathlib import Path

    from zarr.core.buffer import Buffer

CONFIGS = [
    {},
    {"recipe": "med>zigzag>zstd"},
    {"recipe": None, "graph": "zstd"},
    {"recipe": None, "graph": "store", "format_version": 14, "checksum": False},
]

# array shape, regular chunks, rectilinear chunks (clipped edges), transpose order
LAYOUTS = [
    ((37, 50), (16, 16), [[16, 16, 5], [16, 16, 16, 2]], (1, 0)),
    ((3, 37, 50), (2, 16, 32), [[2, 1], [16, 16, 5], [32, 18]], (1, 2, 0)),
]


def image(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Smooth rows plus noise, spanning the dtype's range of small integers."""
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(rng.integers(-3, 4, size=shape), axis=-1)
    return (smooth + rng.integers(0, 5, size=shape)).astype(dtype)


def write_array(store: object, data: np.ndarray, chunks: object, **kwargs: object) -> zarr.Array:
    array = zarr.create_array(
        store,  # type: ignore[arg-type]
        shape=data.shape,
        chunks=chunks,  # type: ignore[arg-type]
        dtype=data.dtype,
        fill_value=0,
        **kwargs,  # type: ignore[arg-type]
    )
    array[...] = data
    return array


def chunk_spec(shape: tuple[int, ...], dtype: object) -> ArraySpec:
    """What zarr hands a bytes-to-bytes codec for one chunk."""
    return ArraySpec(
        shape=shape,
        dtype=parse_dtype(dtype, zarr_format=3),  # type: ignore[arg-type]
        fill_value=0,
        config=ArrayConfig(order="C", write_empty_chunks=False),
        prototype=default_buffer_prototype(),
    )


# ------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("dtype", ["u1", "i2", "u2", "f4", "f8"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=["2d", "3d"])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("grid", ["regular", "rectilinear"])
def test_roundtrip(dtype: str, layout: tuple, transpose: bool, grid: str) -> None:
    shape, regular, rectilinear, order = layout
    data = image(dtype, shape)
    filters = [{"name": "transpose", "configuration": {"order": order}}] if transpose else None
    with zarr.config.set({"array.rectilinear_chunks": grid == "rectilinear"}):
        store = zarr.storage.MemoryStore()
        chunks = regular if grid == "regular" else rectilinear
        write_array(store, data, chunks, filters=filters, compressors=[OpenZLCodec()])
        again = zarr.open_array(store, mode="r")
        assert again.metadata.codecs[-1] == OpenZLCodec()
        assert np.array_equal(again[...], data)
        assert np.array_equal(again[1:-3, 7:], data[1:-3, 7:])


@pytest.mark.parametrize("config", CONFIGS)
def test_roundtrip_by_dict(config: dict) -> None:
    data = image("i2", (40, 24))
    store = zarr.storage.MemoryStore()
    write_array(
        store, data, (16, 16), compressors=[{"name": "rumi.openzl", "configuration": config}]
    )
    again = zarr.open_array(store, mode="r")
    assert again.metadata.codecs[-1] == OpenZLCodec(**config)
    assert np.array_equal(again[...], data)


def test_big_endian_bytes_and_sharding() -> None:
    data = image("u2", (40, 40))
    store = zarr.storage.MemoryStore()
    big = {"name": "bytes", "configuration": {"endian": "big"}}
    write_array(store, data, (20, 20), serializer=big, compressors=[OpenZLCodec()])
    assert np.array_equal(zarr.open_array(store, mode="r")[...], data)
    sharded = zarr.storage.MemoryStore()
    write_array(sharded, data, (10, 10), shards=(20, 40), compressors=[OpenZLCodec()])
    assert np.array_equal(zarr.open_array(sharded, mode="r")[...], data)


def test_frames_hold_the_chunk_in_memory_order(tmp_path: Path) -> None:
    """After ``transpose`` the frame is the transposed chunk, rows along its last axis."""
    data = image("u2", (3, 16, 32))
    order = (1, 2, 0)
    filters = [{"name": "transpose", "configuration": {"order": order}}]
    write_array(tmp_path, data, data.shape, filters=filters, compressors=[OpenZLCodec()])
    frame = (tmp_path / "c" / "0" / "0" / "0").read_bytes()
    assert frame == _core.compress(data.transpose(order))
    assert frame != _core.compress(data.transpose(order).reshape(-1, 32))


def test_codec_sees_the_transposed_clipped_shape() -> None:
    seen: list[tuple[int, ...]] = []

    @dataclass(frozen=True)
    class Spy(BytesBytesCodec):
        is_fixed_size = True

        @classmethod
        def from_dict(cls, data: dict) -> Spy:
            return cls()

        def to_dict(self) -> dict:
            return {"name": "rumi_test.spy"}

        async def _encode_single(self, chunk: Buffer, spec: ArraySpec) -> Buffer:
            seen.append(spec.shape)
            return chunk

        async def _decode_single(self, chunk: Buffer, spec: ArraySpec) -> Buffer:
            return chunk

        def compute_encoded_size(self, length: int, _spec: ArraySpec) -> int:
            return length

    register_codec("rumi_test.spy", Spy)
    filters = [{"name": "transpose", "configuration": {"order": (1, 2, 0)}}]
    with zarr.config.set({"array.rectilinear_chunks": True}):
        chunks = [[3], [4, 1], [6]]
        write_array(zarr.storage.MemoryStore(), image("u2", (3, 5, 6)), chunks, filters=filters,
                 compressors=[Spy()])  # fmt: skip
    assert sorted(seen) == [(1, 6, 3), (4, 6, 3)]


# ------------------------------------------------------------------------ numcodecs twin


def test_zarr_v2_array_with_the_numcodecs_twin(tmp_path: Path) -> None:
    data = image("f4", (3, 40, 50))
    write_array(
        tmp_path / "v2", data, (1, 16, 32), zarr_format=2, compressors=numcodecs_.OpenZLCodec()
    )
    write_array(tmp_path / "v3", data, (1, 16, 32), compressors=[OpenZLCodec()])
    assert np.array_equal(zarr.open_array(tmp_path / "v2", mode="r")[...], data)
    meta = json.loads((tmp_path / "v2" / ".zarray").read_text())
    assert meta["compressor"] == {"id": "rumi.openzl", **OpenZLCodec().to_dict()["configuration"]}
    for index in np.ndindex(3, 3, 2):  # the twins write the same frames
        v2 = (tmp_path / "v2" / ".".join(map(str, index))).read_bytes()
        assert (tmp_path / "v3" / "c" / "/".join(map(str, index))).read_bytes() == v2


@pytest.mark.parametrize("config", CONFIGS)
def test_twins_write_the_same_frame(config: dict) -> None:
    data = image("i2", (3, 10, 12))
    spec = chunk_spec(data.shape, data.dtype)
    buffer = spec.prototype.buffer.from_bytes(data.tobytes())
    frame = OpenZLCodec(**config)._encode_sync(buffer, spec).to_bytes()
    assert frame == numcodecs_.OpenZLCodec(**config).encode(data)
    assert OpenZLCodec()._decode_sync(spec.prototype.buffer.from_bytes(frame), spec).to_bytes() == (
        numcodecs_.OpenZLCodec().decode(frame).tobytes()
    )


@pytest.mark.parametrize("config", CONFIGS)
def test_virtualizarr_v2_conversion(config: dict) -> None:
    from virtualizarr.utils import convert_v3_to_v2_metadata

    array = zarr.create_array(
        zarr.storage.MemoryStore(), shape=(8, 8), chunks=(4, 4), dtype="u2",
        compressors=[OpenZLCodec(**config)],
    )  # fmt: skip
    (v2_filter,) = convert_v3_to_v2_metadata(array.metadata).to_dict()["filters"]
    assert v2_filter == numcodecs_.OpenZLCodec(**config).get_config()
    assert numcodecs.get_codec(v2_filter) == numcodecs_.OpenZLCodec(**config)


# ------------------------------------------------------------------------ configuration


@pytest.mark.parametrize("config", CONFIGS)
def test_config_json_roundtrip(config: dict) -> None:
    codec = OpenZLCodec(**config)
    stored = json.loads(json.dumps(codec.to_dict()))
    assert stored["name"] == "rumi.openzl"
    assert set(stored["configuration"]) == {"recipe", "graph", "format_version", "checksum"}
    assert OpenZLCodec.from_dict(stored) == codec
    assert OpenZLCodec.from_dict({"name": "rumi.openzl"}) == OpenZLCodec()


@pytest.mark.parametrize("config", CONFIGS)
def test_pickle(config: dict) -> None:
    codec = OpenZLCodec(**config)
    again = pickle.loads(pickle.dumps(codec))
    assert again == codec
    assert hash(again) == hash(codec)


@pytest.mark.parametrize(
    ("configuration", "error"),
    [
        ({"recipe": None}, ValueError),
        ({"recipe": None, "graph": "Zstd"}, ValueError),
        ({"format_version": 24}, ValueError),
        ({"recipe": None, "graph": "zstd", "checksum": "yes"}, TypeError),
        ({"level": 3}, TypeError),
    ],
)
def test_bad_config(configuration: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        OpenZLCodec.from_dict({"name": "rumi.openzl", "configuration": configuration})


def test_wrong_name() -> None:
    with pytest.raises(ValueError, match=r"rumi\.openzl"):
        OpenZLCodec.from_dict({"name": "openzl", "configuration": {}})


def test_compute_encoded_size() -> None:
    assert OpenZLCodec.is_fixed_size is False
    with pytest.raises(NotImplementedError):
        OpenZLCodec().compute_encoded_size(100, None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ wrong frames


def test_clipped_frame_on_a_regular_grid(tmp_path: Path) -> None:
    data = image("u2", (13, 16))
    write_array(tmp_path, data, (8, 8), compressors=[OpenZLCodec()])
    clipped = _core.compress(data[8:, 8:])  # what rumi stores for this edge tile
    (tmp_path / "c" / "1" / "1").write_bytes(clipped)
    with pytest.raises(
        OpenZLError,
        match=r"^frame 94:[0-9a-f]{16}: frame decodes to 80 bytes, but a chunk of shape \(8, 8\)"
        r" \(uint16\) holds 128:"
        r" it is a clipped edge frame or belongs to another array\. Read clipped rumi edge"
        r" tiles with a rectilinear chunk grid and rumi\.openzl, or with rumi\.openzl_grid",
    ):
        zarr.open_array(tmp_path, mode="r")[...]


def test_variable_length_strings_become_serial_frames() -> None:
    data = np.array([["a", "bc", ""], ["déjà", "vu", "x" * 40]], dtype="T")
    store = zarr.storage.MemoryStore()
    array = write_array(store, data, (1, 2), compressors=[OpenZLCodec()])
    np.testing.assert_array_equal(array[...], data)
    frame = store._store_dict["c/0/0"].to_bytes()
    assert _core.output_type(frame) == ext.Type.Serial


# ------------------------------------------------------------------------ entry points


def test_entry_points_in_a_fresh_process() -> None:
    code = """
import sys, numcodecs, zarr.registry
assert "rumi_codec" not in sys.modules
for name, cls in [("rumi.openzl", "OpenZLCodec"), ("rumi.openzl_grid", "OpenZLGridCodec")]:
    config = {"id": name}
    if name.endswith("grid"):
        config.update(chunk_shape=[4, 4], itemsize=1, frame_order=[0, 1], edge=[0, 0])
    codec = numcodecs.get_codec(config)
    assert type(codec).__module__ == "rumi_codec.numcodecs_" and type(codec).__name__ == cls
    found = zarr.registry.get_codec_class(name)
    assert found.__module__ == "rumi_codec.zarr_" and found.__name__ == cls
"""
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


# ------------------------------------------------------------------------ any bytes, verify


def test_serial_frames_of_other_writers_decode(tmp_path: Path) -> None:
    """A chunk stored as one plain Serial frame (openzl4zarr style) reads back."""
    data = image("u2", (8, 8))
    write_array(tmp_path, data, (8, 8), compressors=[OpenZLCodec()])
    compressor = ext.Compressor()
    compressor.select_starting_graph(ext.graphs.Zstd()(compressor))
    cctx = ext.CCtx()
    cctx.ref_compressor(compressor)
    cctx.set_parameter(ext.CParam.FormatVersion, 24)
    frame = cctx.compress([ext.Input(ext.Type.Serial, data.tobytes())])
    (tmp_path / "c" / "0" / "0").write_bytes(frame)
    np.testing.assert_array_equal(zarr.open_array(tmp_path, mode="r")[...], data)


@pytest.mark.parametrize("version", [ext.MIN_FORMAT_VERSION - 1, ext.MAX_FORMAT_VERSION + 1])
def test_unwritable_format_version_is_refused_when_built(version: int) -> None:
    expected = rf"between {ext.MIN_FORMAT_VERSION} and {ext.MAX_FORMAT_VERSION} .*got {version}"
    with pytest.raises(ValueError, match=expected):
        OpenZLCodec(recipe=None, graph="zstd", format_version=version)
    config = {"recipe": None, "graph": "zstd", "format_version": version}
    with pytest.raises(ValueError, match=expected):
        OpenZLCodec.from_dict({"name": "rumi.openzl", "configuration": config})


def test_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A flipped stored byte: caught with verify (a RumiFormatError), else read as is."""
    monkeypatch.delenv("RUMI_VERIFY", raising=False)
    data = image("u2", (16, 16))
    write_array(tmp_path, data, (16, 16), compressors=[OpenZLCodec(recipe=None, graph="store")])
    path = tmp_path / "c" / "0" / "0"
    frame = bytearray(path.read_bytes())
    frame[len(frame) // 2] ^= 0x10
    path.write_bytes(bytes(frame))
    assert (zarr.open_array(tmp_path, mode="r")[...] != data).sum() == 1
    meta = json.loads((tmp_path / "zarr.json").read_text())
    meta["codecs"][-1]["configuration"]["verify"] = True
    (tmp_path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(RumiFormatError, match="checksum mismatch"):
        zarr.open_array(tmp_path, mode="r")[...]
    monkeypatch.setenv("RUMI_VERIFY", "yes")
    meta["codecs"][-1]["configuration"].pop("verify")
    (tmp_path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(RumiFormatError, match="checksum mismatch"):
        zarr.open_array(tmp_path, mode="r")[...]


def test_verify_in_the_configuration() -> None:
    codec = OpenZLCodec.from_dict({"name": "rumi.openzl", "configuration": {"verify": False}})
    assert codec.verify is False
    assert codec.to_dict()["configuration"]["verify"] is False  # type: ignore[index]
    assert "verify" not in OpenZLCodec().to_dict()["configuration"]  # type: ignore[operator]
    with pytest.raises(TypeError, match="verify must be a bool or None"):
        OpenZLCodec(verify=1)  # type: ignore[arg-type]


def test_corrupt_chunk_is_a_rumi_format_error(tmp_path: Path) -> None:
    data = image("u2", (8, 8))
    write_array(tmp_path, data, (8, 8), compressors=[OpenZLCodec()])
    path = tmp_path / "c" / "0" / "0"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(RumiFormatError, match=r"^frame \d+:[0-9a-f]{16}: .*OpenZL"):
        zarr.open_array(tmp_path, mode="r")[...]

"""zarr-python-style matrix for ``rumi.openzl`` (Zarr v3): every data type, codec
chains, sharding, partial chunks, and the async ``_encode_single``/``_decode_single``."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest
import zarr
from openzl import ext
from zarr.codecs import (
    BytesCodec,
    Crc32cCodec,
    GzipCodec,
    ShardingCodec,
    TransposeCodec,
    VLenUTF8Codec,
    ZstdCodec,
)
from zarr.core.array_spec import ArrayConfig, ArraySpec
from zarr.core.buffer import default_buffer_prototype
from zarr.dtype import parse_dtype
from zarr.errors import UnstableSpecificationWarning

from rumi_codec import _core
from rumi_codec.zarr_ import OpenZLCodec

CODECS = [
    OpenZLCodec(),
    OpenZLCodec(recipe=None, graph="zstd"),
    OpenZLCodec(recipe=None, graph="field_lz", format_version=20, verify=True),
]


def _data(dtype: str, shape: tuple[int, ...] = (7, 11)) -> np.ndarray:
    """Values of ``dtype`` that exercise it (signs, NaNs, strings of every length)."""
    rng = np.random.default_rng(abs(hash(dtype)) % 2**32)
    n = int(np.prod(shape))
    kind = np.dtype(dtype).kind if dtype not in ("str", "T") else "T"
    if kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    elif kind == "f":
        values = rng.normal(0, 1000, n).astype(dtype)
        values[::7] = np.nan
    elif kind == "c":
        values = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(dtype)
    elif kind == "b":
        values = rng.integers(0, 2, n).astype(bool)
    elif kind in "mM":
        values = rng.integers(-(2**40), 2**40, n).astype("i8").view(dtype)
    elif kind in "SU":
        values = np.array([("ab" * i)[: i % 6] for i in range(n)], dtype=dtype)
    elif kind == "V":
        values = np.zeros(n, dtype)
        values["a"], values["b"] = rng.integers(-99, 99, n), rng.normal(size=n)
    else:
        values = np.array(["", "é", "seven", "longer than sixteen bytes"] * n, dtype="T")[:n]
    return values.reshape(shape)


DTYPES = [
    "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
    "datetime64[s]", "timedelta64[ms]", "S5", "<U3", "str",
    np.dtype([("a", "<i2"), ("b", "<f8")]),
]  # fmt: skip


def _id(dtype: object) -> str:
    return str(np.dtype(dtype).str if dtype != "str" else "str")


def _roundtrip(data: np.ndarray, chunks: tuple[int, ...], **kwargs: object) -> zarr.Array:
    store = zarr.storage.MemoryStore()
    unstable = data.dtype.kind == "S"  # zarr's own warning for NullTerminatedBytes
    with pytest.warns(UnstableSpecificationWarning) if unstable else contextlib.nullcontext():
        array = zarr.create_array(
            store, shape=data.shape, chunks=chunks, dtype=data.dtype, **kwargs  # type: ignore[arg-type]
        )  # fmt: skip
        array[...] = data
        again = zarr.open_array(store, mode="r")
        np.testing.assert_array_equal(again[...], data)
    return again


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: str(c.to_dict()["configuration"]))
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
def test_every_dtype(dtype: object, codec: OpenZLCodec) -> None:
    """Partial edge chunks (7 x 11 in 4 x 4) included."""
    data = _data(dtype if dtype != "str" else "T")  # type: ignore[arg-type]
    _roundtrip(data, (4, 4), compressors=[codec])


CHAINS = {
    "gzip then openzl": [GzipCodec(), OpenZLCodec()],
    "openzl then gzip": [OpenZLCodec(), GzipCodec()],
    "zstd then openzl": [ZstdCodec(), OpenZLCodec(recipe=None, graph="store")],
    "crc32c then openzl": [Crc32cCodec(), OpenZLCodec()],
    "openzl then crc32c": [OpenZLCodec(), Crc32cCodec()],
    "openzl twice": [OpenZLCodec(), OpenZLCodec(recipe=None, graph="zstd")],
}


@pytest.mark.parametrize("chain", list(CHAINS.values()), ids=list(CHAINS))
@pytest.mark.parametrize("dtype", ["uint16", "float64", "S5", "str"], ids=_id)
def test_codec_chains(chain: list[object], dtype: str) -> None:
    """Wherever it sits in the chain: after another bytes codec it stores Serial frames."""
    _roundtrip(_data(dtype if dtype != "str" else "T"), (4, 4), compressors=chain)


def test_after_gzip_the_frames_are_serial() -> None:
    data = _data("uint16")
    array = _roundtrip(data, (7, 11), compressors=[GzipCodec(), OpenZLCodec()])
    frame = array.store._store_dict["c/0/0"].to_bytes()  # type: ignore[attr-defined]
    assert _core.output_type(frame) == ext.Type.Serial
    alone = _roundtrip(data, (7, 11), compressors=[OpenZLCodec()])
    frame = alone.store._store_dict["c/0/0"].to_bytes()  # type: ignore[attr-defined]
    assert _core.output_type(frame) == ext.Type.Numeric


@pytest.mark.parametrize("dtype", ["int16", "float32", "complex64", "S5", "<U3"], ids=_id)
@pytest.mark.parametrize("endian", ["little", "big"])
def test_transpose_and_endianness(dtype: str, endian: str) -> None:
    data = _data(dtype, (3, 7, 11))
    _roundtrip(
        data, (2, 4, 4), filters=[TransposeCodec(order=(1, 2, 0))],
        serializer=BytesCodec(endian=endian), compressors=[OpenZLCodec()],  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize("dtype", ["uint16", "float64", "S5", "str"], ids=_id)
def test_sharding(dtype: str) -> None:
    """Inner chunks through rumi.openzl, with partial shards and partial inner chunks."""
    data = _data(dtype if dtype != "str" else "T", (21, 30))
    serializer = VLenUTF8Codec() if dtype == "str" else BytesCodec()
    sharding = ShardingCodec(chunk_shape=(4, 5), codecs=[serializer, OpenZLCodec()])
    _roundtrip(data, (8, 10), serializer=sharding, compressors=None)


@pytest.mark.parametrize("shape", [(1,), (0, 5), (5, 0), (3, 1, 2)])
def test_small_and_empty_chunks(shape: tuple[int, ...]) -> None:
    data = _data("int32", shape) if 0 not in shape else np.zeros(shape, "int32")
    _roundtrip(data, tuple(max(n, 1) for n in shape), compressors=[OpenZLCodec()])


def _spec(shape: tuple[int, ...], dtype: object) -> ArraySpec:
    return ArraySpec(
        shape=shape,
        dtype=parse_dtype(dtype, zarr_format=3),  # type: ignore[arg-type]
        fill_value=0,
        config=ArrayConfig(order="C", write_empty_chunks=False),
        prototype=default_buffer_prototype(),
    )


@pytest.mark.parametrize("dtype", ["uint8", "int64", "float32", "S5", "<U3"], ids=_id)
@pytest.mark.parametrize("codec", CODECS, ids=lambda c: str(c.to_dict()["configuration"]))
def test_async_encode_and_decode_single(dtype: str, codec: OpenZLCodec) -> None:
    data = _data(dtype, (6, 9))
    spec = _spec(data.shape, data.dtype)
    chunk = spec.prototype.buffer.from_bytes(data.tobytes())

    async def roundtrip() -> bytes:
        frame = await codec._encode_single(chunk, spec)
        assert frame is not None
        decoded = await codec._decode_single(frame, spec)
        assert decoded is not None
        return decoded.to_bytes()

    assert asyncio.run(roundtrip()) == data.tobytes()
    # and a batch, as the pipeline runs it
    frames = asyncio.run(codec.encode([(chunk, spec)] * 3))
    decoded = asyncio.run(codec.decode([(f, spec) for f in frames]))
    assert [d.to_bytes() for d in decoded if d is not None] == [data.tobytes()] * 3


def test_any_bytes_after_a_bytes_codec() -> None:
    """Bytes of any length, unrelated to the chunk's shape, round-trip."""
    spec = _spec((4, 4), "uint16")
    for payload in (b"", b"x", bytes(range(256)) * 3, b"\x00" * 32):
        chunk = spec.prototype.buffer.from_bytes(payload)
        frame = OpenZLCodec()._encode_sync(chunk, spec)
        assert OpenZLCodec()._decode_sync(frame, spec).to_bytes() == payload

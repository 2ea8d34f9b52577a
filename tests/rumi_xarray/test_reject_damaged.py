"""Damaged files, blobs and random bytes either parse or raise ``RumiFormatError``: never another
exception, never a hang (hypothesis)."""

from __future__ import annotations

import contextlib
import struct
from datetime import timedelta

import numpy as np
import pytest
import xarray as xr
from _fixtures import DATA
from _hostile import (
    read_fixture,
    read_header,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rumi_xarray.blob import parse_blob
from rumi_xarray.decode import read_description
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import parse_bytes
from rumi_xarray.io import BytesReader
from rumi_xarray.spec import Generation

ALL_FILES = sorted(
    f"{p.parent.name}/{p.stem}" for p in DATA.glob("*/*.rumi") if p.with_suffix(".header").exists()
)
_EDGES = st.sampled_from(
    [0, 1, 2, 3, 7, 8, 9, 13, 16, 255, 256, 0x7FFF, 0xFFFF, 2**31 - 1, 2**32 - 1, 2**63, 2**64 - 1]
)
_FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def _damage(draw: st.DrawFn, data: bytes) -> bytes:
    """Flip, overwrite, truncate, extend or replace bytes of ``data`` (favouring its first KiB)."""
    buf = bytearray(data)
    op = draw(st.sampled_from(["flip", "word", "truncate", "extend", "random"]))
    position = st.one_of(st.integers(0, min(len(buf), 1100) - 1), st.integers(0, len(buf) - 1))
    if op == "flip":
        for pos in draw(st.lists(position, min_size=1, max_size=6)):
            buf[pos] ^= draw(st.integers(1, 255))
    elif op == "word":
        for pos in draw(st.lists(position, min_size=1, max_size=3)):
            size = draw(st.sampled_from([1, 2, 4, 8]))
            value = draw(st.one_of(_EDGES, st.integers(0, 2**64 - 1))) % (1 << (8 * size))
            buf[pos : pos + size] = value.to_bytes(size, "little")
    elif op == "truncate":
        buf = buf[: draw(st.integers(0, len(buf) - 1))]
    elif op == "extend":
        buf += draw(st.binary(min_size=1, max_size=64))
    else:
        buf = buf[: draw(st.integers(0, len(buf)))] + draw(st.binary(max_size=512))
    return bytes(buf)


def _parse_or_reject(data: bytes, header: bytes | None = None) -> None:
    """Describe, then (when small enough) load: only RumiFormatError may escape."""
    try:
        desc = parse_bytes(data, header)
        assert read_description(BytesReader(data), header).shape == desc.shape
    except RumiFormatError:
        with pytest.raises(RumiFormatError):
            read_description(BytesReader(data), header)
        return
    if np.prod(desc.shape, dtype=np.float64) * desc.dtype.itemsize > 1 << 24:
        return
    with contextlib.suppress(RumiFormatError):
        xr.open_dataset(data, engine="rumi", header=header).load()


@_FUZZ
@given(data=st.data(), name=st.sampled_from(ALL_FILES), with_header=st.booleans())
def test_damaged_files_parse_or_reject(data: st.DataObject, name: str, with_header: bool) -> None:
    damaged = data.draw(_damage(read_fixture(name)))
    _parse_or_reject(damaged, read_header(name) if with_header else None)


@_FUZZ
@given(data=st.data(), name=st.sampled_from(ALL_FILES))
def test_damaged_blobs_parse_or_reject(data: st.DataObject, name: str) -> None:
    blob = data.draw(_damage(read_header(name)))
    for generation in (None, Generation.RUMI_TAIL, Generation.BIGTIFF):
        with contextlib.suppress(RumiFormatError):
            parse_blob(blob, generation=generation)
    _parse_or_reject(read_fixture(name), blob)


@_FUZZ
@given(
    prefix=st.sampled_from(
        [
            b"",
            b"RUMI",
            b"RUMI\x01\x00\x00\x00\x10" + bytes(7),
            b"II+\x00\x08\x00\x00\x00",
            b"LOVE\x01\x00",
        ]
    ),
    body=st.binary(max_size=2048),
)
def test_random_bytes_parse_or_reject(prefix: bytes, body: bytes) -> None:
    data = prefix + body
    _parse_or_reject(data)
    for generation in (None, Generation.RUMI_TAIL, Generation.BIGTIFF):
        with contextlib.suppress(RumiFormatError):
            parse_blob(data, generation=generation)


@_FUZZ
@given(
    fields=st.tuples(
        *(
            st.one_of(_EDGES, st.integers(0, 70)).map(lambda v, n=n: v % (1 << n))
            for n in (32, 32, 32, 16, 16, 16)
        )
    ),
    bits=st.sampled_from([1, 8, 16, 32, 64, 128, 0, 12]),
    sample_format=st.sampled_from([1, 2, 3, 6, 100, 102, 107, 5, 0]),
    unit=st.integers(0, 11),
    count_min=st.one_of(_EDGES, st.integers(0, 100)).map(lambda v: v % (1 << 32)),
    count_bits=st.integers(0, 34),
    packed=st.binary(max_size=64),
    v016=st.booleans(),
)
def test_blob_fields_parse_or_reject(
    fields: tuple[int, ...],
    bits: int,
    sample_format: int,
    unit: int,
    count_min: int,
    count_bits: int,
    packed: bytes,
    v016: bool,
) -> None:
    """Structured blobs with arbitrary field values (random bytes rarely pass the magic)."""
    width, length, times, tw, tl, bands = fields
    head = struct.pack("<4sHII", b"LOVE", 1, width, length) + (
        b"" if v016 else struct.pack("<I", times)
    )
    head += struct.pack(
        "<HHHBBBIB", tw, tl, bands, bits, sample_format, unit, count_min, count_bits
    )
    generation = Generation.BIGTIFF if v016 else Generation.RUMI_TAIL
    for source_length in (None, 1 << 20):
        with contextlib.suppress(RumiFormatError):
            parse_blob(head + packed, generation=generation, source_length=source_length)

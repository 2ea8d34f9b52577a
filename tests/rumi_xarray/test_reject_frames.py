"""FORMAT §14 C: what only reading pixels finds: frames that do not decode, decode to the wrong
size, element width or output type, or hold bool bytes other than 0 and 1."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xarray as xr
from _hostile import (
    BASE,
    BOOL,
    EXAMPLE,
    EXAMPLE_COUNTS,
    W,
    frame_table,
    make_blob,
    mutate,
    put,
    read_fixture,
    replace_frame,
    value_at,
    xor,
)

from rumi_codec import compress, decompress
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import parse_bytes


def _frame(name: str, k: int) -> bytes:
    offsets, counts, _, _ = frame_table(read_fixture(name))
    return read_fixture(name)[offsets[k] : offsets[k] + counts[k]]


def _bool_frame_with(value: int) -> bytes:
    """bool_b2_tile with byte 5 of frame 0 set to ``value``, re-compressed with geozl."""
    raw = decompress(_frame(BOOL, 0), nbytes=64)
    raw[5] = value
    return replace_frame(read_fixture(BOOL), 0, compress(raw.reshape(8, 8)))


LOAD_CASES = [
    pytest.param(
        mutate(EXAMPLE, xor(BASE + 22)),
        None,
        r"^frame 0 \(bytes 548\.\.608\): OpenZL decode failed",
        id="corrupt-payload",
    ),
    pytest.param(
        mutate(EXAMPLE, xor(BASE + 30, 0x01)),
        None,
        r"^frame 0 \(bytes 548\.\.608\): OpenZL decode failed",
        id="corrupt-payload-bit",
    ),
    pytest.param(
        mutate(EXAMPLE, put("4s", BASE, bytes(4))),
        None,
        r"^frame 0 \(bytes 548\.\.608\): OpenZL frame header unreadable",
        id="openzl-magic",
    ),
    pytest.param(
        mutate(EXAMPLE, put("4s", 728, b"\xd9\xa5\xb1\xd7")),
        None,
        r"^frame 3 \(bytes 728\.\.788\): ",
        id="openzl-format-version",
    ),
    pytest.param(
        mutate(EXAMPLE, put("I", value_at(W), 51)),
        None,
        r"^frame 2 \(bytes 668\.\.728\): frame decodes to 576 bytes",
        id="width-51-same-grid",
    ),
    pytest.param(
        read_fixture(EXAMPLE),
        make_blob(width=51),
        r"^frame 2 \(bytes 668\.\.728\): frame decodes to 576 bytes",
        id="blob-width-51",
    ),
    pytest.param(
        read_fixture(EXAMPLE),
        make_blob(bits=16, sample_format=1),
        r"^frame 0 \(bytes 548\.\.608\): frame decodes to 1024 bytes",
        id="blob-uint16-for-uint8",
    ),
    pytest.param(
        read_fixture(EXAMPLE),
        make_blob(counts=[59, *EXAMPLE_COUNTS[1:7], 60]),
        r"^frame 0 \(bytes 548\.\.607\): OpenZL decode failed: .*Source size too small",
        id="blob-counts-permuted",
    ),
    pytest.param(
        replace_frame(read_fixture(EXAMPLE), 0, _frame(EXAMPLE, 0) + b"\x00"),
        None,
        r"^frame 0 \(bytes 548\.\.609\): OpenZL decode failed: .*Source size too large",
        id="frame-with-trailing-byte",
    ),
    pytest.param(
        replace_frame(read_fixture(EXAMPLE), 0, _frame(EXAMPLE, 0)[:-1]),
        None,
        r"^frame 0 \(bytes 548\.\.607\): OpenZL decode failed: .*Source size too small",
        id="frame-missing-a-byte",
    ),
    pytest.param(
        replace_frame(read_fixture(EXAMPLE), 0, compress(np.zeros(100, np.uint8))),
        None,
        r"^frame 0 \(bytes 548\.\.\d+\): frame decodes to 100 bytes",
        id="frame-of-100-samples",
    ),
    pytest.param(
        replace_frame(read_fixture(EXAMPLE), 7, _frame(EXAMPLE, 0)),
        None,
        r"^frame 7 \(bytes 967\.\.1027\): frame decodes to 1024 bytes",
        id="frame-of-another-tile",
    ),
    pytest.param(
        _bool_frame_with(2),
        None,
        r"^frame 0 \(bytes \d+\.\.\d+\): byte 5 of a decoded bool frame is 2, neither 0 nor 1",
        id="bool-byte-2",
    ),
    pytest.param(
        _bool_frame_with(255),
        None,
        r"^frame 0 \(bytes \d+\.\.\d+\): byte 5 of a decoded bool frame is 255, neither 0 nor 1",
        id="bool-byte-255",
    ),
]


@pytest.mark.parametrize(("data", "header", "match"), LOAD_CASES)
def test_rejected_at_load(data: bytes, header: bytes | None, match: str) -> None:
    """§14 C: the index (or blob) is fine, the frame is not; loading pixels raises."""
    parse_bytes(data, header)
    ds = xr.open_dataset(data, engine="rumi", header=header)
    with pytest.raises(RumiFormatError, match=match):
        ds.load()


def test_only_the_frames_read_are_checked() -> None:
    """A corrupt frame 0 does not stop a window that never touches it."""
    ds = xr.open_dataset(mutate(EXAMPLE, xor(BASE + 22)), engine="rumi")
    right = ds.band_data.isel(x=slice(32, 50)).values
    expected = (np.arange(40)[:, None] + np.arange(32, 50)[None, :]) % 256
    np.testing.assert_array_equal(right[0], expected)
    with pytest.raises(RumiFormatError, match=r"^frame 0 "):
        ds.band_data.isel(x=0, y=0).load()


def test_recompressed_bool_frame_control() -> None:
    """The re-compression used by the bool cases reads back when the bytes stay 0/1."""
    raw = decompress(_frame(BOOL, 0), nbytes=64)
    data = _bool_frame_with(int(raw[5]))
    loaded = xr.open_dataset(data, engine="rumi").load()
    reference = xr.open_dataset(read_fixture(BOOL), engine="rumi").load()
    np.testing.assert_array_equal(loaded.band_data.values, reference.band_data.values)


def test_frame_of_the_wrong_element_width() -> None:
    """FORMAT §6/§14 C: the element width must be the storage width (rumi-eo: "unexpected
    frame output"), whether the width is learnt by decoding or known from the skeleton."""
    frame = compress(np.zeros(512, np.uint16))
    data = replace_frame(read_fixture(EXAMPLE), 0, frame)
    for _ in range(2):  # the second read knows the width from the frame's skeleton
        ds = xr.open_dataset(data, engine="rumi")
        with pytest.raises(
            RumiFormatError,
            match=r"^frame 0 \(bytes 548\.\.\d+\): frame output element width is 2 bytes,"
            r" expected 1",
        ):
            ds.load()


@pytest.mark.parametrize("graph", [None, "store", "zstd"])
def test_frame_of_the_right_element_width_control(graph: str | None) -> None:
    """A re-compressed frame of the storage width reads back (geozl and plain graphs)."""
    reference = xr.open_dataset(read_fixture(EXAMPLE), engine="rumi").load()
    raw = decompress(_frame(EXAMPLE, 0), nbytes=1024)
    frame = compress(raw, recipe=None, graph=graph) if graph else compress(raw)
    for _ in range(2):
        loaded = xr.open_dataset(
            replace_frame(read_fixture(EXAMPLE), 0, frame), engine="rumi"
        ).load()
        np.testing.assert_array_equal(loaded.band_data.values, reference.band_data.values)


SERIAL_FRAME = bytes.fromhex(
    "d8a5b1d703011181010110000102030405060708090a0b0c0d0e0fdb7017f60a09f42e00"
)
"""bytes 0..15 as one OpenZL ``Serial`` output (graph Store, format 24), built with openzl.ext."""


def test_serial_frame() -> None:
    """FORMAT §6: a frame must decode to one Numeric output."""
    ds = xr.open_dataset(replace_frame(read_fixture(EXAMPLE), 0, SERIAL_FRAME), engine="rumi")
    with pytest.raises(RumiFormatError, match=r"^frame 0 \(bytes 548\.\.584\): .*Serial"):
        ds.load()


def test_load_error_pickles() -> None:
    with pytest.raises(RumiFormatError) as caught:
        xr.open_dataset(mutate(EXAMPLE, xor(BASE + 22)), engine="rumi").load()
    clone = pickle.loads(pickle.dumps(caught.value))
    assert str(clone) == str(caught.value) and str(clone).startswith("frame 0 (bytes 548..608): ")

"""Tests for rumi_codec._core: round trips, real rumi frames, pinned bytes, hostile input."""

from __future__ import annotations

import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openzl import ext

from rumi_codec import OpenZLError, _core
from rumi_codec._core import compress, decoded_nbytes, decompress, decompress_output

if TYPE_CHECKING:
    from _fixtures import Fixture

EXAMPLE = Path(__file__).parents[1] / "data" / "examples" / "example_0261.rumi"

# 8x8 uint16 ((y*8 + x) * 37 % 251) through geozl "planar>zigzag>zstd" (format 24), and
# 4x4 int32 (arange(16) * -3) through the plain "zstd" graph; same bytes from
# geozl 0.18/openzl 0.2 and geozl 0.19/openzl 0.3.
GOLDEN_GEOZL = bytes.fromhex(
    "d8a5b1d703218101d804010416058faecb030600030000003701080000000120808d0100a800004aab01"
    "5a00f501f6015a00005af50100009bf50b00639825e63930a227010820e6a0990300c78879346e930c37"
    "04645f68abc82e872000"
)
GOLDEN_ZSTD = bytes.fromhex(
    "d8a5b1d70321419c030100160502000000002f020120404d010002440912e0690cc7711cc7317aefbdf7"
    "fe00000015a61f272f373f474f575f071e5cf870e2c5b6050008bf0e73be49d03b00"
)

DTYPES = [
    "u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f2", "f4", "f8", "c8", "c16", "?",
    ">u2", "M8[s]",
]  # fmt: skip


def golden_arrays() -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[:8, :8]
    smooth = ((y * 8 + x) * 37 % 251).astype(np.uint16)
    return smooth, (np.arange(16, dtype=np.int32) * -3).reshape(4, 4)


def random_array(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random bytes viewed as ``dtype``: NaN payloads, infinities and extremes included."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dt.itemsize, dtype=np.uint8)
    return raw.view(dt).reshape(shape) if dt.kind != "b" else raw.astype(bool).reshape(shape)


def roundtrip(array: np.ndarray, **options: object) -> np.ndarray:
    frame = compress(array, **options)  # type: ignore[arg-type]
    return decompress(frame, nbytes=array.nbytes).view(array.dtype).reshape(array.shape)


def plain_frame(*inputs: ext.Input, version: int = 24) -> bytes:
    """A frame written with openzl directly (Store graph), for shapes compress refuses."""
    compressor = ext.Compressor()
    compressor.select_starting_graph(ext.graphs.Store()(compressor))
    cctx = ext.CCtx()
    cctx.ref_compressor(compressor)
    cctx.set_parameter(ext.CParam.FormatVersion, version)
    return cctx.compress(list(inputs))


# ------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(17, 23), (3, 9, 11), (40,), (1, 1)])
def test_recipe_roundtrip(dtype: str, shape: tuple[int, ...]) -> None:
    array = random_array(dtype, shape)
    assert roundtrip(array).tobytes() == array.tobytes()


@pytest.mark.parametrize("graph", sorted(_core.PLAIN_GRAPHS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_plain_graph_roundtrip(graph: str, dtype: str) -> None:
    array = random_array(dtype, (13, 29), seed=1)
    assert roundtrip(array, recipe=None, graph=graph).tobytes() == array.tobytes()


@pytest.mark.parametrize(
    ("dtype", "width"),
    [("u1", 1), ("?", 1), ("i2", 2), ("f4", 4), ("i8", 8), ("c8", 4), ("c16", 8)],
)
@pytest.mark.parametrize("graph", [None, "zstd"])
def test_element_width(dtype: str, width: int, graph: str | None) -> None:
    array = random_array(dtype, (5, 6))
    recipe = None if graph else _core.DEFAULT_RECIPE
    data, found = decompress_output(compress(array, recipe=recipe, graph=graph))
    assert found == width
    assert data.tobytes() == array.tobytes()
    assert data.flags.writeable


@pytest.mark.parametrize(
    "recipe", ["planar>zigzag>transpose>entropy", "med>zigzag>zstd", "delta_1d>zstd"]
)
def test_other_recipes(recipe: str) -> None:
    array = np.cumsum(random_array("u1", (30, 40)), axis=1, dtype=np.uint16)
    assert np.array_equal(roundtrip(array, recipe=recipe), array)


def test_nan_payloads_are_kept() -> None:
    bits = random_array("u4", (9, 9)).copy()
    bits[1, 1], bits[2, 2], bits[3, 3] = 0x7FC00000, 0x7FC00123, 0xFFC00000
    assert roundtrip(bits.view(np.float32)).view(np.uint32).tobytes() == bits.tobytes()


def test_f_ordered_input_is_compressed_in_c_order() -> None:
    array = np.asfortranarray(random_array("u2", (6, 7)))
    assert np.array_equal(roundtrip(array), array)


@pytest.mark.parametrize("version", [14, 20, 23, 24])
def test_plain_format_versions(version: int) -> None:
    array = random_array("u2", (8, 8))
    frame = compress(array, recipe=None, graph="zstd", format_version=version)
    assert int.from_bytes(frame[:4], "little") == 0xD7B1A5C0 + version
    assert decompress(frame, nbytes=128).tobytes() == array.tobytes()


def test_checksum_flags() -> None:
    array = random_array("u2", (8, 8))
    with_sums = compress(array, recipe=None, graph="zstd")
    without = compress(array, recipe=None, graph="zstd", checksum=False)
    assert (with_sums[4], without[4]) == (0x03, 0x00)
    assert decompress(without, verify=True).tobytes() == array.tobytes()


def test_frames_do_not_depend_on_cached_graphs() -> None:
    first, second = random_array("u2", (10, 12), seed=1), random_array("u2", (4, 12), seed=2)
    compress(first)
    compress(random_array("f4", (3, 12), seed=3))
    threaded: list[bytes] = []
    worker = threading.Thread(target=lambda: threaded.append(compress(second)))
    worker.start()
    worker.join()
    assert compress(second) == threaded[0]


def test_graph_cache_is_bounded() -> None:
    for width in range(1, 3 * _core._MAX_CACHED):
        compress(np.ones((2, width), np.uint8))
        compress(
            np.ones((2, width), np.uint8), recipe=None, graph="zstd", format_version=14 + width % 11
        )
    assert len(_core._STATE.recipes) <= _core._MAX_CACHED
    assert len(_core._STATE.plain) <= _core._MAX_CACHED


# ------------------------------------------------------------------------ pinned bytes


def test_golden_geozl_frame() -> None:
    array = golden_arrays()[0]
    assert compress(array) == GOLDEN_GEOZL
    assert (
        decompress(GOLDEN_GEOZL, nbytes=128).view(np.uint16).reshape(8, 8).tolist()
        == array.tolist()
    )


def test_golden_plain_zstd_frame() -> None:
    array = golden_arrays()[1]
    assert compress(array, recipe=None, graph="zstd") == GOLDEN_ZSTD
    assert np.array_equal(decompress(GOLDEN_ZSTD).view(np.int32).reshape(4, 4), array)


# ------------------------------------------------------------------------ real rumi frames


def read_frames(path: Path) -> list[bytes]:
    """Frames of a rumi file (RUMI or BigTIFF header) from tags 324/325 of its IFD."""
    data = path.read_bytes()
    ifd = struct.unpack_from("<Q", data, 8)[0]
    values: dict[int, tuple[int, ...]] = {}
    for entry in range(struct.unpack_from("<Q", data, ifd)[0]):
        at = ifd + 8 + 20 * entry
        tag, kind, count = struct.unpack_from("<HHQ", data, at)
        code, size = {3: ("H", 2), 4: ("I", 4), 12: ("d", 8), 16: ("Q", 8)}[kind]
        where = at + 12 if size * count <= 8 else struct.unpack_from("<Q", data, at + 12)[0]
        values[tag] = struct.unpack_from(f"<{count}{code}", data, where)
    return [data[o : o + n] for o, n in zip(values[324], values[325], strict=True)]


def assemble(meta: dict, frames: list[np.ndarray], itemsize: int) -> np.ndarray:
    """Scatter decoded frames into a (T, B, Y, X, itemsize) byte array (FORMAT.md section 5)."""
    bands, rows, cols = meta["shape"][-3:]
    steps = meta.get("time_count", 1)
    tile_y, tile_x = meta["tile"]
    layout = meta["frame_layout"].split()
    index = meta.get("index_order")
    if index is None:  # 0.16 manifests: one band per frame unless the layout holds them
        index = ["b"] if "b" not in layout and bands > 1 else []
    extent = {"b": bands, "t": steps}
    per_cell = int(np.prod([extent[a] for a in index]))
    image = np.zeros((steps, bands, rows, cols, itemsize), np.uint8)
    for k, frame in enumerate(frames):
        cell, inner = divmod(k, per_cell)
        at: dict[str, int] = {}
        for axis in reversed(index):
            inner, at[axis] = divmod(inner, extent[axis])
        y0, x0 = divmod(cell, meta["tiles_across"])
        y0, x0 = y0 * tile_y, x0 * tile_x
        h, w = min(tile_y, rows - y0), min(tile_x, cols - x0)
        dims = {"t": steps, "b": bands, "h": h, "w": w}
        axes = list(layout)
        block = frame.reshape([dims[a] for a in axes] + [itemsize])
        for axis in "bt":
            if axis not in axes:
                block, axes = block[np.newaxis], [axis, *axes]
        block = block.transpose([axes.index(a) for a in "tbhw"] + [4])
        t = slice(at["t"], at["t"] + 1) if "t" in at else slice(None)
        b = slice(at["b"], at["b"] + 1) if "b" in at else slice(None)
        image[t, b, y0 : y0 + h, x0 : x0 + w] = block
    return image


def test_fixture_frames_decode_bit_exactly(fixture: Fixture) -> None:
    """Every frame of every rumi-eo 0.26.1 and 0.16.0 fixture (``fixture`` is in conftest)."""
    meta = fixture.meta
    expected = np.load(fixture.path.with_name(meta["npy"]))
    itemsize = meta.get("storage_bytes", expected.dtype.itemsize)
    frames = read_frames(fixture.path)
    image = assemble(meta, [decompress(frame) for frame in frames], itemsize)
    assert image.tobytes() == np.ascontiguousarray(expected).tobytes()
    complex_ = np.dtype(meta["npy_dtype"]).kind == "c" or meta["rumi_dtype"] == "complex32"
    assert decompress_output(frames[0])[1] in (
        (itemsize, itemsize // 2) if complex_ else (itemsize,)
    )


def test_annotated_example_frames() -> None:
    data = EXAMPLE.read_bytes()
    y, x = np.mgrid[:32, :32]
    band0 = decompress(data[548:608], nbytes=1024).reshape(32, 32)
    band1 = decompress(memoryview(data)[608:668], nbytes=1024).reshape(32, 32)
    assert np.array_equal(band0, (y + x) % 256)
    assert np.array_equal(band1, (y + x + 100) % 256)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, "ndarray", "slice"])
def test_buffer_types(kind: object) -> None:
    data = EXAMPLE.read_bytes()
    frame = data[548:608]
    if kind == "ndarray":
        given_ = np.frombuffer(frame, np.uint8)
    elif kind == "slice":
        given_ = np.frombuffer(data, np.uint8)[548:608]
    else:
        given_ = kind(frame)  # type: ignore[operator]
    assert decompress(given_, nbytes=1024).tobytes() == decompress(frame).tobytes()
    assert decompress_output(given_)[1] == 1


def test_decode_result_is_fresh_and_aligned() -> None:
    frame = bytearray(GOLDEN_GEOZL)
    out = decompress(frame)
    out[:] = 0
    assert frame == GOLDEN_GEOZL
    assert out.ctypes.data % 8 == 0


def test_empty_frame() -> None:
    frame = plain_frame(ext.Input(ext.Type.Numeric, np.zeros(0, np.uint16)))
    assert decompress(frame, nbytes=0).size == 0
    assert decompress_output(frame)[1] == 2


# ------------------------------------------------------------------------ hostile input


def test_truncated_frames() -> None:
    for frame in (GOLDEN_GEOZL, GOLDEN_ZSTD):
        for end in range(len(frame)):
            with pytest.raises(OpenZLError):
                decompress(frame[:end])
            with pytest.raises(OpenZLError):
                decompress_output(frame[:end])


@pytest.mark.parametrize("tail", [b"\x00", b"garbage", GOLDEN_GEOZL])
def test_trailing_bytes_are_refused(tail: bytes) -> None:
    with pytest.raises(OpenZLError, match="Source size too large"):
        decompress(GOLDEN_GEOZL + tail)
    with pytest.raises(OpenZLError, match="Source size too large"):
        decompress_output(GOLDEN_GEOZL + tail)


@pytest.mark.parametrize(("nbytes", "found"), [(64, 128), (4096, 128)])
def test_size_mismatch(nbytes: int, found: int) -> None:
    with pytest.raises(OpenZLError, match=f"frame decodes to {found} bytes, expected {nbytes}"):
        decompress(GOLDEN_GEOZL, nbytes=nbytes)


@pytest.mark.parametrize(("nbytes", "found"), [(64, 128), (4096, 128)])
def test_header_check_alone_refuses_another_size(nbytes: int, found: int) -> None:
    """``decoded_nbytes(nbytes=)``: the check writers make before storing a frame."""
    assert decoded_nbytes(GOLDEN_GEOZL) == decoded_nbytes(GOLDEN_GEOZL, nbytes=128) == 128
    with pytest.raises(OpenZLError, match=f"frame decodes to {found} bytes, expected {nbytes}"):
        decoded_nbytes(GOLDEN_GEOZL, nbytes=nbytes)
    serial = _core.compress_serial(b"abc")
    with pytest.raises(OpenZLError, match="output is Serial, expected Numeric"):
        decoded_nbytes(serial, nbytes=3)
    assert decoded_nbytes(serial, nbytes=3, serial=True) == 3
    with pytest.raises(ValueError, match="nbytes must be >= 0"):
        decoded_nbytes(GOLDEN_GEOZL, nbytes=-1)


def test_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_core, "MAX_FRAME_BYTES", 100)
    with pytest.raises(OpenZLError, match="past the limit of 100"):
        decompress(GOLDEN_GEOZL)
    with pytest.raises(OpenZLError, match="past the limit of 100"):
        decompress_output(GOLDEN_GEOZL)
    assert decompress(GOLDEN_GEOZL, nbytes=128).size == 128


def test_header_declaring_a_different_size() -> None:
    frame = bytearray(GOLDEN_GEOZL)
    frame[6:8] = b"\x81\x04"  # varint(content size + 1): 128 -> 512
    with pytest.raises(OpenZLError, match="header unreadable"):
        decompress(bytes(frame), nbytes=512)


def test_lying_header_without_header_checksum() -> None:
    frame = bytearray(
        compress(np.arange(64, dtype=np.uint16), recipe=None, graph="store", format_version=14)
    )
    frame[5] = 0x70  # format 14 has no header checksum: declare 112 of the 128 bytes
    assert ext.FrameInfo(bytes(frame)).output_content_size(0) == 112
    with pytest.raises(OpenZLError, match="Destination capacity too small"):
        decompress(bytes(frame), nbytes=112)


def test_checksum_verification() -> None:
    frame = bytearray(compress(random_array("u2", (8, 8)), recipe=None, graph="store"))
    frame[-12] ^= 0xFF  # a payload byte
    with pytest.raises(OpenZLError, match="checksum"):
        decompress(bytes(frame), verify=True)
    with pytest.raises(OpenZLError, match="checksum"):
        decompress_output(bytes(frame))
    assert decompress(bytes(frame)).size == 128  # a stored byte: only the checksum notices


def test_two_outputs() -> None:
    numbers = ext.Input(ext.Type.Numeric, np.arange(8, dtype=np.uint16))
    with pytest.raises(OpenZLError, match="OpenZL frame has 2 outputs, expected 1"):
        decompress(plain_frame(numbers, numbers))


def test_serial_output() -> None:
    frame = plain_frame(ext.Input(ext.Type.Serial, np.frombuffer(b"abcdefgh", np.uint8)))
    with pytest.raises(OpenZLError, match="output is Serial, expected Numeric"):
        decompress(frame)
    with pytest.raises(OpenZLError, match="output is Serial, expected Numeric"):
        decompress_output(frame)


@settings(max_examples=300, deadline=None)
@given(
    junk=st.binary(max_size=200), prefix=st.sampled_from([b"", GOLDEN_GEOZL[:5], GOLDEN_GEOZL[:30]])
)
def test_random_bytes(junk: bytes, prefix: bytes) -> None:
    with pytest.raises(OpenZLError):
        decompress(prefix + junk)


@settings(max_examples=300, deadline=None)
@given(at=st.integers(0, len(GOLDEN_GEOZL) - 1), value=st.integers(0, 255), verify=st.booleans())
def test_corrupted_byte(at: int, value: int, verify: bool) -> None:
    frame = bytearray(GOLDEN_GEOZL)
    frame[at] = value
    try:
        out = decompress(bytes(frame), verify=verify)
    except OpenZLError:
        return
    assert out.size == 128  # a harmless byte (e.g. an unused flag bit) may still decode


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="nbytes must be >= 0"):
        decompress(GOLDEN_GEOZL, nbytes=-1)
    with pytest.raises(TypeError):
        decompress(GOLDEN_GEOZL, nbytes=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="C-contiguous"):
        decompress(np.frombuffer(GOLDEN_GEOZL * 2, np.uint8).reshape(2, -1)[:, ::2])


# ------------------------------------------------------------------------ encode errors


@pytest.mark.parametrize("dtype", ["O", "V3", "c32", "U3"])
def test_unsupported_dtypes(dtype: str) -> None:
    with pytest.raises(TypeError, match="cannot store dtype"):
        compress(np.zeros((2, 2), dtype))


def test_empty_array() -> None:
    with pytest.raises(ValueError, match="empty array"):
        compress(np.zeros((0, 4), np.uint8))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"graph": "zstd"}, ValueError, "exactly one of recipe and graph"),
        ({"recipe": None}, ValueError, "exactly one of recipe and graph"),
        ({"recipe": ""}, TypeError, "non-empty geozl recipe"),
        ({"recipe": 3}, TypeError, "non-empty geozl recipe"),
        ({"format_version": 24}, ValueError, "needs a plain graph"),
        ({"checksum": False}, ValueError, "needs a plain graph"),
        ({"checksum": 1}, TypeError, "checksum must be a bool"),
        ({"recipe": None, "graph": "lz4"}, ValueError, "graph must be one of"),
        ({"recipe": None, "graph": "zstd", "format_version": 7}, ValueError, "between 8 and"),
        ({"recipe": None, "graph": "zstd", "format_version": 24.0}, TypeError, "must be an int"),
        ({"recipe": None, "graph": "zstd", "format_version": True}, TypeError, "must be an int"),
    ],
)
def test_bad_options(options: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        compress(np.zeros((2, 2), np.uint8), **options)


def test_format_version_past_installed_openzl() -> None:
    version = ext.MAX_FORMAT_VERSION + 1
    expected = (
        f"format_version must be between {ext.MIN_FORMAT_VERSION} and {ext.MAX_FORMAT_VERSION}"
        f" \\(the OpenZL formats this openzl writes\\), got {version}"
    )
    with pytest.raises(ValueError, match=expected):
        compress(np.zeros((2, 2), np.uint8), recipe=None, graph="zstd", format_version=version)
    with pytest.raises(ValueError, match=expected):
        _core.parse_options(recipe=None, graph="zstd", format_version=version, checksum=True)


def test_unknown_recipe() -> None:
    with pytest.raises(ValueError, match="geozl cannot build recipe 'nope>zstd'"):
        compress(np.zeros((2, 2), np.uint8), recipe="nope>zstd")


def test_recipe_that_fails_on_this_width() -> None:
    with pytest.raises(OpenZLError, match="OpenZL encode failed"):
        compress(random_array("u4", (8, 8)), recipe="wp_static>zigzag>entropy")


# ------------------------------------------------------------------------ threads


def test_threads_decode_with_width() -> None:
    arrays = [random_array(d, (16, 16), seed=i) for i, d in enumerate(["u1", "i2", "f4", "u8"])]
    frames = [compress(a) for a in arrays]
    failures: list[str] = []

    def work(seed: int) -> None:
        for i in range(50):
            j = (seed + i) % len(arrays)
            data, width = decompress_output(frames[j])
            if data.tobytes() != arrays[j].tobytes() or width != arrays[j].itemsize:
                failures.append(f"thread {seed} call {i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

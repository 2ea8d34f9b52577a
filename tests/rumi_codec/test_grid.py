"""Tests for rumi_codec._grid and its adaptors, the ``rumi.openzl_grid`` codecs."""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
from typing import TYPE_CHECKING

import numcodecs
import numpy as np
import pytest
import zarr
from zarr.core.array_spec import ArrayConfig, ArraySpec
from zarr.core.buffer import default_buffer_prototype
from zarr.dtype import parse_dtype

from rumi_codec import OpenZLError, _core, _grid, frame_key, numcodecs_, zarr_
from rumi_xarray.layout import FrameGrid, frame_order

if TYPE_CHECKING:
    from pathlib import Path

# image (y, x), tile (y, x): aligned, clipped on one or both axes, and the two cases where
# a bottom-row and a right-column frame have the same size (th == tw, and 4*32 == 16*8).
IMAGES = [
    ((32, 64), (16, 32)),
    ((40, 64), (16, 32)),
    ((32, 70), (16, 32)),
    ((38, 70), (16, 32)),
    ((40, 40), (16, 16)),
    ((36, 72), (16, 32)),
]
ORDERS = list(itertools.permutations(range(3)))


def random_image(shape: tuple[int, ...], dtype: str = "u2", seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * np.dtype(dtype).itemsize, dtype="u1")
    return raw.view(dtype).reshape(shape)


def cut(image: np.ndarray, tile: tuple[int, int]) -> dict[tuple[int, int], np.ndarray]:
    """The clipped tiles of ``image`` (last two axes y, x) by tile row and column."""
    th, tw = tile
    rows, cols = -(-image.shape[-2] // th), -(-image.shape[-1] // tw)
    return {
        (i, j): image[..., i * th : (i + 1) * th, j * tw : (j + 1) * tw]
        for i in range(rows)
        for j in range(cols)
    }


def rumi_frames(
    image: np.ndarray, tile: tuple[int, int], order: tuple[int, ...], **options: object
) -> tuple[dict[tuple[int, int], bytes], dict]:
    """Frames as rumi writes them (clipped, axes in ``order``) and their grid configuration."""
    th, tw = tile
    edge = [image.shape[-2] % th, image.shape[-1] % tw]
    tiles = cut(image, tile)
    frames = {at: _core.compress(t.transpose(order), **options) for at, t in tiles.items()}  # type: ignore[arg-type]
    config = {
        "chunk_shape": [*image.shape[:-2], th, tw],
        "itemsize": image.dtype.itemsize,
        "frame_order": list(order),
        "edge": edge,
    }
    if edge[0] and edge[1] and edge[0] * tw == th * edge[1]:
        last_row, last_col = max(tiles)
        config["wide"] = [frame_key(frames[(last_row, j)]) for j in range(last_col)]
        config["tall"] = [frame_key(frames[(i, last_col)]) for i in range(last_row)]
    return frames, config


def padded(tile: np.ndarray, chunk_shape: list[int]) -> np.ndarray:
    out = np.zeros(chunk_shape, tile.dtype)
    out[tuple(slice(0, n) for n in tile.shape)] = tile
    return out


# ------------------------------------------------------------------------ decode


@pytest.mark.parametrize(("shape", "tile"), IMAGES)
@pytest.mark.parametrize("order", ORDERS, ids=str)
def test_frames_decode_to_padded_chunks(shape: tuple, tile: tuple, order: tuple) -> None:
    image = random_image((3, *shape))
    frames, config = rumi_frames(image, tile, order)
    grid = _grid.parse_grid_config(**config)
    for at, t in cut(image, tile).items():
        chunk = _grid.decode(frames[at], grid)
        assert chunk.dtype == np.uint8
        assert chunk.tobytes() == padded(t, config["chunk_shape"]).tobytes(), at


@pytest.mark.parametrize("dtype", ["i1", "f4", "c8", "c16"])
def test_sample_sizes_and_4d_chunks(dtype: str) -> None:
    image = random_image((2, 3, 38, 70), dtype)
    frames, config = rumi_frames(image, (16, 32), (2, 3, 1, 0), recipe=None, graph="zstd")
    grid = _grid.parse_grid_config(**config)
    for at, t in cut(image, (16, 32)).items():
        assert _grid.decode(frames[at], grid).tobytes() == padded(t, [2, 3, 16, 32]).tobytes()


def test_unclipped_frame_in_array_order_is_returned_as_decoded() -> None:
    image = random_image((2, 16, 32))
    frame = _core.compress(image)
    grid = _grid.parse_grid_config(
        chunk_shape=[2, 16, 32], itemsize=2, frame_order=[0, 1, 2], edge=[5, 7]
    )
    assert _grid.decode(memoryview(frame), grid).tobytes() == image.tobytes()


# Every frame unit with band and time counts it fits (FORMAT §5).
UNITS = [
    (0, 1, 1),
    (0, 3, 1),
    (0, 1, 2),
    (0, 3, 2),
    (1, 3, 1),
    (1, 1, 2),
    (2, 3, 1),
    (2, 1, 2),
    (3, 3, 2),
    (4, 3, 2),
    (5, 3, 2),
    (6, 3, 2),
    (7, 3, 2),
    (8, 3, 2),
    (9, 3, 2),
]


@pytest.mark.parametrize(("unit", "bands", "times"), UNITS)
@pytest.mark.parametrize("size", [(16, 24), (13, 24), (16, 21), (11, 21), (13, 21)], ids=str)
def test_grid_codec_places_frames_as_the_layout_cuts_them(
    unit: int, bands: int, times: int, size: tuple[int, int]
) -> None:
    """The codec's padding and axis order agree with `rumi_xarray.layout` on every grid."""
    length, width = size
    grid = FrameGrid.from_unit(
        length=length, width=width, tile_length=8, tile_width=8, bands=bands, times=times, unit=unit
    )
    ndim = 4 if times > 1 else 3
    image = random_image((times, bands, length, width))
    windows = [grid.frame_window(k) for k in range(grid.frame_count)]
    frames = [_core.compress(grid.from_block(image[w]), recipe=None, graph="zstd") for w in windows]
    config = {
        "chunk_shape": list(grid.chunk_shape[4 - ndim :]),
        "itemsize": image.dtype.itemsize,
        "frame_order": frame_order(grid, ndim),
        "edge": [length % 8, width % 8],
    }
    if length % 8 == width % 8 != 0:  # bottom-row and right-column frames have one size
        keys = [grid.frame_key(k) for k in range(grid.frame_count)]
        down, across = grid.tiles_down - 1, grid.tiles_across - 1
        wide = [f for f, c in zip(frames, keys, strict=True) if c.row == down and c.col < across]
        tall = [f for f, c in zip(frames, keys, strict=True) if c.col == across and c.row < down]
        config |= {"wide": list(map(frame_key, wide)), "tall": list(map(frame_key, tall))}
    codec = _grid.parse_grid_config(**config)
    for frame, window in zip(frames, windows, strict=True):
        block = image[window] if ndim == 4 else image[window][0]  # (band, y, x) when T = 1
        want = padded(block, config["chunk_shape"])
        assert _grid.decode(frame, codec).tobytes() == want.tobytes(), window


def test_unrecorded_ambiguous_frame_is_refused() -> None:
    image = random_image((2, 36, 72))
    frames, config = rumi_frames(image, (16, 32), (0, 1, 2))
    stale = random_image((2, 4, 32), seed=9)  # same size as a bottom-row tile, other bytes
    grid = _grid.parse_grid_config(**config)
    key = frame_key(_core.compress(stale))
    with pytest.raises(
        OpenZLError,
        match=rf"frame {key} decodes to 512 bytes, which fits both a 4x32 bottom-row tile and"
        r" a 16x8 right-column tile, and it is not recorded in this codec's configuration",
    ):
        _grid.decode(_core.compress(stale), grid)
    del config["wide"], config["tall"]
    with pytest.raises(OpenZLError, match="not recorded"):
        _grid.decode(frames[(2, 0)], _grid.parse_grid_config(**config))
    assert _grid.decode(frames[(2, 2)], _grid.parse_grid_config(**config)).size == 2048


def test_wrong_size_frame_is_refused() -> None:
    grid = _grid.parse_grid_config(
        chunk_shape=[2, 16, 32], itemsize=2, frame_order=[0, 1, 2], edge=[4, 0]
    )
    with pytest.raises(
        OpenZLError,
        match=r"frame decodes to 2000 bytes, but a tile of this chunk holds one of \[512, 2048\]",
    ):
        _grid.decode(_core.compress(random_image((1000,))), grid)


def test_same_frame_wide_and_tall() -> None:
    """Plain-graph frames of uniform wide and tall tiles are byte-identical."""
    wide = np.full((2, 4, 32), 7, np.uint16)
    wide[1] = 9
    frame = _core.compress(wide, recipe=None, graph="zstd")
    assert frame == _core.compress(wide.reshape(2, 16, 8), recipe=None, graph="zstd")
    key = frame_key(frame)
    config = {"chunk_shape": [2, 16, 32], "itemsize": 2, "frame_order": [0, 1, 2], "edge": [4, 8]}
    grid = _grid.parse_grid_config(**config, wide=[key], tall=[key])
    expected = np.broadcast_to(np.array([7, 9], np.uint16)[:, None, None], (2, 16, 32))
    assert _grid.decode(frame, grid).tobytes() == expected.tobytes()
    ramp = _core.compress(np.arange(256, dtype=np.uint16), recipe=None, graph="zstd")
    grid = _grid.parse_grid_config(**config, wide=[frame_key(ramp)], tall=[frame_key(ramp)])
    with pytest.raises(OpenZLError, match="readings differ"):
        _grid.decode(ramp, grid)


def test_corrupt_frame() -> None:
    grid = _grid.parse_grid_config(chunk_shape=[4, 4], itemsize=1, frame_order=[0, 1], edge=[0, 0])
    with pytest.raises(OpenZLError):
        _grid.decode(b"\xd8\xa5\xb1\xd7\x03" + bytes(40), grid)


def test_frame_key() -> None:
    frame = _core.compress(random_image((4, 4)))
    digest = hashlib.blake2b(frame, digest_size=8).hexdigest()
    assert frame_key(frame) == f"{len(frame)}:{digest}"
    assert frame_key(np.frombuffer(frame, np.uint8)) == frame_key(bytearray(frame))


# ------------------------------------------------------------------------ configuration

GOOD = {"chunk_shape": [2, 16, 32], "itemsize": 2, "frame_order": [1, 2, 0], "edge": [4, 16]}
AMBIGUOUS = [4, 8]  # a 4x32 and a 16x8 tile have the same size
KEY = "256:0123456789abcdef"


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"chunk_shape": "16,32"}, TypeError, "chunk_shape must be a list of ints"),
        ({"chunk_shape": [2, 16.0, 32]}, TypeError, "chunk_shape must be an int"),
        ({"chunk_shape": [2, True, 32]}, TypeError, "chunk_shape must be an int"),
        ({"chunk_shape": [2, 0, 32]}, ValueError, "entries must be >= 1"),
        ({"chunk_shape": [16]}, ValueError, "2 to 16 axes"),
        ({"chunk_shape": [1] * 17}, ValueError, "2 to 16 axes"),
        ({"chunk_shape": [2, 1 << 16, 1 << 14]}, ValueError, "past the limit"),
        ({"itemsize": 3}, ValueError, r"itemsize must be one of \(1, 2, 4, 8, 16\)"),
        ({"itemsize": "2"}, TypeError, "itemsize must be an int"),
        ({"frame_order": [0, 1]}, ValueError, r"permutation of range\(3\)"),
        ({"frame_order": [0, 1, 1]}, ValueError, "permutation"),
        ({"frame_order": [0, 1, -2]}, ValueError, ">= 0"),
        ({"frame_order": None}, TypeError, "frame_order must be a list"),
        ({"edge": [4]}, ValueError, r"edge must be \[rows, columns\]"),
        ({"edge": [16, 0]}, ValueError, "less than the tile"),
        ({"edge": [0, -1]}, ValueError, ">= 0"),
        ({"wide": [KEY]}, ValueError, "wide and tall apply only when"),
        ({"edge": [8, 8], "tall": [KEY]}, ValueError, "wide and tall apply only when"),
        ({"edge": [4, 0], "wide": [KEY]}, ValueError, "wide and tall apply only when"),
        ({"edge": AMBIGUOUS, "wide": KEY}, TypeError, "wide must be a list of frame keys"),
        ({"edge": AMBIGUOUS, "wide": ["256:0123"]}, ValueError, "16 hex digits"),
        ({"edge": AMBIGUOUS, "tall": [256]}, ValueError, "tall entries"),
    ],
)
def test_bad_config(change: dict, error: type[Exception], match: str) -> None:
    config = {**GOOD, **change}
    with pytest.raises(error, match=match):
        _grid.parse_grid_config(**config)
    with pytest.raises(error, match=match):
        numcodecs.get_codec({"id": "rumi.openzl_grid", **config})
    with pytest.raises(error, match=match):
        zarr_.OpenZLGridCodec.from_dict({"name": "rumi.openzl_grid", "configuration": config})


def test_missing_and_unknown_keys() -> None:
    partial = {k: v for k, v in GOOD.items() if k != "edge"}
    with pytest.raises(TypeError, match="edge"):
        numcodecs.get_codec({"id": "rumi.openzl_grid", **partial})
    with pytest.raises(TypeError, match="edge"):
        zarr_.OpenZLGridCodec.from_dict({"name": "rumi.openzl_grid", "configuration": partial})
    with pytest.raises(TypeError, match="padding"):
        zarr_.OpenZLGridCodec.from_dict(
            {"name": "rumi.openzl_grid", "configuration": {**GOOD, "padding": 0}}
        )


@pytest.mark.parametrize(
    "extra", [{}, {"edge": AMBIGUOUS, "wide": [KEY], "tall": [KEY[:-1] + "0"]}]
)
def test_config_json_roundtrip(extra: dict) -> None:
    config = {**GOOD, **extra}
    numcodec = numcodecs_.OpenZLGridCodec(**config)
    stored = json.loads(json.dumps(numcodec.get_config()))
    assert stored == {"id": "rumi.openzl_grid", **config}
    assert numcodecs.get_codec(stored) == numcodec
    codec = zarr_.OpenZLGridCodec(**config)
    as_v3 = json.loads(json.dumps(codec.to_dict()))
    assert as_v3 == {"name": "rumi.openzl_grid", "configuration": config}
    assert zarr_.OpenZLGridCodec.from_dict(as_v3) == codec
    assert {"id": as_v3["name"], **as_v3["configuration"]} == stored  # VirtualiZarr's v2 form
    assert eval(repr(numcodec), {"OpenZLGridCodec": numcodecs_.OpenZLGridCodec}) == numcodec


def test_keys_are_stored_sorted_once() -> None:
    keys = ["9:00000000000000ff", "10:0000000000000000", "9:00000000000000ff"]
    codec = numcodecs_.OpenZLGridCodec(**{**GOOD, "edge": AMBIGUOUS}, tall=keys)
    assert codec.get_config()["tall"] == ["10:0000000000000000", "9:00000000000000ff"]


def test_pickle() -> None:
    config = {**GOOD, "edge": AMBIGUOUS, "wide": [KEY]}
    for codec in (numcodecs_.OpenZLGridCodec(**config), zarr_.OpenZLGridCodec(**config)):
        again = pickle.loads(pickle.dumps(codec))
        assert again == codec
    assert hash(again) == hash(codec)


def test_encode_is_refused() -> None:
    with pytest.raises(NotImplementedError, match="read-only view of rumi frames; write with"):
        numcodecs_.OpenZLGridCodec(**GOOD).encode(b"")
    store = zarr.storage.MemoryStore()
    array = zarr.create_array(
        store, shape=(2, 16, 32), chunks=(2, 16, 32), dtype="u2",
        compressors=[zarr_.OpenZLGridCodec(**GOOD)],
    )  # fmt: skip
    with pytest.raises(NotImplementedError, match=r"write with rumi\.openzl"):
        array[...] = 1
    with pytest.raises(NotImplementedError):
        zarr_.OpenZLGridCodec(**GOOD).compute_encoded_size(1, None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ through Zarr


def grid_array(path: Path, image: np.ndarray, config: dict, *, zarr_format: int) -> zarr.Array:
    chunks = config["chunk_shape"]
    codec: object = numcodecs_.OpenZLGridCodec(**config)
    if zarr_format == 3:
        codec = [zarr_.OpenZLGridCodec(**config)]
    return zarr.create_array(
        path, shape=image.shape, chunks=chunks, dtype=image.dtype, fill_value=0,
        compressors=codec, zarr_format=zarr_format,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(("shape", "tile"), [IMAGES[3], IMAGES[4], IMAGES[5]])
@pytest.mark.parametrize("order", [(0, 1, 2), (1, 2, 0)], ids=str)
@pytest.mark.parametrize("dtype", ["u1", "i2", "f4", "f8"])
def test_rumi_frames_read_as_zarr_arrays(
    tmp_path: Path, shape: tuple, tile: tuple, order: tuple, dtype: str
) -> None:
    """The v3 codec and its numcodecs twin (Zarr v2) read rumi frames as the whole image."""
    image = random_image((2, *shape), dtype)
    frames, config = rumi_frames(image, tile, order)
    for zarr_format, sep in ((3, "c/0/"), (2, "0.")):
        grid_array(tmp_path / str(zarr_format), image, config, zarr_format=zarr_format)
        for (i, j), frame in frames.items():
            where = tmp_path / str(zarr_format) / f"{sep}{i}{sep[-1]}{j}"
            where.parent.mkdir(parents=True, exist_ok=True)
            where.write_bytes(frame)
        read = zarr.open_array(tmp_path / str(zarr_format), mode="r")[...]
        assert read.tobytes() == image.tobytes(), zarr_format


def test_twins_decode_to_the_same_bytes() -> None:
    image = random_image((2, 38, 70))
    frames, config = rumi_frames(image, (16, 32), (1, 2, 0))
    codec = zarr_.OpenZLGridCodec(**config)
    spec = ArraySpec(
        shape=(2, 16, 32),
        dtype=parse_dtype("uint16", zarr_format=3),
        fill_value=0,
        config=ArrayConfig(order="C", write_empty_chunks=False),
        prototype=default_buffer_prototype(),
    )
    for frame in frames.values():
        ours = codec._decode_sync(spec.prototype.buffer.from_bytes(frame), spec).to_bytes()
        assert ours == numcodecs_.OpenZLGridCodec(**config).decode(frame).tobytes()


def test_zarr_chunk_must_match_the_configuration(tmp_path: Path) -> None:
    image = random_image((2, 38, 70))
    frames, config = rumi_frames(image, (16, 32), (0, 1, 2))
    zarr.create_array(
        tmp_path, shape=image.shape, chunks=(2, 16, 16), dtype="u2",
        compressors=[zarr_.OpenZLGridCodec(**config)],
    )  # fmt: skip
    (tmp_path / "c" / "0" / "0").mkdir(parents=True)
    (tmp_path / "c" / "0" / "0" / "0").write_bytes(frames[(0, 0)])
    with pytest.raises(
        ValueError,
        match=r"configured for chunks of shape \(2, 16, 32\) with 2-byte samples, but the array"
        r" gives chunks of shape \(2, 16, 16\) with 2-byte samples: it needs a regular grid",
    ):
        zarr.open_array(tmp_path, mode="r")[:, :16, :16]


# ------------------------------------------------------------- leading length-1 axes


@pytest.mark.parametrize("shape", [(1, 2, 16, 32), (2, 1, 16, 32), (1, 1, 2, 16, 32)])
def test_added_length_1_axes_keep_the_layout(shape: tuple[int, ...]) -> None:
    """Stacking or ``expand_dims`` adds length-1 axes to zarr's chunk: same bytes."""
    image = random_image((2, 38, 70))
    frames, config = rumi_frames(image, (16, 32), (1, 2, 0))
    codec = zarr_.OpenZLGridCodec(**config)
    spec = ArraySpec(
        shape=shape,
        dtype=parse_dtype("uint16", zarr_format=3),
        fill_value=0,
        config=ArrayConfig(order="C", write_empty_chunks=False),
        prototype=default_buffer_prototype(),
    )
    for frame in frames.values():
        ours = codec._decode_sync(spec.prototype.buffer.from_bytes(frame), spec).to_bytes()
        assert ours == numcodecs_.OpenZLGridCodec(**config).decode(frame).tobytes()


def test_other_axes_still_refused() -> None:
    image = random_image((2, 38, 70))
    frames, config = rumi_frames(image, (16, 32), (0, 1, 2))
    spec = ArraySpec(
        shape=(2, 2, 16, 32),
        dtype=parse_dtype("uint16", zarr_format=3),
        fill_value=0,
        config=ArrayConfig(order="C", write_empty_chunks=False),
        prototype=default_buffer_prototype(),
    )
    with pytest.raises(ValueError, match=r"gives chunks of shape \(2, 2, 16, 32\)"):
        zarr_.OpenZLGridCodec(**config)._decode_sync(
            spec.prototype.buffer.from_bytes(frames[(0, 0)]), spec
        )


# ---------------------------------------------- stacks through VirtualiZarr and Icechunk


@pytest.fixture(scope="module")
def clipped_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], np.ndarray]:
    """Two dates of a 2-band 100 x 90 scene in 64-pixel tiles: clipped edge frames."""
    from _virtual import write

    root = tmp_path_factory.mktemp("clipped")
    stack = np.random.default_rng(1).integers(0, 999, (2, 2, 100, 90), dtype=np.uint16)
    paths = [write(root / f"d{i}.rumi", stack[i], time=f"2024-01-0{i + 1}") for i in range(2)]
    return ["file://" + p for p in paths], stack


def _registry() -> object:
    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import LocalStore

    return ObjectStoreRegistry({"file://": LocalStore()})


def _virtual_stack(urls: list[str]) -> object:
    virtualizarr = pytest.importorskip("virtualizarr")
    from rumi_xarray.virtual.virtualizarr_ import RumiParser

    return virtualizarr.open_virtual_mfdataset(
        urls, registry=_registry(), parser=RumiParser(), combine="nested", concat_dim="time",
        coords="minimal", compat="override",
        loadable_variables=["time", "x", "y", "band", "spatial_ref"],
    )  # fmt: skip


def _engine_rumi(urls: list[str]) -> np.ndarray:
    import xarray as xr

    files = [xr.open_dataset(u.removeprefix("file://"), engine="rumi") for u in urls]
    return np.stack([f.band_data.values for f in files])


@pytest.mark.filterwarnings(
    "ignore::rumi_xarray.RumiVirtualWarning"
)  # read with mask_and_scale=False
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_virtualizarr_stack_of_clipped_files_to_kerchunk_json(
    clipped_files: tuple[list[str], np.ndarray], tmp_path: Path, zarr_format: int
) -> None:
    import xarray as xr

    urls, stack = clipped_files
    target = tmp_path / "stack.json"
    _virtual_stack(urls).vz.to_kerchunk(str(target), format="json", zarr_format=zarr_format)  # type: ignore[attr-defined]
    ds = xr.open_dataset(
        "reference://", engine="zarr", consolidated=False, zarr_format=zarr_format,
        mask_and_scale=False, storage_options={"fo": str(target)},
    )  # fmt: skip
    np.testing.assert_array_equal(ds.band_data.values, _engine_rumi(urls))
    np.testing.assert_array_equal(ds.band_data.values, stack)


@pytest.mark.filterwarnings(
    "ignore::rumi_xarray.RumiVirtualWarning"
)  # read with mask_and_scale=False
def test_virtualizarr_stack_of_clipped_files_to_icechunk(
    clipped_files: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    import xarray as xr

    icechunk = pytest.importorskip("icechunk")
    urls, stack = clipped_files
    root = urls[0].rsplit("/", 1)[0] + "/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(
            root, icechunk.local_filesystem_store(root.removeprefix("file://"))
        )
    )
    access = {root: icechunk.credentials.LocalFileSystemAccess}
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(storage, config, authorize_virtual_chunk_access=access)
    session = repo.writable_session("main")
    _virtual_stack(urls).vz.to_icechunk(session.store)  # type: ignore[attr-defined]
    session.commit("two dates")
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access=access)
    store = repo.readonly_session("main").store
    ds = xr.open_zarr(store, consolidated=False, zarr_format=3, mask_and_scale=False)
    np.testing.assert_array_equal(ds.band_data.values, _engine_rumi(urls))
    np.testing.assert_array_equal(ds.band_data.values, stack)


@pytest.mark.filterwarnings(
    "ignore::rumi_xarray.RumiVirtualWarning"
)  # read with mask_and_scale=False
def test_virtualizarr_expand_dims_of_one_clipped_file(
    clipped_files: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    import xarray as xr

    virtualizarr = pytest.importorskip("virtualizarr")
    from rumi_xarray.virtual.virtualizarr_ import RumiParser

    urls, stack = clipped_files
    vds = virtualizarr.open_virtual_dataset(urls[1], registry=_registry(), parser=RumiParser())
    target = tmp_path / "one.json"
    vds.expand_dims("run").vz.to_kerchunk(str(target), format="json", zarr_format=3)
    ds = xr.open_dataset(
        "reference://", engine="zarr", consolidated=False, zarr_format=3,
        mask_and_scale=False, storage_options={"fo": str(target)},
    )  # fmt: skip
    assert ds.band_data.dims == ("run", "band", "y", "x")
    np.testing.assert_array_equal(ds.band_data.values[0], _engine_rumi(urls[1:])[0])
    np.testing.assert_array_equal(ds.band_data.values[0], stack[1])


# ------------------------------------------------------------------------ verify, errors


def test_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUMI_VERIFY", raising=False)
    image = random_image((2, 38, 70))
    frames, config = rumi_frames(image, (16, 32), (0, 1, 2), recipe=None, graph="store")
    frame = bytearray(frames[(2, 2)])
    frame[len(frame) // 2] ^= 0x10
    assert _grid.decode(bytes(frame), _grid.parse_grid_config(**config)).size == 2 * 16 * 32 * 2
    checked = _grid.parse_grid_config(**config, verify=True)
    with pytest.raises(OpenZLError, match=r"^frame \d+:[0-9a-f]{16}: .*checksum mismatch"):
        _grid.decode(bytes(frame), checked)
    with pytest.raises(OpenZLError, match="checksum mismatch"):
        numcodecs_.OpenZLGridCodec(**config, verify=True).decode(bytes(frame))
    monkeypatch.setenv("RUMI_VERIFY", "true")
    with pytest.raises(OpenZLError, match="checksum mismatch"):
        numcodecs_.OpenZLGridCodec(**config).decode(bytes(frame))
    assert numcodecs_.OpenZLGridCodec(**config, verify=False).get_config()["verify"] is False
    assert zarr_.OpenZLGridCodec(**config, verify=True).to_dict()["configuration"]["verify"]  # type: ignore[index]


def test_grid_errors_name_the_frame() -> None:
    image = random_image((2, 38, 70))
    frames, config = rumi_frames(image, (16, 32), (0, 1, 2))
    with pytest.raises(OpenZLError, match=r"^frame 7:[0-9a-f]{16}: OpenZL frame header"):
        numcodecs_.OpenZLGridCodec(**config).decode(frames[(0, 0)][:7])


# ------------------------------------------- stacks of files with equal edge remainders


def _smooth(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (2000 + np.cumsum(rng.integers(-3, 4, shape), axis=-1)).astype(np.uint16)


@pytest.fixture(scope="module")
def square_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], np.ndarray]:
    """Three dates of a 2-band 100 x 100 scene in 64-pixel tiles: 36 x 64 bottom-row and
    64 x 36 right-column frames decode to the same size (rh * tw == th * rw)."""
    from _virtual import write

    root = tmp_path_factory.mktemp("square")
    stack = np.stack([_smooth(i, (2, 100, 100)) for i in range(3)])
    paths = [write(root / f"s{i}.rumi", stack[i], time=f"2024-02-0{i + 1}") for i in range(3)]
    return ["file://" + p for p in paths], stack


def test_geozl_edge_frames_are_keyed_by_skeleton(
    square_files: tuple[list[str], np.ndarray],
) -> None:
    """One configuration for every file written alike: skeleton keys, not frame digests."""
    from rumi_xarray.virtual.file import references

    urls, _ = square_files
    zarrays = [references(u.removeprefix("file://"), zarr_format=2)["refs"] for u in urls]
    configs = [json.loads(z["band_data/.zarray"])["filters"][0] for z in zarrays]
    assert configs[0] == configs[1] == configs[2]
    assert configs[0]["edge"] == [36, 36]
    assert len(configs[0]["wide"]) == len(configs[0]["tall"]) == 1
    assert configs[0]["wide"][0].startswith("skeleton:")


@pytest.mark.filterwarnings(
    "ignore::rumi_xarray.RumiVirtualWarning"
)  # read with mask_and_scale=False
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_virtualizarr_stack_with_equal_edge_remainders(
    square_files: tuple[list[str], np.ndarray], tmp_path: Path, zarr_format: int
) -> None:
    import xarray as xr

    urls, stack = square_files
    target = tmp_path / "stack.json"
    _virtual_stack(urls).vz.to_kerchunk(str(target), format="json", zarr_format=zarr_format)  # type: ignore[attr-defined]
    ds = xr.open_dataset(
        "reference://", engine="zarr", consolidated=False, zarr_format=zarr_format,
        mask_and_scale=False, storage_options={"fo": str(target)},
    )  # fmt: skip
    np.testing.assert_array_equal(ds.band_data.values, _engine_rumi(urls))
    np.testing.assert_array_equal(ds.band_data.values, stack)


def test_multizarrtozarr_stack_with_equal_edge_remainders(
    square_files: tuple[list[str], np.ndarray],
) -> None:
    import xarray as xr
    from kerchunk.combine import MultiZarrToZarr

    from rumi_xarray.virtual.file import references

    urls, stack = square_files
    refs = [references(u.removeprefix("file://"), zarr_format=2) for u in urls]
    combined = MultiZarrToZarr(
        refs, concat_dims=["n"], coo_map={"n": "INDEX"}, identical_dims=["x", "y", "band"],
        remote_protocol="file",
    ).translate()  # fmt: skip
    ds = xr.open_dataset(
        "reference://", engine="zarr", consolidated=False, zarr_format=2, mask_and_scale=False,
        storage_options={"fo": combined},
    )  # fmt: skip
    np.testing.assert_array_equal(ds.band_data.values, stack)


def test_skeleton_keys() -> None:
    image = _smooth(0, (1, 40, 40))
    frames, config = rumi_frames(image, (16, 16), (0, 1, 2))
    wide = _grid.skeleton_key(frames[(2, 0)])
    tall = _grid.skeleton_key(frames[(0, 2)])
    assert wide is not None and tall is not None and wide != tall
    assert wide == _grid.skeleton_key(frames[(2, 1)])
    shared = {**config, "wide": [wide], "tall": [tall]}
    chunk = numcodecs_.OpenZLGridCodec(**shared).decode(frames[(2, 1)])
    np.testing.assert_array_equal(
        chunk.view("u2").reshape(1, 16, 16), padded(image[:, 32:, 16:32], [1, 16, 16])
    )
    assert _grid.skeleton_key(b"not a frame") is None

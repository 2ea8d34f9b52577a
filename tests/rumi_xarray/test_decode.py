"""Tests for rumi_xarray.decode: windows, coalesced reads, checksums (``verify``), widths."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import xarray as xr

from rumi_codec import _header
from rumi_xarray import RumiFormatError, decode, open_rumi, to_rumi
from rumi_xarray.decode import (
    Job,
    coalesce,
    frame_widths,
    plan_window,
    read_description,
    read_jobs,
    read_window,
    resolve_verify,
)
from rumi_xarray.format import parse_bytes
from rumi_xarray.io import BytesReader, LocalReader
from rumi_xarray.spec import SAMPLE_TYPES

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DATA = np.random.default_rng(0).integers(0, 60000, (2, 40, 50), dtype=np.uint16)


def _write(path: Path, **options: object) -> bytes:
    to_rumi(DATA, path, tile=32, time=["2024-01-01"], **options)  # type: ignore[arg-type]
    return path.read_bytes()


def _flip_payload(data: bytes, k: int) -> tuple[bytes, tuple[int, int]]:
    """Flip one stored byte of frame k's payload (past its header, before its checksums)."""
    offset, length = parse_bytes(data).frame_range(k)
    out = bytearray(data)
    out[offset + length // 2] ^= 0x10
    return bytes(out), (offset, offset + length)


@pytest.fixture
def stored(tmp_path: Path) -> tuple[bytes, tuple[int, int]]:
    """A file whose frame 1 has a flipped byte that only its checksum notices."""
    data = _write(tmp_path / "a.rumi", compression={"graph": "store"})
    return _flip_payload(data, 1)


def test_verify_catches_a_flipped_byte(stored: tuple[bytes, tuple[int, int]]) -> None:
    data, (start, end) = stored
    ds = xr.open_dataset(data, engine="rumi", verify=True)
    with pytest.raises(
        RumiFormatError, match=rf"^frame 1 \(bytes {start}\.\.{end}\): .*checksum mismatch"
    ):
        ds.load()
    # frames the window does not touch are not checked
    np.testing.assert_array_equal(ds.band_data.isel(band=0, y=slice(0, 32)).values,
                                  DATA[0, :32])  # fmt: skip


def test_verify_is_off_by_default(
    stored: tuple[bytes, tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As rumi-eo: without verification the flipped byte reads back as a wrong pixel."""
    monkeypatch.delenv("RUMI_VERIFY", raising=False)
    values = xr.open_dataset(stored[0], engine="rumi").band_data.values
    assert (values != DATA).sum() == 1


@pytest.mark.parametrize("value", ["1", "true", "on", "yes"])
def test_rumi_verify_turns_it_on(
    stored: tuple[bytes, tuple[int, int]], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RUMI_VERIFY", value)
    with pytest.raises(RumiFormatError, match=r"^frame 1 .*checksum mismatch"):
        open_rumi(stored[0]).load()
    values = open_rumi(stored[0], verify=False).band_data.values  # the argument wins
    assert (values != DATA).sum() == 1


@pytest.mark.parametrize("value", ["0", "false", "off", "no", ""])
def test_rumi_verify_off(
    stored: tuple[bytes, tuple[int, int]], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RUMI_VERIFY", value)
    assert (open_rumi(stored[0]).band_data.values != DATA).sum() == 1
    with pytest.raises(RumiFormatError, match="checksum mismatch"):
        open_rumi(stored[0], verify=True).load()


@pytest.mark.parametrize("value", ["2", "enable", "y", "TRUE", "On", " yes"])
def test_rumi_verify_bad_value(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """As rumi-eo 0.26.1 (checked against it): lower case only, nothing around it."""
    monkeypatch.setenv("RUMI_VERIFY", value)
    message = "RUMI_VERIFY must be 0, 1, false, true, off, on, no, or yes; got"
    with pytest.raises(ValueError, match=message):
        resolve_verify(None)
    with pytest.raises(ValueError, match=message):
        xr.open_dataset(DATA.tobytes(), engine="rumi")
    assert resolve_verify(True) is True


def test_verify_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="verify must be a bool or None"):
        resolve_verify("yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("compression", [None, {"graph": "zstd"}])
def test_verified_read_equals_plain_read(tmp_path: Path, compression: object) -> None:
    data = _write(tmp_path / "a.rumi", compression=compression)
    for verify in (False, True):
        np.testing.assert_array_equal(
            xr.open_dataset(data, engine="rumi", verify=verify).band_data.values, DATA
        )


def test_geozl_frame_with_a_flipped_byte(tmp_path: Path) -> None:
    """geozl frames: the checksum (or OpenZL itself) names the frame either way."""
    data, (start, end) = _flip_payload(_write(tmp_path / "a.rumi"), 2)
    with pytest.raises(RumiFormatError, match=rf"^frame 2 \(bytes {start}\.\.{end}\): "):
        xr.open_dataset(data, engine="rumi", verify=True).load()


def test_dask_read_with_verify(stored: tuple[bytes, tuple[int, int]], tmp_path: Path) -> None:
    (tmp_path / "b.rumi").write_bytes(stored[0])
    ds = xr.open_dataset(tmp_path / "b.rumi", engine="rumi", verify=True, chunks={})
    np.testing.assert_array_equal(ds.band_data.isel(x=slice(32, 50)).values[0],
                                  DATA[0, :, 32:])  # fmt: skip
    with pytest.raises(RumiFormatError, match=r"^frame 1 "):
        ds.band_data.values  # noqa: B018


# ---------------------------------------------------------------------------- widths


@pytest.mark.parametrize(
    ("name", "widths"),
    [
        ("uint8", {1}),
        ("bool", {1}),
        ("int16", {2}),
        ("float32", {4}),
        ("uint64", {8}),
        ("complex32", {4, 2}),
        ("complex64", {8, 4}),
        ("complex128", {8}),
    ],
)
def test_frame_widths(name: str, widths: set[int]) -> None:
    (sample,) = [s for s in SAMPLE_TYPES.values() if s.name == name]
    assert frame_widths(sample) == widths


def test_widths_are_learnt_once_per_skeleton(tmp_path: Path) -> None:
    """The first frame of a skeleton is decoded with the width-reporting decoder; the
    others of the same skeleton only have their header parsed."""
    data = _write(tmp_path / "a.rumi")
    desc = parse_bytes(data)
    keys = set()
    for k in range(desc.grid.frame_count):
        offset, length = desc.frame_range(k)
        keys.add(_header.skeleton(data[offset : offset + length]))
    np.testing.assert_array_equal(open_rumi(data).band_data.values, DATA)
    assert None not in keys
    assert {_header.known_width(key) for key in keys} == {2}


# ---------------------------------------------------------------------------------------
# Windows and coalesced reads

# Every frame unit with band and time counts it fits (FORMAT §5).
UNITS = [(0, 1, 1), (0, 3, 2), (1, 3, 1), (1, 1, 2), (2, 3, 1), (2, 1, 2)]
UNITS += [(unit, 3, 2) for unit in range(3, 10)]
KEYS = [
    (slice(None), slice(None), slice(None), slice(None)),
    (0, slice(None), slice(3, 17, 2), np.array([20, 0, 8, 8, -1])),
    (np.array([1, 0]), np.array([2, 0]), np.array([18, 0, 9]), 5),
    (-1, 0, slice(None, None, -3), slice(7, 15)),
    (slice(0, 1), slice(1, 3), slice(8, 9), slice(0, 0)),
]


def _outer(image: np.ndarray, key: tuple) -> np.ndarray:
    """NumPy's take along each axis in turn: outer indexing, integers drop their axis."""
    for axis in reversed(range(4)):
        k = key[axis]
        image = image[(slice(None),) * axis + (k,)] if isinstance(k, slice) else image.take(k, axis)
    return image


@pytest.mark.parametrize(("unit", "bands", "times"), UNITS)
def test_read_window_is_outer_indexing(unit: int, bands: int, times: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(unit)
    image = rng.integers(0, 60000, (times, bands, 19, 21), dtype=np.uint16)
    days = [f"2024-01-0{i + 1}" for i in range(times)]
    to_rumi(image, tmp_path / "w.rumi", tile=8, frames=unit, time=days)
    data = (tmp_path / "w.rumi").read_bytes()
    desc = parse_bytes(data)
    for given in KEYS:
        key = tuple(_fit(k, n) for k, n in zip(given, image.shape, strict=True))
        np.testing.assert_array_equal(read_window(desc, BytesReader(data), key), _outer(image, key))


def _fit(key: object, n: int) -> object:
    """A key for an axis of length ``n``: positive indices wrapped, -1 and slices kept."""
    if isinstance(key, slice):
        return key
    fitted = np.where(np.asarray(key) < 0, key, np.asarray(key) % n)
    return int(fitted) if isinstance(key, int) else fitted


def test_coalesce_merges_close_ranges_up_to_the_longest_read() -> None:
    ranges = [(0, 10), (12, 5), (100, 4), (104, 50), (154, 10)]
    assert coalesce(ranges, 2, 60) == [((0, 17), [0, 1]), ((100, 54), [2, 3]), ((154, 10), [4])]
    assert coalesce(ranges, 0, 1 << 20) == [((0, 10), [0]), ((12, 5), [1]), ((100, 64), [2, 3, 4])]
    assert coalesce([(0, 8), (2, 3)], 0, 100) == [((0, 8), [0, 1])]  # nested: the outer end
    assert coalesce([], 1, 1) == []


def test_read_jobs_fills_windows_of_several_files_in_one_batch(tmp_path: Path) -> None:
    images = [DATA + i for i in range(3)]
    descs, readers = [], []
    for i, image in enumerate(images):
        to_rumi(image, tmp_path / f"{i}.rumi", tile=16, time=["2024-01-01"])
        data = (tmp_path / f"{i}.rumi").read_bytes()
        descs.append(parse_bytes(data))
        readers.append(BytesReader(data))
    keys = [
        (0, slice(None), slice(None), slice(None)),
        (0, slice(1, 2), slice(5, 37), np.array([49, 3, 3])),
        (0, slice(0, 0), slice(None), slice(None)),
    ]
    jobs = []
    for desc, reader, key in zip(descs, readers, keys, strict=True):
        plan = plan_window(desc, key)
        jobs.append(Job(desc, reader, plan.frames, np.empty(plan.shape, desc.dtype), plan.sliced))
    read_jobs(jobs)
    for job, image, key in zip(jobs, images, keys, strict=True):
        np.testing.assert_array_equal(job.out[0], _outer(image[np.newaxis], key))


def test_plan_window_covers_each_output_position_once(tmp_path: Path) -> None:
    to_rumi(DATA, tmp_path / "a.rumi", tile=16, time=["2024-01-01"])
    desc = parse_bytes((tmp_path / "a.rumi").read_bytes())
    key = (0, np.array([1, 0, 1]), slice(3, 40, 5), np.array([49, 0, 17, 16, 15]))
    plan = plan_window(desc, key)
    assert plan.shape == (1, 3, 8, 5)
    assert not plan.sliced
    assert plan.drop == (0,)
    covered = np.zeros(plan.shape, int)
    for out_sel, _ in plan.frames.values():
        covered[np.ix_(*(np.arange(n)[s] for s, n in zip(out_sel, plan.shape, strict=True)))] += 1
    np.testing.assert_array_equal(covered, 1)
    assert len(plan.frames) == 2 * 3 * 3  # bands 0 and 1; tile rows 0..2; tile columns 0, 1, 3


def test_frames_are_balanced_over_the_decoding_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads (the caller and one pool thread) decode halves of equal decoded size."""
    image = np.random.default_rng(1).integers(0, 60000, (8, 256, 256), dtype=np.uint16)
    to_rumi(image, tmp_path / "a.rumi", tile=128, time=["2024-01-01"])  # 32 frames of 32 KiB
    data = (tmp_path / "a.rumi").read_bytes()
    with ThreadPoolExecutor(1) as pool, ThreadPoolExecutor(2) as reading:
        monkeypatch.setattr(decode, "_POOLS", (os.getpid(), 2, pool, reading))
        monkeypatch.setattr(decode, "_MIN_SHARE", 1)
        seen: list[tuple[int, int]] = []
        real = decode.decompress_into

        def spy(frame: object, out: np.ndarray, **kwargs: object) -> None:
            seen.append((threading.get_ident(), out.nbytes))
            real(frame, out, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(decode, "decompress_into", spy)
        got = read_window(
            parse_bytes(data), BytesReader(data), (0, slice(None), slice(None), slice(None))
        )
    np.testing.assert_array_equal(got, image)
    per_thread: dict[int, int] = {}
    for ident, nbytes in seen:
        per_thread[ident] = per_thread.get(ident, 0) + nbytes
    assert threading.get_ident() in per_thread
    assert sorted(per_thread.values()) == [16 * 32768, 16 * 32768]


# ---------------------------------------------------------------------------------------
# Reading ahead: with a core to spare, a local file's next run is read (and its frames'
# element widths checked) on a reading thread while the decoder decodes the current one


@pytest.fixture
def reading_ahead(monkeypatch: pytest.MonkeyPatch, no_frame_cache: None) -> Iterator[None]:
    """One decoding thread and a reading pool (a machine with a spare core); 4 KiB runs;
    no frame cache."""
    with ThreadPoolExecutor(1) as decoding, ThreadPoolExecutor(1, "test-read") as reading:
        monkeypatch.setattr(decode, "_POOLS", (os.getpid(), 1, decoding, reading))
        monkeypatch.setattr(LocalReader, "max_run", 4096)
        yield
        assert reading._work_queue.empty()  # nothing left writing into a scratch buffer


def _stored_file(path: Path, dtype: str = "uint16") -> np.ndarray:
    """4 bands of 128² in 64² tiles, stored (frames of 8 KiB: one frame a run)."""
    image = np.random.default_rng(5).integers(0, 250, (4, 128, 128)).astype(dtype)
    to_rumi(image, path, tile=64, time=["2024-01-01"], compression={"graph": "store"})
    return image


def test_local_runs_are_read_ahead_with_their_widths_checked(
    tmp_path: Path, reading_ahead: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = _stored_file(tmp_path / "a.rumi")
    reader = LocalReader(tmp_path / "a.rumi")
    desc = read_description(reader)
    readers: list[str] = []
    widths: list[object] = []
    read_into, decompress = LocalReader.read_into, decode.decompress_into

    def spy_read(self: LocalReader, *args: Any) -> Any:
        readers.append(threading.current_thread().name)
        return read_into(self, *args)

    def spy_decode(frame: object, out: np.ndarray, **kwargs: object) -> None:
        widths.append(kwargs["widths"])
        decompress(frame, out, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalReader, "read_into", spy_read)
    monkeypatch.setattr(decode, "decompress_into", spy_decode)
    for _ in range(2):
        got = read_window(desc, reader, (0, slice(None), slice(None), slice(None)))
        np.testing.assert_array_equal(got, image)
    assert len(readers) == 2 * 16 and readers.count(threading.current_thread().name) == 2
    assert all(name.startswith("test-read") for name in readers[1:16])
    assert widths[16] is not None  # the first run of a read: checked by its decoder
    assert widths[17:].count(None) == 15  # the width known: checked by the reading thread


def test_a_bad_frame_read_ahead_still_raises_its_own_error(
    tmp_path: Path, reading_ahead: None
) -> None:
    from _hostile import replace_frame

    from rumi_codec import compress

    path = tmp_path / "a.rumi"
    image = _stored_file(path, "uint8")
    wide = compress(np.zeros(64 * 64 // 2, np.uint16), recipe=None, graph="store")
    for _ in range(2):  # the second time the wrong width is known from the skeleton
        path.write_bytes(replace_frame(path.read_bytes(), 9, wide))
        reader = LocalReader(path)
        desc = read_description(reader)
        with pytest.raises(RumiFormatError, match=r"^frame 9 .*element width is 2 bytes"):
            read_window(desc, reader, (0, slice(None), slice(None), slice(None)))
        got = read_window(desc, reader, (0, slice(None), slice(0, 64), slice(None)))
        np.testing.assert_array_equal(got, image[:, :64])  # frames 0..7, before frame 9

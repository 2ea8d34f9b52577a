"""Read benchmark: rumi-xarray against rumi-eo and against raw geozl decoding.

Run from the repository root::

    uv run python benchmarks/read.py            # full run (well under 2 minutes on 2 cores)
    uv run python benchmarks/read.py --quick    # fewer repetitions and chips

It writes (once, cached in ``benchmarks/_data/``) a deterministic 12-band 2048x2048
uint16 image with rumi-eo, tile 512, one band per frame, geozl ``planar>zigzag>zstd``.
rumi-eo is GPL and pins an older geozl/openzl: it is never imported here, only run in
its own isolated environment through ``benchmarks/_oracle.py``, which times its reads
itself and prints them as JSON.

Measured, with a warm page cache, as the best and the median of several repetitions:

* rumi-eo full read (its default thread count), and window reads of random chips;
* ours: ``xr.open_dataset(path, engine="rumi").band_data.load()`` (open included), the
  open alone, and the same chips through ``.isel(y=..., x=...)`` on an opened dataset;
* raw decode of every frame with ``geozl.decompress`` alone, on ``os.cpu_count()``
  threads (the same pool size as ours) and on one thread: the limit for any reader.

Our full read and a few chips are checked bit-for-bit against rumi-eo's. The ratios
are printed with PASS/FAIL against their targets; the exit code is always 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geozl
import numpy as np
import xarray as xr

from rumi_xarray.format import parse_bytes

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
ORACLE = HERE / "_oracle.py"
RUMI_EO = "rumi-eo==0.26.1"

# The image and the file: any change here makes a new cached file.
PARAMS: dict[str, Any] = {
    "generator": 2,  # bump when make_image changes
    "seed": 20240715,
    "shape": [12, 2048, 2048],
    "tile": 512,
    "recipe": "planar>zigzag>zstd",
    "pattern": "b (row h) (col w) -> row col b (h w)",
    "bands": [
        "B01, Coastal aerosol, 443nm",
        "B02, Blue, 490nm",
        "B03, Green, 560nm",
        "B04, Red, 665nm",
        "B05, Red edge 1, 705nm",
        "B06, Red edge 2, 740nm",
        "B07, Red edge 3, 783nm",
        "B08, NIR, 842nm",
        "B8A, Narrow NIR, 865nm",
        "B09, Water vapour, 945nm",
        "B11, SWIR 1, 1610nm",
        "B12, SWIR 2, 2190nm",
    ],
    "time": "2024-07-15T10:05:59",
    "transform": [10.0, 0.0, 399960.0, 0.0, -10.0, 5300040.0],
    "crs": "EPSG:32633",
}

CHIP = 256
CHIP_SEED = 7
CHECK_CHIPS = 5

# Targets: full-read throughput ours/rumi-eo, ours/raw decode; chip latency ours/rumi-eo.
TARGET_VS_RUMI = 0.9
TARGET_VS_RAW = 0.85
TARGET_CHIP = 3.0


@dataclass(frozen=True)
class Settings:
    repeats: int
    chips: int
    chip_repeats: int
    warmup_chips: int


FULL = Settings(repeats=7, chips=200, chip_repeats=3, warmup_chips=20)
QUICK = Settings(repeats=3, chips=50, chip_repeats=2, warmup_chips=10)


# --------------------------------------------------------------------------- the data


def _fractal(rng: np.random.Generator, n: int, beta: float) -> np.ndarray:
    """A smooth random field with a ``1/k**beta`` power spectrum, scaled to 0..1."""
    spectrum = np.fft.rfft2(rng.standard_normal((n, n)))
    k = np.hypot(np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :])
    k[0, 0] = 1.0
    spectrum *= k ** (-beta / 2)
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=(n, n)).astype(np.float32)
    return (field - field.min()) / (field.max() - field.min())


def make_image(seed: int, shape: list[int]) -> np.ndarray:
    """Sentinel-2-like reflectances (0..10000): terrain, water, vegetation, noise."""
    bands, n, _ = shape
    rng = np.random.default_rng(seed)
    elevation = _fractal(rng, n, 3.2)
    greenness = _fractal(rng, n, 2.6)
    detail = _fractal(rng, n, 1.8)  # fields, hedges, clearings
    water = np.clip((0.3 - elevation) / 0.03, 0.0, 1.0)  # low ground is water
    vegetation = np.clip(1.6 * greenness - 0.5 + 0.4 * detail, 0.0, 1.0) * (1.0 - water)
    soil = 1.0 - water - vegetation
    gy, gx = np.gradient(elevation * 4000.0)  # hillshade from the north-west
    shade = np.clip(1.0 + 0.5 * (gy - gx) / 10.0, 0.6, 1.4).astype(np.float32)
    # Reflectance x 10000 of each cover type in each band (B01..B12).
    veg = [300, 400, 700, 400, 1200, 3000, 3600, 3800, 3900, 1200, 2000, 1000]
    dry = [1000, 1200, 1500, 1900, 2100, 2300, 2400, 2500, 2600, 900, 3000, 2600]
    wet = [600, 500, 400, 250, 200, 150, 120, 100, 90, 50, 30, 20]
    image = np.empty((bands, n, n), np.uint16)
    for b in range(bands):
        signal = (vegetation * veg[b] + soil * dry[b]) * shade + water * wet[b]
        noise = rng.standard_normal((n, n), dtype=np.float32) * (5.0 + 0.008 * signal)  # sensor noise, ~1%
        image[b] = np.clip(np.rint(signal + noise), 0, 10000)
    return image


def oracle(command: str, config: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``_oracle.py`` in rumi-eo's isolated environment; return its JSON answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=DATA, delete=False) as f:
        json.dump(config, f)
    env = {k: v for k, v in (env or os.environ).items() if k != "VIRTUAL_ENV"}
    uv = os.environ.get("UV", "uv")
    cmd = [uv, "run", "--quiet", "--isolated", "--no-project", "--with", RUMI_EO, "--with", "numpy"]
    try:
        done = subprocess.run(
            [*cmd, "python", str(ORACLE), command, f.name],
            check=True, capture_output=True, text=True, env=env,
        )
    except subprocess.CalledProcessError as exc:
        sys.exit(f"rumi-eo {command} failed:\n{exc.stderr}")
    finally:
        os.unlink(f.name)
    return json.loads(done.stdout.strip().splitlines()[-1])


def dataset_files() -> tuple[Path, Path, Path]:
    """The cached image, rumi file and header blob, made first when missing."""
    DATA.mkdir(exist_ok=True)
    key = hashlib.sha256(json.dumps(PARAMS, sort_keys=True).encode()).hexdigest()[:12]
    image, path, header = (DATA / f"s2like-{key}{ext}" for ext in (".npy", ".rumi", ".header"))
    if not image.exists():
        t0 = time.perf_counter()
        tmp = image.with_suffix(".tmp.npy")
        np.save(tmp, make_image(PARAMS["seed"], PARAMS["shape"]))
        tmp.replace(image)
        print(f"made image {image.name} in {time.perf_counter() - t0:.1f} s")
    if not (path.exists() and header.exists()):
        t0 = time.perf_counter()
        cfg = {**PARAMS, "image": str(image), "path": str(path), "header": str(header)}
        info = oracle("write", cfg)
        print(f"wrote {path.name} with rumi-eo ({info['frames']} frames) in {time.perf_counter() - t0:.1f} s")
    return image, path, header


# --------------------------------------------------------------------------- timing


def repeat(fn: Callable[[], object], n: int, *, warm_up: bool = True) -> list[float]:
    """Seconds per call of ``fn``, ``n`` times, after one untimed warm-up call."""
    if warm_up:
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def ours_full(path: Path) -> np.ndarray:
    with xr.open_dataset(path, engine="rumi") as ds:
        return ds.band_data.load().values


def ours_open(path: Path) -> None:
    xr.open_dataset(path, engine="rumi").close()


def ours_chips(ds: xr.Dataset, chips: list[tuple[int, int]]) -> list[np.ndarray]:
    data = ds.band_data
    return [data.isel(y=slice(y, y + CHIP), x=slice(x, x + CHIP)).values for y, x in chips]


def frames_of(path: Path) -> list[memoryview]:
    """Every frame's bytes, sliced from the file held in memory."""
    data = path.read_bytes()
    desc = parse_bytes(data)
    view = memoryview(data)
    return [view[o : o + n] for o, n in map(desc.frame_range, range(desc.frame_count))]


def decode(frame: memoryview) -> np.ndarray:
    return geozl.decompress(frame, verify=False)


# --------------------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and chips")
    settings = QUICK if parser.parse_args().quick else FULL
    started = time.perf_counter()
    workers = os.cpu_count() or 1

    image_path, path, header = dataset_files()
    source = np.load(image_path, mmap_mode="r")
    decoded_mb = source.nbytes / 1e6
    rng = np.random.default_rng(CHIP_SEED)
    _, length, width = source.shape
    chips = [
        (int(y), int(x))
        for y, x in zip(
            rng.integers(0, length - CHIP + 1, settings.chips),
            rng.integers(0, width - CHIP + 1, settings.chips),
            strict=True,
        )
    ]

    # rumi-eo, timed inside its own process (run first: nothing else competes for the CPU).
    eo_full, eo_chips = DATA / "rumi-eo-full.npy", DATA / "rumi-eo-chips.npz"
    eo = oracle("read", {
        "path": str(path), "header": str(header), "threads": None,
        "repeats": settings.repeats, "chip": CHIP, "chips": chips,
        "warmup_chips": max(settings.warmup_chips, CHECK_CHIPS), "check_chips": CHECK_CHIPS,
        "chip_repeats": settings.chip_repeats,
        "full_out": str(eo_full), "chips_out": str(eo_chips),
    })

    # Ours.
    full_t = repeat(lambda: ours_full(path), settings.repeats)
    open_t = repeat(lambda: ours_open(path), settings.repeats)
    with xr.open_dataset(path, engine="rumi") as ds:
        check = ours_chips(ds, chips[: max(settings.warmup_chips, CHECK_CHIPS)])  # warm-up
        passes = repeat(lambda: ours_chips(ds, chips), settings.chip_repeats, warm_up=False)
        chip_t = [t / len(chips) for t in passes]

    # Raw decode, the same pool size as ours, and one thread.
    frames = frames_of(path)
    with ThreadPoolExecutor(workers) as pool:
        raw_t = repeat(lambda: list(pool.map(decode, frames)), settings.repeats)
    raw1_t = repeat(lambda: [decode(f) for f in frames], max(2, settings.repeats // 2))

    # Bit-for-bit checks.
    ours = ours_full(path)
    theirs = np.load(eo_full)
    full_ok = ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
    source_ok = np.array_equal(ours, source)
    with np.load(eo_chips) as kept:
        chips_ok = all(
            np.array_equal(check[i], kept[f"chip{i}"])
            and np.array_equal(check[i], source[:, y : y + CHIP, x : x + CHIP])
            for i, (y, x) in enumerate(chips[:CHECK_CHIPS])
        )

    # Table.
    n_frames = len(frames)
    print()
    print(f"rumi-xarray read benchmark{' (--quick)' if settings is QUICK else ''}")
    print(f"  file     : {path.name}, {path.stat().st_size / 1e6:.1f} MB compressed, "
          f"{decoded_mb:.1f} MB decoded ({decoded_mb / (path.stat().st_size / 1e6):.2f}x), "
          f"{n_frames} frames of 512x512 uint16")
    print(f"  image    : {tuple(source.shape)} uint16, tile {PARAMS['tile']}, "
          f"{PARAMS['recipe']}, one band per frame")
    print(f"  rumi-eo  : {eo['version']} (geozl {eo['geozl']}), default threads = {eo['threads']}, "
          f"checksum verification {'on' if eo['verify'] else 'off'}")
    print(f"  ours     : geozl {geozl.__version__}, {workers} decode threads (os.cpu_count())")
    print(f"  repeats  : {settings.repeats} (full), {settings.chip_repeats} x {len(chips)} chips "
          f"of {CHIP}x{CHIP}x{source.shape[0]}; page cache warm")
    print()
    rows = [
        ("rumi-eo full read", eo["full_s"], True),
        ("ours open + band_data.load()", full_t, True),
        ("ours open only", open_t, False),
        (f"raw geozl decode, {workers} threads", raw_t, True),
        ("raw geozl decode, 1 thread", raw1_t, True),
    ]
    print(f"  {'full read':<36}{'best ms':>10}{'median ms':>11}{'MB/s':>9}")
    for name, times, rate in rows:
        best = min(times)
        mbs = f"{decoded_mb / best:9.0f}" if rate else f"{'':>9}"
        print(f"  {name:<36}{best * 1e3:10.1f}{statistics.median(times) * 1e3:11.1f}{mbs}")
    print()
    print(f"  {'chip read (mean per chip)':<36}{'best ms':>10}{'median ms':>11}")
    for name, times in [("rumi-eo rumi.read(window=...)", eo["chip_s"]), ("ours .isel(y=, x=).values", chip_t)]:
        print(f"  {name:<36}{min(times) * 1e3:10.2f}{statistics.median(times) * 1e3:11.2f}")
    print()
    print("  checks")
    print(f"    full read == rumi-eo (bit for bit)          {_ok(full_ok)}")
    print(f"    full read == source image                   {_ok(source_ok)}")
    print(f"    first {CHECK_CHIPS} chips == rumi-eo and source         {_ok(chips_ok)}")
    print()
    ratios = [
        ("full-read throughput ours / rumi-eo", min(eo["full_s"]) / min(full_t), ">=", TARGET_VS_RUMI),
        ("full-read throughput ours / raw decode", min(raw_t) / min(full_t), ">=", TARGET_VS_RAW),
        ("chip latency ours / rumi-eo", min(chip_t) / min(eo["chip_s"]), "<=", TARGET_CHIP),
    ]
    print(f"  {'ratio':<42}{'value':>7}  target")
    for name, value, op, target in ratios:
        passed = value >= target if op == ">=" else value <= target
        print(f"  {name:<42}{value:7.2f}  {op} {target:<5} {'PASS' if passed else 'FAIL'}")
    print(f"\n  total {time.perf_counter() - started:.0f} s")


def _ok(flag: bool) -> str:
    return "OK" if flag else "MISMATCH"


if __name__ == "__main__":
    main()

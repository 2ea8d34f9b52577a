"""Read benchmark: rumi-xarray against rumi-eo and against raw geozl decoding.

Run from the repository root::

    uv run python benchmarks/read.py            # full run (about a minute on 2 cores)
    uv run python benchmarks/read.py --quick    # fewer repetitions and chips

It writes (once, cached in ``benchmarks/_data/``) a deterministic Sentinel-2-like
12-band 2048x2048 uint16 image with rumi-eo: tile 512, one band per frame, geozl
``planar>zigzag>zstd``. rumi-eo is GPL and pins an older geozl/openzl, so it is never
imported here: it runs in its own isolated environment (``benchmarks/_oracle.py``),
times its own reads and answers in JSON lines.

Measured with a warm page cache, after warm-ups, in alternating rounds (so that load
from other processes hits every contender alike), reporting the best and the median:

* rumi-eo full read with its default thread count (and, for information, with
  ``os.cpu_count()`` threads), and its window reads of random 256x256 chips;
* ours: ``xr.open_dataset(path, engine="rumi").band_data.load()`` (open included), the
  open alone, and the same chips through ``.isel(y=..., x=...)`` on an opened dataset;
* raw decode of every frame with ``geozl.decompress`` alone, on ``os.cpu_count()``
  threads (the size of our decoding pool) and on one thread: the limit for any reader.

Our full read and a few chips are checked bit-for-bit against rumi-eo's. The ratios
(of the best times) are printed with PASS/FAIL against their targets; the exit code
is always 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geozl
import numpy as np
import xarray as xr

from rumi_xarray import set_frame_cache
from rumi_xarray.format import parse_bytes

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
ORACLE = HERE / "_oracle.py"
RUMI_EO = "rumi-eo==0.26.1"
WORKERS = os.cpu_count() or 1

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
    rounds: int
    """Rounds of full reads; each times every contender ``per_round`` times."""
    per_round: int
    chips: int
    chip_rounds: int
    """Passes over all chips, per contender."""
    warmup_chips: int


FULL = Settings(rounds=6, per_round=2, chips=200, chip_rounds=3, warmup_chips=20)
QUICK = Settings(rounds=3, per_round=1, chips=50, chip_rounds=2, warmup_chips=10)


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
    gy, gx = np.gradient(elevation * 4000.0)  # hillshade, lit from the north-west
    shade = np.clip(1.0 + 0.5 * (gy - gx) / 10.0, 0.6, 1.4).astype(np.float32)
    # Reflectance x 10000 of each cover type in each band (B01..B12).
    veg = [300, 400, 700, 400, 1200, 3000, 3600, 3800, 3900, 1200, 2000, 1000]
    dry = [1000, 1200, 1500, 1900, 2100, 2300, 2400, 2500, 2600, 900, 3000, 2600]
    wet = [600, 500, 400, 250, 200, 150, 120, 100, 90, 50, 30, 20]
    image = np.empty((bands, n, n), np.uint16)
    for b in range(bands):
        signal = (vegetation * veg[b] + soil * dry[b]) * shade + water * wet[b]
        sigma = 5.0 + 0.008 * signal  # sensor noise, about 1%
        image[b] = np.clip(
            np.rint(signal + rng.standard_normal((n, n), np.float32) * sigma), 0, 10000
        )
    return image


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
        print(f"made {image.name} in {time.perf_counter() - t0:.1f} s")
    if not (path.exists() and header.exists()):
        t0 = time.perf_counter()
        with Oracle(
            "write", {**PARAMS, "image": str(image), "path": str(path), "header": str(header)}
        ) as eo:
            frames = eo.info["frames"]
        print(
            f"wrote {path.name} with rumi-eo ({frames} frames) in {time.perf_counter() - t0:.1f} s"
        )
    return image, path, header


# --------------------------------------------------------------------------- rumi-eo


class Oracle:
    """``_oracle.py`` running in rumi-eo's isolated environment; ``info`` is its first answer."""

    def __init__(self, command: str, config: dict[str, Any]) -> None:
        self.config = DATA / f"oracle-{os.getpid()}-{id(self)}.json"
        self.config.write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        uv = os.environ.get("UV", "uv")
        self.proc = subprocess.Popen(
            [uv, "run", "--quiet", "--isolated", "--no-project", "--with", RUMI_EO,
             "--with", "numpy", "python", str(ORACLE), command, str(self.config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        self.info = self._answer()

    def _answer(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"rumi-eo ({ORACLE.name}) stopped with code {self.proc.wait()}")
        return json.loads(line)

    def ask(self, request: str) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # the server stops at the end of its input
        self.proc.wait(timeout=60)
        self.config.unlink(missing_ok=True)


# --------------------------------------------------------------------------- ours and raw


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Seconds of each of ``n`` calls of ``fn``."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def ours_full(path: Path, verify: bool = False) -> np.ndarray:
    with xr.open_dataset(path, engine="rumi", verify=verify) as ds:
        return ds.band_data.load().values


def ours_open(path: Path) -> None:
    xr.open_dataset(path, engine="rumi").close()


def ours_chips(ds: xr.Dataset, chips: list[tuple[int, int]]) -> list[np.ndarray]:
    data = ds.band_data
    return [data.isel(y=slice(y, y + CHIP), x=slice(x, x + CHIP)).values for y, x in chips]


def frames_of(path: Path) -> list[memoryview]:
    """Every frame's bytes, sliced from the whole file held in memory."""
    data = path.read_bytes()
    desc = parse_bytes(data)
    view = memoryview(data)
    return [view[o : o + n] for o, n in map(desc.frame_range, range(desc.frame_count))]


def decode(frame: memoryview) -> np.ndarray:
    return geozl.decompress(frame, verify=False)


def decode_image(frames: list[memoryview], pool: ThreadPoolExecutor) -> np.ndarray:
    """Raw decode plus the copy of each tile into one image (frames in row, col, band order)."""
    bands, length, width = PARAMS["shape"]
    tile = PARAMS["tile"]
    across = -(-width // tile)
    image = np.empty((bands, length, width), np.uint16)

    def one(k: int) -> None:
        row, col, band = k // (across * bands), k // bands % across, k % bands
        region = image[band, row * tile : (row + 1) * tile, col * tile : (col + 1) * tile]
        region[...] = decode(frames[k]).view(np.uint16).reshape(region.shape)

    list(pool.map(one, range(len(frames))))
    return image


# --------------------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and chips")
    settings = QUICK if parser.parse_args().quick else FULL
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    set_frame_cache(0)  # every read here decodes, as rumi-eo's and GDAL's with no cache do

    image_path, path, header = dataset_files()
    source = np.load(image_path, mmap_mode="r")
    decoded_mb = source.nbytes / 1e6
    _, length, width = source.shape
    rng = np.random.default_rng(CHIP_SEED)
    ys = rng.integers(0, length - CHIP + 1, settings.chips)
    xs = rng.integers(0, width - CHIP + 1, settings.chips)
    chips = [(int(y), int(x)) for y, x in zip(ys, xs, strict=True)]

    eo_full, eo_chips = DATA / "rumi-eo-full.npy", DATA / "rumi-eo-chips.npz"
    common = {"path": str(path), "header": str(header), "chip": CHIP, "chips": chips,
              "warmup_chips": max(settings.warmup_chips, CHECK_CHIPS), "check_chips": CHECK_CHIPS}  # fmt: skip
    frames = frames_of(path)
    samples: dict[str, list[float]] = {}

    def add(name: str, times: list[float] | float) -> None:
        samples.setdefault(name, []).extend(times if isinstance(times, list) else [times])

    with (
        Oracle(
            "serve",
            {**common, "threads": None, "full_out": str(eo_full), "chips_out": str(eo_chips)},
        ) as eo,
        Oracle("serve", {**common, "threads": WORKERS}) as eo_n,
        ThreadPoolExecutor(WORKERS) as pool,
        xr.open_dataset(path, engine="rumi") as ds,
    ):
        # Warm-ups (the page cache, our decoding pool, geozl's contexts).
        ours = ours_full(path)
        check = ours_chips(ds, chips[: max(settings.warmup_chips, CHECK_CHIPS)])
        for f in frames:
            decode(f)

        n = settings.per_round
        for _ in range(settings.rounds):
            add("eo", eo.ask(f"full {n}"))
            add("eo_n", eo_n.ask(f"full {n}"))
            add("ours", timed(lambda: ours_full(path), n))
            add("ours_verify", timed(lambda: ours_full(path, verify=True), n))
            add("open", timed(lambda: ours_open(path), n))
            add("raw", timed(lambda: list(pool.map(decode, frames)), n))
            add("raw1", timed(lambda: [decode(f) for f in frames], 1))
            add("raw_image", timed(lambda: decode_image(frames, pool), 1))
        for _ in range(settings.chip_rounds):
            add("eo_chip", eo.ask("chips"))
            add("eo_n_chip", eo_n.ask("chips"))
            add("ours_chip", timed(lambda: ours_chips(ds, chips), 1)[0] / len(chips))
        raw_image_ok = np.array_equal(decode_image(frames, pool), source)

    # Bit-for-bit checks.
    theirs = np.load(eo_full)
    full_ok = ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
    source_ok = np.array_equal(ours, source)
    with np.load(eo_chips) as kept:
        chips_ok = all(
            np.array_equal(check[i], kept[f"chip{i}"])
            and np.array_equal(check[i], source[:, y : y + CHIP, x : x + CHIP])
            for i, (y, x) in enumerate(chips[:CHECK_CHIPS])
        )

    best = {name: min(times) for name, times in samples.items()}
    compressed_mb = path.stat().st_size / 1e6
    info = eo.info
    print()
    print(f"rumi-xarray read benchmark{' (--quick)' if settings is QUICK else ''}")
    print(
        f"  file    {path.name}: {compressed_mb:.1f} MB compressed, {decoded_mb:.1f} MB "
        f"decoded ({decoded_mb / compressed_mb:.2f}x), {len(frames)} frames"
    )
    print(
        f"  image   {'x'.join(map(str, source.shape))} uint16, tile {PARAMS['tile']}, "
        f"{PARAMS['recipe']}, one band per frame"
    )
    print(
        f"  rumi-eo {info['version']} (geozl {info['geozl']}); default threads: {info['threads']}; "
        f"checksum verification {'on' if info['verify'] else 'off'}"
    )
    print(
        f"  ours    geozl {geozl.__version__}; decoding pool and raw pool: {WORKERS} threads "
        f"(os.cpu_count())"
    )
    print(
        f"  timing  {settings.rounds} rounds x {settings.per_round} full reads; "
        f"{settings.chip_rounds} passes x {len(chips)} chips of {CHIP}x{CHIP}x{source.shape[0]}; "
        "warm page cache"
    )
    print(
        f"  load    1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"({WORKERS} CPUs; other processes skew every timing)"
    )
    print()
    rows = [
        (f"rumi-eo full read, {info['threads']} thr. (default)", "eo", True),
        (f"rumi-eo full read, {eo_n.info['threads']} thr. (info)", "eo_n", True),
        ("ours open + band_data.load()", "ours", True),
        ("ours, verify=True (OpenZL checksums)", "ours_verify", True),
        ("ours open only", "open", False),
        (f"raw geozl decode, {WORKERS} thr.", "raw", True),
        ("raw geozl decode, 1 thr.", "raw1", True),
        (f"raw decode + copy into image, {WORKERS} thr. (info)", "raw_image", True),
    ]
    print(f"  {'full read':<46}{'best ms':>9}{'median ms':>11}{'MB/s':>7}")
    for label, name, rate in rows:
        mbs = f"{decoded_mb / best[name]:7.0f}" if rate else ""
        print(
            f"  {label:<46}{best[name] * 1e3:9.1f}{statistics.median(samples[name]) * 1e3:11.1f}{mbs}"
        )
    print()
    print(f"  {'256x256x12 chip, mean latency':<46}{'best ms':>9}{'median ms':>11}")
    for label, name in [
        (f"rumi-eo read(window=), {info['threads']} thr. (default)", "eo_chip"),
        (f"rumi-eo read(window=), {eo_n.info['threads']} thr. (info)", "eo_n_chip"),
        ("ours .isel(y=, x=).values", "ours_chip"),
    ]:
        print(f"  {label:<46}{best[name] * 1e3:9.2f}{statistics.median(samples[name]) * 1e3:11.2f}")
    print()
    print(f"  check: full read == rumi-eo's, bit for bit          {_ok(full_ok)}")
    print(f"  check: full read == the source image                {_ok(source_ok)}")
    print(f"  check: raw decode + copy == the source image        {_ok(raw_image_ok)}")
    print(f"  check: first {CHECK_CHIPS} chips == rumi-eo's and the source    {_ok(chips_ok)}")
    print()
    n_eo = eo_n.info["threads"]
    ratios = [
        ("full-read throughput, ours / rumi-eo", best["eo"] / best["ours"], ">=", TARGET_VS_RUMI),
        (
            "full-read throughput, ours / raw decode",
            best["raw"] / best["ours"],
            ">=",
            TARGET_VS_RAW,
        ),
        ("chip latency, ours / rumi-eo", best["ours_chip"] / best["eo_chip"], "<=", TARGET_CHIP),
        ("(info) throughput, ours / raw decode + copy", best["raw_image"] / best["ours"], "", None),
        (
            "(info) full-read time, verify=True / default",
            best["ours_verify"] / best["ours"],
            "",
            None,
        ),
        (f"(info) throughput, ours / rumi-eo {n_eo} thr.", best["eo_n"] / best["ours"], "", None),
        (
            f"(info) chip latency, ours / rumi-eo {n_eo} thr.",
            best["ours_chip"] / best["eo_n_chip"],
            "",
            None,
        ),
    ]
    print(f"  {'ratio (of best times)':<46}{'value':>7}   target")
    for label, value, op, target in ratios:
        if target is None:
            print(f"  {label:<46}{value:7.2f}")
            continue
        passed = value >= target if op == ">=" else value <= target
        print(f"  {label:<46}{value:7.2f}   {op} {target:<5} {'PASS' if passed else 'FAIL'}")
    print(f"\n  total {time.perf_counter() - started:.0f} s")


def _ok(flag: bool) -> str:
    return "OK" if flag else "MISMATCH"


if __name__ == "__main__":
    main()

"""The suite's data: one Sentinel-2-like scene as rumi and as GeoTIFF, a stack, small files.

Everything is made once and cached in ``benchmarks/_data/`` (gitignored), named by a hash
of its parameters, so a change of parameters makes new files; delete the folder to rebuild.

* The scene: a deterministic Sentinel-2-like 12-band 2048x2048 uint16 image
  (:func:`make_image`, kept as ``.npy``), written by rumi-eo (tile 512, one band per frame,
  geozl ``planar>zigzag>zstd``) with its header blob, and by GDAL as a GeoTIFF of the same
  pixels (tiled 512, one band per tile, ZSTD, predictor 2, same transform and CRS).
* The stack: 64 files of 4 bands x 512x512 uint16 cut from the scene, one date each,
  written by ``to_rumi`` (tile 512, one band per frame), with their header blobs and the
  stacked ``(64, 4, 512, 512)`` source array.
* The small files: 1,000 files of 2 bands x 64x64 uint16 cut from the scene, written by
  ``to_rumi`` (tile 64) with their header blobs, and as GeoTIFFs (tiled 64, ZSTD,
  predictor 2).
* The chips: random positions, one list shared by every chip set and every contender.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from protocol import Worker, oracle_argv, oracle_env

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"

# The scene: any change here makes new cached files.
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

STACK: dict[str, Any] = {"generator": 1, "files": 64, "bands": 4, "size": 512, "seed": 11}
SMALL: dict[str, Any] = {"generator": 1, "files": 1000, "bands": 2, "size": 64, "seed": 12}

CHIP_SETS = {"256x12": (256, 12), "64x12": (64, 12), "256x1": (256, 1)}
"""Chip sets by name: (size, bands)."""
CHIP_SEED = 7


# --------------------------------------------------------------------------- the scene


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


def _key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]


def dataset_files() -> tuple[Path, Path, Path]:
    """The cached image, rumi file and header blob, made first when missing."""
    DATA.mkdir(exist_ok=True)
    key = _key(PARAMS)
    image, path, header = (DATA / f"s2like-{key}{ext}" for ext in (".npy", ".rumi", ".header"))
    if not image.exists():
        t0 = time.perf_counter()
        tmp = image.with_suffix(".tmp.npy")
        np.save(tmp, make_image(PARAMS["seed"], PARAMS["shape"]))
        tmp.replace(image)
        print(f"made {image.name} in {time.perf_counter() - t0:.1f} s")
    if not (path.exists() and header.exists()):
        t0 = time.perf_counter()
        config = {**PARAMS, "image": str(image), "path": str(path), "header": str(header)}
        with Worker("rumi-eo write", oracle_argv("write"), config, DATA, oracle_env()) as eo:
            frames = eo.info["frames"]
        print(
            f"wrote {path.name} with rumi-eo ({frames} frames) in {time.perf_counter() - t0:.1f} s"
        )
    return image, path, header


def write_geotiff(path: Path, pixels: np.ndarray, tile: int, transform: list[float]) -> None:
    """``pixels`` (band, y, x) as a tiled GeoTIFF, one band per tile, ZSTD with predictor 2."""
    import rasterio
    from rasterio.transform import Affine

    bands, length, width = pixels.shape
    a, b, c, d, e, f = transform
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(
        tmp, "w", driver="GTiff", width=width, height=length, count=bands, dtype=pixels.dtype,
        crs=PARAMS["crs"], transform=Affine(a, b, c, d, e, f), tiled=True, blockxsize=tile,
        blockysize=tile, interleave="band", compress="ZSTD", predictor=2,
    ) as ds:  # fmt: skip
        ds.write(pixels)
    tmp.replace(path)


def geotiff(image: Path) -> Path:
    """The scene as a GeoTIFF (GDAL's ZSTD, default level), made first when missing."""
    path = image.with_suffix(".tif")
    if not path.exists():
        t0 = time.perf_counter()
        write_geotiff(path, np.load(image), PARAMS["tile"], PARAMS["transform"])
        print(f"wrote {path.name} with GDAL in {time.perf_counter() - t0:.1f} s")
    return path


def chip_sets(n: int) -> dict[str, list[list[int]]]:
    """``n`` random chips per set: the same positions in every set, a random band for 1-band."""
    _, length, width = PARAMS["shape"]
    big = max(size for size, _ in CHIP_SETS.values())
    rng = np.random.default_rng(CHIP_SEED)
    ys = rng.integers(0, length - big + 1, n)
    xs = rng.integers(0, width - big + 1, n)
    bs = rng.integers(0, PARAMS["shape"][0], n)
    sets = {}
    for name, (size, bands) in CHIP_SETS.items():
        first = bs if bands == 1 else np.zeros(n, int)
        sets[name] = [[int(y), int(x), size, int(b), int(b) + bands]
                      for y, x, b in zip(ys, xs, first, strict=True)]  # fmt: skip
    return sets


# --------------------------------------------------------------------------- many files


def _cuts(image: np.ndarray, spec: dict[str, Any]) -> list[tuple[int, int, int]]:
    """Where each file of ``spec`` is cut from the scene: (first band, row, column)."""
    rng = np.random.default_rng(spec["seed"])
    bands, length, width = image.shape
    groups = bands // spec["bands"]
    top = rng.integers(0, length - spec["size"] + 1, spec["files"])
    left = rng.integers(0, width - spec["size"] + 1, spec["files"])
    return [(i % groups * spec["bands"], int(y), int(x))
            for i, (y, x) in enumerate(zip(top, left, strict=True))]  # fmt: skip


def _write_rumi(pixels: np.ndarray, path: Path, tile: int, day: int) -> bytes:
    """One small rumi file with ``to_rumi``: same transform, CRS and band texts, its own date."""
    from rumi_xarray import to_rumi

    date = np.datetime64("2024-01-01T10:00:00") + np.timedelta64(day, "D")
    return to_rumi(
        pixels, path, tile=tile, frames="band", compression=PARAMS["recipe"],
        bands=[f"band {b}" for b in range(pixels.shape[0])], time=[str(date)],
        transform=PARAMS["transform"], crs=PARAMS["crs"], progress=False,
    )  # fmt: skip


def many_files(image_path: Path, kind: str) -> dict[str, Any]:
    """The stack (``kind="stack"``) or the small files (``"small"``), made first when missing.

    Returns the folder's ``files.json``: lists of ``rumi``, ``header`` and ``tif`` paths
    (no GeoTIFFs for the stack), and for the stack ``source``, the stacked ``.npy``.
    """
    spec = STACK if kind == "stack" else SMALL
    folder = DATA / f"{kind}-{_key({**spec, 'scene': _key(PARAMS)})}"
    listing = folder / "files.json"
    if listing.exists():
        return json.loads(listing.read_text())
    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    image = np.load(image_path, mmap_mode="r")
    size = spec["size"]
    files: dict[str, Any] = {"rumi": [], "header": [], "tif": []}
    stacked = []
    for i, (b, y, x) in enumerate(_cuts(image, spec)):
        pixels = np.ascontiguousarray(image[b : b + spec["bands"], y : y + size, x : x + size])
        path = folder / f"f{i:04d}.rumi"
        path.with_suffix(".header").write_bytes(_write_rumi(pixels, path, size, i))
        files["rumi"].append(str(path))
        files["header"].append(str(path.with_suffix(".header")))
        if kind == "small":
            write_geotiff(path.with_suffix(".tif"), pixels, size, PARAMS["transform"])
            files["tif"].append(str(path.with_suffix(".tif")))
        else:
            stacked.append(pixels)
    if kind == "stack":
        files["source"] = str(folder / "source.npy")
        np.save(files["source"], np.stack(stacked))
    listing.write_text(json.dumps(files))  # last: a listing means a complete folder
    print(f"wrote {spec['files']} {kind} files in {time.perf_counter() - t0:.1f} s")
    return files

"""A synthetic, realistic-looking multispectral scene for demos, notebooks and benchmarks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

BANDS = (
    "B02, Blue, 490nm",
    "B03, Green, 560nm",
    "B04, Red, 665nm",
    "B08, NIR, 842nm",
    "B11, SWIR, 1610nm",
    "B12, SWIR, 2190nm",
)
# Surface reflectance x 10000 of each cover type in the bands above.
_WATER = (620, 520, 310, 160, 90, 60)
_VEGETATION = (380, 690, 330, 4300, 2100, 1000)
_SOIL = (1150, 1350, 1650, 2350, 3100, 2600)
_URBAN = (1500, 1550, 1600, 1900, 2200, 2100)


def smooth_field(
    shape: tuple[int, int], rng: np.random.Generator, *, beta: float = 3.2
) -> np.ndarray:
    """Fractal noise (spectral slope ``beta``) scaled to zero mean and unit deviation."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = np.inf
    spectrum = np.fft.rfft2(rng.standard_normal(shape)) * k ** (-beta / 2)
    field = np.fft.irfft2(spectrum, s=shape)
    return (field - field.mean()) / field.std()


def synthetic_scene(
    height: int = 512,
    width: int = 512,
    *,
    seed: int = 0,
    date: str = "2024-06-01",
    origin: tuple[float, float] = (399960.0, 5000040.0),
    epsg: int = 32633,
) -> xr.DataArray:
    """A ``(band, y, x)`` uint16 scene with water, vegetation, soil and urban cover.

    Terrain-like fields decide the cover; each cover has a plausible Sentinel-2-like
    spectrum, mixed at the edges and with sensor noise. Coordinates, band texts, a time
    instant and a ``spatial_ref`` (10 m pixels in ``EPSG:epsg``) make it georeferenced.
    Samples are surface reflectance x 10000. It carries nothing a rumi file cannot hold,
    so ``to_rumi`` writes it without a ``RumiDataLossWarning``.
    """
    import xarray as xr

    from ..crs import spatial_ref_attrs

    rng = np.random.default_rng(seed)
    shape = (height, width)
    elevation = smooth_field(shape, rng)
    moisture = smooth_field(shape, rng, beta=2.6)
    towns = smooth_field(shape, rng, beta=3.6)
    water = 1 / (1 + np.exp(12 * (elevation + 1.0)))
    urban = (1 - water) / (1 + np.exp(-8 * (towns - 1.6)))
    vegetation = (1 - water - urban) / (1 + np.exp(-2.5 * (moisture + 0.3 * elevation)))
    soil = 1 - water - urban - vegetation
    covers = np.stack([water, vegetation, soil, urban])
    spectra = np.array([_WATER, _VEGETATION, _SOIL, _URBAN], np.float64)
    reflectance = np.einsum("chw,cb->bhw", covers, spectra)
    reflectance *= 1 + 0.04 * elevation[None]
    reflectance += rng.normal(0, 25, reflectance.shape)
    data = np.clip(reflectance, 1, 10000).round().astype(np.uint16)
    x0, y0 = origin
    transform = (10.0, 0.0, x0, 0.0, -10.0, y0)
    coords = {
        "band": list(BANDS),
        "y": y0 - 10.0 * (np.arange(height) + 0.5),
        "x": x0 + 10.0 * (np.arange(width) + 0.5),
        "time": np.datetime64(date, "s"),
        "spatial_ref": xr.Variable((), np.int64(0), spatial_ref_attrs(epsg, transform)),
    }
    return xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords=coords,
        name="band_data",
        attrs={"AREA_OR_POINT": "Area"},
    )

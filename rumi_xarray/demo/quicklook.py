"""RGB quicklooks written as PNG with the standard library (no plotting stack needed)."""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING, cast

import numpy as np

if TYPE_CHECKING:
    import os

    import xarray as xr


def stretch(values: np.ndarray, low: float = 2, high: float = 98) -> np.ndarray:
    """Percentile stretch of one band to uint8 (NaNs become 0)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, np.uint8)
    lo, hi = np.percentile(finite, [low, high])
    scaled = (np.nan_to_num(values.astype(np.float64), nan=lo) - lo) / max(hi - lo, 1e-12)
    return np.asarray(np.clip(scaled, 0, 1) * 255).round().astype(np.uint8)


def rgb_bands(band_names: list[str]) -> list[int]:
    """Indices of the red, green and blue bands by name, else the first three (or one, grey)."""
    found: list[int | None] = []
    for colour in ("red", "green", "blue"):
        match = [i for i, name in enumerate(band_names) if colour in str(name).lower()]
        found.append(match[0] if match else None)
    if None not in found:
        return cast("list[int]", found)
    return list(range(3)) if len(band_names) >= 3 else [0, 0, 0]


def write_png(path: str | os.PathLike[str], rgb: np.ndarray) -> None:
    """Write an ``(h, w, 3)`` uint8 array as an 8-bit RGB PNG."""
    h, w, _ = rgb.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def quicklook(da: xr.DataArray, path: str | os.PathLike[str]) -> list[int]:
    """Write a stretched RGB PNG of a ``(band, y, x)`` array; returns the bands used."""
    bands = rgb_bands([str(b) for b in da["band"].values])
    rgb = np.stack([stretch(da.isel(band=b).values) for b in bands], axis=-1)
    write_png(path, rgb)
    return bands

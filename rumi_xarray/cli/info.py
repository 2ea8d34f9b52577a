"""``rumi-xarray info``: describe a rumi file (like gdalinfo) from its header and trailer."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import add_storage_options, storage_options

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from ..format import RumiFile
    from ..georef import Georef
    from .options import Commands


def register(commands: Commands) -> None:
    """Add the ``info`` subcommand to ``commands``."""
    info = commands.add_parser(
        "info",
        help="describe a rumi file (like gdalinfo), reading only its header and trailer",
        description="Describe a rumi file: generation, size, bands, dtype, tiles and frames, "
        "compression, CRS, transform, corners and time. Reads no pixels.",
    )
    info.add_argument("source", help="rumi path or URL")
    info.add_argument("--header", metavar="BLOB", help="the file's header blob (skips the index)")
    info.add_argument("--json", action="store_true", help="print the facts as one JSON object")
    add_storage_options(info)
    info.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``info``; returns the exit code."""
    from ..decode import describe_file

    header = None if args.header is None else Path(args.header).read_bytes()
    desc, nbytes = describe_file(args.source, header, storage_options(args))
    facts = info_facts(desc, source=args.source, nbytes=nbytes)
    print(json.dumps(facts, indent=2) if args.json else format_info(facts))
    return 0


def info_facts(desc: RumiFile, *, source: str, nbytes: int) -> dict[str, Any]:
    """Everything ``info`` reports about a file, as JSON-ready values."""
    from ..coords import corner_transform

    grid = desc.grid
    raw = math.prod(desc.shape) * desc.sample.nbytes
    frames = int(desc.counts.sum())
    transform = corner_transform(desc.georef)
    facts: dict[str, Any] = {
        "source": source,
        "driver": "rumi",
        "generation": desc.generation.value,
        "file_nbytes": nbytes,
        "width": grid.width,
        "height": grid.length,
        "bands": grid.bands,
        "times": grid.times,
        "dtype": desc.sample.name,
        "numpy_dtype": desc.dtype.name,
        "band_texts": list(desc.band_texts) if desc.band_texts is not None else None,
        "tile": [grid.tile_width, grid.tile_length],
        "tiles_across": grid.tiles_across,
        "tiles_down": grid.tiles_down,
        "frame_unit": desc.frame_unit,
        "frame_layout": grid.frame_axes,
        "frame_index": grid.index_axes,
        "frame_count": desc.frame_count,
        "frames_nbytes": frames,
        "decoded_nbytes": raw,
        "compression_ratio": round(raw / frames, 3),
        "header_blob_nbytes": len(desc.to_blob()),
        "crs": _crs(desc.georef),
        "transform": None if transform is None else list(transform),
        "stored_transform": None if transform is None else list(desc.georef.transform or ()),
        "pixel_is_point": desc.georef.pixel_is_point,
    }
    facts.update(_extent(transform, grid.width, grid.length))
    facts["time"] = _time(desc)
    return facts


def _crs(georef: Georef) -> dict[str, Any] | None:
    """The CRS's code and name, checked as when coordinates are built."""
    if georef.epsg is None:
        return None
    from ..crs import check_crs, crs_name

    check_crs(georef.epsg, georef.model)
    return {"epsg": georef.epsg, "name": crs_name(georef.epsg)}


def _extent(transform: Sequence[float] | None, width: int, height: int) -> dict[str, Any]:
    """Pixel size, corner coordinates and bounds of the pixel edges (GDAL's convention)."""
    if transform is None:
        return {"pixel_size": None, "corners": None, "bounds": None}
    a, b, c, d, e, f = transform
    at = {
        "upper_left": (0, 0),
        "lower_left": (0, height),
        "upper_right": (width, 0),
        "lower_right": (width, height),
        "center": (width / 2, height / 2),
    }
    corners = {k: [a * col + b * row + c, d * col + e * row + f] for k, (col, row) in at.items()}
    xs = [xy[0] for k, xy in corners.items() if k != "center"]
    ys = [xy[1] for k, xy in corners.items() if k != "center"]
    return {
        "pixel_size": [a, e] if b == d == 0 else None,
        "corners": corners,
        "bounds": [min(xs), min(ys), max(xs), max(ys)],
    }


def _time(desc: RumiFile) -> dict[str, Any] | None:
    if desc.time is None:
        return None
    iso = desc.time.seconds.astype("datetime64[s]").astype(str).tolist()
    return {"kind": desc.time.kind.name.lower(), "values": iso}  # intervals: [start, end] pairs


def format_info(facts: dict[str, Any]) -> str:
    """``info``'s human summary of :func:`info_facts`."""
    lines = [
        f"Driver: rumi {facts['generation']}",
        f"File: {facts['source']} ({facts['file_nbytes']:,} bytes)",
        f"Size is {facts['width']}, {facts['height']}; {_count(facts['bands'], 'band')}, "
        f"{_count(facts['times'], 'time step')}",
        f"Data type: {facts['dtype']}"
        + (f" (read as {facts['numpy_dtype']})" if facts["numpy_dtype"] != facts["dtype"] else ""),
        f"Tiles: {facts['tile'][0]}x{facts['tile'][1]} "
        f"({facts['tiles_across']} across, {facts['tiles_down']} down, edges clipped)",
        f"Frames: {facts['frame_count']} (frame_unit {facts['frame_unit']}): {_layout(facts)}",
        f"Compressed: {facts['frames_nbytes']:,} bytes of frames for {facts['decoded_nbytes']:,} "
        f"decoded (ratio {facts['compression_ratio']:.2f}); header blob "
        f"{facts['header_blob_nbytes']} bytes",
    ]
    crs = facts["crs"]
    lines.append(
        "Coordinate system: " + (f"EPSG:{crs['epsg']} ({crs['name']})" if crs else "undefined")
    )
    if facts["transform"] is None:
        lines.append("Transform: none")
    else:
        lines += _format_extent(facts)
    lines += _format_time(facts["time"])
    if facts["band_texts"] is None:
        lines.append("Bands: not named (this generation stores no band texts)")
    else:
        lines.append("Bands:")
        lines += [f"  {b:>3}  {text}" for b, text in enumerate(facts["band_texts"], 1)]
    return "\n".join(lines)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _layout(facts: dict[str, Any]) -> str:
    """E.g. "one tile per band, samples in 'hw' order"."""
    names = {"t": "time step", "b": "band"}
    held = [f"every {names[a]}" for a in facts["frame_layout"] if a in names]
    walked = [names[a] for a in facts["frame_index"]]
    what = "one tile" + (" of " + " and ".join(held) if held else "")
    what += " per " + " and ".join(walked) if walked else ""
    return f"{what}, samples in '{facts['frame_layout']}' order"


def _format_extent(facts: dict[str, Any]) -> list[str]:
    t = facts["transform"]
    lines = [f"Transform: ({', '.join(repr(float(v)) for v in t)})  [pixel corners]"]
    if facts["pixel_is_point"]:
        stored = ", ".join(repr(float(v)) for v in facts["stored_transform"])
        lines.append(f"Raster type: PixelIsPoint (stored transform, pixel centres: ({stored}))")
    else:
        lines.append("Raster type: PixelIsArea")
    if facts["pixel_size"] is not None:
        lines.append("Pixel size: ({!r}, {!r})".format(*map(float, facts["pixel_size"])))
    lines.append("Bounds: ({:.6f}, {:.6f}, {:.6f}, {:.6f})".format(*facts["bounds"]))
    lines.append("Corner coordinates:")
    for name, (x, y) in facts["corners"].items():
        lines.append(f"  {name.replace('_', ' ').title():<12} ({x:16.6f}, {y:16.6f})")
    return lines


def _format_time(time: dict[str, Any] | None) -> list[str]:
    if time is None:
        return ["Time: none recorded"]
    values = [v if isinstance(v, str) else " / ".join(v) for v in time["values"]]
    shown = values if len(values) <= 8 else [*values[:3], "...", *values[-3:]]
    return [f"Time: {_count(len(values), time['kind'])}: " + ", ".join(shown)]

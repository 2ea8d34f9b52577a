"""``rumi-xarray convert``: anything xarray opens (GeoTIFF, Zarr, NetCDF, rumi) to rumi."""

from __future__ import annotations

import argparse
import posixpath
from functools import partial
from typing import TYPE_CHECKING, Any

from .options import add_quiet, add_storage_options, storage_options, write_bytes

if TYPE_CHECKING:
    from .options import Commands


def register(commands: Commands) -> None:
    """Add the ``convert`` subcommand to ``commands``."""
    convert = commands.add_parser(
        "convert",
        help="convert anything xarray opens (GeoTIFF, Zarr, NetCDF, rumi) to rumi",
        description="Convert anything xarray opens (GeoTIFF, Zarr, NetCDF, rumi) to a rumi "
        "0.26.1 file; the target is given as TARGET or -o/--output.",
    )
    convert.add_argument("source", help="input path or URL")
    convert.add_argument("target", nargs="?", help="output .rumi path or URL")
    convert.add_argument("-o", "--output", metavar="TARGET", help="output .rumi path or URL")
    convert.add_argument(
        "--tile", type=int, help="tile size (default: the source's rumi tile, else 512)"
    )
    convert.add_argument(
        "--frames", help="frame unit: band, cell, ... (default: the source's, else band)"
    )
    convert.add_argument(
        "--compression", default="planar>zigzag>zstd", help="geozl recipe (%(default)s)"
    )
    convert.add_argument("--variable", help="data variable to write (default: the only one)")
    convert.add_argument("--engine", help="xarray engine to open the source with")
    convert.add_argument(
        "--time",
        action="append",
        type=_time_value,
        metavar="TIME",
        help="one per step when the source has none: an ISO instant, or START/END for an "
        "interval; repeatable",
    )
    convert.add_argument(
        "--decode",
        action="store_true",
        help="write decoded values (scale, offset, nodata as NaN), not the stored samples",
    )
    convert.add_argument(
        "--strict", action="store_true", help="fail instead of dropping what rumi cannot hold"
    )
    convert.add_argument("--header", metavar="PATH", help="also write the header blob to PATH")
    add_quiet(convert)
    add_storage_options(convert)
    convert.set_defaults(run=run, check=partial(_check_convert, convert))


def _check_convert(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exactly one of TARGET and -o/--output (usage error, exit 2, otherwise)."""
    if (args.target is None) == (args.output is None):
        parser.error("give the output once: as TARGET or as -o/--output")
    args.target = args.target or args.output


def _time_value(text: str) -> str | tuple[str, str]:
    """``--time``: an ISO instant, or ``START/END`` (an ISO 8601 interval)."""
    start, sep, end = text.partition("/")
    if not sep:
        return text
    if not start or not end:
        raise argparse.ArgumentTypeError(f"expected START/END, got {text!r}")
    return start, end


ENGINES = {".tif": "rasterio", ".tiff": "rasterio", ".rumi": "rumi"}
"""Engines ``convert`` picks by suffix; xarray guesses the others."""


def run(args: argparse.Namespace) -> int:
    """Run ``convert``; returns the exit code."""
    import xarray as xr

    from .. import to_rumi

    fsspec_options = storage_options(args)
    engine = args.engine or ENGINES.get(posixpath.splitext(args.source)[1].lower())
    options: dict[str, Any] = {"engine": engine} if engine else {}
    if _decodes(engine):  # keep the stored samples: uint16 stays uint16
        options["mask_and_scale"] = args.decode
    if fsspec_options:
        options["storage_options"] = fsspec_options
    with xr.open_dataset(args.source, chunks={}, **options) as ds:
        header = to_rumi(
            ds,
            args.target,
            variable=args.variable,
            tile=args.tile,
            frames=args.frames,
            compression=args.compression,
            time=args.time,
            storage_options=fsspec_options,
            progress=False if args.quiet else None,
            strict=args.strict,
        )
    if args.header:
        write_bytes(args.header, header, fsspec_options)
    print(f"wrote {args.target}" + (f" and its header blob {args.header}" if args.header else ""))
    return 0


def _decodes(engine: str | None) -> bool:
    """Whether an engine takes ``mask_and_scale`` (xarray's own do; plugins may not)."""
    if engine is None:
        return True
    from xarray.backends import list_engines

    backend = list_engines().get(engine)
    return backend is None or "mask_and_scale" in (backend.open_dataset_parameters or ())

"""The ``rumi-xarray`` command line: ``demo`` and ``convert``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    import numpy as np
    import xarray as xr

    from . import to_rumi
    from .quicklook import quicklook
    from .sample import synthetic_scene

    scene = synthetic_scene(args.size, args.size, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep or Path(tmp) / "scene.rumi")
        header = to_rumi(scene, path, tile=args.tile, progress=False)
        print(
            f"Wrote a synthetic {scene.sizes['band']}-band {args.size}x{args.size} scene to "
            f"{path} ({path.stat().st_size / 1e6:.2f} MB, header blob {len(header)} bytes)\n"
        )
        with xr.open_dataset(path, engine="rumi") as ds:
            print("Reopened lazily with engine='rumi':\n")
            print(ds, "\n")
            da = ds["band_data"]
            assert np.array_equal(da.values, scene.values), (
                "read back differs from what was written"
            )
            print(f"{'band':<20} {'min':>8} {'max':>8} {'mean':>10} {'std':>10}")
            for name in da["band"].values:
                v = da.sel(band=name).values.astype(np.float64)
                print(
                    f"{name!s:<20} {v.min():8.0f} {v.max():8.0f} {v.mean():10.1f} {v.std():10.1f}"
                )
            used = quicklook(da, args.output)
    names = ", ".join(str(scene["band"].values[b]) for b in used)
    print(f"\nRead back bit for bit. Wrote an RGB quicklook ({names}) to {args.output}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    import xarray as xr

    from . import to_rumi

    options = {"engine": args.engine} if args.engine else {}
    if args.engine is None and Path(args.source).suffix.lower() in (".tif", ".tiff"):
        options["engine"] = "rasterio"
    with xr.open_dataset(args.source, chunks={}, **options) as ds:
        header = to_rumi(
            ds,
            args.target,
            variable=args.variable,
            tile=args.tile,
            frames=args.frames,
            compression=args.compression,
            time=None if args.time is None else [args.time],
            progress=None if not args.quiet else False,
        )
    if args.header:
        Path(args.header).write_bytes(header)
    print(f"wrote {args.target}" + (f" and its header blob {args.header}" if args.header else ""))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rumi-xarray", description="rumi rasters for xarray.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="write a synthetic scene with to_rumi, reopen it, print it, write a PNG"
    )
    demo.add_argument("-o", "--output", default="quicklook.png", help="PNG path (%(default)s)")
    demo.add_argument("--size", type=int, default=512, help="scene height and width (%(default)s)")
    demo.add_argument("--tile", type=int, default=256, help="tile size (%(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (%(default)s)")
    demo.add_argument("--keep", metavar="PATH", help="keep the written rumi file at PATH")
    demo.set_defaults(run=_demo)

    convert = commands.add_parser(
        "convert", help="convert anything xarray opens (GeoTIFF, Zarr, NetCDF, rumi) to rumi"
    )
    convert.add_argument("source", help="input path or URL")
    convert.add_argument("target", help="output .rumi path or URL")
    convert.add_argument("--tile", type=int, default=512, help="tile size (%(default)s)")
    convert.add_argument(
        "--frames", default="band", help="frame unit: band, cell, ... (%(default)s)"
    )
    convert.add_argument(
        "--compression", default="planar>zigzag>zstd", help="geozl recipe (%(default)s)"
    )
    convert.add_argument("--variable", help="data variable to write (default: the only one)")
    convert.add_argument("--engine", help="xarray engine to open the source with")
    convert.add_argument("--time", help="time instant (ISO date) when the source has none")
    convert.add_argument("--header", metavar="PATH", help="also write the header blob to PATH")
    convert.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    convert.set_defaults(run=_convert)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"rumi-xarray {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

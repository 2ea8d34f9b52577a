"""``rumi-xarray demo``: write a synthetic scene, reopen it, print it, write a PNG."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .options import add_quiet

if TYPE_CHECKING:
    import argparse

    from .options import Commands


def register(commands: Commands) -> None:
    """Add the ``demo`` subcommand to ``commands``."""
    demo = commands.add_parser(
        "demo",
        help="write a synthetic scene with to_rumi, reopen it, print it, write a PNG",
        description="Write a synthetic 6-band scene, reopen it lazily, check it bit for bit, "
        "print band statistics and write an RGB quicklook.",
    )
    demo.add_argument("-o", "--output", default="quicklook.png", help="PNG path (%(default)s)")
    demo.add_argument("--size", type=int, default=512, help="scene height and width (%(default)s)")
    demo.add_argument("--tile", type=int, default=256, help="tile size (%(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (%(default)s)")
    demo.add_argument(
        "--keep", metavar="PATH", help="keep the rumi file at PATH, its header blob beside it"
    )
    add_quiet(demo)
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``demo``; returns the exit code."""
    import numpy as np
    import xarray as xr

    from .. import to_rumi
    from ..demo.quicklook import quicklook
    from ..demo.sample import synthetic_scene

    scene = synthetic_scene(args.size, args.size, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep or Path(tmp) / "scene.rumi")
        progress = False if args.quiet else None
        header = to_rumi(scene, path, tile=args.tile, progress=progress)
        what = f"a synthetic {scene.sizes['band']}-band {args.size}x{args.size} scene"
        size = f"{path.stat().st_size / 1e6:.2f} MB"
        if args.keep:
            blob = path.with_suffix(".header")
            blob.write_bytes(header)
            print(f"Wrote {what} to {path} ({size}) and its header blob to {blob}\n")
        else:
            print(
                f"Wrote {what} to {path} ({size}; a temporary file, removed on exit; keep it "
                f"with --keep PATH), header blob {len(header)} bytes\n"
            )
        with xr.open_dataset(path, engine="rumi") as ds:
            print("Reopened lazily with engine='rumi':\n")
            print(ds, "\n")
            da = ds["band_data"]
            if not np.array_equal(da.values, scene.values):
                raise ValueError("the file read back differs from what was written")
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

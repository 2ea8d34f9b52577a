"""The ``rumi-xarray`` command line."""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    import numpy as np
    import xarray as xr

    from .quicklook import quicklook

    sample = files("rumi_xarray") / "data" / "sample.rumi"
    ds = xr.open_dataset(sample, engine="rumi")
    print(f"Opened the bundled sample {sample} lazily with engine='rumi':\n")
    print(ds, "\n")
    da = ds["band_data"]
    print(f"{'band':<20} {'min':>8} {'max':>8} {'mean':>10} {'std':>10}")
    for name in da["band"].values:
        values = da.sel(band=name).values.astype(np.float64)
        print(
            f"{name!s:<20} {values.min():8.0f} {values.max():8.0f} {values.mean():10.1f} {values.std():10.1f}"
        )
    used = quicklook(da, args.output)
    names = ", ".join(str(da["band"].values[b]) for b in used)
    print(f"\nWrote an RGB quicklook ({names}) to {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="rumi-xarray", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="open the bundled sample, print statistics, write a PNG"
    )
    demo.add_argument(
        "-o", "--output", default="quicklook.png", help="PNG path (default: %(default)s)"
    )
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

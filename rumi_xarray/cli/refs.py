"""``rumi-xarray refs``: kerchunk references of one file (every frame a Zarr chunk)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from .options import add_storage_options, storage_options

if TYPE_CHECKING:
    import argparse

    from .options import Commands


def register(commands: Commands) -> None:
    """Add the ``refs`` subcommand to ``commands``."""
    refs = commands.add_parser(
        "refs",
        help="kerchunk references of one file (every frame a Zarr chunk)",
        description="Write kerchunk references (JSON, or Parquet for Zarr v2) of one rumi file.",
    )
    refs.add_argument("source", help="rumi path or URL")
    refs.add_argument("-o", "--output", required=True, help="output .json (or Parquet directory)")
    refs.add_argument("--header", metavar="PATH", help="the file's header blob")
    refs.add_argument(
        "--zarr-format", type=int, choices=(2, 3), help="Zarr version (3; 2 with --parquet)"
    )
    refs.add_argument(
        "--grid",
        choices=("auto", "regular", "rectilinear"),
        default="auto",
        help="chunk grid for clipped edge frames (%(default)s)",
    )
    refs.add_argument("--parquet", action="store_true", help="kerchunk Parquet (Zarr v2)")
    refs.add_argument("--url", help="URL the references point at (default: SOURCE)")
    add_storage_options(refs)
    refs.set_defaults(run=run, check=partial(_check_refs, refs))


def _check_refs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Parquet references are Zarr v2 only (usage error, exit 2, otherwise)."""
    if args.parquet and args.zarr_format == 3:
        parser.error("--parquet writes Zarr v2 references; drop --zarr-format 3 or --parquet")
    if args.zarr_format is None:
        args.zarr_format = 2 if args.parquet else 3


def run(args: argparse.Namespace) -> int:
    """Run ``refs``; returns the exit code."""
    from ..virtual.file import references
    from ..virtual.outputs import write_references

    header = None if args.header is None else Path(args.header).read_bytes()
    zarr_format = args.zarr_format
    refs = references(
        args.source,
        header=header,
        storage_options=storage_options(args),
        url=args.url,
        zarr_format=zarr_format,
        grid=args.grid,
    )
    write_references(refs, args.output, format="parquet" if args.parquet else "json")
    print(f"wrote {args.output}: {len(refs['refs'])} keys, Zarr v{zarr_format}")
    return 0

"""``rumi-xarray mosaic``: one virtual dataset from many grid-aligned files or a catalog."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from .options import add_quiet, add_storage_options, glob_paths, storage_options

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from ..virtual.entries import Entry
    from ..virtual.model import VirtualDataset
    from .options import Commands

ICECHUNK_QUIET = "error"
"""Icechunk's (Rust) log filter unless ``-v`` or ``ICECHUNK_LOG`` asks for more."""
CHUNKS_PER_COMMIT = 250_000
"""Chunk references per Icechunk commit: bounds the memory of million-file mosaics."""


def register(commands: Commands) -> None:
    """Add the ``mosaic`` subcommand to ``commands``."""
    mosaic = commands.add_parser(
        "mosaic",
        help="one virtual dataset from many grid-aligned files or a catalog",
        description="Build one virtual Zarr dataset from many grid-aligned rumi files "
        "(a glob) or from a Parquet catalog, as kerchunk JSON or Parquet references or an Icechunk "
        "repository.",
    )
    mosaic.add_argument("source", help="glob of rumi files (quote it) or a catalog .parquet")
    mosaic.add_argument(
        "-o", "--output", required=True, help="output .json, Parquet or Icechunk dir"
    )
    mosaic.add_argument("--pattern", help="regex whose named groups become dimensions")
    mosaic.add_argument("--fill-value", type=float, default=0, help="value where no file is")
    output = mosaic.add_mutually_exclusive_group()
    output.add_argument("--icechunk", action="store_true", help="write an Icechunk repository")
    output.add_argument(
        "--parquet", action="store_true", help="write kerchunk Parquet references (Zarr v2)"
    )
    mosaic.add_argument(
        "-v", "--verbose", action="store_true", help="show Icechunk's log lines (warnings on)"
    )
    add_quiet(mosaic)
    add_storage_options(mosaic)
    mosaic.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``mosaic``; returns the exit code."""
    from ..virtual.mosaic import mosaic

    progress = False if args.quiet else None
    if args.pattern is not None:
        try:
            re.compile(args.pattern)
        except re.error as exc:
            message = f"--pattern {args.pattern!r} is not a regular expression: {exc}"
            raise ValueError(message) from None
    if args.source.endswith(".parquet"):
        from ..virtual.catalog import read_catalog

        sources: Sequence[Entry] | list[str] = read_catalog(args.source)
    else:
        sources = glob_paths(args.source, storage_options(args))
    fill = int(args.fill_value) if args.fill_value.is_integer() else args.fill_value
    vds = mosaic(
        sources,
        pattern=args.pattern,
        fill_value=fill,
        storage_options=storage_options(args),
        progress=progress,
    )
    if args.icechunk:
        _write_icechunk(vds, args.output, args.verbose)
    else:
        from ..virtual.outputs import write_references

        write_references(vds, args.output, format="parquet" if args.parquet else "json")
    dims = {d: n for a in vds.arrays.values() for d, n in zip(a.dims, a.shape, strict=True)}
    print(f"wrote {args.output}: {len(vds.urls)} files, {dims}")
    return 0


def _write_icechunk(vds: VirtualDataset, path: str, verbose: bool) -> None:
    import icechunk

    from ..virtual.outputs import manifest_splitting, to_icechunk

    asked = os.environ.get("ICECHUNK_LOG")
    icechunk.set_logs_filter(asked or ("warn" if verbose else ICECHUNK_QUIET))

    prefix = _common_prefix(vds.urls)
    config = icechunk.RepositoryConfig.default()
    config.manifest = icechunk.ManifestConfig(splitting=manifest_splitting(vds, CHUNKS_PER_COMMIT))
    if prefix.startswith("file://"):
        store = icechunk.local_filesystem_store(prefix.removeprefix("file://"))
        access = icechunk.credentials.LocalFileSystemAccess
    else:
        raise ValueError("--icechunk writes local repositories of local files only")
    config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(prefix, store))
    repo = icechunk.Repository.create(
        icechunk.local_filesystem_storage(path),
        config,
        authorize_virtual_chunk_access={prefix: access},
    )
    message = f"rumi-xarray mosaic of {len(vds.urls)} files"
    to_icechunk(vds, repo, message=message, chunks_per_commit=CHUNKS_PER_COMMIT)


def _common_prefix(urls: tuple[str, ...]) -> str:
    """The longest common directory of the URLs, ending in ``/``."""
    prefix = os.path.commonprefix(list(urls))  # noqa: RUF071 (URLs, cut at the last "/")
    return prefix[: prefix.rfind("/") + 1]

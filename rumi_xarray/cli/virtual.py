"""The ``refs``, ``mosaic`` and ``catalog`` subcommands: virtual Zarr views from the shell."""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .main import add_quiet, add_storage_options, storage_options

if TYPE_CHECKING:
    import argparse

    from ..virtual.model import VirtualDataset
    from ..virtual.mosaic import Entry
    from .main import Commands

ICECHUNK_QUIET = "error"
"""Icechunk's (Rust) log filter unless ``-v`` or ``ICECHUNK_LOG`` asks for more."""


def add_refs(commands: Commands) -> None:
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
        "--grid", choices=("auto", "regular", "rectilinear"), default="auto",
        help="chunk grid for clipped edge frames (%(default)s)",
    )
    refs.add_argument("--parquet", action="store_true", help="kerchunk Parquet (Zarr v2)")
    refs.add_argument("--url", help="URL the references point at (default: SOURCE)")
    add_storage_options(refs)
    refs.set_defaults(run=_refs, check=partial(_check_refs, refs))


def _check_refs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Parquet references are Zarr v2 only (usage error, exit 2, otherwise)."""
    if args.parquet and args.zarr_format == 3:
        parser.error("--parquet writes Zarr v2 references; drop --zarr-format 3 or --parquet")
    if args.zarr_format is None:
        args.zarr_format = 2 if args.parquet else 3


def _refs(args: argparse.Namespace) -> int:
    from ..virtual.file import references
    from ..virtual.outputs import write_references

    header = None if args.header is None else Path(args.header).read_bytes()
    zarr_format = args.zarr_format
    refs = references(
        args.source, header=header, storage_options=storage_options(args), url=args.url,
        zarr_format=zarr_format, grid=args.grid,
    )
    write_references(refs, args.output, format="parquet" if args.parquet else "json")
    print(f"wrote {args.output}: {len(refs['refs'])} keys, Zarr v{zarr_format}")
    return 0


def add_mosaic(commands: Commands) -> None:
    mosaic = commands.add_parser(
        "mosaic",
        help="one virtual dataset from many grid-aligned files or a catalog",
        description="Build one virtual Zarr dataset from many grid-aligned rumi files "
        "(a glob) or from a Parquet catalog, as kerchunk JSON or an Icechunk repository.",
    )
    mosaic.add_argument("source", help="glob of rumi files (quote it) or a catalog .parquet")
    mosaic.add_argument("-o", "--output", required=True, help="output .json or Icechunk dir")
    mosaic.add_argument("--pattern", help="regex whose named groups become dimensions")
    mosaic.add_argument("--fill-value", type=float, default=0, help="value where no file is")
    mosaic.add_argument("--icechunk", action="store_true", help="write an Icechunk repository")
    mosaic.add_argument(
        "-v", "--verbose", action="store_true", help="show Icechunk's log lines (warnings on)"
    )
    add_quiet(mosaic)
    add_storage_options(mosaic)
    mosaic.set_defaults(run=_mosaic)


def _mosaic(args: argparse.Namespace) -> int:
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

        sources: list[Entry] | list[str] = read_catalog(args.source)
    else:
        sources = _glob(args.source, storage_options(args))
    fill = int(args.fill_value) if args.fill_value.is_integer() else args.fill_value
    vds = mosaic(sources, pattern=args.pattern, fill_value=fill,
                 storage_options=storage_options(args), progress=progress)
    if args.icechunk:
        _write_icechunk(vds, args.output, args.verbose)
    else:
        from ..virtual.outputs import to_kerchunk, write_references

        write_references(to_kerchunk(vds), args.output)
    dims = dict(zip(vds.array.dims, vds.array.shape, strict=True))
    print(f"wrote {args.output}: {len(vds.array.urls)} files, {dims}")
    return 0


def _glob(pattern: str, options: dict[str, Any] | None) -> list[str]:
    import fsspec

    fs, _ = fsspec.core.url_to_fs(pattern, **(options or {}))
    found = sorted(fs.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no files match {pattern!r}")
    if "://" in pattern:
        return [fs.unstrip_protocol(p) for p in found]
    return found


def _write_icechunk(vds: VirtualDataset, path: str, verbose: bool) -> None:
    import icechunk

    from ..virtual.outputs import to_icechunk

    asked = os.environ.get("ICECHUNK_LOG")
    icechunk.set_logs_filter(asked or ("warn" if verbose else ICECHUNK_QUIET))

    prefix = _common_prefix(vds.array.urls)
    config = icechunk.RepositoryConfig.default()
    if prefix.startswith("file://"):
        store = icechunk.local_filesystem_store(prefix.removeprefix("file://"))
        access = icechunk.credentials.LocalFileSystemAccess
    else:
        raise ValueError("--icechunk writes local repositories of local files only")
    config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(prefix, store))
    repo = icechunk.Repository.create(
        icechunk.local_filesystem_storage(path), config,
        authorize_virtual_chunk_access={prefix: access},
    )
    session = repo.writable_session("main")
    to_icechunk(vds, session.store)
    session.commit(f"rumi-xarray mosaic of {len(vds.array.urls)} files")


def _common_prefix(urls: tuple[str, ...]) -> str:
    """The longest common directory of the URLs, ending in ``/``."""
    prefix = os.path.commonprefix(list(urls))  # noqa: RUF071 (URLs, cut at the last "/")
    return prefix[: prefix.rfind("/") + 1]


def add_catalog(commands: Commands) -> None:
    catalog = commands.add_parser(
        "catalog",
        help="scan files into a Parquet catalog of header blobs",
        description="Scan the rumi files under DIR into a Parquet catalog (path, header blob, "
        "shape, dtype, crs, bounds, ...) from which mosaics build without file I/O.",
    )
    catalog.add_argument("directory", help="directory (or URL) to scan, recursively")
    catalog.add_argument("-o", "--output", required=True, help="output .parquet")
    catalog.add_argument("--glob", default="**/*.rumi", help="files to take (%(default)s)")
    add_quiet(catalog)
    add_storage_options(catalog)
    catalog.set_defaults(run=_catalog)


def _catalog(args: argparse.Namespace) -> int:
    from ..virtual.catalog import catalog, write_catalog

    paths = _glob(args.directory.rstrip("/") + "/" + args.glob, storage_options(args))
    table = catalog(paths, storage_options=storage_options(args),
                    progress=False if args.quiet else None)
    write_catalog(table, args.output)
    print(f"wrote {args.output}: {table.num_rows} files")
    return 0

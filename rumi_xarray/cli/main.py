"""The ``rumi-xarray`` command line: ``demo``, ``convert``, ``info``, ``header``, ``refs``,
``mosaic``, ``catalog``.

Each subcommand is two functions: ``_add_<name>(commands)`` registers its parser (and
sets ``run``), ``_<name>(args) -> int`` runs it and imports what it needs only then.
A new subcommand is one more pair and one more entry in :data:`COMMANDS`.

Exit codes: 0 success, 1 bad data or files (one ``rumi-xarray: error: ...`` line on
stderr, no traceback), 2 bad usage (argparse), 130 interrupted. Warnings are one
``rumi-xarray: warning: ...`` line each; messages of the library that name a keyword
(``variable=``, ``time=[...]``) name the subcommand's flag instead (``--variable``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import posixpath
import re
import sys
import tempfile
import warnings
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from ..format import RumiFile
    from ..georef import Georef

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

PROG = "rumi-xarray"


# ---------------------------------------------------------------------------------------
# Options shared by subcommands


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """``-q/--quiet``: no progress bars (``args.quiet``)."""
    parser.add_argument("-q", "--quiet", action="store_true", help="hide progress bars")


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    """``--storage-option KEY=VALUE``, repeatable; read with :func:`storage_options`."""
    parser.add_argument(
        "--storage-option",
        dest="storage_options",
        metavar="KEY=VALUE",
        action="append",
        type=_key_value,
        default=[],
        help="fsspec option for URLs, repeatable (e.g. anon=true); VALUE is JSON or text",
    )


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def storage_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``--storage-option`` pairs as a dict, or ``None`` when none were given."""
    return dict(args.storage_options) or None


def beside(path: str, suffix: str) -> str:
    """``path`` (a local path or a URL) with its suffix replaced, e.g. ``.header``."""
    return posixpath.splitext(path)[0] + suffix


def write_bytes(target: str, data: bytes, options: dict[str, Any] | None) -> None:
    """Write ``data`` to a local path or an fsspec URL."""
    if "://" in target and not target.startswith("file://"):
        import fsspec

        with fsspec.open(target, "wb", **(options or {})) as f:
            f.write(data)
    else:
        Path(target.removeprefix("file://")).write_bytes(data)


# ---------------------------------------------------------------------------------------
# demo


def _add_demo(commands: Commands) -> None:
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
    demo.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
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


# ---------------------------------------------------------------------------------------
# convert


def _add_convert(commands: Commands) -> None:
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
    convert.set_defaults(run=_convert, check=partial(_check_convert, convert))


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


def _convert(args: argparse.Namespace) -> int:
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


# ---------------------------------------------------------------------------------------
# header


def _add_header(commands: Commands) -> None:
    header = commands.add_parser(
        "header",
        help="write a file's header blob, with which readers skip its index",
        description="Write the canonical external header blob of a rumi file (any "
        "generation); xr.open_dataset(path, engine='rumi', header=blob) then reads "
        "no index.",
    )
    header.add_argument("source", help="rumi path or URL")
    header.add_argument(
        "-o", "--output", metavar="BLOB", help="output path or URL (default: SOURCE.header)"
    )
    add_storage_options(header)
    header.set_defaults(run=_header)


def _header(args: argparse.Namespace) -> int:
    from ..decode import header_blob

    blob = header_blob(args.source, storage_options=storage_options(args))
    target = args.output or beside(args.source, ".header")
    write_bytes(target, blob, storage_options(args))
    print(f"wrote {target} ({len(blob)} bytes)")
    return 0


# ---------------------------------------------------------------------------------------
# info


def _add_info(commands: Commands) -> None:
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
    info.set_defaults(run=_info)


def _info(args: argparse.Namespace) -> int:
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


# ---------------------------------------------------------------------------------------
# The parser


COMMANDS: list[Callable[[Commands], None]] = [_add_demo, _add_convert, _add_info, _add_header]
"""Registrars of the subcommands, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``rumi-xarray`` parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read, write and inspect rumi rasters with xarray.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from .virtual import add_catalog, add_mosaic, add_refs

    for register in (*COMMANDS, add_refs, add_mosaic, add_catalog):
        register(commands)
    for sub in commands.choices.values():
        sub.set_defaults(flags=_flags(sub))
    return parser


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each option's destination and its long flag: ``{"fill_value": "--fill-value"}``."""
    return {
        action.dest: max(action.option_strings, key=len)
        for action in parser._actions
        if action.option_strings and action.dest != "help"
    }


def cli_text(text: str, flags: dict[str, str]) -> str:
    """A library message on one line, its keywords (``time=[...]``) as the flags (``--time``)."""
    if flags:
        names = "|".join(re.escape(name) for name in sorted(flags, key=len, reverse=True))
        text = re.sub(
            rf"\b({names})=(True\b|\[[^\]]*\]|\.\.\.)?",
            lambda m: flags[m[1]] + ("" if m[2] else " "),
            text,
        )
    return " ".join(text.split())


def _error_text(exc: BaseException, args: argparse.Namespace) -> str:
    """One line for an error and its notes: a remote object that is missing is "not found: URL"."""
    if isinstance(exc, FileNotFoundError) and exc.errno is None:  # fsspec: the bare path
        name = str(exc.filename if exc.filename is not None else (exc.args or ("",))[0])
        urls = [v for v in vars(args).values() if isinstance(v, str) and "://" in v]
        for url in urls if name else ():
            if url.endswith(name.lstrip("/")):
                return f"not found: {url}"
        if name and not any(c.isspace() for c in name):
            return f"not found: {name}"
    parts = [str(exc), *getattr(exc, "__notes__", ())]  # notes name the source
    text = "; ".join(part for part in parts if part)
    return cli_text(text, args.flags) or type(exc).__name__


@contextlib.contextmanager
def _one_line_warnings(flags: dict[str, str]) -> Iterator[None]:
    """Show warnings as ``rumi-xarray: warning: ...`` lines; data-loss warnings always."""
    from ..errors import RumiDataLossWarning

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        print(f"{PROG}: warning: {cli_text(str(message), flags)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", RumiDataLossWarning)
        warnings.showwarning = show
        yield


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rumi-xarray")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if hasattr(args, "check"):
            args.check(args)
    except SystemExit as exc:  # argparse: --help, --version (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 0
    try:
        with _one_line_warnings(args.flags):
            return int(args.run(args))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `rumi-xarray info --json f.rumi | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"{PROG}: error: {_error_text(exc, args)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""What the subcommands share (``rumi_xarray.cli.options``): flags in library messages, the
``--storage-option`` pairs, paths beside a source, globs. The subcommands themselves are tested
through ``main`` and the console script in ``test_cli.py`` and ``test_cli_virtual.py``."""

from __future__ import annotations

import argparse
from pathlib import Path

import fsspec
import pytest

from rumi_xarray.cli.options import (
    add_quiet,
    add_storage_options,
    beside,
    cli_text,
    glob_paths,
    storage_options,
    write_bytes,
)

FLAGS = {"fill_value": "--fill-value", "time": "--time", "strict": "--strict", "tile": "--tile"}


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("fill_value=70000 is out of range", "--fill-value 70000 is out of range"),
        ("give time=[...] one per step", "give --time one per step"),
        ("or pass time=...", "or pass --time"),
        ("pass strict=True to fail", "pass --strict to fail"),
        ("tile=0 must be\n   positive", "--tile 0 must be positive"),
        ("tiles=3 and untile=2 stay", "tiles=3 and untile=2 stay"),
        ("variable='a' is not a flag here", "variable='a' is not a flag here"),
    ],
)
def test_cli_text_names_the_flags(message: str, shown: str) -> None:
    assert cli_text(message, FLAGS) == shown


def test_cli_text_without_flags_is_one_line() -> None:
    assert cli_text("two\nlines  and   spaces", {}) == "two lines and spaces"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_quiet(parser)
    add_storage_options(parser)
    return parser


def test_storage_options_are_json_or_text() -> None:
    args = _parser().parse_args(
        ["--storage-option", "anon=true", "--storage-option", "key=a=b", "-q",
         "--storage-option", "n=3"]
    )  # fmt: skip
    assert args.quiet
    assert storage_options(args) == {"anon": True, "key": "a=b", "n": 3}
    assert storage_options(_parser().parse_args([])) is None


@pytest.mark.parametrize("bad", ["anon", "=true"])
def test_storage_option_needs_key_value(bad: str) -> None:
    with pytest.raises(argparse.ArgumentError, match=f"expected KEY=VALUE, got '{bad}'"):
        _parser().parse_args(["--storage-option", bad])


def test_beside_and_write_bytes(tmp_path: Path) -> None:
    assert beside("s3://b/dir.v2/a.rumi", ".header") == "s3://b/dir.v2/a.header"
    assert beside(str(tmp_path / "a"), ".header") == str(tmp_path / "a.header")
    write_bytes(str(tmp_path / "x.bin"), b"local", None)
    write_bytes((tmp_path / "y.bin").as_uri(), b"file url", None)
    write_bytes("memory://cli-options/z.bin", b"remote", None)
    assert (tmp_path / "x.bin").read_bytes() == b"local"
    assert (tmp_path / "y.bin").read_bytes() == b"file url"
    with fsspec.open("memory://cli-options/z.bin", "rb") as f:
        assert f.read() == b"remote"


def test_glob_paths(tmp_path: Path) -> None:
    for name in ("b.rumi", "a.rumi", "c.txt"):
        (tmp_path / name).write_bytes(b"")
        write_bytes(f"memory://cli-glob/{name}", b"", None)
    assert glob_paths(str(tmp_path / "*.rumi"), None) == [
        str(tmp_path / "a.rumi"),
        str(tmp_path / "b.rumi"),
    ]
    urls = glob_paths("memory://cli-glob/*.rumi", None)  # URLs keep their protocol
    assert [url.startswith("memory://") for url in urls] == [True, True]
    assert [url.rpartition("/")[2] for url in urls] == ["a.rumi", "b.rumi"]
    with pytest.raises(FileNotFoundError, match="no files match"):
        glob_paths(str(tmp_path / "*.tif"), None)

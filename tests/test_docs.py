"""Every python and bash block of README.md and docs/*.md runs as written.

One test per block (see ``tests/_docs.py`` for what runs and how). A page's blocks run in
order in one namespace, in a fresh working directory of their own, which holds beforehand:

- ``scene.rumi`` (and ``scene.header`` when the demo writes one), written by
  ``rumi-xarray demo --keep scene.rumi``, the README's first command;
- ``scene.tif``, the same synthetic scene as a GeoTIFF (rioxarray), for the ``convert`` lines.

``s3://bucket/...`` lines reach a local S3 server (moto, 127.0.0.1, ``tests/_s3.py``),
emptied at the start of each page and holding ``scene.rumi``, ``scene.header`` (when written)
and ``cube.zarr`` (the scene as a Zarr store with one variable, ``reflectance``); the
endpoint and credentials come from the environment (``AWS_ENDPOINT_URL``, ...), so the lines
stay what a user types.

Running one block alone (``-k``) first runs the blocks before it on its page, silently.
A block marked ``<!-- skip: reason -->`` is skipped with that reason; a marker without a
reason fails. A block marked ``<!-- warns: Name -->`` must emit that warning of
:mod:`rumi_xarray` (the page tells its reader why); any other warning fails it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _docs import PAGES, Block, Command, bash_commands, read_blocks, run_command, run_python

import rumi_xarray

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _s3 import LocalS3

BLOCKS = [block for page in PAGES for block in read_blocks(page)]


class PageRun:
    """One page's namespace and working directory; runs its blocks once each, in order."""

    def __init__(self, blocks: list[Block], workdir: Path, environ: dict[str, str]) -> None:
        self.blocks = blocks
        self.workdir = workdir
        self.environ = {**environ, "MPLBACKEND": "Agg"}
        self.namespace: dict[str, Any] = {"__name__": "__docs__"}
        self.outcomes: dict[int, BaseException | None] = {}

    def run(self, index: int) -> None:
        """Run the blocks up to ``index`` not yet run; re-raise block ``index``'s error."""
        for block in self.blocks[: index + 1]:
            if block.index not in self.outcomes:
                self.outcomes[block.index] = self._execute(block)
        failed = [b.id for b in self.blocks[:index] if _failed(self.outcomes[b.index])]
        outcome = self.outcomes[index]
        if outcome is not None:
            if failed and not isinstance(outcome, pytest.skip.Exception):
                outcome.add_note(f"(earlier blocks of this page failed: {', '.join(failed)})")
            raise outcome

    def _execute(self, block: Block) -> BaseException | None:
        if block.skip is not None:
            if not block.skip:
                return pytest.fail.Exception(
                    f"{block.id}: a skip marker needs a reason: <!-- skip: reason -->"
                )
            return pytest.skip.Exception(block.skip)
        try:
            with self._inside():
                if block.lang == "python" and block.warns:
                    with pytest.warns(getattr(rumi_xarray, block.warns)):
                        run_python(block, self.namespace)
                elif block.lang == "python":
                    run_python(block, self.namespace)
                else:
                    _run_bash(block)
        except (Exception, pytest.skip.Exception) as exc:  # Skipped is no Exception
            return exc
        return None

    @contextlib.contextmanager
    def _inside(self) -> Iterator[None]:
        saved = {key: os.environ.get(key) for key in self.environ}
        os.environ.update(self.environ)
        try:
            with contextlib.chdir(self.workdir):
                yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def close(self) -> None:
        """Drop the namespace (closing what it holds) and any open figures."""
        self.namespace.clear()
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


def _failed(outcome: BaseException | None) -> bool:
    return outcome is not None and not isinstance(outcome, pytest.skip.Exception)


def _run_bash(block: Block) -> None:
    """Run a bash block's ``rumi-xarray`` commands; skip it when none of them runs."""
    commands = bash_commands(block.code)
    not_run = [f"`{c.text}`: {c.not_run}" for c in commands if c.not_run]
    for command in commands:
        if command.argv is not None:
            run_command(command)
    if all(c.argv is None for c in commands):
        raise pytest.skip.Exception("not run: " + "; ".join(not_run))


# ---------------------------------------------------------------------------------------
# What every page starts with


@dataclass(frozen=True, slots=True, kw_only=True)
class Assets:
    """What every page starts with."""

    files: list[Path]
    """Copied into the page's working directory."""
    uploads: dict[str, Path]
    """Uploaded to ``s3://bucket/<key>`` (a folder: every file under it)."""


@pytest.fixture(scope="session")
def docs_assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    """Run the README's demo once; add a GeoTIFF and a Zarr store of the same scene."""
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr
    from zarr.errors import ZarrUserWarning

    from rumi_xarray.demo.sample import synthetic_scene

    folder = tmp_path_factory.mktemp("docs-assets")
    with contextlib.chdir(folder):
        run_command(Command(text="demo", argv=["demo", "--keep", "scene.rumi", "-q"]))
    (folder / "quicklook.png").unlink()
    scene = synthetic_scene()
    scene.rio.to_raster(folder / "scene.tif")
    files = sorted(folder.iterdir())
    cube = folder / "s3" / "cube.zarr"
    with warnings.catch_warnings():  # consolidated v3 metadata: not yet in the spec, says zarr
        warnings.simplefilter("ignore", ZarrUserWarning)
        xr.Dataset({"reflectance": scene}).to_zarr(cube, zarr_format=3, consolidated=True)
    uploads = {p.name: p for p in files if p.suffix in (".rumi", ".header")}
    return Assets(files=files, uploads={**uploads, "cube.zarr": cube})


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3]:
    """The S3 server of the docs' ``s3://bucket/...`` lines."""
    from _s3 import LocalS3

    server = LocalS3()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def page_runs(
    docs_assets: Assets, local_s3: LocalS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, PageRun]]:
    """``page -> PageRun``, each made when its page's first block runs."""

    def start(page: str) -> PageRun:
        workdir = tmp_path_factory.mktemp(page.replace("/", "-"))
        for asset in docs_assets.files:
            shutil.copy2(asset, workdir / asset.name)
        local_s3.reset(docs_assets.uploads)
        blocks = [b for b in BLOCKS if b.page == page]
        return PageRun(blocks, workdir, local_s3.environ())

    class Runs(dict[str, PageRun]):
        def __missing__(self, page: str) -> PageRun:
            self[page] = start(page)
            return self[page]

    runs = Runs()
    yield runs
    for run in runs.values():
        run.close()


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in BLOCKS])
def test_block(block: Block, page_runs: dict[str, PageRun]) -> None:
    page_runs[block.page].run(block.index)


# ---------------------------------------------------------------------------------------
# The harness itself


def test_every_page_is_read() -> None:
    assert PAGES[0] == "README.md"
    assert {"docs/index.md", "docs/reading.md", "docs/cli.md", "docs/codec.md"} <= set(PAGES)
    assert {b.page for b in BLOCKS} >= {"README.md", "docs/getting-started.md"}


def test_skip_markers_give_reasons() -> None:
    unexplained = [b.id for b in BLOCKS if b.skip == ""]
    assert not unexplained, f"skip markers without a reason: {unexplained}"


def test_rio_is_imported_before_use() -> None:
    """``.rio`` exists only after ``import rioxarray``, which other tests may have done."""
    unimported = []
    for page in PAGES:
        imported = False
        for block in (b for b in BLOCKS if b.page == page and b.lang == "python"):
            imported = imported or "import rioxarray" in block.code
            if ".rio." in block.code and not imported:
                unimported.append(block.id)
    assert not unimported, (
        f"blocks using .rio before `import rioxarray` on their page: {unimported}"
    )


PAGE = """# A page

```python
x = 1
```

<!-- skip: needs a GPU -->

```py
raise SystemExit
```

<!-- skip -->
```bash
rumi-xarray info a.rumi
```

```text
not code
```

- a list item:

  ```python
  y = x + 1
  ```

````sh
uv run rumi-xarray info a.rumi  # a comment
````
"""


def test_read_blocks() -> None:
    blocks = read_blocks("page.md", PAGE)
    assert [(b.index, b.line, b.lang, b.skip) for b in blocks] == [
        (0, 3, "python", None),
        (1, 9, "python", "needs a GPU"),
        (2, 14, "bash", ""),
        (3, 24, "python", None),
        (4, 28, "bash", None),
    ]
    assert blocks[3].code == "y = x + 1\n"
    assert blocks[4].id == "page.md-04-bash"


def test_python_blocks_keep_their_page_lines() -> None:
    block = read_blocks("page.md", PAGE)[3]
    with pytest.raises(NameError) as info:
        run_python(block, {})
    assert info.traceback[-1].lineno + 1 == 25  # the line of `y = x + 1` in the page


def test_bash_commands() -> None:
    code = (
        "uv run rumi-xarray demo --keep scene.rumi   # writes scene.rumi\n"
        "\n"
        'rumi-xarray mosaic "tiles/T*.rumi" \\\n'
        "    -o mosaic.json\n"
        "rumi-xarray info scene.rumi --json | jq .crs\n"
        "pip install rumi-xarray\n"
    )
    commands = bash_commands(code)
    assert [c.argv for c in commands] == [
        ["demo", "--keep", "scene.rumi"],
        ["mosaic", "tiles/T*.rumi", "-o", "mosaic.json"],
        ["info", "scene.rumi", "--json"],
        None,
    ]
    assert [c.not_run for c in commands] == [
        None,
        None,
        "its output is piped into `jq .crs`, not run",
        "installs packages",
    ]


@pytest.mark.parametrize(
    "line", ["ls -l", "rumi-xarray info a.rumi > out.txt", "rumi-xarray demo && ls"]
)
def test_bash_commands_refuse_what_they_cannot_run(line: str) -> None:
    with pytest.raises(ValueError, match=r"only `rumi-xarray \.\.\.` commands run"):
        bash_commands(line)

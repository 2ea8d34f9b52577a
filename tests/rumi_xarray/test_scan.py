"""Catalog scans on a Dask cluster and on local threads: the same table; failed files as rows."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from _virtual import write

from rumi_xarray.errors import RumiScanWarning
from rumi_xarray.virtual.catalog import catalog
from rumi_xarray.virtual.scan import BATCH_MAX, active_client, default_batch

distributed = pytest.importorskip("distributed")

MISSING, CORRUPT = 5, 3


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """Nine sources: seven files, a corrupt one at 3, a missing one at 5."""
    d = tmp_path_factory.mktemp("scan")
    data = np.arange(7 * 20 * 20, dtype=np.uint16).reshape(7, 1, 20, 20)
    paths = [
        write(d / f"f{i}.rumi", data[i], transform=(10.0, 0, 500000.0 + 200 * i, 0, -10.0, 4e6))
        for i in range(7)
    ]
    (d / "corrupt.rumi").write_bytes(b"II*\x00" + bytes(60))
    paths.insert(CORRUPT, str(d / "corrupt.rumi"))
    paths.insert(MISSING, str(d / "missing.rumi"))
    return paths


def _scan(paths, **kwargs):
    with pytest.warns(RumiScanWarning, match=r"^2 of 9 files could not be read") as caught:
        table = catalog(paths, **kwargs)
    (warning,) = caught
    assert [item.split(": ")[1] for item in warning.message.items] == [
        "RumiFormatError",
        "FileNotFoundError",
    ]
    return table


def test_failed_files_are_error_rows_with_the_other_columns_null(paths):
    table = _scan(paths, client=False)
    errors = table.column("error").to_pylist()
    assert [i for i, e in enumerate(errors) if e is not None] == [CORRUPT, MISSING]
    assert errors[CORRUPT].startswith("RumiFormatError: ")
    assert errors[MISSING].startswith("FileNotFoundError: ")
    for i in (CORRUPT, MISSING):
        row = table.slice(i, 1).to_pylist()[0]
        assert row["path"].endswith(".rumi")
        assert all(v is None for k, v in row.items() if k not in ("path", "error"))
    assert table.column("nbytes").null_count == 2


def test_errors_raise_names_the_first_failure(paths):
    with pytest.raises(Exception, match="rumi requires BigTIFF") as caught:
        catalog(paths, client=False, errors="raise")
    assert "while opening source 3" in caught.value.__notes__[0]
    with pytest.raises(ValueError, match="errors must be"):
        catalog(paths, errors="ignore")


def test_a_cluster_scan_gives_the_local_table(paths, cluster):
    local = _scan(paths, client=False)
    with distributed.Client(cluster) as client, distributed.get_task_stream(client) as tasks:
        remote = _scan(paths, client=client, batch_size=2)
    assert remote.equals(local)  # rows in source order, error texts alike
    assert len([t for t in tasks.data if t["key"].startswith("scan_batch")]) == 5  # 9 files by 2


def test_the_active_client_is_taken_and_client_false_stays_local(paths, cluster):
    local = _scan(paths, client=False)
    with distributed.Client(cluster) as client:
        assert active_client(None) is client
        with distributed.get_task_stream(client) as tasks:
            assert _scan(paths).equals(local)  # default batch: 2 threads, 4 tasks each: 2 files
            assert _scan(paths, client=False).equals(local)
        assert len([t for t in tasks.data if t["key"].startswith("scan_batch")]) == 5
    assert active_client(None) is None


def test_errors_raise_on_the_cluster(paths, cluster):
    client = distributed.Client(cluster)
    with client, pytest.raises((FileNotFoundError, ValueError)) as caught:
        catalog(paths, client=client, batch_size=1, errors="raise")
    assert "of the catalog" in caught.value.__notes__[0]


def test_default_batch_is_a_few_tasks_per_thread_of_at_most_batch_max_files():
    assert default_batch(9, 2) == 2
    assert default_batch(2000, 2) == 250
    assert default_batch(1_000_000, 2) == BATCH_MAX
    assert default_batch(0, 0) == 1
    with pytest.raises(ValueError, match="batch_size"):
        catalog([], batch_size=0)


def test_a_scan_without_a_cluster_never_imports_distributed(paths):
    code = (
        "import sys, warnings; warnings.simplefilter('ignore')\n"
        "from rumi_xarray import catalog\n"
        f"table = catalog({paths!r})\n"
        "assert table.num_rows == 9 and 'distributed' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_progress_counts_every_file(paths, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RumiScanWarning)
        catalog(paths, client=False, progress=True)
    assert "9/9" in capsys.readouterr().err


def _cli(*args: str) -> subprocess.CompletedProcess:
    script = shutil.which("rumi-xarray", path=str(Path(sys.executable).parent))
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=300)


def test_the_cli_scans_on_a_scheduler_and_mosaics_skip_error_rows(paths, cluster, tmp_path):
    d = Path(paths[0]).parent
    out = tmp_path / "cat.parquet"
    args = ["catalog", str(d), "-o", str(out), "-q"]
    here = _cli(*args)
    assert here.returncode == 0, here.stderr
    assert "wrote" in here.stdout and "8 files (1 could not be read: error rows)" in here.stdout
    assert "warning: 1 of 8 files could not be read" in here.stderr
    local = pq.read_table(out)
    remote = _cli(*args, "--scheduler", cluster.scheduler_address, "--batch-size", "3")
    assert remote.returncode == 0, remote.stderr
    assert pq.read_table(out).equals(local)
    mosaic = _cli("mosaic", str(out), "-o", str(tmp_path / "m.json"))
    assert mosaic.returncode == 0, mosaic.stderr
    assert "warning: skipped 1 catalog rows" in mosaic.stderr and "corrupt.rumi" in mosaic.stderr

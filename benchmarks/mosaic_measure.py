"""Measuring helpers of the mosaic benchmark (``mosaic.py``): peak RSS, sizes, rounds, table."""

from __future__ import annotations

import gc
import statistics
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def rss(field: str) -> int:
    """``VmRSS`` or ``VmHWM`` of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(field)


def du(path: Path) -> int:
    """Bytes on disk of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Table:
    """The results: one row per measurement, printed as it is added."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, what: str, value: str, note: str = "") -> None:
        """Add a row and print it."""
        self.rows.append((what, value, note))
        print(f"  {what:<58} {value:>10}  {note}", flush=True)

    def markdown(self) -> str:
        """The rows as a Markdown table."""
        lines = ["| measurement | value | note |", "|---|---:|---|"]
        lines += [f"| {w} | {v} | {n} |" for w, v, n in self.rows]
        return "\n".join(lines)


def rate(n: int, seconds: float) -> str:
    """``n`` files in ``seconds``, as files/s."""
    return f"{n / seconds:,.0f} files/s"


def mb(n: float) -> str:
    """Bytes as MB."""
    return f"{n / 1e6:,.1f} MB"


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its time in seconds."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def rounds(fn: Any, n: int) -> tuple[Any, float, float]:
    """Run ``fn`` ``n`` times: its last result, the best and the median time."""
    times = []
    for _ in range(n):
        gc.collect()
        out, dt = timed(fn)
        times.append(dt)
    return out, min(times), statistics.median(times)

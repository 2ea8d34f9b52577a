"""The JSON-line protocol between the suite's driver and its persistent worker processes.

Imports only the standard library and NumPy, because it runs on both sides of every
worker: in the project's environment (``run.py``, ``contenders.py``, ``write.py``) and in
rumi-eo's isolated one (``_oracle.py``, which is never imported here).

The driver starts a worker with :class:`Worker`. The worker warms up, answers one JSON
line describing itself, then one JSON line per request line on its standard input, and
stops at the end of its input. :func:`serve` is the worker side for a *contender*: an
object with any of the methods ``full()``, ``chip(chip)``, ``stack()`` (each returning a
NumPy array) and ``opens(kind)`` (mean seconds per file); the configuration's ``ops``
say which it serves (its warm-up calls those). Its requests:

``full N``, ``stack N``
    N timed calls: their seconds.
``chips SET``
    one pass over the chip set ``SET``, each chip read once: mean seconds per chip.
``warm SET``
    an untimed pass over ``SET``, then a timed one: mean seconds per chip of the second.
``opens KIND``
    open each small file of that kind once: mean seconds per file.
``check WHAT``
    untimed: ``full`` or ``stack`` read once, or every chip of a set read once (``WHAT``
    is its name), each result compared whole with the source array, dtype and shape
    included: ``true`` or ``false``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "_oracle.py"
RUMI_EO = "rumi-eo==0.26.1"

Chip = tuple[int, int, int, int, int]
"""A chip: first row, first column, size (square), first band, end band (exclusive)."""

WARMUP_CHIPS = 10
"""Chips of each set a worker reads before it answers (its decoders, its caches' code)."""


# --------------------------------------------------------------------------- both sides


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Seconds of each of ``n`` calls of ``fn``."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def window(source: np.ndarray, chip: Sequence[int]) -> np.ndarray:
    """The part of a ``(band, y, x)`` array that ``chip`` reads."""
    y, x, size, b0, b1 = chip
    return source[b0:b1, y : y + size, x : x + size]


def same(got: np.ndarray, want: np.ndarray) -> bool:
    """Bit for bit: the same dtype, the same shape and every element equal."""
    return got.dtype == want.dtype and got.shape == want.shape and bool(np.array_equal(got, want))


# --------------------------------------------------------------------------- worker side


def answer(value: object) -> None:
    """One JSON line on standard output."""
    print(json.dumps(value), flush=True)


def chip_sets(cfg: Mapping[str, Any]) -> dict[str, list[Chip]]:
    """The chip sets of a worker's configuration, as tuples."""
    return {name: [tuple(c) for c in chips] for name, chips in cfg["chips"].items()}


def per_chip(read: Callable[[Chip], object], chips: Sequence[Chip]) -> float:
    """Mean seconds per chip of one pass that reads every chip once."""
    t0 = time.perf_counter()
    for chip in chips:
        read(chip)
    return (time.perf_counter() - t0) / len(chips)


def check(contender: Any, what: str, cfg: Mapping[str, Any]) -> bool:
    """Untimed: ``what`` read once, every result compared whole with its source."""
    if what == "stack":
        return same(contender.stack(), np.load(cfg["stack_image"], mmap_mode="r"))
    source = np.load(cfg["image"], mmap_mode="r")
    if what == "full":
        return same(contender.full(), source)
    return all(same(contender.chip(c), window(source, c)) for c in chip_sets(cfg)[what])


def warm_up(contender: Any, cfg: Mapping[str, Any]) -> None:
    """Page cache, thread pools, decoders: one call of each kind the worker serves (``ops``)."""
    ops = cfg["ops"]
    if "full" in ops:
        contender.full()
    if "stack" in ops:
        contender.stack()
    if "chips" in ops or "warm" in ops:
        for chips in chip_sets(cfg).values():
            for chip in chips[:WARMUP_CHIPS]:
                contender.chip(chip)


def serve(contender: Any, cfg: Mapping[str, Any], info: Mapping[str, Any]) -> None:
    """Warm up, answer ``info``, then answer every request line until the input ends."""
    chips = chip_sets(cfg)

    def warm(name: str) -> float:
        per_chip(contender.chip, chips[name])
        return per_chip(contender.chip, chips[name])

    handlers: dict[str, Callable[[str], object]] = {
        "full": lambda n: timed(contender.full, int(n)),
        "stack": lambda n: timed(contender.stack, int(n)),
        "chips": lambda name: per_chip(contender.chip, chips[name]),
        "warm": warm,
        "opens": lambda kind: contender.opens(kind),
        "check": lambda what: check(contender, what, cfg),
    }
    warm_up(contender, cfg)
    answer({**info, "pid": os.getpid()})
    for line in sys.stdin:
        request, arg = line.split()
        answer(handlers[request](arg))


# --------------------------------------------------------------------------- driver side


class Worker:
    """A worker process that answers JSON lines; ``info`` is its first answer.

    Parameters
    ----------
    name
        What the driver calls it, for messages.
    argv
        The command; the path of a JSON file holding ``config`` is appended to it.
    config
        The worker's configuration, written as JSON into the folder ``config_dir``
        (removed again by :meth:`close`).
    env
        Its environment (default: this process's).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        config: Mapping[str, Any],
        config_dir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.config = config_dir / f"worker-{os.getpid()}-{name}.json"
        self.config.write_text(json.dumps(config))
        self.proc = subprocess.Popen(
            [*argv, str(self.config)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=dict(env) if env is not None else None,
        )  # fmt: skip
        self._info: Any = None

    @property
    def info(self) -> Any:
        """The worker's first answer (read, and so waited for, on first use)."""
        if self._info is None:
            self._info = self._answer()
        return self._info

    def _answer(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"worker {self.name} stopped with code {self.proc.wait()}")
        return json.loads(line)

    def send(self, request: str) -> None:
        """Send one request line (after the first answer); :meth:`receive` reads its answer."""
        _ = self.info
        assert self.proc.stdin is not None
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()

    def receive(self) -> Any:
        """The answer to the oldest request sent and not yet answered."""
        return self._answer()

    def ask(self, request: str) -> Any:
        """Send one request line; its answer."""
        self.send(request)
        return self._answer()

    def close(self) -> None:
        """End its input (the worker stops there) and wait for it."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=120)
        self.config.unlink(missing_ok=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def oracle_argv(command: str) -> list[str]:
    """``_oracle.py COMMAND`` in rumi-eo's own isolated environment (never in ours)."""
    uv = os.environ.get("UV", "uv")
    return [uv, "run", "--quiet", "--isolated", "--no-project", "--with", RUMI_EO,
            "--with", "numpy", "python", str(ORACLE), command]  # fmt: skip


def oracle_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without our virtualenv (so uv builds rumi-eo's), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return {**env, **(extra or {})}

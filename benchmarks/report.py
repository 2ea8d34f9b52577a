"""The suite's report: a table, ratios against targets and a plot, all from a results file.

``run.py`` calls it after a run; to redo the table, the plot or the documentation from a
results file without measuring again::

    uv run python benchmarks/report.py benchmarks/results/full.json [--write-docs]

``--write-docs`` rewrites the part of ``docs/benchmarks.md`` between its
``<!-- suite results -->`` markers and draws ``docs/benchmarks.png``. Ratios are of the
min times (the medians' ratio beside them); a ratio's target says which way is better.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOCS = HERE.parent / "docs" / "benchmarks.md"
PLOT = HERE.parent / "docs" / "benchmarks.png"
START, END = "<!-- suite results: start -->", "<!-- suite results: end -->"

MEASURES = {
    "full": "full read",
    "chips_cold": "cold chip",
    "chips_warm": "warm chip",
    "stack": "stack, 64 files",
    "opens": "open, per file",
    "import": "import",
}
Key = tuple[str, str, str, int]


@dataclass(frozen=True)
class Ratio:
    """``time(num) / time(den)`` for one measure and case, against an optional target."""

    label: str
    measure: str
    case: str
    num: str
    den: str
    op: str = ""
    target: float | None = None
    den_case: str | None = None
    """The denominator's case, where it is not ``case``."""


def ratios() -> list[Ratio]:
    full = [
        Ratio("full read throughput, ours / raw decode + copy", "full", "", "raw decode + copy",
              "ours", ">=", 0.92),
        Ratio("full read throughput, ours / rumi-eo", "full", "", "rumi-eo", "ours", ">=", 1.0),
        Ratio("full read throughput, ours / GDAL", "full", "", "GDAL", "ours"),
        Ratio("full read throughput, ours / tifffile", "full", "", "tifffile", "ours"),
    ]  # fmt: skip
    chips = []
    for case, warm in (("256x12", 2.0), ("64x12", 3.0), ("256x1", 2.0)):
        chips += [
            Ratio(f"cold {case} chip time, ours / rumi-eo", "chips_cold", case, "ours",
                  "rumi-eo", "<=", 1.0),
            Ratio(f"cold {case} chip time, ours / GDAL", "chips_cold", case, "ours", "GDAL"),
            Ratio(f"warm {case} chip time, ours / GDAL cached", "chips_warm", case, "ours",
                  "GDAL", "<=", warm),
            Ratio(f"cold {case} chip time, open_array / rumi-eo", "chips_cold", case,
                  "ours, open_array", "rumi-eo", "<=", 1.0),
            Ratio(f"warm {case} chip time, open_array / GDAL cached", "chips_warm", case,
                  "ours, open_array", "GDAL", "<=", warm),
            Ratio(f"warm {case} chip time, xarray .isel of a NumPy array / GDAL cached",
                  "chips_warm", case, "xarray .isel floor", "GDAL"),
        ]  # fmt: skip
    stack = [Ratio("stack time, ours / rumi-eo read_many", "stack", "", "ours", "rumi-eo",
                   "<=", 1.0)]  # fmt: skip
    opens = [Ratio(f"open time ({case}), ours / rasterio.open", "opens", case, "ours", "GDAL",
                   den_case="") for case in ("no header", "header=")]  # fmt: skip
    return full + chips + stack + opens


LIMITS = [  # absolute targets: (label, measure, case, contender, ms)
    ("open per file, header= blob (ms)", "opens", "header=", "ours", 0.5),
    ("open per file, no header (ms)", "opens", "no header", "ours", 1.0),
    ("open_array per file, header= blob (ms)", "opens", "header=", "ours, open_array", 0.5),
    ("open_array per file, no header (ms)", "opens", "no header", "ours, open_array", 1.0),
    ("import rumi_xarray (ms)", "import", "import rumi_xarray", "ours", 5.0),
]


# --------------------------------------------------------------------------- numbers


def save(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def stats(results: dict[str, Any]) -> dict[Key, tuple[float, float]]:
    """(min, median) seconds by (measure, case, contender, threads)."""
    return {(r["measure"], r["case"], r["contender"], r["threads"]):
            (min(r["seconds"]), statistics.median(r["seconds"]))
            for r in results["samples"]}  # fmt: skip


def threads_of(results: dict[str, Any]) -> list[int]:
    return list(results["machine"]["threads"])


def ratio_values(results: dict[str, Any], ratio: Ratio) -> list[tuple[float, float] | None]:
    """(of the mins, of the medians) at each thread count; None where not measured."""
    s = stats(results)
    den_case = ratio.case if ratio.den_case is None else ratio.den_case
    out: list[tuple[float, float] | None] = []
    for t in threads_of(results):
        a = s.get((ratio.measure, ratio.case, ratio.num, t))
        b = s.get((ratio.measure, den_case, ratio.den, t))
        out.append(None if a is None or b is None else (a[0] / b[0], a[1] / b[1]))
    return out


def passes(value: float, op: str, target: float) -> bool:
    return value >= target if op == ">=" else value <= target


def failed_checks(results: dict[str, Any]) -> list[str]:
    return [f"{c['worker']}-{c['threads']} {c['what']}" for c in results["checks"] if not c["ok"]]


# --------------------------------------------------------------------------- tables


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    decimals = 0 if ms >= 100 else 1 if ms >= 10 else 2 if ms >= 1 else 3
    return f"{ms:.{decimals}f}"


def times_table(results: dict[str, Any]) -> list[list[str]]:
    """Rows: measure, case, contender, then min and median ms at each thread count."""
    s = stats(results)
    threads = threads_of(results)
    head = ["measure", "case", "contender"]
    for t in threads:
        head += [f"{t} thr. min ms", f"{t} thr. median ms"]
    rows = [head]
    mb = results["data"]["nbytes"] / 1e6
    seen: list[tuple[str, str, str]] = []
    for m, c, who, _ in s:
        if (m, c, who) not in seen:
            seen.append((m, c, who))
    order = list(MEASURES)
    for m, c, who in sorted(seen, key=lambda k: order.index(k[0])):
        row = [MEASURES[m], c, who]
        for t in threads:
            got = s.get((m, c, who, t))
            if got is None:
                row += ["", ""]
                continue
            extra = f" ({mb / got[0]:.0f} MB/s)" if m == "full" else ""
            row += [_ms(got[0]) + extra, _ms(got[1])]
        rows.append(row)
    return rows


def ratio_table(results: dict[str, Any]) -> tuple[list[list[str]], bool]:
    """Rows: ratio, its value at each thread count (median's in brackets), target, verdicts."""
    threads = threads_of(results)
    rows = [["ratio (of min times; medians' in brackets)", *(f"{t} thr." for t in threads),
             "target", "verdict"]]  # fmt: skip
    all_pass = True
    for ratio in ratios():
        values = ratio_values(results, ratio)
        cells = ["" if v is None else f"{v[0]:.2f} ({v[1]:.2f})" for v in values]
        verdict = ""
        if ratio.target is not None:
            ok = [passes(v[0], ratio.op, ratio.target) for v in values if v is not None]
            verdict = " ".join("PASS" if o else "FAIL" for o in ok)
            all_pass &= all(ok)
        target = f"{ratio.op} {ratio.target:g}" if ratio.target is not None else "(info)"
        rows.append([ratio.label, *cells, target, verdict])
    s = stats(results)
    for label, m, c, who, limit in LIMITS:
        cells, ok = [], []
        for t in threads:
            got = s.get((m, c, who, t))
            cells.append("" if got is None else f"{got[0] * 1e3:.3f} ({got[1] * 1e3:.3f})")
            ok += [] if got is None else [got[0] * 1e3 <= limit]
        all_pass &= all(ok)
        verdict = " ".join("PASS" if o else "FAIL" for o in ok)
        rows.append([label, *cells, f"<= {limit:g}", verdict])
    floor = s.get(("opens", "xarray floor", "ours", min(threads)))
    if floor is not None:
        rows.append(["(info) xr.open_dataset of a prepared Dataset, no I/O: xarray's own cost (ms)",
                     f"{floor[0] * 1e3:.3f} ({floor[1] * 1e3:.3f})", *[""] * (len(threads) - 1),
                     "(info)", ""])  # fmt: skip
    rows.append(["(info) import, wall clock over a bare interpreter (ms)",
                 *(import_overhead(s, t) for t in threads), "(info)", ""])  # fmt: skip
    return rows, all_pass


def import_overhead(s: dict[Key, tuple[float, float]], threads: int) -> str:
    """Fresh interpreters' wall clock with ``import rumi_xarray`` minus without (min, median)."""
    bare = s.get(("import", "bare interpreter (wall)", "ours", threads))
    full = s.get(("import", "with import (wall)", "ours", threads))
    if bare is None or full is None:
        return ""
    return f"{(full[0] - bare[0]) * 1e3:.1f} ({(full[1] - bare[1]) * 1e3:.1f})"


def context(results: dict[str, Any]) -> list[str]:
    """Lines saying what was measured, where and with what."""
    d, m, w = results["data"], results["machine"], results["workers"]
    t = min(m["threads"])
    names = ("ours-cached", "rumi-eo", "gdal", "tifffile")
    ours, eo, gdal, tif = (w[f"{name}-{t}"] for name in names)
    lines = [
        f"scene {'x'.join(map(str, d['shape']))} {d['dtype']} ({d['nbytes'] / 1e6:.1f} MB); "
        f"rumi {d['rumi_bytes'] / 1e6:.1f} MB, GeoTIFF (ZSTD, predictor 2) {d['tif_bytes'] / 1e6:.1f} MB; "
        f"{d['chips']} chips per set; stack of {d['stack_files']} files; opens of {d['small_files']} files",
        f"ours: geozl {ours['geozl']}, frame cache off (cold) or {ours['frame_cache'] >> 20} MiB (warm, "
        f"its default); rumi-eo {eo['version']} (geozl {eo['geozl']}); GDAL {gdal['gdal']} (rasterio "
        f"{gdal['rasterio']}); tifffile {tif['tifffile']} (imagecodecs {tif['imagecodecs']})",
        f"machine: {m['cpu_count']} CPUs ({m['affinity']} usable), {m['platform']}, Python "
        f"{m['python']}; {_busy(m)}1-min load {m['load_before']:.2f} before, "
        f"{m['load_after']:.2f} after; "
        f"threads {', '.join(map(str, m['threads']))}; {results['settings']['rounds']} rounds"
        f"{' (--quick)' if results['quick'] else ''}; {results['elapsed']:.0f} s; {results['when']}",
    ]
    return lines + [f"WARNING: {text}" for text in results["warnings"]]


def _busy(m: dict[str, Any]) -> str:
    busy = m.get("busy_before")
    return "" if busy is None else f"{busy:.1f} cores busy just before; "


# --------------------------------------------------------------------------- output


def text(rows: list[list[str]], left: int = 1) -> str:
    """Rows as aligned text: the first ``left`` columns to the left, the others right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(cells))

    return "\n".join("  " + line(r).rstrip() for r in rows)


def markdown(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def checks_line(results: dict[str, Any]) -> str:
    bad = failed_checks(results)
    n = len(results["checks"])
    if bad:
        return f"checks: {len(bad)} of {n} MISMATCH the source: {', '.join(bad)}"
    return f"checks: {n} results (every worker's full read, chips or stack) equal the source, bit for bit"


def plot(results: dict[str, Any], path: Path) -> None:
    """Min times as bars (median as a tick) per measure and thread count, and the ratios."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = stats(results)
    threads = threads_of(results)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), layout="constrained")
    panels = [("full", "full read, ms"), ("chips_cold", "cold chip, ms per chip"),
              ("chips_warm", "warm chip, ms per chip (log)"), ("stack", "stack of 64 files, ms"),
              ("opens", "open, ms per small file")]  # fmt: skip
    for ax, (m, title) in zip(axes.flat, panels, strict=False):
        groups = list(dict.fromkeys((c, who) for mm, c, who, _ in s if mm == m))
        height = 0.8 / len(threads)
        for i, t in enumerate(threads):
            at = [k + i * height for k in range(len(groups))]
            got = [s.get((m, c, who, t), (float("nan"),) * 2) for c, who in groups]
            ax.barh(at, [g[0] * 1e3 for g in got], height, label=f"{t} thr. (min)")
            ax.plot([g[1] * 1e3 for g in got], at, "k|", markersize=8)
        ax.set_yticks([k + 0.4 - height / 2 for k in range(len(groups))],
                      [f"{c} {who}".strip() for c, who in groups])  # fmt: skip
        ax.invert_yaxis()
        ax.set_title(title)
        if m == "chips_warm":
            ax.set_xscale("log")
    axes.flat[0].legend(loc="lower right", fontsize="small", title="| median")
    _plot_ratios(axes.flat[5], results)
    fig.suptitle(f"rumi-xarray benchmark suite, {results['when']} (shared machine, one run)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_ratios(ax: Any, results: dict[str, Any]) -> None:
    """Each targeted ratio as a share of its target, oriented so that <= 1 meets it."""
    threads = threads_of(results)
    shown = [r for r in ratios() if r.target is not None]
    height = 0.8 / len(threads)
    for i in range(len(threads)):
        scores = []
        for r in shown:
            v = ratio_values(results, r)[i]
            target = r.target or 1.0
            scores.append(float("nan") if v is None else
                          (target / v[0] if r.op == ">=" else v[0] / target))  # fmt: skip
        ax.barh([k + i * height for k in range(len(shown))], scores, height)
    ax.axvline(1.0, color="k", linewidth=1)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(shown))],
                  [r.label.replace(" throughput", "").replace(" time", "") for r in shown],
                  fontsize="small")  # fmt: skip
    ax.invert_yaxis()
    ax.set_title("ratio / target (<= 1: target met)")


def docs_section(results: dict[str, Any], out: Path) -> str:
    out = out.resolve()
    rel = out.relative_to(HERE.parent) if out.is_relative_to(HERE.parent) else out
    times = markdown(times_table(results))
    ratio_rows, _ = ratio_table(results)
    bullets = "\n".join(f"- {line}" for line in [*context(results), checks_line(results)])
    return f"""{START}
Shared 2-core machine, numbers from one run (`{rel}`, made by
`uv run python benchmarks/run.py --write-docs`). Times are the min and the median of the rounds;
chips are per chip, opens per file.

{bullets}

{times}

{markdown(ratio_rows)}

![The suite's times and ratios]({PLOT.name})
{END}"""


def update_docs(results: dict[str, Any], out: Path) -> None:
    """Rewrite the results part of docs/benchmarks.md and draw docs/benchmarks.png."""
    page = DOCS.read_text()
    start, end = page.index(START), page.index(END) + len(END)
    DOCS.write_text(page[:start] + docs_section(results, out) + page[end:])
    plot(results, PLOT)
    print(f"wrote {DOCS.relative_to(HERE.parent)} and {PLOT.relative_to(HERE.parent)}")


def publish(results: dict[str, Any], out: Path, write_docs: bool = False) -> int:
    """Print the report (and write the docs); 1 when a bit-for-bit check failed, else 0."""
    print()
    print("rumi-xarray benchmark suite" + (" (--quick)" if results["quick"] else ""))
    for line in context(results):
        print(f"  {line}")
    print()
    print(text(times_table(results), left=3))
    print()
    rows, all_pass = ratio_table(results)
    print(text(rows))
    print()
    print(f"  {checks_line(results)}")
    print(f"  targets: {'all met' if all_pass else 'some FAIL'}; results in {out}")
    if write_docs:
        update_docs(results, out)
    return 1 if failed_checks(results) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results file of run.py")
    parser.add_argument("--write-docs", action="store_true", help="docs/benchmarks.md and .png")
    args = parser.parse_args()
    return publish(json.loads(args.results.read_text()), args.results, args.write_docs)


if __name__ == "__main__":
    sys.exit(main())

"""The code blocks of README.md and docs/*.md, as ``tests/test_docs.py`` runs them.

A page is read into :class:`Block` objects, one per fenced ``python`` or ``bash`` block, in
page order. A block is deliberately not run when the line before its fence is
``<!-- skip: reason -->``; the reason is required.

Python blocks run with :func:`run_python`: compiled under the page's own path with their
Markdown line numbers, so a traceback shows the page line. Bash blocks become
:class:`Command` lines (continuations joined, comments dropped): ``rumi-xarray ...`` (or
``uv run rumi-xarray ...``) runs in this process through :func:`rumi_xarray.cli.main`; the
commands in :data:`NOT_RUN` are listed, never run; anything else is an error, so a new kind of
command needs a skip marker or an entry there.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")))
"""Every page whose blocks are run, relative to the repository root."""

LANGUAGES = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
"""Fence info strings that are run, and as what; other fences (text, json, mermaid) are prose."""

NOT_RUN = {
    "pip install": "installs packages",
    "uv add": "installs packages",
    "uv sync": "installs packages",
    "uv run pytest": "runs the test suite, which this harness is part of",
    "uv run mkdocs": "builds or serves the documentation site (.ci/run builds it)",
    "uv run python benchmarks/": "a benchmark: minutes, and timings are not deterministic",
    "bash .ci/run": "runs CI, which runs this harness",
}
"""Command prefixes that bash blocks may show but the harness never runs, with the reason."""

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\s`]*)")
_SKIP = re.compile(r"^\s*<!--\s*skip\b:?(?P<reason>.*?)-->\s*$")
_WARNS = re.compile(r"^\s*<!--\s*warns:\s*(?P<category>[A-Za-z_.]+)\s*-->\s*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One fenced code block of a page."""

    page: str
    """Path of the page, relative to the repository root."""
    index: int
    """Position among the page's python and bash blocks, from 0."""
    line: int
    """1-based line of the opening fence."""
    lang: str
    """``"python"`` or ``"bash"``."""
    code: str
    """The block's text, dedented by the fence's indentation."""
    skip: str | None
    """The reason of a ``<!-- skip: reason -->`` marker (``""``: a marker without one)."""
    warns: str | None = None
    """The warning class a ``<!-- warns: Name -->`` marker says the block emits, as the page
    tells its reader (a name exported by :mod:`rumi_xarray`)."""

    @property
    def id(self) -> str:
        return f"{self.page}-{self.index:02d}-{self.lang}"


def read_blocks(page: str, text: str | None = None) -> list[Block]:
    """The python and bash blocks of ``page`` (or of ``text``, as that page), in order."""
    if text is None:
        text = (ROOT / page).read_text(encoding="utf-8")
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = i + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        lang = LANGUAGES.get(opening["info"].lower())
        if lang is not None:
            body = [line.removeprefix(indent) for line in lines[i + 1 : end]]
            code = "\n".join(body) + "\n"
            blocks.append(
                Block(
                    page=page,
                    index=len(blocks),
                    line=i + 1,
                    lang=lang,
                    code=code,
                    skip=_skip_reason(lines[:i]),
                    warns=_marker(lines[:i], _WARNS, "category"),
                )
            )
        i = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _skip_reason(before: list[str]) -> str | None:
    """The reason of the skip marker on the last non-blank line before a fence, if any."""
    return _marker(before, _SKIP, "reason")


def _marker(before: list[str], pattern: re.Pattern[str], group: str) -> str | None:
    """A marker's group on the last non-blank line before a fence, if that line is one."""
    for line in reversed(before):
        if line.strip():
            marker = pattern.match(line)
            return None if marker is None else marker[group].strip()
    return None


def run_python(block: Block, namespace: dict[str, Any]) -> None:
    """Execute a python block in ``namespace``; tracebacks point at the page's lines."""
    source = "\n" * (block.line) + block.code
    exec(compile(source, str(ROOT / block.page), "exec"), namespace)


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One command line of a bash block."""

    text: str
    """The line as written (continuations joined, comment dropped)."""
    argv: list[str] | None
    """The ``rumi-xarray`` arguments to run, or ``None`` when it is not run."""
    not_run: str | None = None
    """Why (part of) the line is not run: a :data:`NOT_RUN` reason or a pipe's other side."""


def bash_commands(code: str) -> list[Command]:
    """The commands of a bash block; raises ``ValueError`` for a line the harness cannot run."""
    commands = []
    for text in _logical_lines(code):
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        if not tokens:
            continue
        line = " ".join(tokens)
        reason = next((why for cmd, why in NOT_RUN.items() if line.startswith(cmd)), None)
        if reason is not None:
            commands.append(Command(text=line, argv=None, not_run=reason))
            continue
        commands.append(_rumi_command(line, tokens))
    return commands


def _logical_lines(code: str) -> list[str]:
    """Lines with backslash continuations joined."""
    joined: list[str] = []
    pending = ""
    for raw in code.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        joined.append(pending + raw)
        pending = ""
    if pending:
        joined.append(pending)
    return joined


def _rumi_command(line: str, tokens: list[str]) -> Command:
    """A ``rumi-xarray`` command, optionally piped into a program that is not run."""
    not_run = None
    if "|" in tokens:
        cut = tokens.index("|")
        not_run = "its output is piped into `" + " ".join(tokens[cut + 1 :]) + "`, not run"
        tokens = tokens[:cut]
    if tokens[:2] == ["uv", "run"]:
        tokens = tokens[2:]
    operators = {"&", "&&", "||", ";", ">", ">>", "<", "(", ")", "|"}
    if tokens[:1] != ["rumi-xarray"] or operators & set(tokens):
        raise ValueError(
            f"cannot run {line!r}: only `rumi-xarray ...` commands run (see NOT_RUN in "
            "tests/_docs.py); mark the block <!-- skip: reason --> instead"
        )
    return Command(text=line, argv=tokens[1:], not_run=not_run)


def run_command(command: Command) -> str:
    """Run one ``rumi-xarray`` command in this process; its output, or ``AssertionError``."""
    from rumi_xarray.cli.main import main

    assert command.argv is not None
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(command.argv)
    if code != 0:
        raise AssertionError(
            f"`{command.text}` exited {code}\n--- stdout\n{out.getvalue()}\n--- stderr\n"
            f"{err.getvalue()}"
        )
    return out.getvalue()

"""Helpers shared by the benchmarks: timing, machine description, Markdown report sections.

Every benchmark writes its own section of ``docs/benchmarks.md`` between two markers,
``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; :func:`write_section` replaces that section
(or appends it) and leaves the rest of the file as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

__all__ = [
    "INTRO", "Sample", "command_line", "machine", "markdown_table", "min_median", "now", "ratio",
    "seconds", "timed", "timed_cpu", "write_section",
]

T = TypeVar("T")

INTRO = """# Benchmarks

The numbers below are ratios measured side by side in one run of each benchmark script, on
whatever machine ran it (described in each section). Absolute seconds depend on that machine
and on what else was running there; the ratios between methods timed in the same run are what
to compare. Each section says which command produced it; run that command again to refresh it.
"""


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Wall-clock seconds of ``fn()``, and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@dataclass(frozen=True)
class Sample:
    """One timed call: wall-clock seconds and the CPU seconds this process spent (all its
    threads), which a busy shared machine disturbs far less than wall time."""

    wall: float
    cpu: float


def timed_cpu(fn: Callable[[], T]) -> tuple[Sample, T]:
    """Wall and process CPU seconds of ``fn()``, and its result."""
    cpu, start = time.process_time(), time.perf_counter()
    result = fn()
    return Sample(time.perf_counter() - start, time.process_time() - cpu), result


def min_median(values: Sequence[float], unit: str = " s", digits: int = 2) -> str:
    """``0.31 / 0.35 s``: the minimum and the median of repeated measurements."""
    return (f"{min(values):,.{digits}f} / {statistics.median(values):,.{digits}f}{unit}"
            if values else "—")


def machine() -> str:
    """One line describing where the benchmark ran, the CPU's model included: MKL rounds
    some products differently on other CPUs, so records are the same bits from run to run
    on one CPU, not across CPUs (and a training at the edge of stability ends elsewhere)."""
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = cores
    return (f"{usable} usable CPU cores (of {cores}), {platform.machine()}, {cpu()}, "
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"torch.get_num_threads() = {torch.get_num_threads()}")


def cpu() -> str:
    """The CPU's model name and the vector instructions torch's kernels use on it
    (``AVX512``; ``+AMX`` where the CPU has matrix tiles), as far as this system tells."""
    name, amx = platform.processor() or "CPU", ""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # not on Linux
        info = ""
    for line in info.splitlines():
        if line.startswith("model name"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("flags") and "amx_tile" in line.split():
            amx = "+AMX"
    return f"{name} ({torch.backends.cpu.get_cpu_capability()}{amx})"


def now() -> str:
    """The local date and time, to the minute."""
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def command_line() -> str:
    """The command that is running, as one could type it again."""
    return " ".join(shlex.quote(a) for a in ["python", *sys.argv])


def seconds(value: float | None) -> str:
    """``12.3 s``, or an em dash for a missing value."""
    return "—" if value is None else f"{value:,.1f} s"


def ratio(value: float | None) -> str:
    """``23.4x``, or an em dash for a missing value."""
    return "—" if value is None else f"{value:,.1f}x"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; the first column left-aligned, the others right."""
    align = [":--"] + ["--:"] * (len(headers) - 1)
    lines = [headers, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def write_section(path: Path, name: str, body: str, *, intro: str = INTRO) -> None:
    """Put ``body`` between the markers of section ``name`` in ``path``.

    The file is created (with ``intro``) when missing; the section is appended when the file
    has no markers for it; everything outside the markers is kept as it was.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else intro
    head, found, rest = text.partition(start)
    if found:
        _, closed, tail = rest.partition(end)
        if not closed:
            raise ValueError(f"{path}: {start} has no matching {end}; fix the file by hand")
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")

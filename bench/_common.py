"""Small helpers shared by the benchmark scripts: a table printer, a timer, peak memory.

Kept generic on purpose: nothing here knows about neuromkt's models or data.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class Timer:
    """Seconds of a ``with timed() as t:`` block, set on exit.

    ``seconds`` is wall-clock time; ``cpu_seconds`` is the CPU time of this process
    (all its threads), a steadier figure on a machine shared with other jobs.
    """

    started: float = 0.0
    started_cpu: float = 0.0
    seconds: float = math.nan
    cpu_seconds: float = math.nan


@contextmanager
def timed() -> Iterator[Timer]:
    """Time a block with ``time.perf_counter`` (wall) and ``time.process_time`` (CPU).

    Example:
        >>> with timed() as t:
        ...     _ = sum(range(10))
        >>> t.seconds >= 0
        True
    """
    timer = Timer(started=time.perf_counter(), started_cpu=time.process_time())
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - timer.started
        timer.cpu_seconds = time.process_time() - timer.started_cpu


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: floats rounded (``nan`` and None shown as ``-``), everything else as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    digits: int | Mapping[str, int] = 3,
) -> str:
    """Rows as a plain-text table (GitHub markdown), one column per name in ``columns``.

    Numbers are right-aligned, text left-aligned; missing keys show as ``-``.
    ``digits``: decimals of every float, or a mapping column -> decimals (default 3).
    """
    places = {c: digits.get(c, 3) if isinstance(digits, Mapping) else digits for c in columns}
    cells = [[fmt(row.get(c), places[c]) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row.get(c), int | float) or row.get(c) is None for row in rows)
        for c in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    ends = zip(widths, numeric, strict=True)
    rule = "|" + "|".join("-" * (w + 1) + (":" if num else "-") for w, num in ends) + "|"
    return "\n".join([line(columns), rule, *(line(r) for r in cells)])


def print_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    digits: int | Mapping[str, int] = 3,
) -> None:
    """Print :func:`format_table` to stdout."""
    print(format_table(rows, columns, digits=digits), flush=True)

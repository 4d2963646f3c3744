"""Shared helpers for the benchmarks: a throwaway instance, timing, and the result table.

The machine the benchmarks run on is shared and noisy, so no figure is meaningful alone: every
measurement is taken next to a baseline in the same run, the two sides are interleaved
(encrypted, plain, plain, encrypted, ...) so a burst of noise hits both, and the table reports
the median of repeated runs and the ratio of the two. Nothing here asserts on time.
"""

from __future__ import annotations

import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ on the path, not the repo
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import Engine  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from webapp import create_app, migrate  # noqa: E402
from webapp.crypto import Keyring  # noqa: E402

# --------------------------------------------------------------------------------------------
# A throwaway instance
# --------------------------------------------------------------------------------------------


@dataclass
class Instance:
    path: Path
    engine: Engine
    keyring: Keyring
    sessions: sessionmaker[Session]
    database_url: str
    app: Flask | None = None  # the app the instance was built with (pages.py sends it requests)


@contextmanager
def throwaway_instance(*, keep: bool = False) -> Iterator[Instance]:
    """A migrated SQLite database and key file in a temporary folder, never ./instance.

    The key file is pinned inside the folder too, so a WEBAPP_KEK or WEBAPP_KEK_FILE in the
    environment cannot point the benchmark at real keys.
    """
    path = Path(tempfile.mkdtemp(prefix="safeharbor-bench-"))
    database_url = f"sqlite:///{path / 'bench.db'}"
    app = create_app({
        "database_url": database_url,
        "instance_path": path / "instance",
        "kek_file": str(path / "instance" / "keys" / "kek.json"),
        "kek": None,
    })
    engine = app.extensions["safeharbor.engine"]
    keyring = app.extensions["safeharbor.keyring"]
    try:
        migrate.upgrade(engine)
        keyring.ensure_blind_index_key()
        yield Instance(path, engine, keyring, app.extensions["safeharbor.sessions"], database_url,
                       app)
    finally:
        engine.dispose()
        if keep:
            print(f"(kept the benchmark instance in {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def clock() -> float:
    return time.perf_counter()


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` takes (after a garbage collection, so a collection owed by the
    previous sample is not billed to this one)."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def per_op(loop: Callable[[int], object], n: int) -> float:
    """Seconds per operation of `loop(n)`, which must run its operation `n` times."""
    return timed(lambda: loop(n)) / n


def interleaved(repeats: int, encrypted: Callable[[], float],
                plain: Callable[[], float]) -> tuple[list[float], list[float]]:
    """Run both sides `repeats` times, alternating which goes first; each call returns its own
    figure (seconds per operation). Returns (encrypted samples, plain samples)."""
    enc, base = [], []
    for r in range(repeats):
        if r % 2 == 0:
            enc.append(encrypted())
            base.append(plain())
        else:
            base.append(plain())
            enc.append(encrypted())
    return enc, base


def median(values: list[float]) -> float:
    return statistics.median(values)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Targets and the result table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A target on the encrypted figure ("value") or on the ratio; `at_most` or at least."""

    label: str
    limit: float
    on: str = "value"  # "value" | "ratio"
    at_most: bool = True

    def met(self, value: float, ratio: float) -> bool:
        x = ratio if self.on == "ratio" else value
        return x <= self.limit if self.at_most else x >= self.limit


@dataclass
class Unit:
    name: str
    scale: float  # multiply seconds (or a rate) by this to show it
    rate: bool = False  # a throughput: bigger is better, ratio is baseline / encrypted

    def show(self, value: float) -> str:
        shown = value * self.scale
        if shown >= 1000:
            text = f"{shown:,.0f}"
        elif shown >= 100:
            text = f"{shown:.0f}"
        elif shown >= 10:
            text = f"{shown:.1f}"
        else:
            text = f"{shown:.2f}"
        return f"{text} {self.name}"


US = Unit("µs", 1e6)
MS = Unit("ms", 1e3)
PER_S = Unit("clients/s", 1.0, rate=True)


@dataclass
class Row:
    key: str
    name: str
    encrypted: float
    baseline: float
    unit: Unit
    baseline_is: str
    runs: str
    target: Target | None = None

    @property
    def ratio(self) -> float:
        """Encrypted cost / baseline cost: > 1 means encryption makes it slower."""
        if self.unit.rate:
            return self.baseline / self.encrypted if self.encrypted else float("inf")
        return self.encrypted / self.baseline if self.baseline else float("inf")

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "ok" if self.target.met(self.encrypted, self.ratio) else "over"


@dataclass
class Report:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def render(self) -> str:
        header = ("#", "measurement", "encrypted", "plaintext baseline", "baseline is", "ratio",
                  "target", "", "median of")
        table = [header]
        for row in self.rows:
            table.append((
                row.key,
                row.name,
                row.unit.show(row.encrypted),
                row.unit.show(row.baseline),
                row.baseline_is,
                _ratio(row.ratio),
                row.target.label if row.target else "-",
                row.verdict,
                row.runs,
            ))
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        right = {2, 3, 5}
        lines = [self.title, ""]
        for n, cells in enumerate(table):
            parts = [
                c.rjust(widths[i]) if i in right and n else c.ljust(widths[i])
                for i, c in enumerate(cells)
            ]
            lines.append("  ".join(parts).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.notes:
            lines.append("")
            lines.extend(self.notes)
        return "\n".join(lines)


def _ratio(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def machine_line() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

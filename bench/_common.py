"""What the benchmarks share: paths, percentiles, PASS/FAIL lines, tables, the machine, memory figures."""

from __future__ import annotations

import math
import os
import platform
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
# The project's own packages from this tree, whether or not (and wherever) it is pip-installed.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def use_test_helpers() -> None:
    """Put tests/ on sys.path: the fake Bot API and the throwaway PostgreSQL cluster live there."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (nearest rank on the sorted values; 0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values)."""
    return statistics.median(values) if values else 0.0


def verdict(ok: bool, what: str) -> str:
    """One PASS/FAIL line, printed and returned."""
    line = f"{'PASS' if ok else 'FAIL'}: {what}"
    print(line, flush=True)
    return line


def table(header: Sequence[str], rows: Sequence[Sequence[object]], right_from: int = 1) -> str:
    """A Markdown table; columns from `right_from` on are right-aligned."""
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" if i < right_from else "---:" for i in range(len(header))) + " |",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def status_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM); 0 where /proc is missing."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def rss_kib() -> int:
    """Resident memory of this process now, in KiB."""
    return status_kib("VmRSS")


def peak_rss_kib() -> int:
    """Peak resident memory of this process, in KiB (VmHWM, else getrusage's ru_maxrss)."""
    return status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def pg_version() -> str:
    """The PostgreSQL server version of the binaries the throwaway cluster would use."""
    use_test_helpers()
    import pg

    bindir = pg.find_bindir()
    if bindir is None:
        return "not installed"
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return "unknown"
    match = re.search(r"\(PostgreSQL\) (\S+)", out)
    return match.group(1) if match else out.strip() or "unknown"


def machine() -> str:
    """One line describing this machine and the versions that matter, with the load average now."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}, {_cpu_model()}, {_mem_total()} memory; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {pg_version()}; load average {load}"
    )


# Buttons a simulated user never presses: "decline" (privacy consent) ends the conversation before
# any question, so a full conversation could not happen. Everything else is fair game.
AVOID = frozenset({"decline"})


def pick(option_ids: Sequence[str], mode: str, rng: random.Random) -> int:
    """The index of the button to press: the first one, or a random one ("first" / "random")."""
    allowed = [i for i, o in enumerate(option_ids) if o not in AVOID] or list(range(len(option_ids)))
    return allowed[0] if mode == "first" else rng.choice(allowed)

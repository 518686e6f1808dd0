"""Start-up benchmark: content load + check, with the shipped content and with ten times as much.

Two figures for each content folder:
- in process: neuroseq_core.content.load_or_raise (read, validate, check every id, template and
  rule — what the bot does at start-up and on /reload), after the imports, best and median of runs;
- `neuroseq content check DIR` as a subprocess: the wall time an operator waits, imports included.

The 10× folder is generated: a copy of content/ where every activity and every question is
repeated ten times under new ids (activities: `<id>-x<n>`; questions: `<id>_x<n>`, each copy next to
its original so the order stays bottom-up), so it loads
and passes the checks like the shipped one. Targets: ≤ 1 s shipped, ≤ 3 s at 10×.

    python bench/bench_startup.py [--runs 5] [--factor 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from _common import ROOT, machine, median, table, verdict

TARGETS = {1: 1.0, 10: 3.0}  # content factor -> seconds


def multiply(src: Path, dest: Path, factor: int) -> tuple[int, int]:
    """Copy content to dest with activities and questions repeated `factor` times; (activities, questions)."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    n_act = n_q = 0
    for path in sorted((dest / "activities").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        originals = list(data["activities"])
        for n in range(1, factor):
            data["activities"] += [{**a, "id": f"{a['id']}-x{n}"} for a in originals]
        n_act += len(data["activities"])
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for path in sorted((dest / "questionnaires").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        # Each copy right after its original: questions must stay in bottom-up order.
        data["questions"] = [
            {**q, "id": q["id"] if n == 0 else f"{q['id']}_x{n}"}
            for q in data["questions"]
            for n in range(factor)
        ]
        n_q += len(data["questions"])
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return n_act, n_q


def in_process(folder: Path, runs: int) -> list[float]:
    """Seconds per load_or_raise of `folder`, in a fresh interpreter (imports not counted)."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from neuroseq_core.content import load_or_raise; from pathlib import Path\n"
        "for _ in range(int(sys.argv[3])):\n"
        "    t = time.perf_counter(); load_or_raise(Path(sys.argv[2])); print(time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(folder), str(runs)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    return [float(x) for x in out.split()]


def cli_check(folder: Path, runs: int) -> list[float]:
    """Wall seconds of `neuroseq content check folder` (python -m neuroseq_core.cli)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "neuroseq_core.cli", "content", "check", str(folder)],
            capture_output=True, text=True, env=env, cwd=ROOT, check=False,
        )  # fmt: skip
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"content check failed on {folder}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return times


def yaml_share(folder: Path) -> tuple[float, float]:
    """Seconds to parse every YAML file of the folder with PyYAML's pure-Python and libyaml loaders."""
    files = [p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.yaml"))]
    result = []
    for loader in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        start = time.perf_counter()
        for text in files:
            yaml.load(text, Loader=loader)
        result.append(time.perf_counter() - start)
    return result[0], result[1]


def main() -> int:
    """Measure both folders; print the table and the verdicts."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--factor", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    shipped = ROOT / "content"
    rows, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "content"
        n_act, n_q = multiply(shipped, big, args.factor)
        print(f"generated {args.factor}× content: {n_act} activities, {n_q} questions in {big}")
        for factor, folder in ((1, shipped), (args.factor, big)):
            loads = in_process(folder, args.runs)
            checks = cli_check(folder, args.runs)
            pure, fast = yaml_share(folder)
            size = sum(p.stat().st_size for p in folder.rglob("*.yaml")) / 1024
            rows.append([f"{factor}×", f"{size:.0f}", f"{min(loads):.2f}", f"{median(loads):.2f}",
                         f"{min(checks):.2f}", f"{median(checks):.2f}", f"{pure:.2f}", f"{fast:.2f}"])  # fmt: skip
            target = TARGETS.get(factor, TARGETS[10])
            for what, value in (("load_or_raise median", median(loads)),
                                ("`neuroseq content check` median", median(checks))):  # fmt: skip
                good = value <= target
                ok &= good
                verdict(good, f"{factor}× content: {what} {value:.2f} s (target ≤ {target:g} s)")
    print()
    print(table(["content", "YAML KiB", "load best s", "load median s", "check best s", "check median s",
                 "YAML parse (pure) s", "YAML parse (libyaml) s"], rows))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

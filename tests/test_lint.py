"""ruff (lint and format) and mypy (strict, over neuroseq_core, bot and dialogs) stay clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
    reason="ruff not installed",
)
def test_ruff_lint():
    out = _run("ruff", "check", ".")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
    reason="ruff not installed",
)
def test_ruff_format():
    out = _run("ruff", "format", "--check", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_over_every_package():
    pytest.importorskip("mypy")
    out = _run("mypy")
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr
    # Every package is checked, not only the core: count the files mypy says it read.
    files = [p for pkg in ("neuroseq_core", "bot", "dialogs") for p in (ROOT / pkg).rglob("*.py")]
    checked = int(out.stdout.rsplit(" in ", 1)[1].split()[0])
    assert checked >= len(files), out.stdout

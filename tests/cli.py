"""Running the `neuroseq` command line as a child process, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "neuroseq_core.cli"]


def cli_env(**settings: str) -> dict[str, str]:
    """This environment without any neuroseq or Telegram setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEUROSEQ_", "TELEGRAM_"))}
    env.update(settings)
    return env


def run_cli(
    args: list[str],
    stdin: str = "",
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    """Run one command to the end and capture its output."""
    return subprocess.run(
        [*COMMAND, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(**(env or {})),
        cwd=cwd,
        check=False,
    )


def start_cli(args: list[str], **settings: str) -> subprocess.Popen[bytes]:
    """Start a long-running command (run, webhook); stderr is kept for failure reports."""
    return subprocess.Popen(
        [*COMMAND, *args],
        cwd=ROOT,
        env=cli_env(**settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

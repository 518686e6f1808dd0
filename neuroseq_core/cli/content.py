"""`neuroseq content check | preview | test`: for staff who keep the wording and the activities."""

from __future__ import annotations

import argparse
from pathlib import Path

from dialogs import MAIN
from neuroseq_core.cli.main import EXIT_FAILED, EXIT_OK
from neuroseq_core.cli.scripts import run_scripts_cli
from neuroseq_core.content import load_content
from neuroseq_core.content.preview import write_preview
from neuroseq_core.engine import check_flow
from neuroseq_core.service.settings import Settings


def content_dir(settings: Settings, override: Path | None) -> Path | None:
    """The folder a command reads: the one given, else NEUROSEQ_CONTENT_DIR, else the shipped one."""
    return override or settings.content_dir


def check(folder: Path | None) -> int:
    """Validate a content folder, and that every name the flow in dialogs/ uses exists."""
    content, errors = load_content(folder)
    for err in errors:
        print(err)
    flow_problems = [f"dialogs/{MAIN.name}.py:1: error: {p}" for p in check_flow(MAIN)]
    for problem in flow_problems:
        print(problem)
    n_err = sum(1 for e in errors if not e.warning) + len(flow_problems)
    n_warn = len(errors) - n_err + len(flow_problems)
    if content is None or n_err:
        print(f"{n_err} error(s), {n_warn} warning(s)")
        return EXIT_FAILED
    print(
        f"content OK: {len(content.questions)} questions, {len(content.activities)} activities, "
        f"{len(content.languages.languages)} languages, {len(content.regions)} regions; {n_warn} warning(s)"
    )
    return EXIT_OK


def run(args: argparse.Namespace, settings: Settings) -> int:
    """One content action."""
    folder = content_dir(settings, args.dir)
    if args.action == "check":
        return check(folder)
    if args.action == "preview":
        return int(write_preview(folder, args.out))
    return run_scripts_cli(folder, args.scripts)

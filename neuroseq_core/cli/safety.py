"""`neuroseq safety check | eval`: screen lines from standard input, or report the frozen test split."""

from __future__ import annotations

import argparse
import sys

from neuroseq_core.cli.main import EXIT_FAILED, EXIT_OK
from neuroseq_core.content import default_content_dir
from neuroseq_core.safety import SafetyScreen
from neuroseq_core.safety.evaluate import evaluate, report, run_safety_check
from neuroseq_core.safety.examples import load_examples
from neuroseq_core.service.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    """One safety action."""
    root = args.content or settings.content_dir or default_content_dir()
    screen, errors = SafetyScreen.load(root)
    bad = [e for e in errors if not e.warning]
    for err in bad:
        print(err, file=sys.stderr)
    if bad:
        return EXIT_FAILED
    if args.action == "check":
        return run_safety_check(sys.stdin, sys.stdout, screen)
    held_out = [e for e in load_examples(root, []) if e.split == args.split]
    title = f"safety screen on the {args.split} split ({len(held_out)} messages)"
    print(report(evaluate(screen, held_out), title))
    return EXIT_OK

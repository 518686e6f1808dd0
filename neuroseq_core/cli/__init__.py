"""Entry points: the `neuroseq` command, the terminal console and the YAML conversation scripts."""

from neuroseq_core.cli.main import main

__all__ = ["main"]

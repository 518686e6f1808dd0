"""The `neuroseq` command: console, run, webhook, content, safety, db, data."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from neuroseq_core.content import ContentInvalid
from neuroseq_core.service.logs import FORMAT, FieldsFormatter, quiet_libraries
from neuroseq_core.service.settings import ConfigurationError, Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"neuroseq: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The command line, with one subcommand per job."""
    p = _Parser(
        prog="neuroseq", description="neuroseq: Regulate, Relate, Reason — a caregiver and educator chatbot."
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("console", help="talk to the bot in this terminal (no token needed)")
    c.add_argument("--user", default="me", help="who is talking (keeps separate conversations apart)")
    c.add_argument(
        "--content",
        type=Path,
        default=None,
        help="content folder (default: NEUROSEQ_CONTENT_DIR or the shipped one)",
    )

    sub.add_parser("run", help="run the Telegram bot by long polling")
    sub.add_parser("webhook", help="run the Telegram bot behind a webhook")

    content = sub.add_parser("content", help="check, preview or test content")
    csub = content.add_subparsers(dest="action", required=True, parser_class=_Parser)
    chk = csub.add_parser("check", help="validate a content folder")
    chk.add_argument("dir", nargs="?", type=Path, default=None)
    prv = csub.add_parser("preview", help="write an HTML preview of the content")
    prv.add_argument("dir", nargs="?", type=Path, default=None)
    prv.add_argument("--out", type=Path, default=Path("preview"))
    tst = csub.add_parser("test", help="run the YAML conversation scripts against a content folder")
    tst.add_argument("dir", nargs="?", type=Path, default=None)
    tst.add_argument("--scripts", type=Path, default=None, help="folder of conversation scripts")

    safety = sub.add_parser("safety", help="the safety screen")
    ssub = safety.add_subparsers(dest="action", required=True, parser_class=_Parser)
    sc = ssub.add_parser("check", help="screen messages, one a line, from standard input")
    sc.add_argument("--language", default="en", help="(kept for old scripts: every language is read)")
    sc.add_argument("--content", type=Path, default=None)
    se = ssub.add_parser("eval", help="the frozen test split's figures per category and language")
    se.add_argument("--content", type=Path, default=None)
    se.add_argument("--split", choices=["test", "dev"], default="test")

    db = sub.add_parser("db", help="database")
    dsub = db.add_subparsers(dest="action", required=True, parser_class=_Parser)
    dsub.add_parser("upgrade", help="apply schema migrations")

    data = sub.add_parser("data", help="stored data")
    dasub = data.add_subparsers(dest="action", required=True, parser_class=_Parser)
    purge = dasub.add_parser("purge", help="remove data of users inactive for NEUROSEQ_RETENTION_DAYS")
    purge.add_argument("--days", type=int, default=None)
    return p


# Each command's module, imported only when that command runs: the adapters and the database
# driver take most of a second to import, and `neuroseq safety check` or `content check` need neither.
COMMAND_MODULES = {
    "console": "neuroseq_core.cli.console",
    "run": "neuroseq_core.cli.telegram",
    "webhook": "neuroseq_core.cli.telegram",
    "content": "neuroseq_core.cli.content",
    "safety": "neuroseq_core.cli.safety",
    "db": "neuroseq_core.cli.data",
    "data": "neuroseq_core.cli.data",
}


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run one subcommand: the `run(args, settings)` of its module."""
    name = COMMAND_MODULES.get(args.command)
    if name is None:
        raise ConfigurationError(f"unknown command {args.command}")
    run: Callable[[argparse.Namespace, Settings], int] = importlib.import_module(name).run
    return run(args, settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `neuroseq` command."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command in ("run", "webhook"):
            settings.require_token()  # before the adapter is even imported
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(FieldsFormatter(FORMAT))
        logging.basicConfig(
            level=getattr(logging, settings.log_level if args.command in ("run", "webhook") else "WARNING"),
            handlers=[handler],
        )
        quiet_libraries()
        return dispatch(args, settings)
    except ConfigurationError as exc:
        print(f"neuroseq: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ContentInvalid as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        print("neuroseq: the content has errors; fix them and try again", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())

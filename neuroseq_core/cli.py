"""The `neuroseq` command: console, run, webhook, content, safety, db, data."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from neuroseq_core.clock import utcnow
from neuroseq_core.content import ContentInvalid
from neuroseq_core.settings import ConfigurationError, Settings, load_settings

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


def _content_dir(settings: Settings, override: Path | None) -> Path | None:
    return override or settings.content_dir


async def _console(settings: Settings, args: argparse.Namespace) -> int:
    from neuroseq_core.console import run_console
    from neuroseq_core.content import ContentHolder, load_or_raise
    from neuroseq_core.store.sql import open_store

    holder = ContentHolder(load_or_raise(_content_dir(settings, args.content)))  # main reports errors
    store = await open_store(settings.database_url)
    try:
        return await run_console(sys.stdin, sys.stdout, store, holder, user_id=args.user)
    finally:
        await store.close()


def _content_check(settings: Settings, args: argparse.Namespace) -> int:
    from neuroseq_core.content import load_content

    content, errors = load_content(_content_dir(settings, args.dir))
    for err in errors:
        print(err)
    n_err = sum(1 for e in errors if not e.warning)
    n_warn = len(errors) - n_err
    if content is None or n_err:
        print(f"{n_err} error(s), {n_warn} warning(s)")
        return EXIT_FAILED
    print(
        f"content OK: {len(content.questions)} questions, {len(content.activities)} activities, "
        f"{len(content.languages.languages)} languages, {len(content.regions)} regions; {n_warn} warning(s)"
    )
    return EXIT_OK


def _safety(settings: Settings, args: argparse.Namespace) -> int:
    from neuroseq_core.content import default_content_dir
    from neuroseq_core.safety import SafetyScreen
    from neuroseq_core.safety.evaluate import evaluate, report, run_safety_check
    from neuroseq_core.safety.examples import load_examples

    root = _content_dir(settings, args.content) or default_content_dir()
    screen, errors = SafetyScreen.load(root)
    bad = [e for e in errors if not e.warning]
    for err in bad:
        print(err, file=sys.stderr)
    if bad:
        return EXIT_FAILED
    if args.action == "check":
        return run_safety_check(sys.stdin, sys.stdout, screen)
    held_out = [e for e in load_examples(root, []) if e.split == args.split]
    print(
        report(
            evaluate(screen, held_out), f"safety screen on the {args.split} split ({len(held_out)} messages)"
        )
    )
    return EXIT_OK


async def _db_upgrade(settings: Settings) -> int:
    from neuroseq_core.store.migrate import upgrade

    await upgrade(settings.database_url)
    print("database is up to date")
    return EXIT_OK


async def _purge(settings: Settings, days: int | None) -> int:
    from neuroseq_core.retention import purge
    from neuroseq_core.store.sql import open_store

    keep = days if days is not None else settings.retention_days
    store = await open_store(settings.database_url)
    try:
        n = await purge(store, keep, utcnow())
    finally:
        await store.close()
    print(f"removed the data of {n} user(s) inactive for more than {keep} days")
    return EXIT_OK


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run one subcommand."""
    cmd = args.command
    if cmd == "console":
        return asyncio.run(_console(settings, args))
    if cmd == "run":
        settings.require_token()
        from bot.polling import run_polling

        return run_polling(settings)
    if cmd == "webhook":
        settings.require_token()
        from bot.webhook import run_webhook

        return run_webhook(settings)
    if cmd == "content":
        if args.action == "check":
            return _content_check(settings, args)
        if args.action == "preview":
            from neuroseq_core.preview import write_preview

            return int(write_preview(_content_dir(settings, args.dir), args.out))
        if args.action == "test":
            from neuroseq_core.scripts import run_scripts_cli

            return run_scripts_cli(_content_dir(settings, args.dir), args.scripts)
    if cmd == "safety":
        return _safety(settings, args)
    if cmd == "db":
        return asyncio.run(_db_upgrade(settings))
    if cmd == "data":
        return asyncio.run(_purge(settings, args.days))
    raise ConfigurationError(f"unknown command {cmd}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `neuroseq` command."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        logging.basicConfig(
            level=getattr(logging, settings.log_level if args.command in ("run", "webhook") else "WARNING"),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
            stream=sys.stderr,
        )
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

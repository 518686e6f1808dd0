"""Conversation scripts in YAML (user says -> bot says), run against a content folder.

A script is a list of turns. Each turn has `user:` (what is typed: a number, a button label,
free text or a /command) and any of:
  bot: text that some reply must contain (or a list of such texts)
  bot_not: text that no reply may contain (or a list)
  buttons: labels that the last reply's buttons must include
  first: text the very first reply must contain (e.g. a safety reply before anything else)
A turn may instead be `answer_all: N` — press button N of every question until the results.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroseq_core.cli.console import format_reply, parse_input
from neuroseq_core.content import Content, load_content
from neuroseq_core.content.render import to_plain
from neuroseq_core.content.yamlio import LineDict, LineList, YamlError, load_yaml
from neuroseq_core.domain.events import Reply
from neuroseq_core.engine import new_session, step

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class ScriptResult:
    """The outcome of one script."""

    name: str
    file: str
    failures: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every expectation held."""
        return not self.failures


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def run_script(script: dict[str, Any], content: Content, file: str = "<script>") -> ScriptResult:
    """Run one script on the engine (no store, no network); collect every failed expectation."""
    result = ScriptResult(name=str(script.get("name", file)), file=file)
    session = new_session(str(script.get("user_id", "script")), content)
    if script.get("language"):
        session.language = content.language(str(script["language"]))
    last: Reply | None = None
    turns = script.get("turns") or []
    lines = turns.item_lines if isinstance(turns, LineList) else [0] * len(turns)

    def send(text: str) -> list[Reply]:
        nonlocal session, last
        session, replies, _effects = step(session, parse_input(text, last, NOW), content)
        for r in replies:
            if r.choices:
                last = r
        result.transcript.append(f"> {text}")
        result.transcript.extend(format_reply(r) for r in replies)
        return replies

    for i, turn in enumerate(turns):
        where = f"{file}:{lines[i]}" if lines[i] else file
        if not isinstance(turn, dict):
            result.failures.append(f"{where}: a turn must be a mapping with `user:`")
            continue
        if "answer_all" in turn:
            # Answer every question of this stage with the same button; what the bot must say is
            # checked on the replies to the last answer (where the questions end).
            pick = str(turn["answer_all"])
            overrides = {
                str(k): str(v) for k, v in (turn.get("except") or {}).items()
            }  # question id -> button
            replies = []
            for _ in range(200):
                if session.state != "questions":
                    break
                replies = send(overrides.get(session.question_id or "", pick))
            if session.state == "questions":
                result.failures.append(f"{where}: the questions never ended")
        else:
            replies = send(str(turn.get("user", "")))
        texts = [to_plain(r.text) for r in replies]
        joined = "\n".join(texts)
        for want in _as_list(turn.get("bot")):
            if want.casefold() not in joined.casefold():
                result.failures.append(
                    f"{where}: expected the bot to say {want!r}; it said: {joined[:300]!r}"
                )
        for unwanted in _as_list(turn.get("bot_not")):
            if unwanted.casefold() in joined.casefold():
                result.failures.append(f"{where}: the bot must not say {unwanted!r}")
        if "first" in turn:
            first = texts[0] if texts else ""
            if str(turn["first"]).casefold() not in first.casefold():
                result.failures.append(
                    f"{where}: the first reply should contain {turn['first']!r}; it was {first[:200]!r}"
                )
        labels = [to_plain(b.label) for b in (last.choices if last else [])]
        for want in _as_list(turn.get("buttons")):
            if want not in labels:
                result.failures.append(f"{where}: expected a button {want!r}; buttons are {labels}")
    return result


def load_scripts(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every script in a folder (each file holds one script or a list of them)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(folder.glob("*.yaml")):
        data = load_yaml(path)
        items = data if isinstance(data, list) else [data]
        for item in items:
            if isinstance(item, (dict, LineDict)):
                out.append((path.name, item))
    return out


def run_scripts_cli(content_dir: Path | None, scripts_dir: Path | None) -> int:
    """`neuroseq content test`: run the scripts, print each result; exit 1 on any failure."""
    folder = scripts_dir or Path("tests/conversations")
    if not folder.is_dir():
        print(f"neuroseq: no conversation scripts at {folder}; pass --scripts DIR", file=sys.stderr)
        return 2
    content, errors = load_content(content_dir)
    if content is None:
        for err in errors:
            print(err)
        return 1
    try:
        scripts = load_scripts(folder)
    except YamlError as exc:
        print(exc.error)
        return 1
    failed = 0
    for file, script in scripts:
        res = run_script(script, content, file)
        print(f"{'PASS' if res.ok else 'FAIL'}  {file}: {res.name}")
        for f in res.failures:
            print(f"      {f}")
        failed += not res.ok
    print(f"{len(scripts) - failed} passed, {failed} failed")
    return 1 if failed else 0

"""One sandboxed Jinja environment: autoescaped for Telegram HTML, strict about undefined names."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

# Telegram's HTML parse mode accepts only a few tags; content may use these two.
ALLOWED_TAGS = ("b", "i")
_TAG_RE = re.compile(r"<(/?)([a-zA-Z0-9-]+)[^>]*>")


def _env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    return env


ENV = _env()


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile a content template once (cached by its text)."""
    return ENV.from_string(source)


@lru_cache(maxsize=4096)
def _plain(source: str) -> Markup | None:
    """A message with no template syntax renders to itself: no Jinja call (most labels and notices)."""
    if "{{" in source or "{%" in source or "{#" in source:
        return None
    return Markup(_tidy(source))  # noqa: S704 (content we wrote, as Jinja would give it back)


def render(source: str, context: dict[str, Any]) -> Markup:
    """Render a content template; the result is safe Telegram HTML (marked safe for nesting)."""
    plain = _plain(source)
    if plain is not None:
        return plain
    text = compile_template(source).render(**context)
    # The sandbox autoescaped every value, so the output is markup we made, not user input.
    return Markup(_tidy(text))  # noqa: S704


def _tidy(text: str) -> str:
    # Templates are written for people: collapse the blank lines that conditionals leave.
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def safe(value: str) -> Markup:
    """Escape a value the user typed, so it is shown as text and never read as markup."""
    return escape(value)


def check_tags(text: str) -> str | None:
    """None if the rendered text uses only allowed, balanced tags; else what is wrong."""
    stack: list[str] = []
    for match in _TAG_RE.finditer(text):
        closing, tag = match.group(1), match.group(2).lower()
        if tag not in ALLOWED_TAGS:
            return f"the tag <{tag}> is not allowed (use only <b> and <i>)"
        if closing:
            if not stack or stack[-1] != tag:
                return f"</{tag}> does not close an open <{tag}>"
            stack.pop()
        else:
            stack.append(tag)
    if stack:
        return f"<{stack[-1]}> is never closed"
    return None


def to_plain(text: str) -> str:
    """Telegram HTML to plain text for the console."""
    return html.unescape(_TAG_RE.sub("", text))


__all__ = ["ENV", "TemplateError", "check_tags", "compile_template", "render", "safe", "to_plain"]

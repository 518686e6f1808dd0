"""`neuroseq content preview`: static HTML pages of every question, message and activity, per language."""

from __future__ import annotations

import html
import os
import sys
from pathlib import Path

from jinja2 import TemplateError
from markupsafe import Markup

from dialogs import MAIN
from neuroseq_core.content import Content, load_content
from neuroseq_core.content.messages import BASE_SAMPLE, sample_context

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1d1d1d}
h1,h2,h3{color:#0b3d5c} .msg{white-space:pre-wrap;border:1px solid #cfd8dc;border-radius:8px;padding:.6rem .8rem;margin:.4rem 0 1rem;background:#f7fafc}
.id{font:12px ui-monospace,monospace;color:#555} .btn{display:inline-block;border:1px solid #0072b2;border-radius:6px;padding:.1rem .5rem;margin:.1rem;color:#0072b2}
nav a{margin-right:1rem} pre.mermaid{background:#fff8e6;padding:.6rem;border-radius:8px;overflow:auto}
.activity{border-left:4px solid #e69f00;padding-left:.8rem;margin-bottom:1.2rem}
"""


def _page(title: str, lang: str, body: str, langs: list[str]) -> str:
    nav = " ".join(f'<a href="{code}.html">{code}</a>' for code in langs)
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><nav>{nav} <a href='flows.html'>flows</a></nav>{body}</body></html>\n"
    )


def render_language(c: Content, lang: str) -> str:
    """One language's page: messages, questions with their buttons, activities."""
    parts = [f"<h1>neuroseq content — {html.escape(lang)}</h1>"]
    parts.append("<h2>Questions</h2>")
    for qn in c.questionnaires.values():
        parts.append(f"<h3>{html.escape(qn.id)}</h3>")
        for q in qn.questions:
            text = c.text_of(q.text, lang, child=BASE_SAMPLE["child"])
            buttons = "".join(
                f'<span class="btn">{html.escape(c.local(o.label, lang))}</span>' for o in q.options
            )
            parts.append(
                f'<div class="msg"><span class="id">{q.id} · {q.level}</span>\n{text}\n{buttons}</div>'
            )
    parts.append("<h2>Help right now (/now)</h2>")
    for look in c.help_now.values():
        steps = "".join(f"<li>{c.text_of(st, lang, child=BASE_SAMPLE['child'])}</li>" for st in look.steps)
        later = ", ".join(
            html.escape((c.activities[i].text.get(lang) or c.activities[i].text[c.default_language]).title)
            for i in look.then
            if i in c.activities
        )
        parts.append(
            f'<div class="msg"><span class="id">{html.escape(look.id)}</span>\n'
            f'<span class="btn">{html.escape(c.local(look.label, lang))}</span><ol>{steps}</ol>'
            f'<span class="id">then: {later}</span></div>'
        )
    parts.append("<h2>Dose plan: transition points</h2><ul>")
    for point in c.dose_points.values():
        parts.append(
            f"<li>{html.escape(c.local(point.label, lang))} <span class='id'>{point.id} · "
            f"{', '.join(point.settings)} · {', '.join(point.levels)}</span></li>"
        )
    parts.append("</ul>")
    parts.append("<h2>Messages</h2>")
    for mid in sorted(c.messages.get(lang, {})):
        try:
            text = c.text(mid, lang, **sample_context(mid))
        except TemplateError as exc:
            text = Markup(html.escape(f"(does not render with sample data: {exc})"))  # noqa: S704 - escaped here
        parts.append(f'<div class="msg"><span class="id">{html.escape(mid)}</span>\n{text}</div>')
    parts.append("<h2>Activities</h2>")
    for a in c.activities.values():
        t = a.text.get(lang) or a.text[c.default_language]
        steps = "".join(f"<li>{html.escape(s)}</li>" for s in t.steps)
        materials = html.escape(", ".join(t.materials))
        parts.append(
            f'<div class="activity"><h3>{html.escape(t.title)}</h3><span class="id">{a.id} · '
            f"{', '.join(a.levels)} · {', '.join(a.age_bands)} · {', '.join(a.settings)} · {a.minutes} min · "
            f"{', '.join(a.six_rs)}</span><p>{html.escape(t.why)}</p><ol>{steps}</ol>"
            f"<p><i>{materials}</i></p><p class='id'>{html.escape(a.source)}</p></div>"
        )
    return "\n".join(parts)


def render_flows() -> str:
    """The flows as mermaid diagrams, drawn from the same definitions that run."""
    parts = ["<h1>Flows</h1>"]
    for flow in (MAIN,):
        parts.append(
            f"<h2>{html.escape(flow.name)}</h2><pre class='mermaid'>{html.escape(flow.mermaid())}</pre>"
        )
    return "\n".join(parts)


def write_preview(content_dir: Path | None, out: Path) -> int:
    """Write index.html, one page per language and flows.html; exit code 0, or 1 on invalid content."""
    content, errors = load_content(content_dir)
    if content is None:
        for err in errors:
            print(err, file=sys.stderr)
        return 1
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    if created:
        os.chmod(out, 0o700)  # private whatever the umask, like the database
    langs = content.languages.languages
    pages = {
        f"{lang}.html": _page(f"neuroseq {lang}", lang, render_language(content, lang), langs)
        for lang in langs
    }
    pages["flows.html"] = _page("neuroseq flows", "en", render_flows(), langs)
    links = "".join(f'<li><a href="{lang}.html">{lang}</a></li>' for lang in langs)
    index = f"<h1>neuroseq content preview</h1><ul>{links}<li><a href='flows.html'>flows</a></li></ul>"
    pages["index.html"] = _page("neuroseq preview", "en", index, langs)
    for name, html_text in pages.items():
        fd = os.open(out / name, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html_text)
        os.chmod(out / name, 0o600)
    print(f"preview written to {out}/index.html")
    return 0

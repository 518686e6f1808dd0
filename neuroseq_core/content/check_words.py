"""The content check, for words: every message renders in every language, buttons stay short,
translations are complete, and no text makes a claim we never make."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jinja2 import TemplateError

from dialogs import MAIN
from neuroseq_core.content.messages import BUTTON_LABELS, MESSAGES, SAFETY_MESSAGES, sample_context
from neuroseq_core.content.model import Content
from neuroseq_core.content.render import check_tags, render
from neuroseq_core.content.yamlio import ContentError

BUTTON_MAX = 32


def source_of(c: Content, key: str, default: str = "") -> tuple[str, int]:
    """Where an item was written (file, line)."""
    return c.sources.get(key, (default or key.split(":")[0], 1))


# Claims we never make (DOMAIN.md): clinical tools, diagnosis, affiliation. A mention right after a
# negation ("not a diagnosis", "no es un diagnóstico") is the disclaimer itself, and is allowed.
FORBIDDEN = re.compile(
    r"brain[\s-]*map|heat[\s-]*map|assessment|evaluaci[oó]n\s+cl[ií]nica|\bmetric\b|diagnos\w*|"
    r"diagn[oó]stic\w*|certified|certificad\w*|developmental\s+age|edad\s+(?:de\s+)?desarrollo|"
    r"cortical\s+modulation|endorsed\s+by|avalad\w+\s+por|affiliated\s+with|afiliad\w+\s+(?:a|con)",
    re.IGNORECASE,
)
NEGATION = re.compile(
    r"\b(?:not|no|never|nor|isn[’']t|aren[’']t|doesn[’']t|don[’']t|without|ni|sin|nunca|tampoco|no\s+es|no\s+est[aá])\b"
    r"(?:\W+\w+){0,5}\W*$",
    re.IGNORECASE,
)


def forbidden_claims(text: str) -> list[str]:
    """The forbidden claims in a text (negated mentions, as in the disclaimer, are allowed)."""
    found = []
    for m in FORBIDDEN.finditer(text):
        before = text[max(0, m.start() - 60) : m.start()]
        if NEGATION.search(before):
            continue
        found.append(m.group(0))
    return found


def _render_check(c: Content, lang: str, mid: str, ctx: dict[str, Any]) -> Iterator[ContentError]:
    src = c.message_sources.get((lang, mid))
    f, line = (src.file, src.line) if src else (f"messages/{lang}/", 1)
    try:
        text = render(c.messages[lang][mid], ctx)
    except TemplateError as exc:
        yield ContentError(f, line, f"message '{mid}' does not render: {exc}")
        return
    problem = check_tags(text)
    if problem:
        yield ContentError(f, line, f"message '{mid}': {problem}")
    if not text.strip():
        yield ContentError(f, line, f"message '{mid}' is empty")
    if mid in BUTTON_LABELS and len(text) > BUTTON_MAX:
        yield ContentError(f, line, f"message '{mid}' is a button label: keep it to {BUTTON_MAX} characters")


def messages(c: Content) -> Iterator[ContentError]:
    referral_ids = {r.message for r in c.referrals}
    categories: tuple[str, ...] = tuple(getattr(c.safety, "categories", ()))
    needed_safety = {f"safety.{cat}" for cat in categories} | set(SAFETY_MESSAGES)
    for lang in c.languages.languages:
        table = c.messages.get(lang, {})
        for mid in list(MESSAGES) + sorted(needed_safety):
            if mid not in table:
                # Point at the message in a language that has it: that is the text to translate.
                other = next(
                    (
                        c.message_sources[(o, mid)]
                        for o in c.languages.languages
                        if (o, mid) in c.message_sources
                    ),
                    None,
                )
                f, line = (other.file, other.line) if other else (f"messages/{lang}/", 1)
                yield ContentError(
                    f,
                    line,
                    f"message '{mid}' is missing in {lang}; add its translation to a file in messages/{lang}/",
                )
        for mid in table:
            used = mid in MESSAGES or mid in needed_safety or mid in referral_ids
            src = c.message_sources.get((lang, mid))
            if not used and not mid.startswith(("safety.", "helplines.")) and src:
                yield ContentError(src.file, src.line, f"message '{mid}' is not used anywhere", warning=True)
            yield from _render_check(c, lang, mid, sample_context(mid))


def regional_variants(c: Content) -> Iterator[ContentError]:
    """A folder like messages/es-ES/ rewords some messages of its language for one region: each id
    must exist in that language, and each template must render."""
    for variant, table in c.messages.items():
        if variant in c.languages.languages:
            continue
        base, _, region = variant.partition("-")
        if base not in c.languages.languages or region.lower() not in c.regions:
            yield ContentError(
                f"messages/{variant}/", 1, f"'{variant}' is neither a language nor <language>-<REGION>"
            )
            continue
        for mid in table:
            src = c.message_sources.get((variant, mid))
            f, line = (src.file, src.line) if src else (f"messages/{variant}/", 1)
            if mid not in c.messages.get(base, {}):
                yield ContentError(f, line, f"message '{mid}' rewords nothing: it is not in messages/{base}/")
                continue
            yield from _render_check(c, variant, mid, sample_context(mid))


def dialog_messages(c: Content) -> Iterator[ContentError]:
    # The flow's structure (names, reachability) is checked by neuroseq_core.engine.check_flow;
    # here, that every question it asks has its words.
    for state, ask in MAIN.asks.items():
        for mid in (ask.message, *ask.label_ids()):
            for lang in c.languages.languages:
                if mid not in c.messages.get(lang, {}):
                    yield ContentError(
                        f"messages/{lang}/",
                        1,
                        f"state '{state}' of dialogs/{MAIN.name}.py needs message '{mid}'",
                    )


def _all_texts(c: Content) -> Iterator[tuple[str, int, str]]:
    for (lang, mid), src in c.message_sources.items():
        yield src.file, src.line, c.messages[lang][mid]
    for q in c.questions.values():
        f, line = source_of(c, f"question:{q.id}")
        yield from ((f, line, t) for t in q.text.values())
        for o in q.options:
            yield from ((f, line, t) for t in o.label.values())
    for a in c.activities.values():
        f, line = source_of(c, f"activity:{a.id}")
        yield f, line, a.source
        for t in a.text.values():
            yield from ((f, line, s) for s in (t.title, t.why, *t.steps, *t.materials))
    for r in c.regions.values():
        for h in r.helplines:
            yield f"resources/{r.id}.yaml", 1, h.name
    for look in c.help_now.values():
        f, line = source_of(c, f"help_now:{look.id}", "help_now.yaml")
        for text in (look.label, *look.steps):
            yield from ((f, line, t) for t in text.values())
    for lv in c.sequence.levels:
        yield from (("sequence.yaml", 1, t) for t in (*lv.name.values(), *lv.description.values()))
    for st in c.sequence.steps:
        yield from (("sequence.yaml", 1, t) for t in (*st.name.values(), *st.summary.values()))


def claims(c: Content) -> Iterator[ContentError]:
    for f, line, text in _all_texts(c):
        for claim in forbidden_claims(text):
            yield ContentError(
                f,
                line,
                f"'{claim}': we never make clinical or affiliation claims; say 'informed by published principles of the Neurosequential Model'",
            )


def translations(c: Content) -> Iterator[ContentError]:
    langs = c.languages.languages
    if c.languages.default_language not in langs:
        yield ContentError("languages.yaml", 1, "default_language must be one of languages")

    def missing(value: dict[str, Any]) -> list[str]:
        return [lang for lang in langs if not value.get(lang)]

    for lv in c.sequence.levels:
        for lang in missing(lv.name) + missing(lv.description):
            yield ContentError("sequence.yaml", 1, f"level '{lv.id}' has no {lang} text")
    for st in c.sequence.steps:
        for lang in missing(st.name) + missing(st.summary):
            yield ContentError("sequence.yaml", 1, f"step '{st.id}' has no {lang} text")
    for band in c.age_bands.values():
        f, line = source_of(c, f"age_band:{band.id}", "age_bands.yaml")
        for lang in missing(band.label):
            yield ContentError(f, line, f"age band '{band.id}' has no {lang} label")
    for q in c.questions.values():
        f, line = source_of(c, f"question:{q.id}")
        for lang in missing(q.text):
            yield ContentError(f, line, f"question '{q.id}' has no {lang} text")
        for o in q.options:
            of, oline = source_of(c, f"option:{q.id}:{o.id}", f)
            for lang in missing(o.label):
                yield ContentError(of, oline, f"option '{o.id}' of '{q.id}' has no {lang} label")
    for a in c.activities.values():
        f, line = source_of(c, f"activity:{a.id}")
        for lang in missing(a.text):
            yield ContentError(f, line, f"activity '{a.id}' has no {lang} text")
    for r in c.regions.values():
        for lang in missing(r.name):
            yield ContentError(f"resources/{r.id}.yaml", 1, f"region '{r.id}' has no {lang} name")

"""The content check, for fit: every idea, question and plan point reads right for each age band and
setting it is shown to, and Spanish outside Spain is Mexican/neutral (content/style.yaml)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

from neuroseq_core.content.check_words import source_of
from neuroseq_core.content.model import Content
from neuroseq_core.content.yamlio import ContentError
from neuroseq_core.domain.models import ActivityText

SETTING_OF = {"caregiver": "home", "educator_student": "classroom", "educator_class": "classroom"}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=512)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    body = "|".join(re.escape(_fold(w)) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


def _found(words: Iterable[str], text: str) -> list[str]:
    pattern = _pattern(tuple(words))
    return sorted(set(pattern.findall(_fold(text)))) if pattern else []


def _wording(t: ActivityText) -> str:
    return " ".join([t.title, t.why, *t.steps, *t.materials])


def _refused(c: Content, lang: str, text: str, setting: str | None, band: str | None) -> list[str]:
    """The words of `text` that do not fit a reader in this setting and age band."""
    style = c.style
    bad: list[str] = []
    if setting is not None:
        for other, by_lang in style.settings.items():
            if other != setting:
                bad += _found(by_lang.get(lang, []), text)
    if band is not None:
        bad += _found(style.ages.get(band, {}).get(lang, []), text)
    if lang == "es":
        bad += _found(style.spanish, text)
    return sorted(set(bad))


def check_style(c: Content) -> Iterator[ContentError]:
    """Every text shown to a reader fits their age band and setting; Spanish is Mexican/neutral."""
    langs = c.languages.languages
    for a in c.activities.values():
        f, line = source_of(c, f"activity:{a.id}")
        for setting in a.settings:
            shown_as = "classroom" if setting == "outdoors" else setting  # a teacher outdoors or in the hall
            for band in a.age_bands:
                for lang in langs:
                    words = _refused(
                        c, lang, _wording(a.text_for(lang, c.default_language, setting, band)), shown_as, band
                    )
                    if words:
                        yield ContentError(
                            f,
                            line,
                            f"activity '{a.id}' ({lang}) is shown to {band} in {setting} but says "
                            f"{', '.join(repr(w) for w in words)}: reword it, or add a variant for {setting}/{band}",
                        )
    for qn in c.questionnaires.values():
        asked_in = SETTING_OF.get(qn.id)
        for q in qn.questions:
            f, line = source_of(c, f"question:{q.id}")
            for band in q.age_bands or list(c.age_bands):
                for lang in langs:
                    text = q.text_for(band).get(lang, "")
                    words = _refused(c, lang, text, asked_in, band)
                    if words:
                        yield ContentError(
                            f,
                            line,
                            f"question '{q.id}' ({lang}) is asked about {band} but says "
                            f"{', '.join(repr(w) for w in words)}: add a variant for {band}",
                        )
            for o in q.options:
                if words := _refused(c, "es", o.label.get("es", ""), None, None):
                    yield ContentError(f, line, f"option '{o.id}' of '{q.id}' (es) says {', '.join(words)}")
    for p in c.dose_points.values():
        for band in p.age_bands or list(c.age_bands):
            for lang in langs:
                if words := _refused(c, lang, p.label.get(lang, ""), None, band):
                    yield ContentError(
                        "doses.yaml",
                        1,
                        f"plan point '{p.id}' ({lang}) is shown to {band} but says {', '.join(words)}",
                    )
    for (lang, mid), src in c.message_sources.items():
        if lang == "es" and (words := _found(c.style.spanish, c.messages[lang][mid])):
            yield ContentError(
                src.file,
                src.line,
                f"message '{mid}' uses Spain-only Spanish {', '.join(repr(w) for w in words)}: "
                "write for Mexico here, and put Spain's wording in messages/es-ES/",
            )
    for look in c.help_now.values():
        for localized in (look.label, *look.steps):
            if words := _found(c.style.spanish, localized.get("es", "")):
                yield ContentError("help_now.yaml", 1, f"help-now '{look.id}' (es) says {', '.join(words)}")

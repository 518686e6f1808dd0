"""Cross-checks on loaded content: references, templates, coverage, order, claims, translations."""

from __future__ import annotations

import re
from collections.abc import Iterator

from jinja2 import TemplateError
from markupsafe import Markup

from neuroseq_core.content.check_style import check_style
from neuroseq_core.content.check_words import (
    BUTTON_MAX,
    claims,
    dialog_messages,
    messages,
    regional_variants,
    source_of,
    translations,
)
from neuroseq_core.content.messages import sample_context
from neuroseq_core.content.model import Content
from neuroseq_core.content.render import render
from neuroseq_core.content.resources import staleness
from neuroseq_core.content.yamlio import ContentError
from neuroseq_core.domain.models import LEVEL_ORDER, STEP_ORDER, Activity, Condition, StepId
from neuroseq_core.domain.recommend import lowest_step

MIN_QUESTIONS_PER_LEVEL = 4
MIN_ACTIVITIES_PER_CELL = 3  # each level x setting (home, classroom) x age band
ID_RE = re.compile(r"^[a-z0-9_]{1,24}$")
OPTION_ID_RE = re.compile(r"^[a-z0-9_]{1,16}$")
ACTIVITY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
REQUIRED_QUESTIONNAIRES = {
    "caregiver": ("caregiver", "one"),
    "educator_student": ("educator", "one"),
    "educator_class": ("educator", "class"),
}


def check_content(c: Content) -> list[ContentError]:
    """Every cross-reference and rule; errors name file and line."""
    out: list[ContentError] = []
    for fn in (
        _sequence,
        _age_bands,
        _questionnaires,
        _activities,
        _referrals,
        _help_now,
        _dose_points,
        messages,
        regional_variants,
        dialog_messages,
        claims,
        translations,
        check_style,
    ):
        out.extend(fn(c))
    return out


def _sequence(c: Content) -> Iterator[ContentError]:
    f = "sequence.yaml"
    steps = [s.id for s in c.sequence.steps]
    if steps != list(STEP_ORDER):
        yield ContentError(
            f, 1, f"steps must be exactly {', '.join(STEP_ORDER)} in that order (found {', '.join(steps)})"
        )
    levels = [lv.id for lv in c.sequence.levels]
    if levels != list(LEVEL_ORDER):
        yield ContentError(
            f, 1, f"levels must be {', '.join(LEVEL_ORDER)}, bottom-up (found {', '.join(levels)})"
        )
    last = 0
    for lv in c.sequence.levels:
        idx = STEP_ORDER.index(lv.step)
        if idx < last:
            yield ContentError(
                f, 1, f"level '{lv.id}' is on a lower step than the level before it; keep the order bottom-up"
            )
        last = idx


def _age_bands(c: Content) -> Iterator[ContentError]:
    if not c.age_bands:
        yield ContentError("age_bands.yaml", 1, "no age bands are defined")
    for band in c.age_bands.values():
        f, line = source_of(c, f"age_band:{band.id}", "age_bands.yaml")
        if band.min_age > band.max_age:
            yield ContentError(f, line, f"age band '{band.id}': min_age is above max_age")
        for level in LEVEL_ORDER:
            t = band.thresholds.get(level)
            if t is None:
                yield ContentError(f, line, f"age band '{band.id}' has no thresholds for level '{level}'")
            elif t.more_support <= t.some_support:
                yield ContentError(
                    f, line, f"age band '{band.id}', level '{level}': more_support must be above some_support"
                )


def _questionnaires(c: Content) -> Iterator[ContentError]:
    for qid, (role, group) in REQUIRED_QUESTIONNAIRES.items():
        qn = c.questionnaires.get(qid)
        if qn is None:
            yield ContentError(
                "questionnaires/", 1, f"the questionnaire '{qid}' is missing (add questionnaires/{qid}.yaml)"
            )
            continue
        f, line = source_of(c, f"questionnaire:{qid}")
        if (qn.role, qn.group) != (role, group):
            yield ContentError(f, line, f"questionnaire '{qid}' must have role {role} and group {group}")
    for qn in c.questionnaires.values():
        last = 0
        for q in qn.questions:
            f, line = source_of(c, f"question:{q.id}")
            if not ID_RE.match(q.id):
                yield ContentError(f, line, f"question id '{q.id}': use 1-24 lower-case letters, digits or _")
            idx = LEVEL_ORDER.index(q.level)
            if idx < last:
                yield ContentError(
                    f,
                    line,
                    f"question '{q.id}' ({q.level}) comes after a higher level; keep questions bottom-up",
                )
            last = max(last, idx)
            for band in q.age_bands or []:
                if band not in c.age_bands:
                    yield ContentError(f, line, f"question '{q.id}': unknown age band '{band}'")
            prev = -1
            ids: set[str] = set()
            for o in q.options:
                of, oline = source_of(c, f"option:{q.id}:{o.id}", f)
                if not OPTION_ID_RE.match(o.id) or o.id == "skip":
                    yield ContentError(
                        of,
                        oline,
                        f"option id '{o.id}': use 1-16 lower-case letters, digits or _ (not 'skip')",
                    )
                if o.id in ids:
                    yield ContentError(of, oline, f"option id '{o.id}' is used twice in question '{q.id}'")
                ids.add(o.id)
                if o.concern < prev:
                    yield ContentError(
                        of,
                        oline,
                        f"question '{q.id}': options must run from least to most concern; '{o.id}' goes down",
                    )
                prev = o.concern
                for lang, label in o.label.items():
                    if len(label) > BUTTON_MAX:
                        yield ContentError(
                            of,
                            oline,
                            f"option '{o.id}' ({lang}): a button label of at most {BUTTON_MAX} characters",
                        )
            for lang, text in q.text.items():
                try:
                    render(text, {"child": Markup("Sam")})
                except TemplateError as exc:
                    yield ContentError(
                        f, line, f"question '{q.id}' ({lang}): the text does not render: {exc}"
                    )
        for band in c.age_bands:
            for level in LEVEL_ORDER:
                n = sum(
                    1
                    for q in qn.questions
                    if q.level == level and (q.age_bands is None or band in q.age_bands)
                )
                if n < MIN_QUESTIONS_PER_LEVEL:
                    f, line = source_of(c, f"questionnaire:{qn.id}")
                    yield ContentError(
                        f,
                        line,
                        f"questionnaire '{qn.id}' has {n} question(s) for {level} at age {band}; at least {MIN_QUESTIONS_PER_LEVEL} are needed",
                    )


def _activities(c: Content) -> Iterator[ContentError]:
    for a in c.activities.values():
        f, line = source_of(c, f"activity:{a.id}")
        if not ACTIVITY_ID_RE.match(a.id):
            yield ContentError(f, line, f"activity id '{a.id}': use lower-case letters, digits and dashes")
        for band in a.age_bands:
            if band not in c.age_bands:
                yield ContentError(
                    f, line, f"activity '{a.id}': unknown age band '{band}' (known: {', '.join(c.age_bands)})"
                )
        if len(set(a.levels)) != len(a.levels):
            yield ContentError(f, line, f"activity '{a.id}': a level is listed twice")
        if not a.source.strip():
            yield ContentError(
                f, line, f"activity '{a.id}': name the published source it draws on", warning=True
            )
    steps: dict[str, StepId] = {lv.id: lv.step for lv in c.sequence.levels}

    def serves(a: Activity, level: str) -> bool:
        # The recommender offers an activity under the lowest step it serves; count it only there.
        return level in a.levels and lowest_step(a, steps) == STEP_ORDER.index(steps[level])

    for a in c.activities.values():
        if lowest_step(a, steps) < STEP_ORDER.index(steps[a.levels[0]]):
            f, line = source_of(c, f"activity:{a.id}")
            yield ContentError(
                f,
                line,
                f"activity '{a.id}' lists a level below its first one; it will be offered only on the lower step",
                warning=True,
            )
    for level in LEVEL_ORDER:
        for setting in ("home", "classroom"):
            for band in c.age_bands:
                n = sum(
                    1
                    for a in c.activities.values()
                    if serves(a, level) and setting in a.settings and band in a.age_bands
                )
                if n < MIN_ACTIVITIES_PER_CELL:
                    yield ContentError(
                        "activities/",
                        1,
                        f"only {n} activit{'y' if n == 1 else 'ies'} for {level} / {setting} / age {band}; at least {MIN_ACTIVITIES_PER_CELL} are needed",
                    )
            if setting == "classroom":
                for group in ("one", "class"):
                    for band in c.age_bands:
                        n = sum(
                            1
                            for a in c.activities.values()
                            if serves(a, level)
                            and "classroom" in a.settings
                            and group in a.groups
                            and band in a.age_bands
                        )
                        if n < 2:
                            yield ContentError(
                                "activities/",
                                1,
                                f"only {n} classroom activities for {level} / group {group} / age {band}; at least 2 are needed",
                            )


REGULATING_LEVELS = ("sensory", "self_regulation")
MIN_DOSE_POINTS = 3


def _help_now(c: Content) -> Iterator[ContentError]:
    if not c.help_now:
        yield ContentError("help_now.yaml", 1, "add at least one look: /now has nothing to offer without it")
    for look in c.help_now.values():
        f, line = source_of(c, f"help_now:{look.id}", "help_now.yaml")
        for aid in look.then:
            a = c.activities.get(aid)
            if a is None:
                yield ContentError(f, line, f"help-now '{look.id}': unknown activity id '{aid}'")
            elif a.levels[0] not in REGULATING_LEVELS:
                # In a meltdown only bottom-of-the-sequence help works; reasoning waits for calm.
                yield ContentError(
                    f,
                    line,
                    f"help-now '{look.id}': '{aid}' starts at '{a.levels[0]}'; only regulating "
                    f"activities (sensory, self_regulation) belong here",
                )
        for lang in c.languages.languages:
            for i, text in enumerate([look.label, *look.steps]):
                if not text.get(lang):
                    what = "label" if i == 0 else f"step {i}"
                    yield ContentError(f, line, f"help-now '{look.id}': {what} has no {lang} text")
                    continue
                try:
                    render(text[lang], sample_context("now.steps"))
                except TemplateError as exc:
                    yield ContentError(f, line, f"help-now '{look.id}': does not render: {exc}")


def _dose_points(c: Content) -> Iterator[ContentError]:
    for setting in ("home", "classroom"):
        n = sum(1 for p in c.dose_points.values() if setting in p.settings)
        if n < MIN_DOSE_POINTS:
            yield ContentError(
                "doses.yaml",
                1,
                f"only {n} transition points for {setting}; at least {MIN_DOSE_POINTS} are needed",
            )
    for point in c.dose_points.values():
        f, line = source_of(c, f"dose_point:{point.id}", "doses.yaml")
        for lang in c.languages.languages:
            if not point.label.get(lang):
                yield ContentError(f, line, f"dose point '{point.id}' has no {lang} label")


def _conditions(cond: Condition) -> Iterator[Condition]:
    yield cond
    for sub in (cond.any or []) + (cond.all or []):
        yield from _conditions(sub)


def _referrals(c: Content) -> Iterator[ContentError]:
    for rule in c.referrals:  # unique ids are checked as they load
        f, line = source_of(c, f"referral:{rule.id}", "referrals.yaml")
        for region in rule.regions or []:
            if region not in c.regions:
                yield ContentError(f, line, f"rule '{rule.id}': unknown region '{region}'")
        if rule.last_verified is not None and (
            old := staleness(f"rule '{rule.id}'", rule.last_verified, f, line)
        ):
            yield old
        for lang in c.languages.languages:
            if not c.has_message(rule.message, lang):
                yield ContentError(
                    f, line, f"rule '{rule.id}': message '{rule.message}' is missing in messages/{lang}/"
                )
        for cond in _conditions(rule.when):
            kinds = [k for k in ("level", "answer", "any", "all") if getattr(cond, k) is not None]
            if len(kinds) != 1:
                yield ContentError(
                    f, line, f"rule '{rule.id}': each condition needs exactly one of level, answer, any, all"
                )
            if cond.answer is not None:
                q = c.questions.get(cond.answer.question)
                if q is None:
                    yield ContentError(
                        f, line, f"rule '{rule.id}': unknown question '{cond.answer.question}'"
                    )
                else:
                    known = {o.id for o in q.options}
                    for opt in cond.answer.options:
                        if opt not in known:
                            yield ContentError(
                                f, line, f"rule '{rule.id}': question '{q.id}' has no option '{opt}'"
                            )
            for band in cond.age_bands or []:
                if band not in c.age_bands:
                    yield ContentError(f, line, f"rule '{rule.id}': unknown age band '{band}'")

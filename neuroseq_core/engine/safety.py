"""Safety: every free text is screened first; danger gets real help, a possible danger one gentle question.

The conversation stays where it was: the help and the question are side messages, and "stop for
now" pauses through the flow like /cancel.
"""

from __future__ import annotations

from typing import Any

from neuroseq_core.content.resources import safety_context
from neuroseq_core.domain.events import Button, Reply
from neuroseq_core.domain.session import SafetyMemory
from neuroseq_core.engine.asking import prompt, side_question
from neuroseq_core.engine.matching import sounds_like_a_hard_moment
from neuroseq_core.engine.turn import Turn
from neuroseq_core.safety import Verdict
from neuroseq_core.safety.reply import audience_for, lines_category, recent, speaker_for, template_for

SAFETY_CONTINUE = "safety.continue"
SAFETY_STOP = "safety.stop"
SAFETY_YES = "safety.check.yes"
SAFETY_NO = "safety.check.no"
SAFETY_REGION = "safety.region."  # + a region id: that country's lines for the last danger reply
NOW_OPEN = "now.open"  # the "Help right now" button offered beside a question in a hard moment


def is_safety_choice(option_id: str) -> bool:
    """A button of a danger reply or question (answered whatever the state)."""
    return option_id in (SAFETY_YES, SAFETY_NO, SAFETY_CONTINUE, SAFETY_STOP) or option_id.startswith(
        SAFETY_REGION
    )


def screen(turn: Turn, raw: str) -> bool:
    """Screen free text; answer danger (clear: help at once; possible: one gentle question)."""
    memory = turn.s.safety
    minutes = turn.c.safety.config.context_minutes
    context = recent(memory.categories, memory.at, turn.event.now, minutes) if memory else ()
    verdict = turn.c.safety.verdict(raw, context)
    if verdict.tier is None:
        return False
    speaker = speaker_for(verdict.speaker, turn.s.role)
    turn.s.safety = SafetyMemory(
        categories=list(verdict.categories),
        speaker=speaker,
        poisoning=verdict.poisoning,
        at=turn.event.now,
        asking=verdict.tier != "clear",
    )
    if verdict.tier == "clear":
        safety_reply(turn, verdict)
    else:
        turn.count(f"safety_check.{verdict.category}")
        # A hard moment (screaming, hitting) may be a meltdown rather than danger: calm steps are
        # one tap away beside the question.
        extra = [NOW_OPEN] if sounds_like_a_hard_moment(turn, raw) else []
        side_question(turn, turn.t("safety.check.question"), [SAFETY_YES, SAFETY_NO, *extra])
    return True


def ask_again(turn: Turn, note: str) -> bool:
    """After what cannot be read (a sticker, a voice note, an edit), the open "is anyone in danger?"
    question comes again, with `note`, rather than the questionnaire: it is the one that matters. True
    when it was asked (it is open, and was asked within the safety context's minutes)."""
    memory = turn.s.safety
    minutes = turn.c.safety.config.context_minutes
    if (
        memory is None
        or not memory.asking
        or not recent(memory.categories, memory.at, turn.event.now, minutes)
    ):
        return False
    side_question(turn, turn.t(note) + "\n\n" + turn.t("safety.check.again"), [SAFETY_YES, SAFETY_NO])
    return True


def helplines(turn: Turn) -> None:
    """The crisis lines for the user's region (every country's numbers, when it is not known yet)."""
    ctx = safety_context("general", turn.region(), turn.c.regions, turn.lang, turn.s.role)
    text = turn.c.text("helplines.list", turn.words, **ctx)
    turn.replies.append(Reply(text=text, choices=_country_buttons(turn, ctx), kind="safety"))


def on_safety_choice(turn: Turn, option_id: str) -> None:
    """Yes: the help for what was said. No: back where we were. A country: its lines."""
    if option_id == SAFETY_CONTINUE:
        prompt(turn)
        return
    memory = turn.s.safety
    verdict = (
        Verdict("clear", tuple(memory.categories), memory.speaker, memory.poisoning)
        if memory and memory.categories
        else None
    )
    if option_id.startswith(SAFETY_REGION):
        region = turn.c.regions.get(option_id.removeprefix(SAFETY_REGION))
        if region is None:
            turn.refused = True
            prompt(turn, "reprompt.stale")
            return
        if turn.s.region is None:  # asked again later in onboarding all the same
            turn.s.region = region.id
        if verdict is None:
            helplines(turn)
            prompt(turn)
        else:
            safety_reply(turn, verdict, count=False)  # the same danger, now with local lines
    elif option_id == SAFETY_YES and verdict is not None:
        safety_reply(turn, verdict)
    elif option_id == SAFETY_YES:
        helplines(turn)
        prompt(turn)
    else:
        # They told us no one is in danger: that answer, not our guess, colours what comes next.
        turn.s.safety = None
        prompt(turn, "safety.check.no_reply")


def _safety_ctx(
    turn: Turn, category: str, speaker: str, poisoning: bool, lead: bool = True
) -> dict[str, Any]:
    # The lead reply may take another category's lines (a child who sees violence at home: a
    # child line); an "also" block lists its own category's lines for this reader.
    ctx = safety_context(
        lines_category(category, speaker) if lead else category,
        turn.region(),
        turn.c.regions,
        turn.lang,
        turn.s.role,
        audience_for(speaker),
        poisoning,
    )
    return {**ctx, "category": category}


def safety_reply(turn: Turn, verdict: Verdict, count: bool = True) -> None:
    """Danger first: help for who is speaking and for every category found, then go on or stop."""
    lead = verdict.category or "general"
    speaker = speaker_for(verdict.speaker, turn.s.role)
    ctx = _safety_ctx(turn, lead, speaker, verdict.poisoning)
    parts = [str(turn.c.text(template_for(lead, speaker), turn.words, **ctx))]
    # (an "also" block whose lines were all shown already renders empty and is left out)
    shown = {line["name"] for line in ctx["lines"]}
    for other in verdict.categories[1:]:  # several at once: each one's lines, none twice
        octx = _safety_ctx(turn, other, speaker, verdict.poisoning, lead=False)
        octx["lines"] = [line for line in octx["lines"] if line["name"] not in shown]
        shown |= {line["name"] for line in octx["lines"]}
        also = str(turn.c.text("safety.also", turn.words, **octx)).strip()
        if also:
            parts.append(also)
    if count:
        turn.count(f"safety.{lead}")
    if turn.s.role == "educator" and any(c != "medical_emergency" for c in verdict.categories):
        parts.append(str(turn.c.text("safety.educator", turn.words, **ctx)))
    if ctx["numbers"]:  # the country is not known yet: the numbers first, a country one tap away
        parts.insert(0, str(turn.c.text("safety.numbers", turn.words, **ctx)))
    turn.replies.append(Reply(text="\n\n".join(parts), kind="safety"))
    side_question(
        turn,
        turn.c.text("safety.after", turn.words, **ctx),
        [SAFETY_CONTINUE, SAFETY_STOP],
        before=_country_buttons(turn, ctx),
    )


def _country_buttons(turn: Turn, ctx: dict[str, Any]) -> list[Button]:
    # Before the user's country is known, each country's lines are one tap away.
    if not ctx["numbers"]:
        return []
    return [
        Button(id=SAFETY_REGION + r.id, label=turn.c.local(r.name, turn.lang))
        for r in turn.regions_in_order()
    ]

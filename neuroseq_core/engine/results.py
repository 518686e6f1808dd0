"""The results: where to start on the sequence, a picture, the first ideas, referral prompts; more ideas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transitions import EventData

from neuroseq_core.domain.effects import SaveProfile
from neuroseq_core.domain.events import Button, Picture, Reply
from neuroseq_core.domain.models import LEVEL_ORDER, STEP_ORDER, StepId
from neuroseq_core.domain.recommend import Pick, recommend
from neuroseq_core.domain.referral import referrals
from neuroseq_core.domain.scoring import score
from neuroseq_core.engine.progress import progress_reply
from neuroseq_core.engine.questions import chosen, deeper_topic, questions, unanswered
from neuroseq_core.engine.registry import callback, source
from neuroseq_core.engine.turn import Turn

MAX_REFERRAL_PROMPTS = 2


def level_steps(turn: Turn) -> dict[str, StepId]:
    """Each level's step."""
    return {lv.id: lv.step for lv in turn.c.sequence.levels}


@callback
def show_results(turn: Turn, ev: EventData) -> None:
    """Callback after the last answer: score, pick, and say it."""
    band = turn.c.age_bands[turn.s.age_band or ""]
    profile = score(questions(turn), turn.s.answers, band, level_steps(turn))
    turn.s.profile = profile
    turn.s.suggested = []
    turn.s.completed_at = turn.event.now
    turn.effects.append(SaveProfile())
    if turn.s.depth == "core":  # once a run: a closer look refines the same run
        turn.count("conversation.completed")
        turn.count(f"start_step.{profile.start_step}")
    _summary(turn)
    if turn.s.followup.past:
        progress_reply(turn)
    suggest(turn, first=True, count=1 if turn.s.depth == "core" else 2)
    say_referrals(turn)  # before the country is known, the routes that fit anywhere


@callback
def show_referrals(turn: Turn, ev: EventData) -> None:
    """Callback once the region is known: the prompts to talk to someone, with that country's routes."""
    say_referrals(turn)


def say_referrals(turn: Turn) -> None:
    """One or two gentle prompts, in content order (staff put the most specific first); a wall of
    referrals would frighten more than help."""
    p = turn.s.profile
    if p is None:
        return
    fired = referrals(
        turn.c.referrals,
        p,
        turn.s.answers,
        turn.s.age_band or "",
        turn.s.role or "caregiver",
        turn.s.group or "one",
        turn.s.region,
        turn.s.carer,
    )[:MAX_REFERRAL_PROMPTS]
    said = set(p.referrals)
    turn.s.profile = p.model_copy(update={"referrals": [r.id for r in fired]})
    for rule in fired:
        if rule.id not in said:  # once the country is known, only its own routes are added
            turn.say(rule.message, kind="result")


@callback
def show_more(turn: Turn, ev: EventData) -> None:
    """Callback: the next ideas, or say there are no more."""
    if turn.s.profile is None or not suggest(turn, first=False):
        turn.note = "results.no_more"


def said_at(turn: Turn, levels: Sequence[str]) -> list[str]:
    """What the answers at these levels said a child needs, most worrying first (each need once)."""
    found: list[tuple[int, int, str]] = []
    for i, q in enumerate(questions(turn)):
        option = chosen(turn, q)
        if q.level in levels and option is not None and option.concern >= 2 and q.needs:
            found.append((-option.concern, i, q.needs[0]))
    return list(dict.fromkeys(need for _c, _i, need in sorted(found)))


def _latest_outcomes(turn: Turn) -> dict[str, str]:
    latest: dict[str, str] = {}
    for c in turn.s.followup.checkins:
        latest.update(dict.fromkeys(c.ids, c.outcome))
    return latest


def _any_most_concern(turn: Turn) -> bool:
    return any((option := chosen(turn, q)) is not None and option.concern >= 3 for q in questions(turn))


def _need_words(turn: Turn, needs: Sequence[str]) -> list[str]:
    return [turn.t(f"need.{n}") for n in needs]


def _summary(turn: Turn) -> None:
    p = turn.s.profile
    assert p is not None
    steps = []
    for st in turn.c.sequence.steps:
        levels = [
            {
                "name": turn.c.local(lv.name, turn.lang),
                "band": p.band(lv.id),
                "band_word": turn.t(f"band.{p.band(lv.id)}"),
            }
            for lv in sorted(turn.c.sequence.levels, key=lambda x: LEVEL_ORDER.index(x.id))
            if lv.step == st.id
        ]
        steps.append(
            {
                "id": st.id,
                "name": turn.c.local(st.name, turn.lang),
                "summary": turn.c.local(st.summary, turn.lang),
                "levels": levels,
                "is_start": st.id == p.start_step,
            }
        )
    ctx = {
        "steps": steps,
        "start_step": turn.step_name(p.start_step),
        "start_level": turn.c.local(turn.level(p.start_level).name, turn.lang),
        "start_band": p.band(p.start_level),
        # One answer of the most concern (hurting themselves often) is never "nothing stands out".
        "start_on_track": p.start_on_track and not _any_most_concern(turn),
        "known": p.known,
        "unknown": [turn.c.local(turn.level(lv).name, turn.lang) for lv in p.unknown_levels()],
        "said": _need_words(
            turn, said_at(turn, [lv.id for lv in turn.c.sequence.levels if lv.step == p.start_step])[:2]
        ),
        "deep": turn.s.depth == "deep",
    }
    picture = Picture(
        steps=[s["name"] for s in steps],
        start_index=STEP_ORDER.index(p.start_step),
        caption=turn.t("picture.caption", **ctx),
        title=turn.t("picture.start_here", **ctx),
    )
    turn.replies.append(Reply(text=turn.t("results.summary", **ctx), picture=picture, kind="result"))


def suggest(turn: Turn, first: bool, count: int = 3) -> bool:
    """Say the next few ideas for the profile (none offered before); False if there are none left."""
    p = turn.s.profile
    assert p is not None
    # Never again what was offered this run, nor an idea a check-in said did not help.
    failed = [i for i, outcome in _latest_outcomes(turn).items() if outcome == "not"]
    exclude = [*turn.s.suggested, *failed]
    picks = recommend(
        p, turn.c.activities.values(), level_steps(turn), turn.filters(), exclude=exclude, count=count
    )
    if not picks:
        return False
    turn.s.suggested.extend(pk.activity.id for pk in picks)
    key = "results.activities" if first else "results.more_activities"
    turn.say(
        key, kind="result", items=[_item(turn, pk) for pk in picks], start_step=turn.step_name(p.start_step)
    )
    return True


def _item(turn: Turn, pk: Pick) -> dict[str, Any]:
    a = pk.activity
    level = turn.level(pk.level)
    assert turn.s.profile is not None
    band = turn.s.profile.band(pk.level)
    rs = [turn.t(f"six_r.{r}") for r in a.six_rs]
    fit = turn.t(
        "results.fit",
        level_name=turn.c.local(level.name, turn.lang),
        step_name=turn.step_name(level.step),
        band=band,
        band_word=turn.t(f"band.{band}"),
        said=_need_words(turn, pk.answers[:2]),
        next_step=level.step != turn.s.profile.start_step,
        rs=rs,
        minutes=a.minutes,
        fits_time=pk.fits_time,
        available=turn.s.minutes,
    )
    return {**turn.brief(a, pk.level), "rs": rs, "fit": fit}


@source("results")
def results_options(turn: Turn, fixed: list[Button]) -> list[Button]:
    """What next: a closer look (while there are questions left, named by what stood out), then the rest."""
    out = []
    for b in fixed:
        if b.id == "deeper":
            if not unanswered(turn):
                continue
            topic = deeper_topic(turn)
            b = Button(id=b.id, label=turn.t("results.deeper", topic=topic or ""))
        out.append(b)
    return out

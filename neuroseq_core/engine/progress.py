"""/progress: the same questions again for the same child, and the change per step in words."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from transitions import EventData

from neuroseq_core.domain.events import Picture, Reply
from neuroseq_core.domain.models import BAND_ORDER, STEP_ORDER, Band
from neuroseq_core.domain.session import PastRun
from neuroseq_core.engine.asking import prompt
from neuroseq_core.engine.questions import start_questions
from neuroseq_core.engine.registry import callback
from neuroseq_core.engine.turn import Turn

MAX_PAST = 6  # earlier results kept for progress (bands and a date only)
PROGRESS_NOT_BEFORE = dt.timedelta(days=14)  # change takes weeks: asking again sooner says little


def progress(turn: Turn) -> None:
    """/progress: answer the core questions again (same child, same setting) to see the change;
    no sooner than two weeks after the last time."""
    if turn.s.profile is None or turn.s.completed_at is None:
        prompt(turn, "progress.none")
        return
    wait = turn.s.completed_at + PROGRESS_NOT_BEFORE - turn.event.now
    if wait > dt.timedelta(0):
        turn.say("progress.too_soon", days=max(1, wait.days + (1 if wait.seconds else 0)))
        prompt(turn)
        return
    turn.fire("answer_again")
    turn.count("progress.started")
    prompt(turn, "progress.again")


@callback
def begin_again(turn: Turn, ev: EventData) -> None:
    """Callback: keep this run's bands and date, then a fresh run that keeps what is the child's."""
    p, done = turn.s.profile, turn.s.completed_at
    assert p is not None and done is not None
    past = [*turn.s.followup.past, PastRun(on=done.date(), bands={r.level: r.band for r in p.levels})]
    turn.s = turn.s.fresh("child")
    turn.s.followup.past = past[-MAX_PAST:]
    start_questions(turn)


def _step_band(turn: Turn, bands: Mapping[str, Band], step_id: str) -> int | None:
    """The step's band as an index (0 steady … 2 more support): its answered levels' highest band;
    None when none of its levels was answered (nothing to compare)."""
    levels = [lv.id for lv in turn.c.sequence.levels if lv.step == step_id]
    known = [BAND_ORDER.index(b) for lv in levels if (b := bands.get(lv, "unknown")) in BAND_ORDER]
    return max(known) if known else None


def progress_reply(turn: Turn) -> None:
    """The change per step since the last time, as a picture and a sentence; never a score."""
    p = turn.s.profile
    past = turn.s.followup.past
    if p is None or not past:
        return
    before = past[-1]
    now_bands: dict[str, Band] = {r.level: r.band for r in p.levels}
    changes = []
    for st in turn.c.sequence.steps:
        then_i = _step_band(turn, before.bands, st.id)
        now_i = _step_band(turn, now_bands, st.id)
        if then_i is None or now_i is None:
            word = "unknown"
        else:
            word = "steadier" if now_i < then_i else ("same" if now_i == then_i else "more")
        changes.append(
            {"step": turn.c.local(st.name, turn.lang), "change": word, "word": turn.t(f"progress.{word}")}
        )
    ctx = {
        "since": before.on.isoformat(),
        "changes": changes,
        "harder": any(c["change"] == "more" for c in changes),
    }
    picture = Picture(
        kind="progress",
        steps=[c["step"] for c in changes],
        start_index=STEP_ORDER.index(p.start_step),
        caption=turn.t("progress.caption", **ctx),
        title="",
        notes=[c["word"] for c in changes],
        changes=[c["change"] for c in changes],
    )
    turn.replies.append(Reply(text=turn.t("progress.summary", **ctx), picture=picture, kind="result"))

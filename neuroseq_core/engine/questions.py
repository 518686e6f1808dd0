"""The questions: which ones this user is asked, recording answers, and fitting a session to live content."""

from __future__ import annotations

from collections.abc import Callable

from transitions import EventData

from dialogs.main import NEED_AGE_BAND
from neuroseq_core.domain.events import Button
from neuroseq_core.domain.models import LEVEL_ORDER, LevelId, Option, Question
from neuroseq_core.engine.registry import callback, prompt_text, source
from neuroseq_core.engine.turn import Turn

QUESTIONNAIRE_FOR = {
    ("caregiver", "one"): "caregiver",
    ("educator", "one"): "educator_student",
    ("educator", "class"): "educator_class",
}


def questions(turn: Turn) -> list[Question]:
    """Every question of this user's questionnaire that fits the age band, in order (for scoring)."""
    qn = turn.c.questionnaires.get(turn.s.questionnaire or "")
    if qn is None:
        return []
    return [q for q in qn.questions if q.age_bands is None or turn.s.age_band in q.age_bands]


def _is_core(qs: list[Question]) -> Callable[[Question], bool]:
    # Content without core questions asks everything first (as before core questions existed).
    return (lambda q: q.core) if any(q.core for q in qs) else (lambda q: True)


def stage_questions(turn: Turn) -> list[Question]:
    """The questions of this stage: the core first; later, the rest at the levels chosen to look closer."""
    qs = questions(turn)
    core = _is_core(qs)
    if turn.s.depth == "core":
        return [q for q in qs if core(q)]
    return [q for q in qs if not core(q) and q.level in turn.s.deep_levels]


def chosen(turn: Turn, q: Question) -> Option | None:
    """The option answered to a question (None when skipped or not asked)."""
    return next((o for o in q.options if o.id == turn.s.answers.get(q.id)), None)


def next_question_id(turn: Turn) -> str | None:
    """The first question of this stage not answered yet."""
    return next((q.id for q in stage_questions(turn) if q.id not in turn.s.answers), None)


def start_questions(turn: Turn) -> None:
    """Pick the questionnaire (a new one forgets the old answers) and the first core question."""
    qid = QUESTIONNAIRE_FOR.get((turn.s.role or "", turn.s.group or ""))
    if turn.s.questionnaire != qid:
        turn.s.questionnaire = qid
        turn.s.answers = {}
    turn.s.depth, turn.s.deep_levels = "core", []
    turn.s.question_id = next_question_id(turn)
    if not turn.s.counted_start:  # once per run of the questions, /back or not
        turn.s.counted_start = True
        turn.count("conversation.started")


@callback
def begin_questions(turn: Turn, ev: EventData) -> None:
    """Callback: into the core questions."""
    start_questions(turn)


def unanswered(turn: Turn) -> list[Question]:
    """The questions not asked yet beyond the core."""
    qs = questions(turn)
    core = _is_core(qs)
    return [q for q in qs if not core(q) and q.id not in turn.s.answers]


MAX_DEEPER_LEVELS = 2  # a closer look asks about one or two levels at a time (about 6-8 questions)


def deeper_levels(turn: Turn) -> list[LevelId]:
    """Where a closer look helps, bottom-up: the levels with questions left whose answers showed the
    most concern (or were skipped), at most two at a time; if none did, the lowest levels left."""
    left = [lv for lv in LEVEL_ORDER if any(q.level == lv for q in unanswered(turn))]
    p = turn.s.profile
    rank = {"more_support": 0, "some_support": 1, "unknown": 2, "on_track": 3}
    worried = [lv for lv in left if p is not None and p.band(lv) != "on_track"]
    if p is not None and worried:
        # The starting level first (the bottom-up rule), then the most worrying of the others.
        chosen = sorted(
            worried, key=lambda lv: (lv != p.start_level, rank[p.band(lv)], LEVEL_ORDER.index(lv))
        )
        return sorted(chosen[:MAX_DEEPER_LEVELS], key=LEVEL_ORDER.index)
    return left[:MAX_DEEPER_LEVELS]


def deeper_topic(turn: Turn) -> str | None:
    """What a closer look asks about, in plain words: the first level it looks at ("body and
    senses"), when something there showed concern; None when nothing stood out."""
    levels = deeper_levels(turn)
    p = turn.s.profile
    if not levels or p is None or p.band(levels[0]) in ("on_track", "unknown"):
        return None
    return turn.c.local(turn.level(levels[0]).name, turn.lang).lower()


@callback
def begin_deeper(turn: Turn, ev: EventData) -> None:
    """Callback: into the deeper questions, where the core showed concern."""
    turn.s.depth, turn.s.deep_levels = "deep", deeper_levels(turn)
    turn.s.question_id = next_question_id(turn)
    turn.note = "questions.deeper"


@callback
def record_answer(turn: Turn, ev: EventData) -> None:
    """Callback: keep the answer (None when skipped) and move to the next question."""
    qid = turn.s.question_id
    if qid is None:
        return
    value = ev.kwargs["value"]
    turn.s.answers[qid] = None if value == "skip" else value
    if f"q:{qid}" not in turn.s.history:
        turn.s.history.append(f"q:{qid}")
    turn.s.question_id = next_question_id(turn)


@callback
def more_questions(turn: Turn, ev: EventData) -> bool:
    """Guard: there is a question still to ask."""
    return turn.s.question_id is not None


@callback
def has_age_band(turn: Turn, ev: EventData) -> bool:
    """Guard: the age band is one the content still has (the results need it)."""
    return (turn.s.age_band or "") in turn.c.age_bands


@source("question")
def question_options(turn: Turn, fixed: list[Button]) -> list[Button]:
    """The current question's options, then Skip."""
    q = turn.c.questions.get(turn.s.question_id or "")
    if q is None:
        return []
    return [*(Button(id=o.id, label=turn.c.local(o.label, turn.lang)) for o in q.options), *fixed]


@prompt_text("question.prompt")
def question_text(turn: Turn, message: str) -> str:
    """The question, with its number, its level and its step."""
    q = turn.c.questions.get(turn.s.question_id or "")
    if q is None:
        return turn.t("question.missing")
    qs = stage_questions(turn)
    ids = [x.id for x in qs]
    number = ids.index(q.id) + 1 if q.id in ids else len(turn.s.answers) + 1
    level = turn.level(q.level)
    return turn.t(
        message,
        number=number,
        total=len(qs),
        text=turn.c.text_of(q.text_for(turn.s.age_band), turn.lang, child=turn.child()),
        level_name=turn.c.local(level.name, turn.lang),
        step_name=turn.step_name(level.step),
    )


def repair(turn: Turn) -> None:
    """Fit a stored session to the live content: /reload may have removed what it points at.

    A question that is gone is passed over (its answer no longer counts); an age band that is
    gone is asked again. Nothing the user answered to questions still in content is lost.
    """
    if turn.s.age_band is not None and turn.s.age_band not in turn.c.age_bands:
        turn.s.age_band = None
        if turn.state in NEED_AGE_BAND:
            turn.fire("forget_age_band")
    if turn.state == "questions" and turn.s.question_id not in turn.c.questions:
        # The question on screen is gone: its buttons (and a typed number) meant that question,
        # so they must not count as an answer to the one that takes its place.
        turn.repaired = True
        turn.s.token = ""
        if turn.s.questionnaire not in turn.c.questionnaires:
            turn.s.questionnaire = None
            start_questions(turn)
        else:
            turn.s.question_id = next_question_id(turn)
        if turn.s.question_id is None:
            turn.fire("questions_gone")

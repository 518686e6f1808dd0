"""The main conversation: consent, who you are, the questions, the results; and the follow-ups:
help right now (two taps, from any state), check-ins when a reminder comes due, and the offer of one.

Every change of state is a transition here, including resume, /back, /restart, the end of a side
trip (help right now, a check-in) and the repairs after /reload removed what a session pointed at.
Guards (`conditions`, `unless`) and callbacks (`prepare`, `before`, `after`) name functions the engine
registers (neuroseq_core.engine.registry); they are synchronous and pure. `prepare` runs before the
guards, so an answer is recorded before `more_questions` is asked; `asked_for` is true for the
transition whose destination the trigger was fired with (`to=`).
"""

from __future__ import annotations

from typing import Any

from dialogs.circle import CIRCLE_ASKS, CIRCLE_STATES, circle_transitions
from dialogs.flow import Ask, Flow, each

STATES = (
    "new",
    "consent",
    "declined",
    "role",
    "age_band",
    "questions",
    "results",
    "region",
    "minutes",
    "setting",
    "nickname",
    "paused",
    "now",
    "now_after",
    "checkin_offer",
    "checkin",
    *CIRCLE_STATES,  # the team around the child (dialogs/circle.py)
)
# Where a side trip into the circle may return to.
OUTSIDE = tuple(s for s in STATES if s not in CIRCLE_STATES)

# Where the user is in the middle of something that /start resumes rather than restarts (not an
# invite's Join screen: its code is not kept once they go elsewhere).
RESUMABLE = tuple(s for s in STATES if s not in ("new", "consent", "declined", "paused", "circle_join"))
# Where help right now returns to afterwards.
RETURNABLE = tuple(s for s in (*RESUMABLE, "paused", "declined", "consent") if s not in ("now", "now_after"))
# Where a check-in (offered or asked) returns to; anything else returns to the results.
AFTER_CHECKIN = tuple(s for s in RESUMABLE if s not in ("results", "checkin", "checkin_offer"))
# The steps /back returns to, one by one (answers are undone one by one as well).
HISTORY = ("role", "age_band", "minutes", "setting", "nickname")
# States whose questions a changed age band invalidates (a /reload removed the band).
NEED_AGE_BAND = ("questions", "results", "region", "nickname", "minutes", "setting")

_RESTART = (
    {
        "trigger": "restart",
        "source": "*",
        "dest": "role",
        "conditions": "has_consent",
        "before": "forget_run",
    },
    {"trigger": "restart", "source": "*", "dest": "consent", "before": "forget_run", "after": "welcome"},
)

# The journey: three taps (consent, who, how old), the core questions, the first ideas; where we are
# (for helplines) once; then, if the carer wants, a closer look: for a teacher the time and the
# place, an optional nickname, and the deeper questions where the core showed concern.
TRANSITIONS: tuple[dict[str, Any], ...] = (
    {"trigger": "begin", "source": "*", "dest": "consent", "after": "welcome"},
    {"trigger": "agree", "source": "consent", "dest": "role", "prepare": "set_consent"},
    {"trigger": "decline", "source": "consent", "dest": "declined", "after": "say_declined"},
    {"trigger": "pick_role", "source": "role", "dest": "age_band", "prepare": "set_role"},
    {
        "trigger": "pick_age",
        "source": "age_band",
        "dest": "questions",
        "prepare": "set_age_band",
        "before": "begin_questions",
    },
    {
        "trigger": "answer",
        "source": "questions",
        "dest": "questions",
        "prepare": "record_answer",
        "conditions": "more_questions",
    },
    {
        "trigger": "answer",
        "source": "questions",
        "dest": "region",
        "prepare": "record_answer",
        "conditions": ["has_age_band", "needs_region"],
        "after": "show_results",
    },
    {
        "trigger": "answer",
        "source": "questions",
        "dest": "results",
        "prepare": "record_answer",
        "conditions": "has_age_band",
        "after": "show_results",
    },
    {"trigger": "answer", "source": "questions", "dest": "age_band", "prepare": "record_answer"},
    {
        "trigger": "pick_region",
        "source": "region",
        "dest": "results",
        "prepare": "set_region",
        "after": "show_referrals",
    },
    # The results: a closer look, more ideas, a dose plan, a note to share, a check-in, or again.
    {"trigger": "go_deeper", "source": "results", "dest": "minutes", "conditions": "needs_minutes"},
    {"trigger": "go_deeper", "source": "results", "dest": "nickname", "conditions": "wants_nickname"},
    {"trigger": "go_deeper", "source": "results", "dest": "questions", "before": "begin_deeper"},
    {"trigger": "pick_minutes", "source": "minutes", "dest": "setting", "prepare": "set_minutes"},
    {
        "trigger": "pick_setting",
        "source": "setting",
        "dest": "nickname",
        "prepare": "set_setting",
        "conditions": "wants_nickname",
    },
    {
        "trigger": "pick_setting",
        "source": "setting",
        "dest": "questions",
        "prepare": "set_setting",
        "before": "begin_deeper",
    },
    {
        "trigger": "name",
        "source": "nickname",
        "dest": "questions",
        "prepare": "set_nickname",
        "before": "begin_deeper",
    },
    {"trigger": "more_ideas", "source": "results", "dest": "results", "after": "show_more"},
    {"trigger": "make_plan", "source": "results", "dest": "results", "after": "show_plan"},
    {"trigger": "write_handover", "source": "results", "dest": "results", "after": "show_handover"},
    {"trigger": "offer_checkin", "source": "results", "dest": "checkin_offer"},
    *_RESTART,
    # Pause (/cancel, /stop, "stop for now" after a danger reply) and resume (/start).
    {"trigger": "pause", "source": "*", "dest": "paused", "before": "remember_resume"},
    *each("resume", ["paused"], RESUMABLE),
    # /back: the previous step, or the previous question.
    *each("back", RESUMABLE, (*HISTORY, "questions")),
    # /progress: the core questions again for the same child.
    {"trigger": "answer_again", "source": "*", "dest": "questions", "before": "begin_again"},
    # After /reload: a removed age band is asked again; a removed last question ends the questions.
    {"trigger": "forget_age_band", "source": list(NEED_AGE_BAND), "dest": "age_band"},
    {"trigger": "questions_gone", "source": "questions", "dest": "results", "after": "show_results"},
    # Help right now: how the child looks, then two or three bottom-of-the-sequence steps; then back.
    {"trigger": "help_now", "source": "*", "dest": "now", "before": "remember_now_return"},
    {"trigger": "pick_look", "source": "now", "dest": "now_after", "after": "show_now_steps"},
    {"trigger": "now_again", "source": "now_after", "dest": "now"},
    *each("now_leave", ["now_after"], RETURNABLE, after="clear_now_return"),
    {
        "trigger": "now_leave",
        "source": "now_after",
        "dest": "role",
        "conditions": "has_consent",
        "after": "clear_now_return",
    },
    {
        "trigger": "now_leave",
        "source": "now_after",
        "dest": "consent",
        "after": ["clear_now_return", "welcome"],
    },
    # Check-ins: offered after the ideas; asked when the reminder comes due; then offered again.
    *each(
        "pick_checkin",
        ["checkin_offer"],
        AFTER_CHECKIN,
        otherwise="results",
        before="set_checkin",
        after="clear_checkin_return",
    ),
    {"trigger": "check_in", "source": "*", "dest": "checkin", "before": "remember_checkin_return"},
    {"trigger": "rate_checkin", "source": "checkin", "dest": "checkin_offer", "before": "rate_checkin"},
    *each(
        "stop_checkins",
        ["checkin"],
        AFTER_CHECKIN,
        otherwise="results",
        before="stop_checkins",
        after="clear_checkin_return",
    ),
)

ASKS = {
    "consent": Ask(
        "consent.question",
        "{choice}",
        ("agree", "decline"),
        "consent.{id}",
        source="consent",
        again="consent.again",
    ),
    # The questionnaire: each press edits its question into the next one (the consent message,
    # with the disclaimer, stays as it was).
    "role": Ask(
        "role.question", "pick_role", ("parent", "foster", "student", "class"), "role.{id}", in_place=True
    ),
    "region": Ask("region.question", "pick_region", source="regions", in_place=True),
    "age_band": Ask("age_band.question", "pick_age", source="age_bands", in_place=True),
    "minutes": Ask("minutes.question", "pick_minutes", ("2", "5", "15"), "minutes.{id}", in_place=True),
    "setting": Ask(
        "setting.question", "pick_setting", ("classroom", "outdoors"), "setting.{id}", in_place=True
    ),
    "nickname": Ask(
        "nickname.question", "name", ("skip",), "nickname.{id}", text_trigger="name", in_place=True
    ),
    "questions": Ask(
        "question.prompt", "answer", ("skip",), "question.{id}", source="question", in_place=True
    ),
    "results": Ask(
        "results.next",
        "more_ideas",
        ("deeper", "more", "plan", "checkin", "handover", "restart"),
        "results.{id}",
        source="results",
        by_choice={
            "deeper": "go_deeper",
            "plan": "make_plan",
            "checkin": "offer_checkin",
            "handover": "write_handover",
            "restart": "restart",
        },
    ),
    "now": Ask("now.question", "pick_look", source="now_looks"),
    "now_after": Ask(
        "now.after",
        "now_leave",
        ("again", "back", "begin"),
        "now.{id}",
        source="now_after",
        by_choice={"again": "now_again"},
        passes="now_return",
    ),
    "checkin_offer": Ask(
        "checkin.offer",
        "pick_checkin",
        ("1", "3", "7", "no"),
        "checkin.days.{id}",
        passes="checkin_return",
    ),
    "checkin": Ask(
        "checkin.question",
        "rate_checkin",
        ("worked", "partly", "not", "not_tried", "stop"),
        "checkin.{id}",
        by_choice={"stop": "stop_checkins"},
        passes="checkin_return",
    ),
}

ASKS.update(CIRCLE_ASKS)
TRANSITIONS += circle_transitions(OUTSIDE)

MAIN = Flow(name="main", initial="new", states=STATES, transitions=TRANSITIONS, asks=ASKS)

"""Which messages the code uses, and sample data to render each one in the content check.

The questions the flow asks and the labels of their fixed choices are read from dialogs/ (so a new
choice is one edit there, plus its words in content/); the rest are the messages the engine says beside
them, listed in SAID. tests/test_message_registry.py fails when the engine renders an id that is in neither.
"""

from __future__ import annotations

from typing import Any, get_args

from markupsafe import Markup

from dialogs import MAIN
from neuroseq_core.domain.models import NeedId
from neuroseq_core.safety import SAMPLE_CONTEXT
from neuroseq_core.safety.reply import SAFETY_TEMPLATES

BASE_SAMPLE: dict[str, Any] = {
    "child": Markup("Sam"),
    "role": "caregiver",
    "group": "one",
    "region_name": "United Kingdom",
    "emergency_number": "999",
}

_ITEM = {
    "id": "drum-the-beat",
    "title": "Drum the beat",
    "why": "A steady beat helps a body settle.",
    "steps": ["Tap a beat on your knees.", "Let them copy you."],
    "materials": ["a cushion"],
    "minutes": 5,
    "rs": ["rhythmic", "relational"],
    "fit": Markup("Why it fits: body and senses could use some support."),
    "step_name": "Regulate",
}
_STEPS = [
    {
        "id": "regulate",
        "name": "Regulate",
        "summary": "Calm body",
        "is_start": True,
        "levels": [
            {"name": "Body and senses", "band": "some_support", "band_word": "could use some support"}
        ],
    },
    {"id": "relate", "name": "Relate", "summary": "Connection", "is_start": False, "levels": []},
    {"id": "reason", "name": "Reason", "summary": "Thinking", "is_start": False, "levels": []},
]
_RESULTS = {
    "steps": _STEPS,
    "start_step": "Regulate",
    "start_level": "Body and senses",
    "start_band": "some_support",
    "start_on_track": False,
    "known": True,
    "unknown": ["Connection"],
    "said": ["sleep is hard", "changes are hard"],
    "deep": False,
}

_BRIEF = {k: v for k, v in _ITEM.items() if k not in ("fit", "rs")}
_CHANGES = [
    {"step": "Regulate", "change": "steadier", "word": "steadier"},
    {"step": "Relate", "change": "same", "word": "about the same"},
    {"step": "Reason", "change": "more", "word": "needs more support now"},
]

# Said beside the questions: message id -> extra sample variables (beyond BASE_SAMPLE).
SAID: dict[str, dict[str, Any]] = {
    "child.default": {},
    "child.student": {},
    "child.class": {},
    "start.welcome": {},
    "start.welcome_back": {},
    "consent.declined": {},
    "declined.hint": {},
    "paused.hint": {},
    "question.prompt": {
        "number": 3,
        "total": 16,
        "text": Markup("How often?"),
        "level_name": "Body",
        "step_name": "Regulate",
    },
    "question.missing": {},
    "band.on_track": {},
    "band.some_support": {},
    "band.more_support": {},
    "band.unknown": {},
    **{f"need.{n}": {} for n in get_args(NeedId)},
    "questions.deeper": {},
    "handover.who": {"nickname": "Sam"},
    "handover.child": {"nickname": ""},
    "progress.too_soon": {"days": 9},
    "progress.unknown": {},
    "language.button": {},
    "age_band.understood": {"age": 4, "months": None, "band": "3–5 years"},
    "reprompt.hard_moment": {},
    "now.open": {},
    "results.deeper": {"topic": "sleep"},
    "results.summary": _RESULTS,
    "picture.caption": _RESULTS,
    "picture.start_here": _RESULTS,
    "six_r.relational": {},
    "six_r.relevant": {},
    "six_r.repetitive": {},
    "six_r.rewarding": {},
    "six_r.rhythmic": {},
    "six_r.respectful": {},
    "results.fit": {
        "level_name": "Body and senses",
        "step_name": "Regulate",
        "band": "some_support",
        "band_word": "could use some support",
        "said": ["sleep is hard"],
        "next_step": False,
        "rs": ["rhythmic"],
        "minutes": 5,
        "fits_time": False,
        "available": 2,
    },
    "results.activities": {"items": [_ITEM], "start_step": "Regulate"},
    "results.more_activities": {"items": [_ITEM], "start_step": "Regulate"},
    "results.no_more": {},
    "help.text": {},
    "privacy.text": {},
    "back.nothing": {},
    "command.unknown": {},
    "restart.done": {},
    "cancel.done": {},
    "delete.question": {},
    "delete.confirm": {},
    "delete.keep": {},
    "delete.done": {},
    "delete.kept": {},
    "language.changed": {},
    "language.choose": {"options": "/language en, /language es"},
    "reprompt.stale": {},
    "reprompt.unknown": {},
    "reprompt.forgotten": {},  # a button from a conversation no longer kept (after /delete)
    "reprompt.choose": {},
    "reprompt.free_text": {},
    "nickname.not_a_name": {},
    "safety.check.question": {},
    "safety.check.yes": {},
    "safety.check.no": {},
    "safety.check.no_reply": {},
    "input.unsupported": {},
    "input.edited": {},
    "group.private_only": {},
    "error.apology": {},
    "commands.start": {},
    "commands.help": {},
    "commands.restart": {},
    "commands.cancel": {},
    "commands.back": {},
    "commands.privacy": {},
    "commands.delete": {},
    "commands.helplines": {},
    "commands.language": {},
    "now.steps": {
        "look": "Very upset, crying",
        "steps": [Markup("Slow yourself down first."), Markup("Fewer words.")],
        "then": [_BRIEF],
        "emergency": "999",
    },
    "checkin.set": {"days": 3},
    "checkin.declined": {},
    "checkin.question": {"items": [_BRIEF, _BRIEF]},
    "checkin.stopped": {},
    "checkin.reply.worked": {"items": [_BRIEF]},
    "checkin.reply.partly": {"items": [_BRIEF]},
    "checkin.reply.not": {"items": [_BRIEF], "at_bottom": True},
    "checkin.reply.not_tried": {"items": [_BRIEF]},
    "progress.offer": {},
    "stop.done": {},
    "plan.text": {"doses": [{"point": "🌙 Bedtime", "title": "Drum the beat", "minutes": 5}]},
    "plan.none": {},
    "progress.none": {},
    "progress.again": {},
    "progress.steadier": {},
    "progress.same": {},
    "progress.more": {},
    "progress.summary": {"since": "2026-03-01", "changes": _CHANGES, "harder": True},
    "progress.caption": {"since": "2026-03-01", "changes": _CHANGES, "harder": True},
    "handover.note": {
        "age_band": "6–11",
        "start_step": "Regulate",
        "helps": ["Drum the beat"],
        "trying": ["A slow song"],
        "who": "Sam",
        "avoid": Markup("• Long talks while upset."),
        "tried": [{"on": "2026-03-04", "titles": ["Drum the beat"], "outcome": "It helped"}],
    },
    "handover.none": {},
    "handover.avoid.regulate": {},
    "handover.avoid.relate": {},
    "handover.avoid.reason": {},
    "commands.now": {},
    "commands.plan": {},
    "commands.progress": {},
    "commands.handover": {},
    "commands.stop": {},
    "commands.reload": {},
    "commands.stats": {},
    "admin.reload_failed": {
        "errors": ["activities/regulate.yaml:12: error: unknown level 'sensori'"],
        "more": 2,
        "count": 3,
    },
    "admin.reload_done": {
        "warnings": ["resources/us.yaml:3: warning: not verified in 12 months"],
        "more": 0,
        "activities": 95,
        "questions": 65,
    },
    "admin.stats": {
        "started": 12,
        "completed": 9,
        "steps": [{"name": "Regulate", "count": 5}, {"name": "Relate", "count": 3}],
        "safety": [{"category": "suicide", "count": 1}],
        "other": [{"name": "now.shut_down", "count": 2}],
    },
}

_TRY = {
    "label": "Ms Lee, class teacher",
    "where": "at school",
    "idea": "Drum the beat",
    "outcome": "helped",
    "on": "2026-03-04",
    "mine": False,
}
_CIRCLE = {
    "child_name": "Sam",
    "members": [
        {"label": "Sam's mum", "role": "Set up this circle", "me": True},
        {"label": "Ms Lee, class teacher", "role": "Teacher or school staff", "me": False},
    ],
    "views": [
        {
            "label": "Sam's mum",
            "where": "at home",
            "step": "Regulate",
            "level": "Body and senses",
            "ideas": ["Drum the beat", "A slow song"],
        }
    ],
    "helped": [_TRY],
    "partly": [_TRY],
    "avoid": [_TRY],
    "tries": [_TRY, {**_TRY, "mine": True}],
    "owner": True,
}
# The team around the child (engine/circle.py, engine/circle_show.py, service/circle.py).
CIRCLE_SAID: dict[str, dict[str, Any]] = {
    "commands.circle": {},
    "commands.invite": {},
    "commands.join": {},
    "circle.none": {},
    "circle.invite_first": {},
    "circle.invite_owner_only": {},
    "circle.already_in": {},
    "circle.invite_refused": {},
    "circle.join_how": {},
    "circle.invite_failed": {},
    "circle.label_not_a_name": {},
    "circle.me.default": {},
    "circle.role.owner": {},
    "circle.invite_made": {"label": "Ms Lee, class teacher", "role": "Teacher or school staff"},
    "circle.join.question": {
        "inviter": "Sam's mum",
        "label": "Ms Lee, class teacher",
        "role": "Teacher or school staff",
        "child_name": "Sam",
        "answers": True,
    },
    "circle.joined": {"inviter": "Sam's mum", "answers": True},
    "circle.not_now": {},
    **{f"circle.where.{w}": {} for w in ("home", "school", "other")},
    **{f"circle.went.{o}": {} for o in ("worked", "partly", "not", "not_tried")},
    "circle.summary": _CIRCLE,
    "circle.picture_caption": _CIRCLE,
    "circle.digest_on": {},
    "circle.digest_off": {},
    "circle.outcome.question": {"idea": "Drum the beat"},
    "circle.logged": {},
    "circle.people.remove": {"label": "Ms Lee"},
    "circle.confirm.question": {"what": "remove", "label": "Ms Lee"},
    "circle.removed": {},
    "circle.left": {},
    "circle.closed": {},
    "circle.closed_notice": {},
    "circle.removed_notice": {},
    "circle.joined_notice": {"label": "Ms Lee, class teacher"},
    "circle.left_notice": {"label": "Ms Lee, class teacher"},
    "circle.digest": {"news": [_TRY], "more": 2},
}
SAID.update(CIRCLE_SAID)

# Buttons of the questions beside the flow (confirm erasure, danger check, after a danger reply).
SIDE_BUTTONS = (
    "delete.confirm",
    "delete.keep",
    "safety.continue",
    "safety.stop",
    "safety.check.yes",
    "safety.check.no",
    "now.open",
)
FLOW_MESSAGES = tuple(
    dict.fromkeys(
        m
        for ask in MAIN.asks.values()
        for m in (ask.message, *ask.label_ids(), *([ask.again] if ask.again else []))
    )
)
# Every message id -> its sample variables. Every id here must exist in every language.
MESSAGES: dict[str, dict[str, Any]] = {**{mid: {} for mid in FLOW_MESSAGES}, **SAID}

# Messages rendered with the safety context (neuroseq_core.safety.SAMPLE_CONTEXT).
SAFETY_MESSAGES = (
    "safety.educator",
    "safety.after",
    "safety.continue",
    "safety.stop",
    "safety.also",
    "safety.numbers",
    "helplines.list",
    *SAFETY_TEMPLATES,
)

# Short labels shown on buttons: Telegram shows about 20-30 characters comfortably.
BUTTON_LABELS = (*(m for ask in MAIN.asks.values() for m in ask.label_ids()), *SIDE_BUTTONS)


def sample_context(message_id: str) -> dict[str, Any]:
    """Sample variables to render a message with: its own, the safety ones, or the common ones."""
    if message_id in MESSAGES:
        return {**BASE_SAMPLE, **MESSAGES[message_id]}
    if message_id.startswith(("safety.", "helplines.")):
        return {**BASE_SAMPLE, **SAMPLE_CONTEXT}
    return dict(BASE_SAMPLE)

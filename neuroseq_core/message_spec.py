"""Which messages the code uses, and sample data to render each one in the content check."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

BASE_SAMPLE: dict[str, Any] = {
    "child": Markup("Sam"),
    "role": "caregiver",
    "group": "one",
    "region_name": "United Kingdom",
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
    "start_on_track": False,
}

# message id -> extra sample variables (beyond BASE_SAMPLE). Every id here must exist in every language.
MESSAGES: dict[str, dict[str, Any]] = {
    "child.default": {},
    "child.student": {},
    "child.class": {},
    "start.welcome": {},
    "start.welcome_back": {},
    "consent.question": {},
    "consent.agree": {},
    "consent.decline": {},
    "consent.declined": {},
    "declined.hint": {},
    "paused.hint": {},
    "role.question": {},
    "role.caregiver": {},
    "role.educator": {},
    "region.question": {},
    "group.question": {},
    "group.one": {},
    "group.class": {},
    "age_band.question": {},
    "minutes.question": {},
    "minutes.2": {},
    "minutes.5": {},
    "minutes.15": {},
    "setting.question": {},
    "setting.classroom": {},
    "setting.outdoors": {},
    "nickname.question": {},
    "nickname.skip": {},
    "nickname.too_long": {},
    "question.prompt": {
        "number": 3,
        "total": 16,
        "text": Markup("How often?"),
        "level_name": "Body",
        "step_name": "Regulate",
    },
    "question.skip": {},
    "question.missing": {},
    "band.on_track": {},
    "band.some_support": {},
    "band.more_support": {},
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
        "rs": ["rhythmic"],
        "minutes": 5,
        "fits_time": False,
        "available": 2,
    },
    "results.activities": {"items": [_ITEM], "start_step": "Regulate"},
    "results.more_activities": {"items": [_ITEM], "start_step": "Regulate"},
    "results.next": {},
    "results.more": {},
    "results.restart": {},
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
    "reprompt.choose": {},
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

# Messages rendered with the safety context (neuroseq_core.safety.SAMPLE_CONTEXT).
SAFETY_MESSAGES = ("safety.educator", "safety.after", "safety.continue", "safety.stop", "helplines.list")

# Short labels shown on buttons: Telegram shows about 20-30 characters comfortably.
BUTTON_LABELS = (
    "consent.agree",
    "consent.decline",
    "role.caregiver",
    "role.educator",
    "group.one",
    "group.class",
    "minutes.2",
    "minutes.5",
    "minutes.15",
    "setting.classroom",
    "setting.outdoors",
    "nickname.skip",
    "question.skip",
    "results.more",
    "results.restart",
    "delete.confirm",
    "delete.keep",
    "safety.continue",
    "safety.stop",
)


def sample_context(message_id: str) -> dict[str, Any]:
    """Sample variables to render a message with: its own, the safety ones, or the common ones."""
    if message_id in MESSAGES:
        return {**BASE_SAMPLE, **MESSAGES[message_id]}
    if message_id.startswith(("safety.", "helplines.")):
        from neuroseq_core.safety import SAMPLE_CONTEXT

        return {**BASE_SAMPLE, **SAMPLE_CONTEXT}
    return dict(BASE_SAMPLE)

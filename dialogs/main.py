"""The main conversation: consent, who you are, the questions, the results; and the follow-ups:
help right now (two taps, from any state), check-ins when a reminder comes due, and the offer of one.

Guards (`conditions`) and `prepare` callbacks name methods of the engine's Conversation
object; they are synchronous and pure. `prepare` runs before guards, so an answer is
recorded before `more_questions` is asked.
"""

from __future__ import annotations

from dialogs.flow import Ask, Flow

STATES = (
    "new",
    "consent",
    "declined",
    "role",
    "region",
    "group",
    "age_band",
    "minutes",
    "setting",
    "nickname",
    "questions",
    "results",
    "paused",
    "now",
    "now_after",
    "checkin_offer",
    "checkin",
)

TRANSITIONS = (
    {"trigger": "begin", "source": "*", "dest": "consent"},
    {"trigger": "agree", "source": "consent", "dest": "role", "prepare": "set_consent"},
    {"trigger": "decline", "source": "consent", "dest": "declined"},
    {"trigger": "pick_role", "source": "role", "dest": "region", "prepare": "set_role"},
    {
        "trigger": "pick_region",
        "source": "region",
        "dest": "group",
        "prepare": "set_region",
        "conditions": "is_educator",
    },
    {"trigger": "pick_region", "source": "region", "dest": "age_band", "prepare": "set_region"},
    {"trigger": "pick_group", "source": "group", "dest": "age_band", "prepare": "set_group"},
    {
        "trigger": "pick_age",
        "source": "age_band",
        "dest": "minutes",
        "prepare": "set_age_band",
        "conditions": "is_educator",
    },
    {"trigger": "pick_age", "source": "age_band", "dest": "nickname", "prepare": "set_age_band"},
    {"trigger": "pick_minutes", "source": "minutes", "dest": "setting", "prepare": "set_minutes"},
    {
        "trigger": "pick_setting",
        "source": "setting",
        "dest": "questions",
        "prepare": "set_setting",
        "conditions": "is_class",
    },
    {"trigger": "pick_setting", "source": "setting", "dest": "nickname", "prepare": "set_setting"},
    {"trigger": "name", "source": "nickname", "dest": "questions", "prepare": "set_nickname"},
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
        "dest": "results",
        "prepare": "record_answer",
        "after": "show_results",
    },
    {"trigger": "after_results", "source": "results", "dest": "results"},
    {"trigger": "pause", "source": "*", "dest": "paused"},
    # Help right now: how the child looks, then two or three bottom-of-the-sequence steps.
    {"trigger": "help_now", "source": "*", "dest": "now"},
    {"trigger": "pick_look", "source": "now", "dest": "now_after", "after": "show_now_steps"},
    {"trigger": "now_again", "source": "now_after", "dest": "now"},
    # Check-ins: offered after the ideas; asked when the reminder comes due; then offered again.
    {"trigger": "offer_checkin", "source": "results", "dest": "checkin_offer"},
    {"trigger": "pick_checkin", "source": "checkin_offer", "dest": "results"},
    {"trigger": "check_in", "source": "*", "dest": "checkin"},
    {"trigger": "rate_checkin", "source": "checkin", "dest": "checkin_offer"},
)

ASKS = {
    "consent": Ask("consent.question", "consent", "{choice}"),  # the trigger is the choice: agree or decline
    "role": Ask("role.question", "roles", "pick_role"),
    "region": Ask("region.question", "regions", "pick_region"),
    "group": Ask("group.question", "groups", "pick_group"),
    "age_band": Ask("age_band.question", "age_bands", "pick_age"),
    "minutes": Ask("minutes.question", "minutes", "pick_minutes"),
    "setting": Ask("setting.question", "settings", "pick_setting"),
    "nickname": Ask("nickname.question", "nickname", "name", text_trigger="name"),
    "questions": Ask("question.prompt", "question", "answer"),
    "results": Ask("results.next", "results", "after_results"),
    "now": Ask("now.question", "now_looks", "pick_look"),
    "now_after": Ask("now.after", "now_after", "now_again"),
    "checkin_offer": Ask("checkin.offer", "checkin_days", "pick_checkin"),
    "checkin": Ask("checkin.question", "checkin_outcomes", "rate_checkin"),
}

MAIN = Flow(name="main", initial="new", states=STATES, transitions=TRANSITIONS, asks=ASKS)

"""The team around the child: inviting another adult, joining by an invite, and the circle itself
(log a try, the daily note, people, leave or close).

Side trips like help right now: entering remembers where the user was (`circle_return`), and
leaving goes back there (`each`), whatever state that was. Joining is the exception: an invitee
who joins starts their own questions about the circle's child (a professional sees the circle).
"""

from __future__ import annotations

from typing import Any

from dialogs.flow import Ask, each

CIRCLE_STATES = (
    "circle_me",
    "circle_role",
    "circle_label",
    "circle_join",
    "circle",
    "circle_idea",
    "circle_outcome",
    "circle_people",
    "circle_confirm",
)


def circle_transitions(outside: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """The circle's transitions; `outside` are the states a side trip may return to."""
    inner = list(CIRCLE_STATES)
    return (
        {"trigger": "open_circle", "source": "*", "dest": "circle", "before": "remember_circle_return"},
        # /invite: the owner's label once (the circle is set up then), who, and their label.
        {
            "trigger": "start_invite",
            "source": "*",
            "dest": "circle_role",
            "conditions": "in_circle",
            "before": "remember_circle_return",
        },
        {"trigger": "start_invite", "source": "*", "dest": "circle_me", "before": "remember_circle_return"},
        {"trigger": "name_me", "source": "circle_me", "dest": "circle_role", "prepare": "set_my_label"},
        {"trigger": "invite_more", "source": "circle", "dest": "circle_role"},
        {
            "trigger": "pick_invite_role",
            "source": "circle_role",
            "dest": "circle_label",
            "prepare": "set_invite_role",
        },
        {"trigger": "name_them", "source": "circle_label", "dest": "circle", "prepare": "make_invite"},
        # An invite opened: Join (and the invitee's own questions) or Not now (back where they were).
        {"trigger": "open_invite", "source": "*", "dest": "circle_join", "before": "remember_circle_return"},
        # (`before`, not `prepare`: prepare runs for every candidate transition, guards or not.)
        {
            "trigger": "join_circle",
            "source": "circle_join",
            "dest": "questions",
            "conditions": ["invite_usable", "answers_for_circle"],
            "before": ["set_member", "begin_questions"],
        },
        {
            "trigger": "join_circle",
            "source": "circle_join",
            "dest": "circle",
            "conditions": "invite_usable",
            "before": "set_member",
        },
        # Used or expired since it was opened: said plainly, and back where they were.
        *each(
            "join_circle",
            ["circle_join"],
            outside,
            otherwise="new",
            before="invite_gone",
            after="clear_circle_return",
        ),
        *each(
            "not_now",
            ["circle_join"],
            outside,
            otherwise="new",
            before="forget_invite",
            after="clear_circle_return",
        ),
        # What helped, where: an idea, then how it went.
        {"trigger": "log_try", "source": "circle", "dest": "circle_idea"},
        {
            "trigger": "pick_try",
            "source": "circle_idea",
            "dest": "circle_outcome",
            "prepare": "pick_try_idea",
        },
        {"trigger": "rate_try", "source": "circle_outcome", "dest": "circle", "before": "log_the_try"},
        {"trigger": "digest", "source": "circle", "dest": "circle", "before": "toggle_digest"},
        # People, leaving and closing: always confirmed first.
        {"trigger": "see_people", "source": "circle", "dest": "circle_people"},
        {
            "trigger": "confirm",
            "source": ["circle", "circle_people"],
            "dest": "circle_confirm",
            "prepare": "ask_confirm",
        },
        {
            "trigger": "confirmed",
            "source": "circle_confirm",
            "dest": "circle",
            "conditions": "removing",
            "before": "do_confirmed",
        },
        *each(
            "confirmed",
            ["circle_confirm"],
            outside,
            otherwise="paused",
            before="do_confirmed",
            after="clear_circle_return",
        ),
        {
            "trigger": "back_to_circle",
            "source": ["circle_idea", "circle_outcome", "circle_people", "circle_confirm"],
            "dest": "circle",
        },
        *each("circle_done", inner, outside, otherwise="paused", after="clear_circle_return"),
    )


CIRCLE_ASKS = {
    "circle_me": Ask(
        "circle.me.question",
        "name_me",
        ("skip", "back"),
        "circle.me.{id}",
        text_trigger="name_me",
        by_choice={"back": "circle_done"},
        passes="circle_return",
    ),
    "circle_role": Ask(
        "circle.role.question",
        "pick_invite_role",
        ("carer", "school", "professional", "back"),
        "circle.role.{id}",
        by_choice={"back": "circle_done"},
        passes="circle_return",
    ),
    "circle_label": Ask(
        "circle.label.question",
        "name_them",
        ("skip", "back"),
        "circle.label.{id}",
        text_trigger="name_them",
        by_choice={"back": "circle_done"},
        passes="circle_return",
    ),
    "circle_join": Ask(
        "circle.join.question",
        "join_circle",
        ("join", "not_now"),
        "circle.join.{id}",
        by_choice={"not_now": "not_now"},
        passes="circle_return",
    ),
    "circle": Ask(
        "circle.menu",
        "circle_done",
        ("log", "invite", "digest_on", "digest_off", "people", "leave", "close", "back"),
        "circle.menu.{id}",
        source="circle_menu",
        by_choice={
            "log": "log_try",
            "invite": "invite_more",
            "digest_on": "digest",
            "digest_off": "digest",
            "people": "see_people",
            "leave": "confirm",
            "close": "confirm",
        },
        passes="circle_return",
    ),
    "circle_idea": Ask(
        "circle.idea.question",
        "pick_try",
        ("back",),
        "circle.idea.{id}",
        source="circle_ideas",
        by_choice={"back": "back_to_circle"},
    ),
    "circle_outcome": Ask(
        "circle.outcome.question", "rate_try", ("worked", "partly", "not", "not_tried"), "circle.outcome.{id}"
    ),
    "circle_people": Ask(
        "circle.people.question",
        "confirm",
        ("back",),
        "circle.people.{id}",
        source="circle_people",
        by_choice={"back": "back_to_circle"},
    ),
    "circle_confirm": Ask(
        "circle.confirm.question",
        "confirmed",
        ("yes", "no"),
        "circle.confirm.{id}",
        by_choice={"no": "back_to_circle"},
        passes="circle_return",
    ),
}
